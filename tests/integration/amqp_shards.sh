#!/bin/bash
# SPDX-License-Identifier: MIT
# Three collectd receivers behind a private RabbitMQ node (issue 12): the
# objects of contrib/rabbitmq-declare.sh (a consistent-hash exchange bound
# to amq.topic, three durable single-active-consumer shard queues), 600 ALEC
# devices in two applications published as ChirpStack v4 AMQP "up" events,
# two of them anomalous for a while. Mid-run receiver 2 is stopped and
# started again (its queue waits); later a fourth shard and receiver are
# added. Checks:
#  - every value is stored exactly once, by exactly one receiver, within
#    0.5/Scale of what was sent; none is lost across the failover;
#  - a device is stored by one receiver until the fourth shard appears;
#    then about a quarter of the devices move to receiver 4, which holds
#    their values back until a keyframe (counted), asks for one through
#    the network server (ChirpStack commands, honoured by the emulator),
#    and stores everything after it;
#  - each injected anomaly gives exactly one WARNING/FAILURE notification,
#    from the receiver that holds the device, and no other device gets one,
#    also on receiver 2, which scores its backlog in the network server's
#    time (the fleet's data time) as the live stream was.
IT_LIMIT=420
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rabbitmq_lib.sh"

it_require_plugin
it_require_rabbitmq
PUB=$(it_amqppub) || it_skip "amqppub is not built"
it_mktemp
DEVICES=${AMQP_DEVICES:-600}
STEPS=${AMQP_STEPS:-80}
RATE=${AMQP_RATE:-2}        # steps per second: 1200 uplinks/s with 600 devices
KILL_AT=${AMQP_KILL_AT:-13} # step at which receiver 2 stops
BACK_AT=${AMQP_BACK_AT:-21} # ... and starts again
ADD_AT=${AMQP_ADD_AT:-54}   # step at which the fourth shard appears (not a keyframe step)
A1=16                       # anomalous devices: one of hall-a, one of hall-b
A2=317
ANOM_FROM=24
ANOM_TO=40

declare_shards() { # N FIRST
  "$IT_SRCDIR/contrib/rabbitmq-declare.sh" --url "http://127.0.0.1:$RMQ_HTTP" --user "$RMQ_USER" \
    --password "$RMQ_PASS" --shards "$1" --first "$2" >>"$IT_TMP/declare.out" 2>&1 ||
    { cat "$IT_TMP/declare.out"; it_fail "declare failed"; }
}

it_rabbitmq_start 90
declare_shards 3 0
# What a network server does with commands is the emulator's business: a
# queue it reads them from.
it_rabbitmq_api PUT /queues/%2F/it.commands '{"durable":true,"arguments":{}}' >/dev/null || it_fail "commands queue"
it_rabbitmq_api POST /bindings/%2F/e/amq.topic/q/it.commands \
  '{"routing_key":"application.*.device.*.command.down","arguments":{}}' >/dev/null || it_fail "commands binding"
it_ok "declared 3 shards and the commands queue in $RMQ_START_SECONDS s of broker start"

for k in 1 2 3; do
  amqp_receiver_conf "$k" "alec.shard.$((k - 1))"
  amqp_receiver_start "$k"
done
amqp_receiver_conf 4 alec.shard.3
it_ok "receivers 1-3 consume alec.shard.0-2"

"$PUB" --port "$RMQ_PORT" --user "$RMQ_USER" --password "$RMQ_PASS" --devices "$DEVICES" --steps "$STEPS" \
  --rate "$RATE" --keyframe 10 --commands it.commands --log "$IT_TMP/sent.txt" \
  --anomaly "$A1:$ANOM_FROM:$ANOM_TO:30" --anomaly "$A2:$ANOM_FROM:$ANOM_TO:30" >"$IT_TMP/pub.out" 2>&1 &
PUB_PID=$!
IT_BG_PIDS="$IT_BG_PIDS $PUB_PID"
T0=$(date +%s.%N)
at_step() { # sleeps until the publisher reaches step $1
  local w
  w=$(awk -v t0="$T0" -v s="$1" -v r="$RATE" -v now="$(date +%s.%N)" 'BEGIN { w = t0 + s / r - now; print (w > 0 ? w : 0) }')
  sleep "$w"
}

