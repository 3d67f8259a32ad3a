#!/bin/bash
# SPDX-License-Identifier: MIT
# The README's second demo: a LoRaWAN fleet reaching collectd the way
# ChirpStack v4 delivers it. Builds collectd-alec if needed, starts Debian's
# mosquitto on a free loopback port (generated configuration) and a collectd
# whose alec plugin is configured as contrib/collectd-chirpstack.conf ships
# (csv writer, the TLV fallback, downlinks), plus the fleet scoring, the
# dashboard and exec for notifications. The LoRaWAN device emulator
# (alec-lorawan-sim) gives one day of 20 EM500-CO2-like devices in two
# applications: ALEC frames, the Milesight TLV frame on cold start and for
# keyframes, 1 % of the uplinks lost, and em500-006 reading 8 degC too warm
# for four hours. lorapub publishes them as ChirpStack v4 uplink events.
# Shows the values per device, the notifications for em500-006, the keyframe
# requests on the downlink topic and the statistics; stops everything it
# started (by PID), also on Ctrl-C.
#
#   contrib/demo-lorawan.sh           build tree: ./build (override: ALEC_BUILDDIR)
#   contrib/demo-lorawan.sh --quick   the same fleet published 3 times faster
#   (DEMO_DIR: where its files go, default <build>/demo-lorawan)
#
# Exit status 0 when every stored value is what its device measured, every
# uplink was accounted for (stored, or held back after a loss), em500-006 got
# its entry (WARNING or FAILURE) and OKAY notifications and nobody else got
# any, and keyframe requests appeared on the downlink topic within the
# per-device budget.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ALEC_BUILDDIR:-$top/build}
quick=0
[ "${1:-}" = --quick ] && quick=1

if [ -z "${DEMO_BUILT:-}" ]; then
  echo "== build ($build)"
  if [ ! -x "$top/configure" ]; then
    (cd "$top" && ./bootstrap) >/dev/null || { echo "demo-lorawan: ./bootstrap failed"; exit 1; }
  fi
  mkdir -p "$build" || exit 1
  if [ ! -f "$build/Makefile" ]; then
    (cd "$build" && "$top/configure" >configure.out 2>&1) || {
      tail -n 20 "$build/configure.out"
      echo "demo-lorawan: configure failed (see $build/config.log)"
      exit 1
    }
  fi
  jobs=$(nproc 2>/dev/null || echo 2)
  # lorapub is a test program: not in `make all`.
  if ! make -C "$build" -j"$jobs" all tests/integration/lorapub >"$build/demo-lorawan-build.log" 2>&1; then
    tail -n 30 "$build/demo-lorawan-build.log"
    echo "demo-lorawan: build failed (full log: $build/demo-lorawan-build.log)"
    exit 1
  fi
  echo "   built."
  export DEMO_BUILT=1
fi

export ALEC_BUILDDIR="$build" ALEC_SRCDIR="$top"
IT_LIMIT=150 # the whole demo, build excluded, is bounded
. "$top/tests/integration/lib.sh"
IT_NAME=demo-lorawan
IT_KEEP=1
[ -r "$top/tests/integration/mqtt_lib.sh" ] || it_skip "no MQTT transport in this tree"
. "$top/tests/integration/mqtt_lib.sh"

DEVICES=20
DAYS=0.95
TARGET=6       # em500-006, application building-a
ANOMALY=10:4:80 # from 10:00 for 4 hours, +80 registers (+8.0 degC)
RATE=100       # uplinks per second: one day of the fleet in about 30 s
[ "$quick" -eq 1 ] && RATE=300
BUDGET=10
target_host=$(printf 'em500-%03d' "$TARGET")
# The name the fleet's notifications and scores give a device that has no
# <Emitter> block (collectd-alec(5), "alec-<id>"), accepted beside the
# device name until they take the uplink's deviceName as the values do.
eui_host() { printf 'alec-%016x' $((0x24E124136B000000 + $1)); }
target_re="($target_host|$(eui_host "$TARGET"))"

it_require_plugin
mq_require
SIM=$(it_find_build src/tools/alec-lorawan-sim) || it_skip "alec-lorawan-sim is not built"
it_mktemp "${DEMO_DIR:-$build/demo-lorawan}"

