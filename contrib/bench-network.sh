#!/bin/bash
# SPDX-License-Identifier: MIT
# collectd's own network plugin vs the alec plugin, on the same machine, in
# the same run, with the same values (docs/PERFORMANCE.md):
#
#  1. wire bytes per value on the three sample datasets ($ALEC_SHARED/data/
#     samples), collectd's binary protocol as its network plugin writes it vs
#     ALEC frames in envelope datagrams (bench-netsend --dry-run: exact byte
#     counts of what would be sent);
#  2. for each receiver, a fresh collectd per step, fed by bench-netsend at a
#     stepped rate (values/s) for a few seconds: values received according to
#     the receiver's own statistics (network: total_values-dispatch-accepted;
#     alec: values_dispatched), loss = sent - received, kernel UDP drops
#     (the receiving socket's own drop counter in /proc/net/udp), and
#     collectd's CPU-seconds per million values
#     (utime + stime of the daemon from /proc/PID/stat, from the first value
#     sent until everything that will arrive has been dispatched).
#
# Both daemons run the same configuration apart from the receiving plugin:
# Interval 1, WriteThreads 1, and a PostCache chain that writes only the
# receiver's own statistics (csv), so every received value goes through
# dispatch, the write queue, the cache and the filter chain, and the disk
# is not what is measured.
#
#   contrib/bench-network.sh [--short | --full] [--rates "25000 50000 ..."]
#                            [--seconds S] [--emitters N] [--out FILE]
#                            [--receivers "network alec alec-perframe"]
#
# --full (default): rates 25k 50k 100k 200k 400k values/s, 5 s each (~4 min);
# --short (make bench): 50k and 100k values/s, 2 s each (~1 min).
# ALEC_BUILDDIR (default: ./build of the checkout) is the build tree used.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
mode=full
rates=""
seconds=""
bench_emitters=1000
receivers="network alec alec-perframe"
out=""
while [ $# -gt 0 ]; do
  case $1 in
  --short) mode=short ;;
  --full) mode=full ;;
  --rates) rates=$2; shift ;;
  --seconds) seconds=$2; shift ;;
  --emitters) bench_emitters=$2; shift ;;
  --receivers) receivers=$2; shift ;;
  --out) out=$2; shift ;;
  -h | --help) sed -n '3,/^set -u/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
  *) echo "bench-network: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$mode" = short ]; then
  rates=${rates:-"50000 100000"}
  seconds=${seconds:-2}
  IT_LIMIT=300
else
  rates=${rates:-"25000 50000 100000 200000 400000"}
  seconds=${seconds:-5}
  IT_LIMIT=900
fi
export ALEC_SRCDIR="$top" ALEC_BUILDDIR="${ALEC_BUILDDIR:-$top/build}"
. "$top/tests/integration/lib.sh" --"$mode" --rates "$rates" --seconds "$seconds" --emitters "$bench_emitters" \
  --receivers "$receivers" ${out:+--out "$out"}
IT_NAME=bench-network

samples=$IT_SHARED/data/samples
if [ ! -d "$samples" ]; then
  echo "bench-network: SKIP: sample datasets not found ($samples; set ALEC_SHARED)"
  exit 0
fi
it_require_collectd
NETSEND=$(it_netsend) || { echo "bench-network: SKIP: bench-netsend is not built"; exit 0; }
IT_PLUGIN_SO=$(it_plugin_so) || { echo "bench-network: SKIP: alec.so is not built"; exit 0; }
IT_PLUGIN_DIR=$(dirname "$IT_PLUGIN_SO")
it__sanitizer_setup
[ -n "$IT_PRELOAD" ] && echo "bench-network: note: the plugin is built with sanitizers; numbers are not representative"
it_mktemp
out=${out:-$IT_BUILDDIR/bench-network.md}
: >"$out"
say() { printf '%s\n' "$*" | tee -a "$out"; }

num() { sed -E -n "s/(^|.* )$1=([0-9.]+).*/\\2/p" | head -n 1; }
bpv() { "$NETSEND" --dry-run "$@" | head -n 1 | sed 's/.*bytes_per_value=\([0-9.]*\).*/\1/'; }

