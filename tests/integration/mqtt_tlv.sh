#!/bin/bash
# SPDX-License-Identifier: MIT
# The reference deployment over MQTT: 20 EM500-CO2-like devices of the
# LoRaWAN emulator (alec-lorawan-sim: reference-compatible encoder, 5
# channels, keyframe interval 30, Milesight TLV fallback whenever the ALEC
# frame would exceed 11 bytes, so on cold start and for keyframes), half a
# day of uplinks as ChirpStack v4 publishes them. Through the <Profile>'s
# Fallback "milesight-tlv" every value, TLV or ALEC, lands in csv exactly as
# the device measured it (register units times Multiply), with 0 gaps and 0
# values held back.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

it_require_plugin
mq_require
SIM=$(it_find_build src/tools/alec-lorawan-sim) || it_skip "alec-lorawan-sim is not built"
it_mktemp
port=$(mq_free_port)
mq_conf "$port"
mq_start

# A recent weekday from 00:00 UTC (it_weekday_start): the emulator's default
# start is a fixed date, which the plugin stops taking as the uplinks' time
# once it is more than 7 days old (TimestampTolerance), part way through.
start=$(it_weekday_start 43200)
simargs="--devices 20 --days 0.5 --no-outage --loss 0 --seed 7 --start $start"
# shellcheck disable=SC2086
"$SIM" $simargs --format chirpstack --topics >"$IT_TMP/cs.events" || it_fail "alec-lorawan-sim chirpstack"
# shellcheck disable=SC2086
"$SIM" $simargs --format jsonl >"$IT_TMP/truth.jsonl" || it_fail "alec-lorawan-sim jsonl"
[ "$(wc -l <"$IT_TMP/cs.events")" -eq "$(wc -l <"$IT_TMP/truth.jsonl")" ] || it_fail "the emulator's two outputs differ in length"
n_tlv=$(grep -c '"kind":"tlv"' "$IT_TMP/truth.jsonl")
n_alec=$(grep -c '"kind":"alec"' "$IT_TMP/truth.jsonl")
# What must land: the truth of every uplink in physical units, host and
# group from the event it travelled in (the same line of the other output).
paste -d '\t' "$IT_TMP/truth.jsonl" <(cut -f2 "$IT_TMP/cs.events") | awk -F '\t' '
  function field(s, name,    m) {
    if (!match(s, "\"" name "\":\"[^\"]*\"")) return ""
    m = substr(s, RSTART + length(name) + 4, RLENGTH - length(name) - 5)
    return m
  }
  BEGIN { mul[0] = 1; mul[1] = 0.1; mul[2] = 0.5; mul[3] = 1; mul[4] = 0.1 }
  {
    match($1, /"truth":\[[^]]*\]/)
    n = split(substr($1, RSTART + 9, RLENGTH - 10), t, ",")
    for (i = 1; i <= n; i++) printf "%s %s %d %f\n", field($2, "deviceName"), field($2, "applicationName"), i - 1, t[i] * mul[i - 1]
  }' >"$IT_TMP/all.expect"

it_conf_begin
it_conf_csv
it_conf_alec "  UnknownEmitters \"accept\"
  <Profile \"em500-co2\">
    Format \"fixed\"
    Channels 5
    Fallback \"milesight-tlv\"
    TLV \"battery\" 0
    TLV \"temperature\" 1
    TLV \"humidity\" 2
    TLV \"co2\" 3
    TLV \"pressure\" 4
    Channel 0 \"gauge\" \"ch0\"
    Channel 1 \"gauge\" \"ch1\" Multiply 0.1
    Channel 2 \"gauge\" \"ch2\" Multiply 0.5
    Channel 3 \"gauge\" \"ch3\"
    Channel 4 \"gauge\" \"ch4\" Multiply 0.1
  </Profile>
  <MQTT \"chirpstack\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"chirpstack\"
    FPort 85 \"em500-co2\"
    GroupFrom \"application\"
  </MQTT>"
it_start
it_wait_for 10 it_log_has 'MQTT "chirpstack".*connected to' || it_fail "the client did not connect"

"$MQ_LORAPUB" pub --port "$port" --id it-tlv "$IT_TMP/cs.events" >"$IT_TMP/pub.out" || it_fail "publishing"
want=$(mq_want_values "$IT_TMP/all.expect" | wc -l)
mq_wait_values "$want" 60 || it_check_fail "$(mq_got_values | wc -l) values stored, want $want"
sleep 2.5
mq_got_values >"$IT_TMP/got.values"
mq_want_values "$IT_TMP/all.expect" >"$IT_TMP/want.values"
if cmp -s "$IT_TMP/want.values" "$IT_TMP/got.values"; then
  it_ok "$want values of $((n_tlv + n_alec)) uplinks ($n_tlv TLV fallbacks, $n_alec ALEC frames) equal to what the devices measured"
else
  it_check_fail "stored values differ from the truth (want / got):"
  diff "$IT_TMP/want.values" "$IT_TMP/got.values" | head -n 10
fi
# A TLV item that runs past the end (battery id and type, no value), from a
# device of its own: refused and counted, nothing else changes.
first=$(head -n 1 "$IT_TMP/cs.events")
eui=$(printf '%s' "$first" | sed 's/.*"devEui":"\([0-9a-f]*\)".*/\1/')
data=$(printf '%s' "$first" | sed 's/.*"data":"\([^"]*\)".*/\1/')
printf '%s\n' "$first" | sed -e "s/$eui/24e124136bffffff/g" -e "s|\"data\":\"$data\"|\"data\":\"AXU=\"|" \
  -e 's/"deduplicationId":"[^"]*"/"deduplicationId":"00000000-0000-4000-8000-0000000000ff"/' >"$IT_TMP/bad.events"
"$MQ_LORAPUB" pub --port "$port" --id it-tlv-bad "$IT_TMP/bad.events" >/dev/null || it_fail "publishing"
mq__tlv_refused() { [ "$(it_stat errors-rejected_tlv_truncated)" = 1 ]; }
if it_wait_for 10 mq__tlv_refused; then
  it_ok "a TLV item running past the end: refused (rejected_tlv_truncated 1)"
else
  it_check_fail "rejected_tlv_truncated $(it_stat errors-rejected_tlv_truncated), want 1"
fi
mq_got_values >"$IT_TMP/got2.values"
cmp -s "$IT_TMP/got.values" "$IT_TMP/got2.values" || it_check_fail "values changed after the bad TLV payload"
for s in derive-lost_frames derive-values_held_back errors-rejected_decode; do
  v=$(it_stat "$s")
  [ "${v:-0}" = 0 ] || it_check_fail "$s = $v"
done
it_ok "0 lost frames, 0 values held back, 0 decode errors"
it_stop
exit "$IT_FAILED"
