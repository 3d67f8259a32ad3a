#!/bin/bash
# SPDX-License-Identifier: MIT
# Alert lifecycle through the real collectd (issue 10): `alec-send --scenario
# spike` runs 10 emitters for 1000 steps at 2000 frames/s; emitter 5 sits 20
# degrees above its peers from step 501 to the end. With RenotifyInterval 1
# the entry must be re-sent (meta Renotify) with the same AlertKey while it
# lasts; every notification carries AlertKey, Kind, Group and, for the
# emitter, the band as WarningMin/WarningMax. When the sender stops the whole
# group goes silent: one "silent" WARNING for the group, no per-emitter
# "stale" one.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
EMITTERS=10
STEPS=1000
TARGET=5

it_conf_begin
it_conf_csv
it_conf_notify_exec
it_conf_fleet "$port" reject hall "    RenotifyInterval 1"
it_start_alec "$port"

it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario spike \
  --emitters "$EMITTERS" --steps "$STEPS" --rate $((EMITTERS * 200)) --format single
it_bg_wait "$IT_BG_PID" 120 || it_fail "alec-send did not finish in 120 s"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "alec-send failed ($IT_STATUS)"; }

# Silence is judged after 3 periods, at least 1 s; then one more re-send.
it_wait_for 15 grep -q -F "AlertKey: silent/hall" "$IT_NOTIFY_OUT" ||
  it_check_fail "no silent-group notification within 15 s after the run"
sleep 2.5
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"

it_notifications >"$IT_TMP/notifications.lines"
it_say "notifications received: $(wc -l <"$IT_TMP/notifications.lines")"
first=$(grep -F "|Host: sensor-$TARGET|" "$IT_TMP/notifications.lines" | grep -v -F "|Renotify: " | head -n 1)
resends=$(grep -F "|Host: sensor-$TARGET|" "$IT_TMP/notifications.lines" | grep -c -F "|Renotify: true" || true)
[ -n "$first" ] || it_fail "no notification for sensor-$TARGET"
it_say "entry: $(printf '%s' "$first" | cut -c1-300)"
for key in "AlertKey: emitter/$TARGET/0" "Kind: emitter" "Group: hall" "Channel: 0" WarningMin WarningMax \
  FailureMin FailureMax "EmitterId: $TARGET"; do
  printf '%s' "$first" | grep -q -F "|$key" || it_check_fail "entry notification lacks meta $key"
done
# The band is around the fleet median, and the value outside it.
awk -v l="$first" 'BEGIN {
  n = split(l, f, "|"); for (i = 1; i <= n; i++) { split(f[i], kv, ": "); m[kv[1]] = kv[2] + 0 }
  exit !(m["WarningMin"] < m["FleetMedian"] && m["FleetMedian"] < m["WarningMax"] && m["CurrentValue"] > m["WarningMax"])
}' || it_check_fail "band WarningMin..WarningMax does not hold the median or holds the value"
[ "$resends" -ge 2 ] || it_check_fail "sensor-$TARGET: $resends re-sends with RenotifyInterval 1, want at least 2"
keys=$(grep -F "|Host: sensor-$TARGET|" "$IT_TMP/notifications.lines" | sed -n 's/.*|AlertKey: \([^|]*\).*/\1/p' | sort -u)
[ "$keys" = "emitter/$TARGET/0" ] || it_check_fail "sensor-$TARGET alert keys: $(echo $keys)"
others=$(grep -F '|Host: sensor-' "$IT_TMP/notifications.lines" | grep -v -F "|Host: sensor-$TARGET|" | wc -l)
[ "$others" -eq 0 ] || it_check_fail "$others notifications for other emitters (stale ones should fold into the group's)"
silent=$(grep -F "|AlertKey: silent/hall" "$IT_TMP/notifications.lines" | grep -c '^Severity: WARNING' || true)
silent_first=$(grep -F "|AlertKey: silent/hall" "$IT_TMP/notifications.lines" | grep -v -c -F "|Renotify: " || true)
[ "$silent_first" -eq 1 ] || it_check_fail "$silent_first silent-group notifications (not re-sends), want 1"
it_say "silent: $(grep -F "|AlertKey: silent/hall" "$IT_TMP/notifications.lines" | head -n 1 | cut -c1-300)"
[ "$IT_FAILED" -eq 0 ] && it_ok "entry with AlertKey and band, $resends re-sends, one silent-group WARNING ($silent with re-sends), no stale per emitter"
[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
