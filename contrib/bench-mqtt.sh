#!/bin/bash
# SPDX-License-Identifier: MIT
# One ALEC frame per MQTT message (every LoRaWAN uplink is one message)
# against collectd's own network plugin, on the same machine, in the same
# run (docs/PERFORMANCE.md, "MQTT"):
#
#   network          collectd's network plugin, binary protocol in full
#                    1452-byte packets (bench-netsend), the same values/s;
#   mqtt-raw         <MQTT> Dialect raw + EmitterLevel: a bare 5-channel fixed
#                    frame per message, the DevEUI in the topic;
#   mqtt-chirpstack  <MQTT> Dialect chirpstack: a ChirpStack v4 uplink event
#                    (about 1.3 kB of JSON, base64 frame) per message; with
#                    the link quality of each uplink (lora_rssi, lora_snr: 7
#                    values dispatched per frame, 5 of them channel values);
#   mqtt-chirpstack-nolink  the same without alec.types.db in TypesDB, so
#                    without the link-quality values (5 dispatched per frame).
#
# Rates are frames (= messages) per second; the network plugin gets the same
# values per second (5 per frame). A fresh collectd and a fresh mosquitto
# (QoS 0, as The Things Stack publishes; unlimited queue) per step; 1000
# devices; tests/integration/lorapub generates and paces the events. Measured:
# values the receiver dispatched (its own statistics), loss, and collectd's
# CPU-seconds per million values (utime + stime from /proc/PID/stat, from the
# first message until everything that arrives is dispatched); the broker's
# and the publisher's CPU are not collectd's and shown apart (broker).
# Two per-value figures: per channel value (the link-quality values ride
# free), and per value delivered to collectd (every value list dispatched,
# as the network plugin's are counted: lorapub gives every ChirpStack
# uplink an RSSI and an SNR, so 7 per frame with alec.types.db).
# Receivers alternate within each rate, and the whole sequence is repeated
# --repeat times, so a change of the machine's load weighs on all alike.
#
#   contrib/bench-mqtt.sh [--rates "25000 50000"] [--seconds S] [--repeat N]
#                         [--receivers "network mqtt-raw mqtt-chirpstack mqtt-chirpstack-nolink"]
#                         [--out FILE]
#
# ALEC_BUILDDIR (default: ./build of the checkout) is the build tree used.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
rates="25000 50000"
seconds=4
repeat=2
receivers="network mqtt-raw mqtt-chirpstack mqtt-chirpstack-nolink"
out=""
devices=1000
while [ $# -gt 0 ]; do
  case $1 in
  --rates) rates=$2; shift ;;
  --seconds) seconds=$2; shift ;;
  --repeat) repeat=$2; shift ;;
  --receivers) receivers=$2; shift ;;
  --out) out=$2; shift ;;
  -h | --help) sed -n '3,/^set -u/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
  *) echo "bench-mqtt: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
IT_LIMIT=1800
export ALEC_SRCDIR="$top" ALEC_BUILDDIR="${ALEC_BUILDDIR:-$top/build}"
. "$top/tests/integration/lib.sh" --rates "$rates" --seconds "$seconds" --repeat "$repeat" --receivers "$receivers" \
  ${out:+--out "$out"}
IT_NAME=bench-mqtt
. "$top/tests/integration/mqtt_lib.sh"

it_require_collectd
NETSEND=$(it_netsend) || { echo "bench-mqtt: SKIP: bench-netsend is not built"; exit 0; }
IT_PLUGIN_SO=$(it_plugin_so) || { echo "bench-mqtt: SKIP: alec.so is not built"; exit 0; }
IT_PLUGIN_DIR=$(dirname "$IT_PLUGIN_SO")
[ -x "$MQ_BIN" ] || { echo "bench-mqtt: SKIP: mosquitto not found"; exit 0; }
MQ_LORAPUB=$(it_find_build tests/integration/lorapub) || { echo "bench-mqtt: SKIP: lorapub not built (make check)"; exit 0; }
it__sanitizer_setup
[ -n "$IT_PRELOAD" ] && echo "bench-mqtt: note: the plugin is built with sanitizers; numbers are not representative"
it_mktemp
samples=$IT_SHARED/data/samples
dataset=$samples/smartgrid_24h.csv
[ -f "$dataset" ] || dataset=$(ls "$samples"/*.csv 2>/dev/null | head -n 1)
out=${out:-$IT_BUILDDIR/bench-mqtt.md}
: >"$out"
say() { printf '%s\n' "$*" | tee -a "$out"; }
num() { sed -E -n "s/(^|.* )$1=([0-9.]+).*/\\2/p" | head -n 1; }
now() { date +%s.%N; }

conf_common() {
  it_conf_begin "CollectInternalStats true"
  it_conf_csv
  cat >>"$IT_CONF" <<EOF
LoadPlugin match_regex
<Chain "PostCache">
  <Rule "receiver_statistics">
    <Match "regex">
      Host "^it-receiver\$"
    </Match>
    Target "write"
  </Rule>
  Target "stop"
</Chain>
EOF
}

received() {
  case $1 in
  network) it_csv_last it-receiver network total_values-dispatch-accepted | awk '{ printf "%.0f\n", $1 }' ;;
  *) it_stat derive-values_dispatched ;;
  esac
}