# The day the devices report: the last weekday (office hours for CO2) that
# is over by now, from 00:00 UTC (it_weekday_start): the same values
# whatever the hour the demo runs.
start=$(it_weekday_start 84000)
echo "== devices: $DEVICES EM500-CO2-like (alec-lorawan-sim), 23 hours of $(date -u -d "@$start" +'%A %F'), one uplink per 10 minutes, 1 % lost"
simargs="--devices $DEVICES --days $DAYS --start $start --no-outage --loss 1 --seed 3 --anomaly $TARGET:$ANOMALY"
# shellcheck disable=SC2086
"$SIM" $simargs --format chirpstack --topics >"$IT_TMP/uplinks.events" || it_fail "alec-lorawan-sim chirpstack"
# shellcheck disable=SC2086
"$SIM" $simargs --format jsonl >"$IT_TMP/uplinks.truth" || it_fail "alec-lorawan-sim jsonl"
n_up=$(wc -l <"$IT_TMP/uplinks.events")
n_tlv=$(grep -c '"kind":"tlv"' "$IT_TMP/uplinks.truth")
# shellcheck disable=SC2086
n_lost=$(("$("$SIM" $simargs --format jsonl --lost | wc -l)" - n_up))
echo "   $n_up uplinks to publish ($n_tlv Milesight TLV fallbacks, the others ALEC frames of at most 11 bytes), $n_lost lost on the radio"
echo "   applications building-a (even devices) and building-b (odd); $target_host reads 8 degC too warm for 4 hours, from $(date -u -d "@$((start + 36000))" +%H:%M) UTC"

echo "== mosquitto"
port=$(mq_free_port)
mq_conf "$port"
mq_start
echo "   $MQ_BIN -c $IT_TMP/mosquitto.conf   (pid $MQ_PID, 127.0.0.1:$port)"

# What the network server would forward to the devices.
it_bg "$IT_TMP/downlinks.txt" mosquitto_sub -h 127.0.0.1 -p "$port" -i demo-downlinks -q 1 -v \
  -t 'application/+/device/+/command/down'
sub_pid=$IT_BG_PID
it_wait_for 10 grep -q 'demo-downlinks' "$IT_TMP/mosquitto.log" || it_fail "mosquitto_sub did not connect"

# The shipped configuration with what the demo must change: paths into the
# demo directory, the broker's port, no credentials, groups from the
# application (the emulator's devices carry no "site" tag), 1 s statistics,
# the fleet's evaluation at the demo's pace; the dashboard and exec added.
dport=$(mq_free_port)
udp=$(it_free_port)
cat >"$IT_TMP/fleet.conf" <<EOF
  # Added by the demo: the fleet at the demo's pace, and the dashboard.
  <Fleet>
    # The emulated devices' sensors wander apart by a few MADs on their
    # own (each its own random walk): a band of 5 MADs keeps to what a
    # real fault looks like, the +8 degC of em500-006 (score about 8).
    Threshold 5.0
    ExitThreshold 3.0
    FailureThreshold 7.0
    EnterCount 3
    ExitCount 5
    # One evaluation per uplink period of a device: at the demo's pace a
    # device sends every $DEVICES / $RATE s (every 600 s in the field).
    EvaluationInterval $(awk -v d="$DEVICES" -v r="$RATE" 'BEGIN { printf "%.3f", d / r }')
  </Fleet>
  <Dashboard>
    Listen "127.0.0.1" "$dport"
  </Dashboard>
EOF
it_conf_notify_exec # fills $IT_NOTIFY_OUT; its lines are taken below
sed -n '/^LoadPlugin exec/,/^<\/Plugin>/p' "$IT_CONF" >"$IT_TMP/exec.conf"
sed -e "s|^Hostname .*|Hostname \"it-receiver\"\nBaseDir \"$IT_TMP\"\nPIDFile \"$IT_TMP/collectd.pid\"|" \
  -e "s|^Interval .*|Interval 1|" \
  -e "s|^TypesDB .*|TypesDB \"$IT_STOCK_TYPESDB\" \"$top/contrib/alec.types.db\"|" \
  -e "s|^  File STDOUT|  File \"$IT_LOG\"|" \
  -e "s|^  DataDir .*|  DataDir \"$IT_CSV\"|" \
  -e "s|^  Listen \"127.0.0.1\" \"25830\"|  Listen \"127.0.0.1\" \"$udp\"|" \
  -e "s|^  StateFile .*|  StateFile \"$IT_TMP/alec.state\"|" \
  -e "s|^    Host .*|    Host \"127.0.0.1\"|" \
  -e "s|^    Port .*|    Port $port|" \
  -e "s|^    GroupFrom .*|    GroupFrom \"application\"|" \
  -e "s|^    DownlinkBudget .*|    DownlinkBudget $BUDGET|" \
  -e '/^  <Fleet>/,/^  <\/Fleet>/d' \
  "$top/contrib/collectd-chirpstack.conf" >"$IT_TMP/collectd.conf.1"
