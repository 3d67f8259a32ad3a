#!/bin/bash
# SPDX-License-Identifier: MIT
# Notifications to Alertmanager without Prometheus: collectd with
# contrib/writers/alertmanager.conf (exec running
# contrib/writers/alertmanager-notify.sh) posts to a real Alertmanager on
# loopback. The recovery fleet (emitter 5 of 10 off for steps 501..700):
# Alertmanager's API must show the alert of sensor-5 active, then none, its
# webhook must deliver it firing then resolved, and no other emitter may
# alert.
IT_LIMIT=100
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/writers_lib.sh"
. "$(dirname "$0")/alertmanager_lib.sh"

wr_require curl python3 prometheus-alertmanager
it_require_plugin
it_mktemp
am_port=$(wr_free_port)
hook_port=$(wr_free_port)
while [ "$hook_port" = "$am_port" ]; do hook_port=$(wr_free_port); done
port=$(it_free_port)
EMITTERS=10
STEPS=1000
RATE=2000
TARGET=5

am_start "$am_port" "$hook_port"
# The exec user (nobody) runs the script: a copy it can read.
cp "$IT_SRCDIR/contrib/writers/alertmanager-notify.sh" "$IT_TMP/" && chmod 0755 "$IT_TMP/alertmanager-notify.sh" ||
  it_fail "cannot copy alertmanager-notify.sh"
# exec's programs inherit collectd's environment: in the sanitizer build
# that preloads libasan, under which curl hangs; the script runs without it.
prog="\"$IT_TMP/alertmanager-notify.sh\""
[ -n "$IT_PRELOAD" ] && prog="\"/usr/bin/env\" \"-u\" \"LD_PRELOAD\" $prog"
it_conf_begin
wr_include_snippet alertmanager.conf \
  "s|\"nobody:nogroup\" \"/usr/share/collectd-alec/alertmanager-notify.sh\" \"http://127.0.0.1:9093\"|\"$(it_exec_user)\" $prog \"http://127.0.0.1:$am_port\"|"
grep -q "$IT_TMP/alertmanager-notify.sh" "$IT_TMP/alertmanager.conf" || it_fail "NotificationExec line of alertmanager.conf not found"
it_conf_fleet "$port" reject hall
it_start_alec "$port"

am_poll_start
t0=$(date +%s.%N)
it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario recovery \
  --emitters "$EMITTERS" --steps "$STEPS" --rate "$RATE" --format single
it_bg_wait "$IT_BG_PID" 60 || it_fail "alec-send did not finish in 60 s"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "alec-send failed ($IT_STATUS)"; }
am_verify "sensor-$TARGET" 20 "$(awk -v t="$t0" -v e="$EMITTERS" -v r="$RATE" 'BEGIN { printf "%.3f", t + 500 * e / r }')"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
if grep -q 'alertmanager-notify: ' "$IT_LOG" "$IT_TMP"/collectd*.out 2>/dev/null; then
  it_check_fail "the script reported: $(grep -h 'alertmanager-notify: ' "$IT_LOG" "$IT_TMP"/collectd*.out | head -n 2)"
fi
[ "$IT_FAILED" -eq 0 ] || { tail -n 5 "$IT_TMP/alertmanager.log"; exit 1; }
exit 0
