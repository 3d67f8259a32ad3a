#!/bin/bash
# SPDX-License-Identifier: MIT
# A broker that is down at startup does not stop collectd; restarts
# mid-stream lose nothing: 20 ChirpStack devices (or The Things Stack's,
# MQ_RESTART_DIALECT=tts: mqtt_restart_tts.sh) publish 40 rounds
# of uplinks at QoS 1 while first the broker (persistence on) and then
# collectd (CleanSession false, StateFile) are restarted. The broker keeps
# the persistent session and what arrives for it meanwhile, the state file
# keeps the decoders: every value lands exactly once, with no lost frame,
# no decode error and nothing held back. What collectd had received but not
# stored when it stopped comes back from the state file's spool.
# MQ_RESTART_ROUNDS and MQ_RESTART_RATE (uplinks/s) make the stream longer
# and faster (defaults 40 and 80), so that more is in flight at the stop.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

it_require_plugin
mq_require
it_mktemp
d=${MQ_RESTART_DIALECT:-chirpstack}
port=$(mq_free_port)
mq_conf "$port"

"$MQ_LORAPUB" gen --dialect "$d" --devices 20 --apps 2 --rounds ${MQ_RESTART_ROUNDS:-40} "$IT_TMP/ev.events" "$IT_TMP/ev.expect" ||
  it_fail "lorapub gen"

it_conf_begin
it_conf_csv
it_conf_alec "  UnknownEmitters \"accept\"
  StateFile \"$IT_TMP/alec.state\"
  <Profile \"em500\">
    Format \"fixed\"
    Channels 5
  </Profile>
  <MQTT \"$d\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"$d\"
    ClientId \"it-restart\"
    QoS 1
    CleanSession false
    FPort 85 \"em500\"
    GroupFrom \"application\"
  </MQTT>"
# The broker is not up yet: collectd starts anyway and keeps trying.
it_start
it_wait_for 10 it_log_has "MQTT \"$d\".*(cannot connect yet|no connection) to" ||
  it_check_fail "no log line about the unreachable broker"
sleep 1.5
kill -0 "$IT_PID" 2>/dev/null || it_fail "collectd stopped without its broker"
mq_start
it_wait_for 20 it_log_has "MQTT \"$d\".*connected to 127" || it_fail "the client did not connect once the broker was up"
it_ok "collectd started without its broker and connected when it came up"

# 800 uplinks at 80/s: about 10 s, both restarts inside.
it_bg "$IT_TMP/pub.out" "$MQ_LORAPUB" pub --port "$port" --id it-pub --rate ${MQ_RESTART_RATE:-80} "$IT_TMP/ev.events"
pub=$IT_BG_PID
sleep 2.5
mq_stop
it_say "broker stopped (pid), restarting it"
sleep 1
mq_start
mq__reconnected() { [ "$(mq_stat "$d" derive-connects)" -ge 2 ] 2>/dev/null; }
it_wait_for 15 mq__reconnected || it_check_fail "the client did not reconnect after the broker restart"
sleep 2.5
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with $IT_STATUS"
# How many uplinks collectd had received but not stored at the stop (the
# spool, collectd-alec(5) StateFile): timing decides, 0 is possible.
spooled=$(grep -oE 'with [0-9]+ spooled messages' "$IT_LOG" | grep -oE '[0-9]+')
part=$(grep -oE '[0-9]+ written in part' "$IT_LOG" | grep -oE '^[0-9]+')
it_say "collectd stopped with ${spooled:-?} uplinks spooled in the state file (${part:-0} of them written in part), restarting it"
sleep 1.5
it_start
it_wait_for 10 it_log_has 'restored [0-9]+ emitters' || it_check_fail "the state file was not restored"
if [ "${spooled:-0}" -gt 0 ]; then
  it_wait_for 10 it_log_has "$spooled spooled messages restored" || it_check_fail "the spool was not restored"
fi
it_bg_wait "$pub" 120 && [ "$IT_STATUS" -eq 0 ] || it_fail "publisher failed: $(cat "$IT_TMP/pub.out")"
it_say "$(cat "$IT_TMP/pub.out")"

want=$(mq_want_values "$IT_TMP/ev.expect" | wc -l)
mq_wait_values "$want" 60 || it_check_fail "$(mq_got_values | wc -l) values stored, want $want"
sleep 2.5
mq_got_values >"$IT_TMP/got.values"
mq_want_values "$IT_TMP/ev.expect" >"$IT_TMP/want.values"
if cmp -s "$IT_TMP/want.values" "$IT_TMP/got.values"; then
  it_ok "$want values of $((20 * ${MQ_RESTART_ROUNDS:-40})) uplinks stored exactly once across a broker and a collectd restart"
else
  it_check_fail "stored values differ (want / got):"
  diff "$IT_TMP/want.values" "$IT_TMP/got.values" | head -n 10
fi
# Every statistics row of both collectd runs.
for s in derive-lost_frames derive-values_held_back errors-rejected_decode errors-rejected_stale_frame derive-queue_drops; do
  bad=$(it_csv_rows it-receiver alec-fleet "$s" | awk -F, '$2 + 0 != 0' | wc -l)
  [ "$bad" -eq 0 ] || it_check_fail "$s is not 0 in $bad rows: $(it_csv_rows it-receiver alec-fleet "$s" | tail -n 1)"
done
it_ok "lost_frames, values_held_back, rejected_decode, rejected_stale_frame, queue_drops: 0 in both runs"
fails=$(it_csv_rows it-receiver "alec-mqtt-$d" derive-connect_failures | cut -d, -f2 | sort -g | tail -n 1 | awk '{printf "%.0f", $1}')
[ "${fails:-0}" -ge 1 ] && it_ok "connection failures counted: $fails" || it_check_fail "no connection failure counted"
it_say "reconnects after the broker restart: disconnects $(it_csv_rows it-receiver "alec-mqtt-$d" derive-disconnects | cut -d, -f2 | sort -g | tail -n 1 | awk '{printf "%.0f", $1}'), duplicates dropped $(mq_stat "$d" derive-duplicates)"
it_stop
exit "$IT_FAILED"
