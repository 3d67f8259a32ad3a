#!/bin/bash
# SPDX-License-Identifier: MIT
# LoRaWAN fleets over MQTT: Debian's mosquitto on loopback, a fleet of 20
# ChirpStack v4 devices in two applications and 6 TTS v3 devices in two
# applications, their uplinks (ALEC fixed frames from libalec's encoder) as
# the network servers publish them. Every value lands in csv exactly as
# libalec's decoder reads the same uplinks; host and group (plugin instance)
# come from the events' metadata; best-gateway RSSI / SNR land per uplink;
# uplinks lost on the radio (the encoder advanced, nothing was sent) make the
# receiver ask for keyframes on the dialect's downlink topic, at most one
# per device within DownlinkInterval; a redelivered event is decoded once.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

it_require_plugin
mq_require
it_mktemp
port=$(mq_free_port)
mq_conf "$port"
mq_start

CS_ROUNDS=12
TTS_ROUNDS=12
# Device 3 loses round 4; device 5 rounds 2 and 6 (the second request falls
# within DownlinkInterval); TTS device 1 rounds 3 and 7 (beyond its budget).
"$MQ_LORAPUB" gen --dialect chirpstack --devices 20 --apps 2 --rounds $CS_ROUNDS --drop 3:4,5:2,5:6 \
  "$IT_TMP/cs.events" "$IT_TMP/cs.expect" || it_fail "lorapub gen chirpstack"
"$MQ_LORAPUB" gen --dialect tts --devices 6 --apps 2 --rounds $TTS_ROUNDS --first-eui 70b3d57ed0000100 --drop 1:3,1:7 \
  "$IT_TMP/tts.events" "$IT_TMP/tts.expect" || it_fail "lorapub gen tts"
cat "$IT_TMP/cs.expect" "$IT_TMP/tts.expect" >"$IT_TMP/all.expect"

mq_block() { # name dialect budget interval
  printf '  <MQTT "%s">\n    Host "127.0.0.1"\n    Port %s\n    Dialect "%s"\n    ClientId "it-%s"\n    QoS 1\n    FPort 85 "em500"\n    GroupFrom "application"\n    DownlinkBudget %s\n    DownlinkInterval %s\n  </MQTT>\n' \
    "$1" "$port" "$2" "$1" "$3" "$4"
}
it_conf_begin
it_conf_csv
# ResyncInterval 0: only the blocks' own limits apply. Every frame after a
# loss asks again (its values are held back until a keyframe): ChirpStack
# devices get one request within DownlinkInterval 600, TTS devices one in
# their DownlinkBudget of 1 a day (DownlinkInterval 0).
it_conf_alec "  UnknownEmitters \"accept\"
  ResyncInterval 0
  <Profile \"em500\">
    Format \"fixed\"
    Channels 5
  </Profile>
$(mq_block chirpstack chirpstack 10 600)
$(mq_block tts tts 1 0)"
it_start
it_wait_for 10 it_log_has 'MQTT "chirpstack".*connected to' || it_fail "the chirpstack client did not connect"
it_wait_for 10 it_log_has 'MQTT "tts".*connected to' || it_fail "the tts client did not connect"

# Keyframe requests, as the network servers would take them.
it_bg "$IT_TMP/down.txt" mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -v \
  -t 'application/+/device/+/command/down' -t 'v3/+/devices/+/down/push'
sub_pid=$IT_BG_PID
sleep 0.5

it_bg "$IT_TMP/pub-cs.out" "$MQ_LORAPUB" pub --port "$port" --id it-pub-cs "$IT_TMP/cs.events"
p1=$IT_BG_PID
it_bg "$IT_TMP/pub-tts.out" "$MQ_LORAPUB" pub --port "$port" --id it-pub-tts "$IT_TMP/tts.events"
p2=$IT_BG_PID
it_bg_wait "$p1" 60 && [ "$IT_STATUS" -eq 0 ] || it_fail "chirpstack publisher failed: $(cat "$IT_TMP/pub-cs.out")"
it_bg_wait "$p2" 60 && [ "$IT_STATUS" -eq 0 ] || it_fail "tts publisher failed: $(cat "$IT_TMP/pub-tts.out")"
# A redelivery (same deduplicationId) must not be decoded twice.
head -n 1 "$IT_TMP/cs.events" >"$IT_TMP/dup.events"
"$MQ_LORAPUB" pub --port "$port" --id it-pub-dup "$IT_TMP/dup.events" >/dev/null || it_fail "publishing the duplicate"

