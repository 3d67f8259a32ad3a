#!/bin/bash
# SPDX-License-Identifier: MIT
# Sharded receivers behind RabbitMQ (docs/SCALING.md): messages per second
# and CPU per message for 1, 2 and 3 collectd receivers on this machine,
# with the broker's share.
#
# One private RabbitMQ node (tests/integration/rabbitmq_lib.sh) for the
# whole run. Per run: the shard objects of contrib/rabbitmq-declare.sh for
# R receivers (a fresh prefix, the previous run's exchange deleted), a fleet
# of DEVICES ALEC devices x STEPS uplinks published as ChirpStack "up"
# events while no receiver runs (the durable queues hold them), then R
# receivers started together; measured from their start until every shard
# queue is empty and acknowledged: wall time, CPU-seconds (utime + stime
# from /proc) of the receivers and of the broker. The devices' values go
# through collectd's dispatch, cache and filter chain to the alec write
# callback (which confirms the acknowledgements), not to disk. The runs
# alternate 1, 2, 3, 1, 2, 3, ... (--rounds), the table gives medians and
# ranges, and ratios against 1 receiver of the same run.
#
#   contrib/bench-amqp.sh [--devices 600] [--steps 60] [--rounds 2]
#                         [--receivers "1 2 3"] [--out FILE]
# ALEC_BUILDDIR (default: ./build of the checkout) is the build tree used.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export ALEC_SRCDIR=${ALEC_SRCDIR:-$top}
export ALEC_BUILDDIR=${ALEC_BUILDDIR:-$top/build}
IT_LIMIT=1800
# lib.sh runs the script again under timeout(1) with its arguments: parsed
# after it.
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/rabbitmq_lib.sh"
IT_NAME=bench-amqp
devices=600 steps=60 rounds=2 counts="1 2 3" out=""
while [ $# -gt 0 ]; do
  case $1 in
  --devices) devices=$2; shift ;;
  --steps) steps=$2; shift ;;
  --rounds) rounds=$2; shift ;;
  --receivers) counts=$2; shift ;;
  --out) out=$2; shift ;;
  -h | --help) sed -n '3,/^set -u/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
  *) echo "bench-amqp: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

it_require_plugin
it_require_rabbitmq
PUB=$(it_amqppub) || it_skip "amqppub is not built (make check builds it)"
it_mktemp
export AMQP_NO_VALUE_CSV=1
it_rabbitmq_start 90
RMQ_VM=$(cat "$RMQ_DIR/rabbitmq.pid")
msgs=$((devices * steps))

cpu_of() { # utime + stime of a PID in seconds, 0 when gone
  [ -r "/proc/$1/stat" ] || { echo 0; return; }
  sed 's/^.*) //' "/proc/$1/stat" | awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($12 + $13) / t }'
}
queued() { # ready + unacknowledged over the run's shard queues (HTTP API)
  it_rabbitmq_api GET "/queues/%2F?columns=name,messages" | tr '{' '\n' |
    sed -n "s/.*\"messages\":\([0-9]*\).*\"name\":\"$1\.shard\.[0-9]*\".*/\1/p" | awk '{ s += $1 } END { print s + 0 }'
}

run=0
: >"$IT_TMP/results.txt"
for round in $(seq 1 "$rounds"); do
  for r in $counts; do
    run=$((run + 1))
    prefix=bench$run
    "$top/contrib/rabbitmq-declare.sh" --url "http://127.0.0.1:$RMQ_HTTP" --user "$RMQ_USER" --password "$RMQ_PASS" \
      --prefix "$prefix" --shards "$r" >"$IT_TMP/declare.$run.out" 2>&1 || it_fail "declare failed: $(cat "$IT_TMP/declare.$run.out")"
    "$PUB" --port "$RMQ_PORT" --user "$RMQ_USER" --password "$RMQ_PASS" --devices "$devices" --steps "$steps" \
      --rate 0 --quiet >"$IT_TMP/pub.$run.out" 2>&1 || it_fail "publisher failed: $(cat "$IT_TMP/pub.$run.out")"
    all_queued() { [ "$(queued "$prefix")" -ge "$msgs" ]; }
    it_wait_for 30 all_queued || it_say "run $run: only $(queued "$prefix") of $msgs queued"
    pids=""
    for k in $(seq 1 "$r"); do
      rm -rf "$IT_TMP/r$k"
      amqp_receiver_conf "$k" "$prefix.shard.$((k - 1))" "    Prefetch 512"
    done
    b0=$(cpu_of "$RMQ_VM")
    t0=$(date +%s.%N)
    for k in $(seq 1 "$r"); do
      d=$IT_TMP/r$k
      touch "$d/collectd.log"
      "$COLLECTD_BIN" -f -C "$d/collectd.conf" -P "$d/collectd.pid" >"$d/collectd.out" 2>&1 &
      pids="$pids $!"
      IT_PIDS="$IT_PIDS $!"
    done
    while [ "$(queued "$prefix")" -gt 0 ]; do
      sleep 0.25
      [ "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print (b - a > 300) }')" = 1 ] && it_fail "run $run: not drained in 300 s"
    done
    t1=$(date +%s.%N)
    b1=$(cpu_of "$RMQ_VM")
    cpu=0
    for p in $pids; do cpu=$(awk -v a="$cpu" -v b="$(cpu_of "$p")" 'BEGIN { print a + b }'); done
    for p in $pids; do it_stop "$p"; done
    # The exchange goes with its bindings: the next run's devices reach only
    # the next run's shards.
    it_rabbitmq_api DELETE "/exchanges/%2F/$prefix.uplinks" >/dev/null
    for k in $(seq 1 "$r"); do it_rabbitmq_api DELETE "/queues/%2F/$prefix.shard.$((k - 1))" >/dev/null; done
    awk -v r="$r" -v n="$msgs" -v a="$t0" -v b="$t1" -v c="$cpu" -v b0="$b0" -v b1="$b1" 'BEGIN {
      w = b - a; printf "%d %.0f %.2f %.2f %.2f\n", r, n / w, w, 1e6 * c / n, 1e6 * (b1 - b0) / n }' >>"$IT_TMP/results.txt"
    it_say "run $run: $(tail -n 1 "$IT_TMP/results.txt")"
  done
done
it_rabbitmq_stop

{
  echo "Sharded AMQP receivers: $devices devices x $steps uplinks = $msgs ChirpStack events per run, $rounds rounds, $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
  echo
  echo "| receivers | messages/s median (range) | vs 1 receiver | receiver CPU µs/msg median (range) | broker CPU µs/msg median (range) |"
  echo "|---:|---:|---:|---:|---:|"
  awk '
    { n[$1]++; rate[$1, n[$1]] = $2; rc[$1, n[$1]] = $4; bc[$1, n[$1]] = $5; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
    function med(a, key, m,   i, j, t, v) { for (i = 1; i <= m; i++) v[i] = a[key, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      lo = v[1]; hi = v[m]; return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
    END { base = 0
      for (i = 1; i <= k; i++) { r = order[i]
        mr = med(rate, r, n[r]); rlo = lo; rhi = hi
        mc = med(rc, r, n[r]); clo = lo; chi = hi
        mb = med(bc, r, n[r]); blo = lo; bhi = hi
        if (r == 1) base = mr
        printf "| %d | %.0f (%.0f-%.0f) | %s | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) |\n", r, mr, rlo, rhi,
          base ? sprintf("%.2fx", mr / base) : "-", mc, clo, chi, mb, blo, bhi } }' "$IT_TMP/results.txt"
} | tee "${out:-/dev/null}"