at_step "$KILL_AT"
amqp_receiver_stop 2
it_ok "step $KILL_AT: receiver 2 stopped (status $IT_STATUS)"
at_step "$BACK_AT"
depth=$(it_rabbitmq_queues | awk '$1 == "alec.shard.1" { print $2 }')
amqp_receiver_start 2
it_ok "step $BACK_AT: receiver 2 started again, $depth messages waited in alec.shard.1"

at_step "$ADD_AT"
declare_shards 4 3
amqp_receiver_start 4
it_ok "step $ADD_AT: shard 4 declared and bound, receiver 4 consumes it"

it_bg_wait "$PUB_PID" 300 || it_fail "the publisher did not finish"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/pub.out"; it_fail "publisher failed"; }
it_ok "publisher: $(cat "$IT_TMP/pub.out")"
drained() { it_rabbitmq_queues | grep '^alec.shard' | awk '$2 != 0 { f = 1 } END { exit f }'; }
it_wait_for 120 drained || it_check_fail "shards not drained: $(it_rabbitmq_queues | tr '\n' ' ')"
sleep 3 # last fleet evaluations and notifications
for k in 1 2 3 4; do amqp_receiver_stop "$k"; done

# ---- values
: >"$IT_TMP/stored.txt"
for k in 1 2 3 4; do
  amqp_csv_rows "$k" | sed "s/\$/ r$k/" >"$IT_TMP/r$k.rows"
  cut -d' ' -f1-3 "$IT_TMP/r$k.rows" >>"$IT_TMP/stored.txt"
  it_say "receiver $k stored $(wc -l <"$IT_TMP/r$k.rows") uplinks of $(cut -d' ' -f1 "$IT_TMP/r$k.rows" | sort -u | wc -l) devices"
done
total=$(wc -l <"$IT_TMP/sent.txt")
read -r missing wrong dups extra <<END_COUNTS
$(amqp_compare "$IT_TMP/sent.txt" "$IT_TMP/stored.txt")
END_COUNTS
[ "$wrong$dups$extra" = 000 ] && it_ok "no value stored twice or wrong ($total sent, $missing not stored)" ||
  { it_check_fail "$wrong wrong, $dups stored twice, $extra unexpected"; head -n 5 "$IT_TMP/stored.txt.diff"; }

# Ownership: before the fourth shard, one receiver per device; after it,
# the moved devices are receiver 4's.
cat "$IT_TMP"/r[123].rows | awk -v a="$ADD_AT" '$2 < a { print $1, $4 }' | sort -u | cut -d' ' -f1 | uniq -d >"$IT_TMP/split.txt"
[ -s "$IT_TMP/split.txt" ] && it_check_fail "$(wc -l <"$IT_TMP/split.txt") devices stored by two of receivers 1-3"
moved=$(cut -d' ' -f1 "$IT_TMP/r4.rows" | sort -u | wc -l)
lo=$((DEVICES / 4 * 6 / 10))
hi=$((DEVICES / 4 * 14 / 10))
[ "$moved" -ge "$lo" ] && [ "$moved" -le "$hi" ] && it_ok "$moved of $DEVICES devices moved to receiver 4 (a quarter: $((DEVICES / 4)))" ||
  it_check_fail "$moved devices moved to receiver 4, want $lo..$hi"

# What was not stored: only moved devices, only from the move until their
# first keyframe; held back (not guessed) and counted.
grep '^missing ' "$IT_TMP/stored.txt.diff" 2>/dev/null | cut -d' ' -f2,3 | sort >"$IT_TMP/missing.txt"
cut -d' ' -f1 "$IT_TMP/r4.rows" | sort -u >"$IT_TMP/moved.txt"
bad_missing=$(cut -d' ' -f1 "$IT_TMP/missing.txt" | sort -u | comm -23 - "$IT_TMP/moved.txt" | wc -l)
early=$(awk -v a="$ADD_AT" '$2 < a - 2' "$IT_TMP/missing.txt" | wc -l)
held=0 decode=0 resync=0
for k in 1 2 3 4; do
  held=$((held + $(amqp_stat "$k" alec-fleet derive-values_held_back)))
  decode=$((decode + $(amqp_stat "$k" alec-fleet errors-rejected_decode)))
  resync=$((resync + $(amqp_stat "$k" alec-fleet derive-resync_requests)))