# exec is a stock plugin: loaded before PluginDir points at the build tree.
awk -v dir="$IT_PLUGIN_DIR" -v exec="$IT_TMP/exec.conf" -v fleet="$IT_TMP/fleet.conf" '
  function cat(f,    l) { while ((getline l <f) > 0) print l; close(f) }
  /^LoadPlugin alec/ { cat(exec); print "PluginDir \"" dir "\""; print; next }
  /^  <MQTT "chirpstack">/ { cat(fleet) }
  { print }' "$IT_TMP/collectd.conf.1" >"$IT_CONF"
mkdir -p "$IT_CSV"
if ! grep -q "^  <Fleet>" "$IT_CONF" || ! grep -q '^LoadPlugin exec' "$IT_CONF"; then
  it_fail "the configuration rewrite failed"
fi
it_collectd_test_config || { cat "$IT_TMP/collectd-T.out"; it_fail "collectd -T refuses the demo's configuration"; }

echo "== collectd"
it_start
it_wait_for 10 it_log_has 'MQTT "chirpstack".*connected to' || it_fail "the alec plugin did not connect to mosquitto"
echo "   $COLLECTD_BIN -f -C $IT_CONF   (pid $IT_PID)"
echo "   alec plugin subscribed to application/+/device/+/event/up; csv, exec, dashboard http://127.0.0.1:$dport/"

echo "== publishing as ChirpStack v4 (JSON marshaler), $RATE uplinks/s, QoS 1"
it_bg "$IT_TMP/lorapub.out" "$MQ_LORAPUB" pub --port "$port" --id demo-chirpstack --rate "$RATE" "$IT_TMP/uplinks.events"
pub_pid=$IT_BG_PID
t=0
shown=0
stored_values() { cat "$IT_CSV"/em500-*/alec-building-*/temperature-air-* 2>/dev/null | grep -c -v '^epoch' || true; }
while kill -0 "$pub_pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pub_pid/stat" 2>/dev/null)" != Z ]; do
  sleep 2
  t=$((t + 2))
  notes=$(grep -c 'Notification: severity' "$IT_LOG" 2>/dev/null || true)
  printf '   t=%2ds  %5d uplinks stored  %2d keyframe requests  %2d notifications (%d drift warnings)\n' "$t" \
    "$(stored_values)" "$(grep -c . "$IT_TMP/downlinks.txt" 2>/dev/null || true)" "$notes" \
    "$(grep -c 'drifts away from its fleet' "$IT_LOG" 2>/dev/null || true)"
  # The level alerts and the target's OKAYs as they arrive.
  grep 'Notification: severity' "$IT_LOG" | tail -n +$((shown + 1)) |
    grep -E "deviates from|severity = OKAY, host = $target_re," |
    sed 's/^\[[^]]*\] Notification: /          /; s/, plugin = .*message = /: /'
  shown=$notes
  [ "$t" -ge 90 ] && break
done
it_bg_wait "$pub_pid" 10 || it_fail "lorapub did not finish"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/lorapub.out"; it_fail "lorapub failed"; }
echo "   lorapub: $(tail -n 1 "$IT_TMP/lorapub.out")"

# Every uplink is either stored or held back (after a loss) once the queue
# drained; then the OKAY (ExitCount evaluations) and one statistics interval.
settled() {
  local held
  held=$(it_csv_last it-receiver alec-fleet derive-values_held_back | awk '{ printf "%.0f", $1 / 5 }')
  [ "$(stored_values)" -ge "$((n_up - ${held:-0}))" ]
}
it_wait_for 20 settled
it_wait_for 15 grep -q -E "severity = OKAY, host = $target_re," "$IT_LOG"
sleep 2.2

echo "== values per device (csv: $IT_CSV/<device>/alec-<application>/<type>-<date>)"
printf '   %-10s %-10s %7s %6s %8s %8s %6s %6s %8s %5s %5s  %s\n' device application uplinks tlv \
  "battery%" "degC" "%RH" "CO2" "hPa" "rssi" "snr" "max degC, fleet state"