want=$(mq_want_values "$IT_TMP/all.expect" | wc -l)
mq_wait_values "$want" 60 || it_check_fail "$(mq_got_values | wc -l) values stored, want $want"
it__stat_dup() { [ "$(mq_stat chirpstack derive-duplicates)" = 1 ]; }
it_wait_for 20 it__stat_dup || it_check_fail "the redelivered event was not counted as a duplicate"
sleep 2.5 # one more read interval: the statistics of the last messages
mq_got_values >"$IT_TMP/got.values"
mq_want_values "$IT_TMP/all.expect" >"$IT_TMP/want.values"
if cmp -s "$IT_TMP/want.values" "$IT_TMP/got.values"; then
  it_ok "$want values of 26 devices equal to libalec's decoder, host and group from the metadata"
else
  it_check_fail "stored values differ (want / got):"
  diff "$IT_TMP/want.values" "$IT_TMP/got.values" | head -n 10
fi
mq_got_link >"$IT_TMP/got.link"
mq_want_link "$IT_TMP/all.expect" >"$IT_TMP/want.link"
if cmp -s "$IT_TMP/want.link" "$IT_TMP/got.link"; then
  it_ok "best-gateway RSSI and SNR of $(wc -l <"$IT_TMP/want.link") uplinks (lora_rssi / lora_snr, SNR down to $(sort -t' ' -k5,5g "$IT_TMP/want.link" | head -n 1 | cut -d' ' -f5))"
else
  it_check_fail "link quality differs (want / got):"
  diff "$IT_TMP/want.link" "$IT_TMP/got.link" | head -n 10
fi

# Downlinks: devices 3 and 5 of ChirpStack and 1 of TTS, one each.
it_wait_for 10 sh -c "[ \$(wc -l <'$IT_TMP/down.txt') -ge 3 ]" || true
sleep 1
it_kill_pid "$sub_pid" 5
n_down=$(wc -l <"$IT_TMP/down.txt")
app0=17c82e96-be03-4f38-aef3-f83d48582d97
app1=17c82e97-be03-4f38-aef3-f83d48582d97
for want_line in \
  "application/$app1/device/0004a30b00000003/command/down {\"devEui\":\"0004a30b00000003\",\"confirmed\":false,\"fPort\":85,\"data\":\"/w==\"}" \
  "application/$app1/device/0004a30b00000005/command/down {\"devEui\":\"0004a30b00000005\",\"confirmed\":false,\"fPort\":85,\"data\":\"/w==\"}" \
  "v3/app-q@ttn/devices/tts-b-01/down/push {\"downlinks\":[{\"f_port\":85,\"frm_payload\":\"/w==\",\"priority\":\"NORMAL\"}]}"; do
  if grep -q -x -F -- "$want_line" "$IT_TMP/down.txt"; then
    it_ok "keyframe request: ${want_line%% *}"
  else
    it_check_fail "no downlink $want_line"
  fi
done
[ "$n_down" -eq 3 ] || { it_check_fail "$n_down downlinks, want 3 (one per device: interval, budget)"; cat "$IT_TMP/down.txt"; }
tdl=$(mq_stat tts derive-downlinks)
[ "$tdl" = 1 ] && it_ok "tts: DownlinkBudget 1 kept (downlinks $tdl)" || it_check_fail "tts downlinks $tdl, want 1 (DownlinkBudget 1)"
: "$app0"
dl=$(mq_stat chirpstack derive-downlinks)
sup=$(it_stat derive-resync_suppressed)
[ "$dl" = 2 ] && it_ok "statistics: chirpstack downlinks $dl, resync_suppressed $sup" ||
  it_check_fail "chirpstack downlinks statistic $dl, want 2"
[ "${sup:-0}" -ge 1 ] || it_check_fail "the second request of device 5 was not counted as suppressed ($sup)"
dups=$(mq_stat chirpstack derive-duplicates)
[ "$dups" = 1 ] && it_ok "1 redelivered event dropped by its deduplicationId" || it_check_fail "duplicates $dups, want 1"
for k in decode stale_frame format; do
  v=$(it_stat "errors-rejected_$k")
  [ "${v:-0}" = 0 ] || it_check_fail "rejected_$k = $v"
done
rej=$(awk -F, 'FNR > 1 { last[FILENAME] = $2 } END { s = 0; for (f in last) s += last[f]; print s }' \
  "$IT_CSV"/it-receiver/alec-mqtt-*/errors-rejected_*-[0-9]*)
[ "$rej" = 0 ] && it_ok "no MQTT message refused" || it_check_fail "$rej MQTT messages refused"
it_stop
exit "$IT_FAILED"
