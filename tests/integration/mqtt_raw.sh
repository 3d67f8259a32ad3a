#!/bin/bash
# SPDX-License-Identifier: MIT
# Dialect raw, for gateways that are not LoRaWAN network servers (NB-IoT,
# cellular): bare fixed frames whose emitter id is a topic level
# (EmitterLevel 1 of alec/<id>/up, the family from the <Emitter> blocks), and
# envelope datagrams of a gateway on another topic. Every value lands in csv
# as libalec's decoder reads the same frames; a topic level that is not an
# id is refused and counted.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

it_require_plugin
mq_require
it_mktemp
port=$(mq_free_port)
mq_conf "$port"
mq_start

"$MQ_LORAPUB" gen --dialect raw --devices 3 --apps 1 --rounds 10 --first-eui 00000000000a0000 \
  "$IT_TMP/bare.events" "$IT_TMP/bare.expect" || it_fail "lorapub gen raw"
"$MQ_LORAPUB" gen --dialect raw-envelope --devices 4 --apps 1 --rounds 10 --first-eui 00000000000b0000 \
  "$IT_TMP/env.events" "$IT_TMP/env.expect" || it_fail "lorapub gen raw-envelope"
cat "$IT_TMP/bare.expect" "$IT_TMP/env.expect" >"$IT_TMP/all.expect"
printf 'alec/not-an-id/up\ta10000\n' >"$IT_TMP/bad.events"

emitters=""
for i in 0 1 2; do
  emitters="$emitters
  <Emitter \"0x00000000000a000$i\">
    Profile \"em500\"
  </Emitter>"
done
it_conf_begin
it_conf_csv
it_conf_alec "  UnknownEmitters \"accept\"
  <Profile \"em500\">
    Format \"fixed\"
    Channels 5
  </Profile>$emitters
  <MQTT \"bare\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"raw\"
    Topic \"alec/+/up\"
    EmitterLevel 1
  </MQTT>
  <MQTT \"gateway\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"raw\"
    Topic \"alec/gw-1/up\"
  </MQTT>"
it_start
it_wait_for 10 it_log_has 'MQTT "bare".*connected to' || it_fail "the bare client did not connect"
it_wait_for 10 it_log_has 'MQTT "gateway".*connected to' || it_fail "the gateway client did not connect"

"$MQ_LORAPUB" pub --hex --port "$port" --id it-bare "$IT_TMP/bare.events" >/dev/null || it_fail "publishing"
"$MQ_LORAPUB" pub --hex --port "$port" --id it-env "$IT_TMP/env.events" >/dev/null || it_fail "publishing"
"$MQ_LORAPUB" pub --hex --port "$port" --id it-bad "$IT_TMP/bad.events" >/dev/null || it_fail "publishing"
want=$(mq_want_values "$IT_TMP/all.expect" | wc -l)
mq_wait_values "$want" 30 || it_check_fail "$(mq_got_values | wc -l) values stored, want $want"
sleep 2.5
mq_got_values >"$IT_TMP/got.values"
mq_want_values "$IT_TMP/all.expect" >"$IT_TMP/want.values"
if cmp -s "$IT_TMP/want.values" "$IT_TMP/got.values"; then
  it_ok "$want values: bare frames by topic level and envelope datagrams, as libalec decodes them"
else
  it_check_fail "stored values differ (want / got):"
  diff "$IT_TMP/want.values" "$IT_TMP/got.values" | head -n 10
fi
# "alec/+/up" also matches the gateway's topic alec/gw-1/up: the bare client
# refuses those 40 envelopes (level 1, "gw-1", is not an id) while the
# gateway client decodes them; plus the one bad id sent on purpose.
bad=$(mq_stat bare errors-rejected_mqtt_bad_emitter_id)
[ "$bad" = 41 ] && it_ok "topic levels that are not ids refused: $bad (40 envelopes seen by the bare client, 1 bad id)" ||
  it_check_fail "rejected_mqtt_bad_emitter_id $bad, want 41"
r=$(it_stat_rejected)
[ "$r" = 0 ] && it_ok "receiver: no refusal" || it_check_fail "receiver refusals: $(it_stat_rejections)"
it_stop
exit "$IT_FAILED"