for i in $(seq 0 $((DEVICES - 1))); do
  h=$(printf 'em500-%03d' "$i")
  g=building-a
  [ $((i % 2)) -eq 1 ] && g=building-b
  p=alec-$g
  rows=$(it_csv_count "$h" "$p" temperature-air)
  tlv=$(grep -c "\"device\":$i,.*\"kind\":\"tlv\"" "$IT_TMP/uplinks.truth")
  max=$(it_csv_rows "$h" "$p" temperature-air | cut -d, -f2 | sort -g | tail -n 1)
  worst=$( (it_csv_rows "$h" "$p" alec_anomaly-temperature-air; it_csv_rows "$h" "$p" alec_anomaly-gauge-ch1
    it_csv_rows "$(eui_host "$i")" "$p" alec_anomaly-gauge-ch1) |
    cut -d, -f2 | sort -g | tail -n 1)
  case "${worst%%.*}" in 2) state="FAILURE" ;; 1) state="WARNING" ;; 0) state="normal" ;; *) state="-" ;; esac
  printf '   %-10s %-10s %7s %6s %8.0f %8.1f %6.1f %6.0f %8.1f %5.0f %5.1f  %.1f, %s\n' "$h" "$g" "$rows" "$tlv" \
    "$(it_csv_last "$h" "$p" percent-battery)" "$(it_csv_last "$h" "$p" temperature-air)" \
    "$(it_csv_last "$h" "$p" humidity-air)" "$(it_csv_last "$h" "$p" gauge-co2)" \
    "$(it_csv_last "$h" "$p" pressure-air)" "$(it_csv_last "$h" "$p" lora_rssi)" \
    "$(it_csv_last "$h" "$p" lora_snr)" "${max:-0}" "$state"
done
echo "   (last values; rssi / snr of the best gateway of the last uplink)"

echo "== level alerts (a value out of its peers' band) and their OKAY, as NotificationExec received them"
it_notifications | grep -E "deviates from|^Severity: OKAY\|.*\|Host: $target_re\|.*\|TypeInstance: (ch1|air)\|" |
  sed 's/^/   /; s/|/\n   /g; s/$/\n/'
n_drift=$(grep -c 'drifts away from its fleet' "$IT_LOG" || true)
echo "== $n_drift drift warnings (CUSUM of a device's score against its own baseline; per device and channel)"
grep 'drifts away from its fleet' "$IT_LOG" | sed -n 's/.*host = \([^,]*\),.*type_instance = \([^,]*\),.*score \([-0-9.]*\),.*/\1 \2/p' |
  sort | uniq -c | awk '{ printf "   %-24s %-5s %d\n", $2, $3, $1 }' | column -c 100 | sed 's/^/   /'
echo "   (the emulator's devices drift apart, independent random walks; see docs/LORAWAN.md, step 5)"

echo "== keyframe requests on the downlink topic (mosquitto_sub, what ChirpStack would queue)"
n_down=$(grep -c . "$IT_TMP/downlinks.txt" || true)
head -n 5 "$IT_TMP/downlinks.txt" | sed 's/^/   /'
[ "$n_down" -gt 5 ] && echo "   ... $((n_down - 5)) more"
worst_dev=$(awk '{ split($1, p, "/"); n[p[4]]++ } END { m = 0; for (d in n) if (n[d] > m) m = n[d]; print m + 0 }' "$IT_TMP/downlinks.txt")
echo "   $n_down requests to $(awk '{ split($1, p, "/"); print p[4] }' "$IT_TMP/downlinks.txt" | sort -u | wc -l) devices, at most $worst_dev per device (DownlinkBudget $BUDGET, DownlinkInterval 600 s)"

s() { it_csv_last it-receiver "$1" "$2" | awk '{ printf "%.0f\n", $1 }'; }
echo "== plugin statistics (host it-receiver)"
echo "   receiver: values dispatched $(it_stat derive-values_dispatched), held back $(it_stat derive-values_held_back), lost frames $(it_stat derive-lost_frames), rejected $(it_stat_rejected)"
for f in "$IT_CSV"/it-receiver/alec-fleet/*-[0-9]*; do
  k=${f##*/}
  k=${k%-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]}
  v=$(s alec-fleet "$k")
  case $k in errors-rejected_*) continue ;; *tlv* | *fcnt* | *resync* | *keyframe*) printf '   receiver: %s %s\n' "$k" "$v" ;; esac