# ---------------------------------------------------------------- 1. wire bytes
say "## Wire bytes per value (UDP payload), sample datasets"
say ""
say "host names as the plugin's defaults (alec-<16 hex digits>); collectd: one value list per value, type gauge,"
say "parts written only when they change, time part per reading; ALEC: closed-loop encoder, envelope records."
say ""
say "| dataset | values | collectd, 1 emitter, full packets | ALEC fixed, 1 emitter, run datagrams | collectd / ALEC (1 emitter) | collectd, 100 emitters interleaved | collectd, 1 datagram per reading | ALEC fixed, batched | ALEC multi, batched | ALEC single, batched | ALEC fixed, 1 datagram per frame | collectd (100 em.) / ALEC fixed |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|"
for f in "$samples"/*.csv; do
  d=$(basename "$f" .csv)
  h="--host-prefix alec- --host-hex --csv $f"
  # shellcheck disable=SC2086
  {
    c1=$(bpv $h)
    a1=$(bpv $h --protocol alec --format fixed)
    c100=$(bpv $h --emitters 100)
    cpr=$(bpv $h --per-frame)
    af=$(bpv $h --emitters 100 --protocol alec --format fixed)
    am=$(bpv $h --emitters 100 --protocol alec --format multi)
    as=$(bpv $h --emitters 100 --protocol alec --format single)
    afp=$(bpv $h --emitters 100 --protocol alec --format fixed --per-frame)
    nv=$("$NETSEND" --dry-run $h | num values)
    mv=$("$NETSEND" --dry-run $h --protocol alec --format multi | num values_in_frames)
  }
  ratio=$(awk -v a="$c100" -v b="$af" 'BEGIN { printf "%.1f", a / b }')
  ratio1=$(awk -v a="$c1" -v b="$a1" 'BEGIN { printf "%.1f", a / b }')
  say "| $d | $nv | $c1 | $a1 | ${ratio1}x | $c100 | $cpr | $af | $am (carries $mv of $nv) | $as | $afp | ${ratio}x |"
done
say ""

# ---------------------------------------------------------------- 2. live runs
dataset=$samples/smartgrid_24h.csv
[ -f "$dataset" ] || dataset=$(ls "$samples"/*.csv | head -n 1)

# The configuration both receivers share, then the receiver.
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

# Counter of values the receiver took in (last csv row), empty if none yet.
received() {
  case $1 in
  network) it_csv_last it-receiver network total_values-dispatch-accepted | awk '{ printf "%.0f\n", $1 }' ;;
  *) it_stat derive-values_dispatched ;;
  esac
}

# Length of collectd's write queue (values dispatched, not yet written):
# last sample, and the number of samples so far.
write_queue() { it_csv_last it-receiver collectd-write_queue queue_length | awk '{ printf "%.0f\n", $1 }'; }
write_queue_samples() { it_csv_count it-receiver collectd-write_queue queue_length; }
write_queue_max() {
  it_csv_rows it-receiver collectd-write_queue queue_length | cut -d, -f2 |
    awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { printf "%.0f\n", m }'
}
now() { date +%s.%N; }

# Datagrams the kernel dropped on the receiving socket itself (the last
# column of its /proc/net/udp line), not the system-wide RcvbufErrors, which
# also counts every other socket of the machine.
udp_sock_drops() {
  awk -v p="$(printf ':%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }' \
    /proc/net/udp /proc/net/udp6
}

# run RECEIVER RATE -> one table row
run=0
live() {
  local receiver=$1 rate=$2 port sendargs cpu0 cpu1 e0 e1 sent got last same hwm
  run=$((run + 1))
  mkdir -p "$IT_TMP/run$run"
  chmod 0777 "$IT_TMP/run$run"
  IT_CONF=$IT_TMP/run$run/collectd.conf
  IT_LOG=$IT_TMP/run$run/collectd.log
  IT_CSV=$IT_TMP/run$run/csv
  port=$(it_free_port)
  conf_common
  case $receiver in
  network)
    cat >>"$IT_CONF" <<EOF
LoadPlugin network
<Plugin network>
  Listen "127.0.0.1" "$port"
  ReportStats true
</Plugin>
EOF
    sendargs="--protocol collectd"
    ;;
  alec | alec-perframe)
    # No ReceiveBufferSize: collectd 5.12's network plugin has no such
    # option, so both receivers get the kernel's default buffer.
    # A fleet of $bench_emitters emitters starting at once: every channel is
    # a new identifier in the first second (the default bound, 1000/s, is
    # for unknown senders; an operator expecting a fleet raises it).
    it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  MaxEmitters 100000
  MaxNewIdentifiers 1000000"
    sendargs="--protocol alec --format fixed"
    [ "$receiver" = alec-perframe ] && sendargs="$sendargs --per-frame"
    ;;
  esac
  it_start
  it_wait_for 10 it_port_bound "$port" || it_fail "$receiver does not listen on $port"
  e0=$(udp_sock_drops "$port")
  cpu0=$(it_cpu_seconds "$IT_PID")
  # shellcheck disable=SC2086
  "$NETSEND" --to "127.0.0.1:$port" $sendargs --host-prefix alec- --host-hex --csv "$dataset" \
    --emitters "$bench_emitters" --values $((rate * seconds)) --rate "$rate" >"$IT_TMP/run$run/send.out" 2>&1 ||
    { cat "$IT_TMP/run$run/send.out"; it_fail "bench-netsend failed"; }
  sent=$(num values <"$IT_TMP/run$run/send.out")
  t_end=$(now)
  # Drained: everything the receiver will get has been dispatched and the
  # write queue has been seen empty since (statistics come once a second);
  # or nothing moved for 3 s.
  last=-1
  same=0
  done_at=""
  for _ in $(seq 1 120); do
    sleep 0.5
    got=$(received "$receiver")
    got=${got:-0}
    if [ "$got" -ge "$sent" ]; then
      if [ -z "$done_at" ]; then
        done_at=$(now)
        samples=$(write_queue_samples)
      fi
      [ "$(write_queue_samples)" -gt "$samples" ] && [ "$(write_queue)" = 0 ] && break
      continue
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
  wqmax=$(write_queue_max)
  cpu1=$(it_cpu_seconds "$IT_PID")
  e1=$(udp_sock_drops "$port")
  hwm=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$IT_PID/status")
  it_stop
  awk -v r="$receiver" -v rate="$rate" -v sent="$sent" -v got="$got" -v c0="$cpu0" -v c1="$cpu1" \
    -v e="$((e1 - e0))" -v hwm="$hwm" -v drain="$drain" -v wq="$wqmax" \
    -v bpv="$(num bytes_per_value <"$IT_TMP/run$run/send.out")" -v ach="$(num rate <"$IT_TMP/run$run/send.out")" '
    BEGIN {
      cpu = c1 - c0
      printf "| %s | %d | %d | %d | %d | %d | %d | %s | %d | %.2f | %.2f | %.2f | %d |\n", r, rate, ach, sent, got, sent - got, e, drain, wq, bpv, cpu, (got > 0 ? cpu * 1e6 / got : 0), hwm
    }' | tee -a "$out"
}

say "## collectd network plugin vs alec plugin, $bench_emitters emitters replaying $(basename "$dataset") ($seconds s per step)"
say ""
say "| receiver | target values/s | achieved | sent | received | lost | kernel drops (datagrams) | drain s | max write queue | wire B/value | collectd CPU s | CPU s per 1M values | RSS peak MB |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
# Receivers interleaved per rate, so that a change of the machine's load
# during the run weighs on both alike.
for rate in $rates; do
  for receiver in $receivers; do
    live "$receiver" "$rate"
  done
done
say ""
say "(network: collectd's binary protocol, 1452-byte packets; alec: fixed frames in envelope datagrams of up to 1452 bytes;"
say "alec-perframe: one fixed frame per datagram, as emitters talking directly. Machine: $(nproc) CPUs, $(uname -sr); sender on the same machine.)"
echo "bench-network: results in $out"
exit 0
