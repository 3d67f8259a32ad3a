#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile input over MQTT: variants of one valid ChirpStack v4 uplink (and
# one TTS v3 uplink), each broken one way (oversized, nested 10,000 deep,
# truncated, bad syntax, wrong types, bad base64, missing fields, a devEui
# of 15 or 17 digits or with a non-hex digit, a payload longer than a
# LoRaWAN frame, a key given twice, an unmapped FPort, a join event, a topic
# naming another device, a bad time). Each is refused and counted under its
# own kind, and nothing else changes: the valid uplinks sent after them are
# the only values stored.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

it_require_plugin
mq_require
it_mktemp
port=$(mq_free_port)
mq_conf "$port"
mq_start

"$MQ_LORAPUB" gen --dialect chirpstack --devices 1 --apps 1 --rounds 1 "$IT_TMP/cs.events" "$IT_TMP/cs.expect" ||
  it_fail "lorapub gen"
"$MQ_LORAPUB" gen --dialect tts --devices 1 --apps 1 --rounds 1 --first-eui 70b3d57ed0000100 \
  "$IT_TMP/tts.events" "$IT_TMP/tts.expect" || it_fail "lorapub gen tts"
T=$(cut -f1 "$IT_TMP/cs.events")
J=$(cut -f2 "$IT_TMP/cs.events")
TT=$(cut -f1 "$IT_TMP/tts.events")
TJ=$(cut -f2 "$IT_TMP/tts.events")
eui=0004a30b00000000

# The first occurrence of $2 in $1 replaced by $3 (literal strings).
subst() { awk -v a="$2" -v b="$3" '{ i = index($0, a); if (i) $0 = substr($0, 1, i - 1) b substr($0, i + length(a)); print }' <<<"$1"; }
data=$(echo "$J" | sed 's/.*"data":"\([^"]*\)".*/\1/')

: >"$IT_TMP/hostile.events"
: >"$IT_TMP/kinds"
case_add() { # kind topic payload
  printf '%s\t%s\n' "$2" "$3" >>"$IT_TMP/hostile.events"
  echo "$1" >>"$IT_TMP/kinds"
}
case_add ns_oversized "$T" "$(subst "$J" '"adr":true' "\"pad\":\"$(head -c 5000 /dev/zero | tr '\0' x)\",\"adr\":true")"
case_add ns_too_deep "$T" "$(printf '{"x":%.0s' $(seq 1 500))"
case_add ns_json_truncated "$T" "${J:0:300}"
case_add ns_json_syntax "$T" '{"deduplicationId":,"fPort":85}'
case_add ns_wrong_type "$T" "$(subst "$J" '"fPort":85' '"fPort":true')"
case_add ns_wrong_type "$T" "$(subst "$J" '"deviceInfo":{' '"deviceInfo":[],"x":{')"
case_add ns_bad_base64 "$T" "$(subst "$J" "\"data\":\"$data\"" '"data":"@@@@"')"
case_add ns_missing_field "$T" "$(subst "$J" "\"devEui\":\"$eui\"," '')"
case_add ns_bad_dev_eui "$T" "$(subst "$J" "\"devEui\":\"$eui\"" '"devEui":"0004a30b0000000"')"
case_add ns_bad_dev_eui "$T" "$(subst "$J" "\"devEui\":\"$eui\"" '"devEui":"0004a30b000000000"')"
case_add ns_bad_dev_eui "$T" "$(subst "$J" "\"devEui\":\"$eui\"" '"devEui":"0004a30b0000000g"')"
case_add ns_payload_too_long "$T" "$(subst "$J" "\"data\":\"$data\"" "\"data\":\"$(head -c 400 /dev/zero | tr '\0' A)\"")"
case_add ns_duplicate_key "$T" "$(subst "$J" '"fPort":85' '"fPort":85,"fPort":85')"
case_add mqtt_unmapped_fport "$T" "$(subst "$J" '"fPort":85' '"fPort":7')"
# A join event: deviceInfo and devAddr, no fCnt, fPort or data.
case_add ns_not_uplink "$T" "$(subst "$(subst "$(subst "$J" '"fPort":85,' '')" "\"data\":\"$data\"," '')" '"fCnt":0,' '')"
case_add ns_topic_mismatch "$(subst "$T" "$eui" 0004a30b0000000f)" "$J"
case_add ns_bad_time "$T" "$(subst "$J" '"time":"' '"time":"yesterday')"
n_cases=$(wc -l <"$IT_TMP/kinds")
# The TTS client: one wrong type.
printf '%s\t%s\n' "$TT" "$(subst "$TJ" '"f_port":85' '"f_port":[85]')" >"$IT_TMP/tts-hostile.events"
# Then the valid uplinks.
cp "$IT_TMP/cs.events" "$IT_TMP/valid.events"
cat "$IT_TMP/tts.events" >>"$IT_TMP/valid.events"

