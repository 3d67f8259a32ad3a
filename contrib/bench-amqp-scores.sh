#!/bin/bash
# SPDX-License-Identifier: MIT
# Fleet baselines across shards (docs/SCALING.md): the same fleet scored by
# one receiver and by three receivers of a consistent-hash exchange (hash by
# device: each receiver scores a group against the third of it that it
# holds). Prints, per configuration, the devices that got an anomaly
# notification and their peak score, and over all devices the difference of
# their last scores (median, 99th percentile, maximum).
#
# Fleet: DEVICES one-channel ALEC devices in two applications (peer groups
# "hall-a", "hall-b"), STEPS uplinks at RATE steps/s, devices 16 (hall-a)
# and 317 (hall-b) +OFFSET during steps 20-40.
#
#   contrib/bench-amqp-scores.sh [--devices 600] [--steps 60] [--rate 2]
#                                [--offset 3] [--out FILE]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export ALEC_SRCDIR=${ALEC_SRCDIR:-$top}
export ALEC_BUILDDIR=${ALEC_BUILDDIR:-$top/build}
IT_LIMIT=900
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/rabbitmq_lib.sh"
IT_NAME=bench-amqp-scores
devices=600 steps=60 rate=2 offset=3 out=""
while [ $# -gt 0 ]; do
  case $1 in
  --devices) devices=$2; shift ;;
  --steps) steps=$2; shift ;;
  --rate) rate=$2; shift ;;
  --offset) offset=$2; shift ;;
  --out) out=$2; shift ;;
  -h | --help) sed -n '3,/^set -u/p' "$0" | grep '^#' | cut -c3-; exit 0 ;;
  *) echo "bench-amqp-scores: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
it_require_plugin
it_require_rabbitmq
PUB=$(it_amqppub) || it_skip "amqppub is not built (make check builds it)"
it_mktemp
export AMQP_CHANNELS=1
it_rabbitmq_start 90

for r in 1 3; do
  prefix=scores$r
  "$top/contrib/rabbitmq-declare.sh" --url "http://127.0.0.1:$RMQ_HTTP" --user "$RMQ_USER" --password "$RMQ_PASS" \
    --prefix "$prefix" --shards "$r" >"$IT_TMP/declare.$r.out" 2>&1 || it_fail "declare: $(cat "$IT_TMP/declare.$r.out")"
  pids=""
  for k in $(seq 1 "$r"); do
    rm -rf "$IT_TMP/r$k"
    amqp_receiver_conf "$k" "$prefix.shard.$((k - 1))"
    amqp_receiver_start "$k"
    eval "pids=\"\$pids \$RCV_PID_$k\""
  done
  "$PUB" --port "$RMQ_PORT" --user "$RMQ_USER" --password "$RMQ_PASS" --devices "$devices" --steps "$steps" \
    --rate "$rate" --channels 1 --anomaly "16:20:40:$offset" --anomaly "317:20:40:$offset" --quiet \
    >"$IT_TMP/pub.$r.out" 2>&1 || it_fail "publisher: $(cat "$IT_TMP/pub.$r.out")"
  sleep 4 # the last evaluations
  for k in $(seq 1 "$r"); do amqp_receiver_stop "$k"; done
  it_rabbitmq_api DELETE "/exchanges/%2F/$prefix.uplinks" >/dev/null
  # host last-score peak-score, and the hosts notified
  : >"$IT_TMP/scores.$r"
  : >"$IT_TMP/entries.$r"
  for k in $(seq 1 "$r"); do
    for f in "$IT_TMP/r$k"/csv/alec-*/alec-hall-*/alec_score-gauge-ch0-*; do
      [ -f "$f" ] || continue
      h=$(basename "$(dirname "$(dirname "$f")")")
      awk -F, -v h="$h" 'NR > 1 { v = $2 + 0; a = v < 0 ? -v : v; if (a > p) p = a; l = v } END { printf "%s %.4f %.4f\n", h, l, p }' "$f"
    done >>"$IT_TMP/scores.$r"
    awk '$0 == "----" { print b; b = ""; next } { b = (b == "" ? $0 : b "|" $0) }' "$IT_TMP/r$k/notifications.txt" |
      grep -E '^Severity: (WARNING|FAILURE)\|' | sed -n 's/.*|Host: \([^|]*\)|.*/\1/p' >>"$IT_TMP/entries.$r"
  done
  sort -o "$IT_TMP/scores.$r" "$IT_TMP/scores.$r"
  it_say "$r receiver(s): $(wc -l <"$IT_TMP/scores.$r") devices scored, notified: $(sort "$IT_TMP/entries.$r" | uniq -c | tr '\n' ' ')"
done
it_rabbitmq_stop

{
  echo "Fleet scores, 1 receiver vs 3 shards (hash by device): $devices devices, $steps steps at $rate/s, devices 16 and 317 +$offset in steps 20-40, $(date -u +%Y-%m-%d)"
  echo
  echo "| | 1 receiver | 3 receivers |"
  echo "|---|---|---|"
  echo "| devices notified (WARNING/FAILURE entries) | $(sort "$IT_TMP/entries.1" | uniq -c | awk '{ printf "%s%s x%d", s, $2, $1; s = ", " }') | $(sort "$IT_TMP/entries.3" | uniq -c | awk '{ printf "%s%s x%d", s, $2, $1; s = ", " }') |"
  for a in 16 317; do
    h=$(printf 'alec-70b3d5e75e%06x' "$a")
    echo "| peak score of $h | $(awk -v h="$h" '$1 == h { print $3 }' "$IT_TMP/scores.1") | $(awk -v h="$h" '$1 == h { print $3 }' "$IT_TMP/scores.3") |"
  done
  echo
  join "$IT_TMP/scores.1" "$IT_TMP/scores.3" | awk '
    { d = $2 - $4; if (d < 0) d = -d; v[++n] = d; if ($3 > pk1) pk1 = $3 }
    END { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      p99 = int(0.99 * n); if (p99 < 1) p99 = 1
      printf "Last score per device, |1 receiver - 3 receivers| over %d devices: median %.3f, p99 %.3f, max %.3f\n",
        n, v[int((n + 1) / 2)], v[p99], v[n] }' p99=1
} | tee "${out:-/dev/null}"
