#!/bin/bash
# SPDX-License-Identifier: MIT
# Self-test of the integration harness with stock plugins only: the daemon
# starts from a generated configuration, collectd's network plugin receives
# value lists from bench-netsend (the benchmark's baseline sender, so this also
# proves its packets parse), csv writes them, a notification reaches logfile
# and the NotificationExec script, `collectd -T` refuses a broken
# configuration, and the daemon stops by PID.
IT_LIMIT=120
. "$(dirname "$0")/lib.sh"

it_require_collectd
NETSEND=$(it_netsend) || it_skip "bench-netsend is not built"
it_mktemp
port=$(it_free_port)

# An exec program that emits a notification every second. It must end by
# itself: exec's SIGTERM at shutdown stays pending because the children
# inherit the daemon thread's blocked signal mask; so it stops as soon as its
# parent, the daemon, is gone.
cat >"$IT_TMP/putnotif.sh" <<'END_OF_SCRIPT'
#!/bin/sh
i=0
daemon=$PPID
# Started by `collectd -T`, which exits at once, it is orphaned at birth.
while [ $i -lt 100 ] && [ "$daemon" -gt 1 ] && [ -d "/proc/$daemon" ]; do
  echo "PUTNOTIF severity=warning time=$(date +%s) host=it-host plugin=harness type=gauge message=\"harness notification\""
  sleep 1
  i=$((i + 1))
done
END_OF_SCRIPT
chmod 0755 "$IT_TMP/putnotif.sh"

it_conf_begin
it_conf_csv
it_conf_notify_exec
cat >>"$IT_CONF" <<END_OF_CONF
<Plugin exec>
  Exec "$(it_exec_user)" "$IT_TMP/putnotif.sh"
</Plugin>
LoadPlugin network
<Plugin network>
  Listen "127.0.0.1" "$port"
  ReportStats true
</Plugin>
END_OF_CONF

it_collectd_test_config || { cat "$IT_TMP/collectd-T.out"; it_fail "collectd -T rejects the harness configuration"; }
it_start
it_port_bound "$port" || it_fail "network plugin does not listen on $port"
it_ok "collectd pid $IT_PID listening on 127.0.0.1:$port"

# 3 emitters x 2 channels x 10 rows; values 20 + c + 0.01 * ((7 step + 13 e + c) % 100).
out=$("$NETSEND" --to "127.0.0.1:$port" --emitters 3 --channels 2 --steps 10 --group grp --rate 600) ||
  it_fail "bench-netsend failed: $out"
it_say "bench-netsend: $out"
case "$out" in *"values=60 "*) ;; *) it_fail "bench-netsend did not send 60 values" ;; esac

for e in 0 1 2; do
  for c in 0 1; do
    it_wait_rows "sensor-000$e" alec-grp "gauge-ch$c" 10 15 ||
      it_fail "sensor-000$e/alec-grp/gauge-ch$c: $(it_csv_count "sensor-000$e" alec-grp "gauge-ch$c") rows, want 10"
    want=$(awk -v e="$e" -v c="$c" 'BEGIN { for (s = 0; s < 10; s++) printf "%f\n", 20 + c + 0.01 * ((s * 7 + e * 13 + c) % 100) }')
    got=$(it_csv_rows "sensor-000$e" alec-grp "gauge-ch$c" | cut -d, -f2)
    [ "$got" = "$want" ] || it_fail "sensor-000$e ch$c values: got [$got] want [$want]"
  done
done
it_ok "60 value lists landed in csv with the values sent"

it_wait_for 15 grep -q 'harness notification' "$IT_NOTIFY_OUT" || it_fail "no notification from NotificationExec"
grep -q '^Severity: WARNING$' "$IT_NOTIFY_OUT" || it_fail "NotificationExec output lacks 'Severity: WARNING'"
it_log_has 'Notification: severity = WARNING.*harness notification' || it_fail "logfile lacks the notification"
it_ok "notification reached NotificationExec (as $(it_exec_user)) and logfile"

# The network plugin's own statistics reach csv (the benchmark reads them).
it_wait_for 15 it__rows_at_least it-receiver network total_values-dispatch-accepted 1 ||
  it_fail "no network statistics in csv"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_fail "collectd exited with status $IT_STATUS"
it_log_has 'Exiting normally' || it_fail "collectd did not log a normal exit"
it_ok "stopped by pid; exit status 0"

# collectd -T must refuse a configuration whose plugin rejects an option
# (the bad-configuration test relies on it; the network plugin only warns).
sed 's/^  StoreRates false$/  NoSuchOption true/' "$IT_CONF" >"$IT_TMP/bad.conf"
if it_collectd_test_config "$IT_TMP/bad.conf" "$IT_TMP/bad.out"; then
  it_fail "collectd -T accepted an unknown csv option"
fi
grep -q NoSuchOption "$IT_TMP/bad.out" "$IT_LOG" || it_fail "collectd -T did not name the bad option"
it_ok "collectd -T exits non-zero on a bad option and names it"
exit 0