run=0
live() { # receiver rate(frames/s) -> one row
  local receiver=$1 rate=$2 port values cpu0 cpu1 b0 b1 got last same sent t_end done_at drain ach frames
  run=$((run + 1))
  mkdir -p "$IT_TMP/run$run"
  chmod 0777 "$IT_TMP/run$run"
  IT_CONF=$IT_TMP/run$run/collectd.conf
  IT_LOG=$IT_TMP/run$run/collectd.log
  IT_CSV=$IT_TMP/run$run/csv
  frames=$((rate * seconds))
  values=$((frames * 5))
  conf_common
  b0=0
  b1=0
  case $receiver in
  network)
    port=$(it_free_port)
    cat >>"$IT_CONF" <<EOF
LoadPlugin network
<Plugin network>
  Listen "127.0.0.1" "$port"
  ReportStats true
</Plugin>
EOF
    ;;
  mqtt-*)
    local saved_tmp=$IT_TMP
    IT_TMP=$IT_TMP/run$run
    port=$(mq_free_port)
    mq_conf "$port"
    IT_TMP=$saved_tmp
    local dialect=raw extra="    Topic \"alec/+/up\"
    EmitterLevel 1"
    if [ "${receiver#mqtt-chirpstack}" != "$receiver" ]; then
      dialect=chirpstack
      extra="    FPort 85 \"em500\"
    GroupFrom \"application\""
    fi
    # Bare frames: the family comes from an <Emitter> per device.
    local emitters=""
    [ "$dialect" = raw ] && emitters=$(for d in $(seq 0 $((devices - 1))); do
      printf '  <Emitter "0x%016x">\n    Profile "em500"\n  </Emitter>\n' $((0x0004a30b00000000 + d))
    done)
    it_conf_alec "$emitters
  MaxEmitters 100000
  QueueLength 262144
  <Profile \"em500\">
    Format \"fixed\"
    Channels 5
  </Profile>
  <MQTT \"bench\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"$dialect\"
    QoS 0
    CleanSession true