done
for f in "$IT_CSV"/it-receiver/alec-mqtt-chirpstack/*-[0-9]*; do
  [ -f "$f" ] || continue
  k=${f##*/}
  k=${k%-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]}
  v=$(s alec-mqtt-chirpstack "$k")
  case $k in errors-rejected_*) [ "${v:-0}" = 0 ] && continue ;; esac
  printf '   mqtt-chirpstack: %s %s\n' "$k" "$v"
done

echo "== stopping collectd (pid $IT_PID), mosquitto_sub (pid $sub_pid), mosquitto (pid $MQ_PID)"
it_stop
echo "   collectd exit status $IT_STATUS; $(grep -o 'shut down;.*' "$IT_LOG" | tail -n 1)"
it_kill_pid "$sub_pid" 5
mq_stop

# The verdict. Every stored value must be the truth of its uplink: per
# device and type the stored sequence is the truth's sequence with the
# held-back values left out.
awk '{
    match($0, /"device":[0-9]+/); d = substr($0, RSTART + 9, RLENGTH - 9)
    match($0, /"time":[0-9.]+/); t = substr($0, RSTART + 7, RLENGTH - 7)
    match($0, /"truth":\[[^]]*\]/); split(substr($0, RSTART + 9, RLENGTH - 10), v, ",")
    h = sprintf("em500-%03d", d)
    printf "%s percent-battery %.3f %.6f\n", h, t, v[1]
    printf "%s temperature-air %.3f %.6f\n", h, t, v[2] * 0.1
    printf "%s humidity-air %.3f %.6f\n", h, t, v[3] * 0.5
    printf "%s gauge-co2 %.3f %.6f\n", h, t, v[4]
    printf "%s pressure-air %.3f %.6f\n", h, t, v[5] * 0.1
  }' "$IT_TMP/uplinks.truth" | sort >"$IT_TMP/want"
for f in "$IT_CSV"/em500-*/alec-*/*-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]; do
  rel=${f#"$IT_CSV"/}
  case $rel in */lora_* | */alec_*) continue ;; esac
  tail -n +2 "$f" | awk -F, -v r="$rel" '{ split(r, p, "/"); t = p[3]; sub(/-[0-9]+-[0-9]+-[0-9]+$/, "", t); printf "%s %s %s %s\n", p[1], t, $1, $2 }'
done | sort >"$IT_TMP/got"
wrong=$(comm -13 "$IT_TMP/want" "$IT_TMP/got" | wc -l)
got=$(wc -l <"$IT_TMP/got")
held=$(it_stat derive-values_held_back)
# The level alert of the target's temperature and its OKAY; no level alert
# elsewhere (drift warnings are shown, not judged).
target_temp="host = $target_re, plugin = alec, plugin_instance = building-a, type = (temperature|gauge), type_instance = (air|ch1),"
entries=$(grep -E "severity = (WARNING|FAILURE), $target_temp" "$IT_LOG" | grep -c 'deviates from' || true)
okays=$(grep -c -E "severity = OKAY, $target_temp" "$IT_LOG" || true)
others=$(grep 'deviates from' "$IT_LOG" | grep -v -c -E "$target_temp" || true)
rejected=$(it_stat_rejected)

echo "== files"
echo "   configuration   $IT_CONF"
echo "   log             $IT_LOG"
echo "   csv values      $IT_CSV/"
echo "   notifications   $IT_NOTIFY_OUT"
echo "   downlinks       $IT_TMP/downlinks.txt"
if [ "$wrong" -eq 0 ] && [ "$((got + ${held:-0}))" -eq "$((5 * n_up))" ] && [ "$entries" -ge 1 ] && [ "$okays" -ge 1 ] &&
  [ "$others" -eq 0 ] && [ "$n_down" -ge 1 ] && [ "$worst_dev" -le "$BUDGET" ] && [ "${rejected:-0}" -eq 0 ]; then
  echo "demo-lorawan: OK: $got values of $n_up uplinks stored exactly, ${held:-0} held back after losses, $n_down keyframe requests (at most $worst_dev per device); $target_host's temperature raised an alert and recovered; no other level alert ($n_drift drift warnings)."
  exit 0
fi
echo "demo-lorawan: unexpected result: $got values stored + ${held:-?} held back (want $((5 * n_up))), $wrong not what the devices measured, $target_host $entries temperature alert(s) / $okays OKAY, $others other level alert(s), $n_down keyframe requests (at most $worst_dev per device), ${rejected:-?} rejected"
IT_FAILED=1
exit 1