it_conf_begin
it_conf_csv
it_conf_alec "  UnknownEmitters \"accept\"
  <Profile \"em500\">
    Format \"fixed\"
    Channels 5
  </Profile>
  <MQTT \"chirpstack\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"chirpstack\"
    FPort 85 \"em500\"
    GroupFrom \"application\"
    MaxMessageSize 4096
  </MQTT>
  <MQTT \"tts\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"tts\"
    FPort 85 \"em500\"
    GroupFrom \"application\"
  </MQTT>"
it_start
it_wait_for 10 it_log_has 'MQTT "chirpstack".*connected to' || it_fail "the chirpstack client did not connect"
it_wait_for 10 it_log_has 'MQTT "tts".*connected to' || it_fail "the tts client did not connect"

"$MQ_LORAPUB" pub --port "$port" --id it-hostile "$IT_TMP/hostile.events" >/dev/null || it_fail "publishing"
"$MQ_LORAPUB" pub --port "$port" --id it-hostile-tts "$IT_TMP/tts-hostile.events" >/dev/null || it_fail "publishing"
"$MQ_LORAPUB" pub --port "$port" --id it-valid "$IT_TMP/valid.events" >/dev/null || it_fail "publishing"
mq_wait_values 10 30 || it_check_fail "the valid uplinks after the hostile ones were not stored"
sleep 2.5

for k in $(sort -u "$IT_TMP/kinds"); do
  want=$(grep -c -x "$k" "$IT_TMP/kinds")
  got=$(mq_stat chirpstack "errors-rejected_$k")
  if [ "$got" = "$want" ]; then
    it_ok "$k: $got refused"
  else
    it_check_fail "$k: counter $got, want $want"
  fi
done
total=$(awk -F, 'FNR > 1 { last[FILENAME] = $2 } END { s = 0; for (f in last) s += last[f]; printf "%.0f\n", s }' \
  "$IT_CSV"/it-receiver/alec-mqtt-chirpstack/errors-rejected_*-[0-9]*)
[ "$total" = "$n_cases" ] && it_ok "$n_cases hostile events, each counted once under its kind" ||
  it_check_fail "$total refusals counted, want $n_cases"
got=$(mq_stat tts errors-rejected_ns_wrong_type)
[ "$got" = 1 ] && it_ok "tts: wrong type refused" || it_check_fail "tts rejected_ns_wrong_type $got, want 1"
it_log_has 'payload is not valid base64' && it_ok "refusals are logged" || it_check_fail "no log line for bad base64"

# Nothing else changed: the valid uplinks' values, no other refusal.
mq_got_values >"$IT_TMP/got.values"
cat "$IT_TMP/cs.expect" "$IT_TMP/tts.expect" >"$IT_TMP/all.expect"
mq_want_values "$IT_TMP/all.expect" >"$IT_TMP/want.values"
cmp -s "$IT_TMP/want.values" "$IT_TMP/got.values" && it_ok "only the 10 values of the valid uplinks stored" || {
  it_check_fail "stored values differ (want / got):"
  diff "$IT_TMP/want.values" "$IT_TMP/got.values" | head
}
r=$(it_stat_rejected)
[ "$r" = 0 ] && it_ok "receiver: no refusal (decode, format, ...)" || it_check_fail "receiver refusals: $(it_stat_rejections)"
[ "$(it_stat derive-values_dispatched)" = 10 ] || it_check_fail "values_dispatched $(it_stat derive-values_dispatched), want 10"
kill -0 "$IT_PID" 2>/dev/null || it_fail "collectd died"
it_stop
exit "$IT_FAILED"
