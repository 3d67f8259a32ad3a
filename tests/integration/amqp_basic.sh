#!/bin/bash
# SPDX-License-Identifier: MIT
# One collectd receiver behind a private RabbitMQ node: the objects of
# contrib/rabbitmq-declare.sh (one shard), 600 ALEC devices in two
# applications published as ChirpStack v4 AMQP "up" events, some of them
# twice (redeliveries), and hostile events in the same queue. Every value
# lands exactly once in the csv with the exact temperature, host from
# deviceName and group from the application; duplicates are counted and
# decoded once; hostile events are refused by kind and acknowledged, so the
# queue ends empty; the receiver stopped and started again mid-stream loses
# nothing and stores nothing twice.
IT_LIMIT=300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rabbitmq_lib.sh"

it_require_plugin
it_require_rabbitmq
PUB=$(it_amqppub) || it_skip "amqppub is not built"
command -v amqp-publish >/dev/null 2>&1 || it_skip "amqp-publish (amqp-tools) not found"
it_mktemp
DEVICES=${AMQP_DEVICES:-600}
STEPS=${AMQP_STEPS:-12}

it_rabbitmq_start 90
"$IT_SRCDIR/contrib/rabbitmq-declare.sh" --url "http://127.0.0.1:$RMQ_HTTP" --user "$RMQ_USER" \
  --password "$RMQ_PASS" --shards 1 >"$IT_TMP/declare.out" 2>&1 || { cat "$IT_TMP/declare.out"; it_fail "declare failed"; }
it_ok "declared: $(tr '\n' ' ' <"$IT_TMP/declare.out")"

amqp_receiver_conf 1 alec.shard.0
amqp_receiver_start 1
it_ok "receiver 1 (pid $RCV_PID_1) consumes alec.shard.0"

# First half, then a restart of the receiver while the rest is published.
"$PUB" --port "$RMQ_PORT" --user "$RMQ_USER" --password "$RMQ_PASS" --devices "$DEVICES" --steps "$STEPS" \
  --rate 4 --dup 97 --log "$IT_TMP/sent.txt" --quiet >"$IT_TMP/pub.out" 2>&1 &
PUB_PID=$!
IT_BG_PIDS="$IT_BG_PIDS $PUB_PID"
sleep 1.5
amqp_receiver_stop 1
it_ok "receiver 1 stopped mid-stream (status $IT_STATUS)"
sleep 1
amqp_receiver_start 1
it_ok "receiver 1 restarted (pid $RCV_PID_1)"
it_bg_wait "$PUB_PID" 120 || it_fail "the publisher did not finish"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/pub.out"; it_fail "publisher failed"; }
it_ok "publisher: $(cat "$IT_TMP/pub.out")"

# Hostile events on the uplink routing keys: each refused by kind.
key=application.6c1d0f3e-0000-4a00-8000-00000000000a.device.70b3d5e75e000001.event.up
pubraw() { amqp-publish -u "amqp://$RMQ_USER:$RMQ_PASS@127.0.0.1:$RMQ_PORT" -e amq.topic -r "$key" -b "$1"; }
pubraw '{"deviceInfo":{"devEui":"70b3d5e75e00'          # truncated
pubraw '{"deviceInfo":{"devEui":"70b3d5e75e0000"},"fPort":85,"data":"AAAA"}' # 14 digits
pubraw '{"deviceInfo":{"devEui":"70b3d5e75e000001"},"fPort":85,"data":"!!!"}' # bad base64
pubraw '{"deviceInfo":{"devEui":"70b3d5e75e000001"},"fPort":85,"data":123}' # wrong type
pubraw '{"deviceInfo":{"devEui":"70b3d5e75e000001"},"fPort":9,"data":"AAAA"}' # unmapped port
pubraw "{\"pad\":\"$(head -c 6000 /dev/zero | tr '\0' x)\"}" # oversized
it_ok "6 hostile events published"

# Drained: nothing ready or unacknowledged in the queue.
drained() { [ "$(it_rabbitmq_queue_depth alec.shard.0)" = 0 ]; }
it_wait_for 60 drained || it_check_fail "alec.shard.0 still holds $(it_rabbitmq_queue_depth alec.shard.0) messages"
sleep 2.5 # one more read interval for the statistics
amqp_receiver_stop 1

amqp_csv_rows 1 >"$IT_TMP/stored.txt"
total=$(wc -l <"$IT_TMP/sent.txt")
read -r missing wrong dups extra <<END_COUNTS
$(amqp_compare "$IT_TMP/sent.txt" "$IT_TMP/stored.txt")
END_COUNTS
if [ "$missing$wrong$dups$extra" = 0000 ]; then
  it_ok "all $total uplinks stored exactly once, every value within 0.5/Scale"
else
  it_check_fail "of $total uplinks: $missing missing, $wrong wrong, $dups stored twice, $extra unexpected"
  head -n 5 "$IT_TMP/stored.txt.diff"
fi
ls -d "$IT_TMP"/r1/csv/dev-00002/alec-hall-b >/dev/null 2>&1 && ls -d "$IT_TMP"/r1/csv/dev-00000/alec-hall-a >/dev/null 2>&1 ||
  it_check_fail "host or group not taken from deviceName / applicationName"

d=alec-amqp-shard
want_dups=$(sed -n 's/.*duplicates=\([0-9]*\).*/\1/p' "$IT_TMP/pub.out")
got_dups=$(amqp_log_sum 1 duplicates)
got_stale=$(amqp_stat 1 alec-fleet errors-rejected_stale_frame)
# A duplicate is recognised by its deduplicationId, or, when its first copy
# arrived before a restart, refused by the decoder as already seen.
if [ $((got_dups + got_stale)) -ge "$want_dups" ] && [ "$dups" -eq 0 ]; then
  it_ok "$want_dups duplicates published: ${got_dups:-0} recognised by id, ${got_stale:-0} refused as already decoded"
else
  it_check_fail "duplicates: $want_dups published, ${got_dups:-0} recognised, ${got_stale:-0} stale"
fi
for kind in ns_json_truncated ns_bad_dev_eui ns_bad_base64 ns_wrong_type ns_oversized fport_unmapped; do
  v=$(amqp_stat 1 "$d" "errors-rejected_$kind")
  [ "${v:-0}" -ge 1 ] && it_ok "rejected $kind: $v" || it_check_fail "no $kind rejection counted"
done
amqp_sanitizer_check
it_rabbitmq_stop
exit 0