$extra
  </MQTT>"
    [ "$receiver" = mqtt-chirpstack-nolink ] && sed -i "s| \"$IT_SRCDIR/contrib/alec.types.db\"||" "$IT_CONF"
    local save_tmp2=$IT_TMP
    IT_TMP=$IT_TMP/run$run
    mq_start
    IT_TMP=$save_tmp2
    ;;
  esac
  it_start
  if [ "$receiver" = network ]; then
    it_wait_for 10 it_port_bound "$port" || it_fail "network does not listen on $port"
  else
    it_wait_for 10 it_log_has 'MQTT "bench".*connected to' || it_fail "$receiver did not connect"
    b0=$(it_cpu_seconds "$MQ_PID")
  fi
  cpu0=$(it_cpu_seconds "$IT_PID")
  local t0
  t0=$(now)
  case $receiver in
  network)
    "$NETSEND" --to "127.0.0.1:$port" --protocol collectd --host-prefix alec- --host-hex --csv "$dataset" \
      --emitters "$devices" --values "$values" --rate $((rate * 5)) >"$IT_TMP/run$run/send.out" 2>&1 ||
      { cat "$IT_TMP/run$run/send.out"; it_fail "bench-netsend failed"; }
    sent=$(num values <"$IT_TMP/run$run/send.out")
    ;;
  mqtt-*)
    local d=raw hexarg=--hex
    [ "${receiver#mqtt-chirpstack}" != "$receiver" ] && d=chirpstack && hexarg=""
    # shellcheck disable=SC2086
    "$MQ_LORAPUB" gen --dialect "$d" --devices "$devices" --apps 2 --rounds $((frames / devices)) /dev/stdout /dev/null |
      "$MQ_LORAPUB" pub $hexarg --qos 0 --port "$port" --id bench-pub --rate "$rate" - >"$IT_TMP/run$run/send.out" 2>&1 ||
      { cat "$IT_TMP/run$run/send.out"; it_fail "lorapub failed"; }
    sent=$(( (frames / devices) * devices * 5 ))
    ;;
  esac
  t_end=$(now)
  ach=$(awk -v a="$t0" -v b="$t_end" -v n="$sent" 'BEGIN { printf "%.0f", n / 5 / (b - a) }')
  last=-1
  same=0
  done_at=""
  for _ in $(seq 1 120); do
    sleep 0.5
    got=$(received "$receiver")
    got=${got:-0}
    if [ "$got" -ge "$sent" ]; then
      done_at=$(now)
      break
    fi
    if [ "$got" = "$last" ]; then
      same=$((same + 1))
      [ "$same" -ge 6 ] && break
    else
      same=0
    fi
    last=$got
  done
  drain=$(awk -v a="$t_end" -v b="${done_at:-$(now)}" 'BEGIN { printf "%.1f", b - a }')
  [ -n "$done_at" ] || drain=">$drain"
  cpu1=$(it_cpu_seconds "$IT_PID")
  [ -n "$MQ_PID" ] && b1=$(it_cpu_seconds "$MQ_PID")
  it_stop
  mq_stop
  local lists=5
  [ "$receiver" = mqtt-chirpstack ] && lists=7
  awk -v r="$receiver" -v rate="$rate" -v ach="$ach" -v sent="$sent" -v got="$got" -v c0="$cpu0" -v c1="$cpu1" \
    -v b0="$b0" -v b1="$b1" -v drain="$drain" -v lists="$lists" '
    BEGIN {
      cpu = c1 - c0
      printf "| %s | %d | %d | %d | %d | %d | %s | %.2f | %.2f | %.2f | %.2f |\n", r, rate, ach, sent, got, sent - got, drain,
        cpu, (got > 0 ? cpu * 1e6 / got : 0), b1 - b0, (got > 0 ? cpu * 1e6 / (got * lists / 5) : 0)
    }' | tee -a "$out" "$IT_TMP/rows"
}

say "## One frame per MQTT message vs collectd's network plugin ($devices devices, $seconds s per step, 5 values per frame)"
say ""
say "| receiver | target frames/s | achieved | values sent | received | lost | drain s | collectd CPU s | CPU s per 1M values | broker CPU s | CPU s per 1M values delivered |"
say "|---|---|---|---|---|---|---|---|---|---|---|"
: >"$IT_TMP/rows"
for rep in $(seq 1 "$repeat"); do
  for rate in $rates; do
    for receiver in $receivers; do
      live "$receiver" "$rate"
    done
  done
done
say ""
say "Medians over $repeat alternations (CPU s per 1M values; min-max), ratio against the network plugin at the same rate;"
say "per channel value, and per value delivered to collectd (link-quality values counted):"
say ""
say "| receiver | frames/s | CPU s per 1M channel values, median (min-max) | / network | per 1M values delivered | / network |"
say "|---|---|---|---|---|---|"
med() { sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%s %s %s\n", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], a[NR] }'; }
col() { awk -F'|' -v r="$1" -v t="$2" -v c="$3" '$2 == " "r" " && $3 + 0 == t { print $c + 0 }' "$IT_TMP/rows"; }
for rate in $rates; do
  base=$(col network "$rate" 10 | med | cut -d' ' -f1)
  base2=$(col network "$rate" 12 | med | cut -d' ' -f1)
  for receiver in $receivers; do
    a=$(col "$receiver" "$rate" 10 | med)
    [ -n "$a" ] || continue
    b=$(col "$receiver" "$rate" 12 | med)
    awk -v r="$receiver" -v t="$rate" -v a="$a" -v b="$b" -v x="${base:-0}" -v y="${base2:-0}" 'BEGIN {
      split(a, p, " "); split(b, q, " ")
      printf "| %s | %d | %.2f (%.2f-%.2f) | %s | %.2f (%.2f-%.2f) | %s |\n", r, t, p[1], p[2], p[3],
        (x > 0 ? sprintf("%.2fx", p[1] / x) : "-"), q[1], q[2], q[3], (y > 0 ? sprintf("%.2fx", q[1] / y) : "-")
    }' | tee -a "$out"
  done
done
say ""
say "(Machine: $(nproc) CPUs, $(uname -sr), shared; broker and publisher on the same machine.)"
echo "bench-mqtt: results in $out"
exit 0
