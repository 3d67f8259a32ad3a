#!/bin/bash
# SPDX-License-Identifier: MIT
# Fleet anomaly notifications end to end: `alec-send --scenario recovery` runs
# 10 emitters for 1000 steps; emitter 5 sits 20 degrees above its peers for
# steps 501..700 and then comes back. The daemon must raise exactly one entry
# notification (WARNING or FAILURE) for emitter 5, then one OKAY after the
# recovery, and none for any other emitter: checked in the NotificationExec
# output (headers, meta data, message) and in the logfile, whose order is the
# dispatch order. Every emitter's 1000 values land in csv, and the fleet
# values of contrib/alec.types.db are written too.
IT_LIMIT=240
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
it_conf_fleet "$port" reject hall
it_start_alec "$port"

t0=$(date +%s.%N)
it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario recovery \
  --emitters "$EMITTERS" --steps "$STEPS" --rate $((EMITTERS * 200)) --format single
it_bg_wait "$IT_BG_PID" 120 || it_fail "alec-send did not finish in 120 s"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "alec-send failed ($IT_STATUS)"; }
it_say "alec-send: $(tail -n 1 "$IT_TMP/send.out") ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)"

for i in $(seq 0 $((EMITTERS - 1))); do
  it_wait_rows "sensor-$i" alec-hall temperature-room "$STEPS" 20 ||
    it_check_fail "sensor-$i: $(it_csv_count "sensor-$i" alec-hall temperature-room) values landed, want $STEPS"
done
[ "$IT_FAILED" -eq 0 ] && it_ok "$EMITTERS emitters x $STEPS values landed"

# The OKAY needs ExitCount in-band evaluations after the recovery; give the
# daemon a few evaluation rounds before stopping it.
it_wait_for 15 grep -q -E "^Severity: OKAY$" "$IT_NOTIFY_OUT" ||
  it_check_fail "no OKAY notification within 15 s after the run"
sleep 1
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"

# --- NotificationExec output: one block per notification.
it_notifications >"$IT_TMP/notifications.lines"
it_say "notifications received: $(wc -l <"$IT_TMP/notifications.lines")"
host_of() { sed -n 's/.*|Host: \([^|]*\).*/\1/p'; }
entries=$(grep -E '^Severity: (WARNING|FAILURE)\|' "$IT_TMP/notifications.lines" | grep -F "|Host: sensor-$TARGET|")
okays=$(grep -E '^Severity: OKAY\|' "$IT_TMP/notifications.lines" | grep -F "|Host: sensor-$TARGET|")
others=$(grep -v -F "|Host: sensor-$TARGET|" "$IT_TMP/notifications.lines" | grep -F '|Host: sensor-' | host_of | sort | uniq -c)
n_entries=$(printf '%s' "$entries" | grep -c . || true)
n_okays=$(printf '%s' "$okays" | grep -c . || true)
[ "$n_entries" -eq 1 ] || it_check_fail "sensor-$TARGET: $n_entries WARNING/FAILURE notifications, want exactly 1"
[ "$n_okays" -eq 1 ] || it_check_fail "sensor-$TARGET: $n_okays OKAY notifications, want exactly 1"
[ -z "$others" ] || it_check_fail "notifications for other emitters: $(echo $others)"
if [ "$n_entries" -eq 1 ] && [ "$n_okays" -eq 1 ]; then
  te=$(printf '%s' "$entries" | sed -n 's/.*|Time: \([0-9.]*\).*/\1/p')
  to=$(printf '%s' "$okays" | sed -n 's/.*|Time: \([0-9.]*\).*/\1/p')
  awk -v a="$te" -v b="$to" 'BEGIN { exit !(b > a) }' || it_check_fail "OKAY (time $to) is not after the entry (time $te)"
  # The sender is paced and never early: step 501 (the first deviating one)
  # leaves at least 501 / 200 s after t0, step 701 (back in line) 701 / 200 s.
  awk -v t0="$t0" -v a="$te" 'BEGIN { exit !(a >= t0 + 501 / 200) }' ||
    it_check_fail "entry at $te, before the deviation was sent (t0 $t0)"
  awk -v t0="$t0" -v b="$to" 'BEGIN { exit !(b >= t0 + 701 / 200) }' ||
    it_check_fail "OKAY at $to, before the recovery was sent (t0 $t0)"
  for key in CurrentValue FleetMedian FleetMAD Score Peers; do
    printf '%s' "$entries" | grep -q -E "\|$key: " || it_check_fail "entry notification lacks meta $key"
  done
  it_say "entry: $(printf '%s' "$entries" | cut -c1-400)"
  it_say "okay:  $(printf '%s' "$okays" | cut -c1-400)"
  [ "$IT_FAILED" -eq 0 ] && it_ok "NotificationExec: one entry then one OKAY for sensor-$TARGET, none for the others"
fi

# --- logfile: the same, in dispatch order.
grep -E 'Notification: severity = (WARNING|FAILURE|OKAY), host = sensor-' "$IT_LOG" |
  sed 's/.*severity = \([A-Z]*\), host = \([^,]*\),.*/\1 \2/' >"$IT_TMP/log.notifications"
want="ENTRY sensor-$TARGET
OKAY sensor-$TARGET"
got=$(sed 's/^WARNING /ENTRY /; s/^FAILURE /ENTRY /' "$IT_TMP/log.notifications")
if [ "$got" = "$want" ]; then
  it_ok "logfile: entry then OKAY for sensor-$TARGET, nothing else"
else
  it_check_fail "logfile notifications, want [$want], got [$(echo $got)]"
fi

# --- fleet values of the custom types (contrib/alec.types.db) reach csv.
if [ -f "$IT_SRCDIR/contrib/alec.types.db" ]; then
  types=$(awk '!/^#/ && NF > 1 { print $1 }' "$IT_SRCDIR/contrib/alec.types.db")
  seen=""
  for t in $types; do
    if ls "$IT_CSV"/*/alec*/"$t"-* >/dev/null 2>&1 || ls "$IT_CSV"/*/alec*/"$t"-[0-9]* >/dev/null 2>&1; then
      seen="$seen $t"
    fi
  done
  [ -n "$seen" ] || it_check_fail "no value of any alec.types.db type ($(echo $types)) in csv"
  [ -n "$seen" ] && it_ok "fleet values in csv for types:$seen"
fi

[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