done
served=$(sed -n 's/.*commands=\([0-9]*\).*/\1/p' "$IT_TMP/pub.out")
per_dev=$(awk -v m="$missing" -v d="$moved" 'BEGIN { printf "%.1f", d ? m / d : 0 }')
if [ "$bad_missing" -eq 0 ] && [ "$early" -eq 0 ]; then
  it_ok "$missing uplinks not stored, all of moved devices after the move ($per_dev per moved device): values held back $held, frames refused without context $decode; $resync keyframe requests sent, $served honoured"
else
  it_check_fail "$missing uplinks not stored: $bad_missing devices that did not move, $early before the move"
fi
[ $((held / 2 + decode)) -ge "$missing" ] || it_check_fail "$missing uplinks lost but only $((held / 2 + decode)) held back or refused (counted)"

# ---- anomalies
# The injected anomalies are FAILUREs (an entry may pass through WARNING
# first). Silence (stale emitters, silent groups) is not an anomaly.
: >"$IT_TMP/entries.txt"
: >"$IT_TMP/warnings.txt"
for k in 1 2 3 4; do
  awk '$0 == "----" { print b; b = ""; next } { b = (b == "" ? $0 : b "|" $0) }' "$IT_TMP/r$k/notifications.txt" |
    grep -v -E '\|Kind: (stale|silent)\|' >"$IT_TMP/r$k.notif"
  grep -E '^Severity: FAILURE\|' "$IT_TMP/r$k.notif" | sed -n 's/.*|Host: \([^|]*\)|.*/\1/p' | sed "s/\$/ r$k/" >>"$IT_TMP/entries.txt"
  grep -E '^Severity: WARNING\|' "$IT_TMP/r$k.notif" | sed -n 's/.*|Host: \([^|]*\)|.*/\1/p' | sed "s/\$/ r$k/" >>"$IT_TMP/warnings.txt"
done
it_say "WARNING entries by receiver (no FAILURE): $(sort -u "$IT_TMP/warnings.txt" | awk '{ print $2 }' | sort | uniq -c | tr -s ' \n' ' ')"
# Fleet notifications name a device as its values: by its device name.
eui_host() { printf 'dev-%05d' "$1"; }
for a in $A1 $A2; do
  h=$(printf 'dev-%05d' "$a")
  owner=$(awk -v h="$h" '$1 == h { print $4; exit }' "$IT_TMP"/r[123].rows)
  e=$(eui_host "$a")
  n=$(grep -c "^$e " "$IT_TMP/entries.txt")
  by=$(grep "^$e " "$IT_TMP/entries.txt" | cut -d' ' -f2 | sort -u | tr '\n' ' ')
  if [ "$by" = "$owner " ] && [ "$n" -eq 1 ]; then
    it_ok "$h: $n anomaly notification(s), by its receiver $owner only"
  else
    it_check_fail "$h: $n anomaly notifications by [$by], its receiver is $owner"
  fi
done
# Receiver 2 was stopped and drained its backlog at once: scored in data
# time, it reports nothing the live stream would not (no WARNING either).
cat "$IT_TMP/entries.txt" "$IT_TMP/warnings.txt" | grep -v -E "^($(eui_host $A1)|$(eui_host $A2)) " >"$IT_TMP/others.txt"
for k in 1 2 3 4; do
  it_say "receiver $k: $(grep -c " r$k\$" "$IT_TMP/entries.txt") FAILURE and $(grep -c " r$k\$" "$IT_TMP/warnings.txt") WARNING notifications, $(grep -c " r$k\$" "$IT_TMP/others.txt") of them not the injected anomalies"
done
others=$(sort "$IT_TMP/others.txt" | uniq -c | head -n 5 | tr '\n' ';')
[ -z "$others" ] && it_ok "no other device reported, the restarted receiver's backlog included" ||
  it_check_fail "other devices reported: $others"
amqp_sanitizer_check
it_rabbitmq_stop
exit 0
