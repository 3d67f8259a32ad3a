#!/bin/bash
# SPDX-License-Identifier: MIT
# The README's main job: builds collectd-alec if needed, starts a real collectd
# (foreground mode, in the background) with the alec plugin, the csv writer,
# logfile and exec for notifications, runs a fleet of 10 emitters through
# alec-send in which emitter 5 deviates from its peers and then recovers,
# shows the values landing per emitter and the notifications for emitter 5,
# stops everything it started (by PID) and says where the files are.
#
#   contrib/demo.sh            build tree: ./build (override: ALEC_BUILDDIR)
#
# Exit status 0 when the values landed and emitter 5 got its entry (WARNING or
# FAILURE) and OKAY notifications, and nobody else got any.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ALEC_BUILDDIR:-$top/build}

if [ -z "${DEMO_BUILT:-}" ]; then
  echo "== build ($build)"
  if [ ! -x "$top/configure" ]; then
    (cd "$top" && ./bootstrap) >/dev/null || { echo "demo: ./bootstrap failed"; exit 1; }
  fi
  mkdir -p "$build" || exit 1
  if [ ! -f "$build/Makefile" ]; then
    (cd "$build" && "$top/configure" >configure.out 2>&1) || {
      tail -n 20 "$build/configure.out"
      echo "demo: configure failed (see $build/config.log)"
      exit 1
    }
  fi
  jobs=$(nproc 2>/dev/null || echo 2)
  if ! make -C "$build" -j"$jobs" >"$build/demo-build.log" 2>&1; then
    tail -n 30 "$build/demo-build.log"
    echo "demo: build failed (full log: $build/demo-build.log)"
    exit 1
  fi
  echo "   built."
  export DEMO_BUILT=1
fi

export ALEC_BUILDDIR="$build" ALEC_SRCDIR="$top"
IT_LIMIT=110 # the whole demo, build excluded, is bounded
. "$top/tests/integration/lib.sh"
IT_NAME=demo
IT_KEEP=1

EMITTERS=10
STEPS=1000
TARGET=5
RATE=200 # steps per second: 5 s of traffic

it_require_plugin
it_mktemp "$build/demo"
port=25830
it_port_bound "$port" && port=$(it_free_port)

it_conf_begin
it_conf_csv
it_conf_notify_exec
it_conf_fleet "$port" accept hall-a "    Threshold 3.5
    ExitThreshold 2.5
    FailureThreshold 7.0
    EnterCount 3
    ExitCount 5"

echo "== collectd"
it_start_alec "$port"
echo "   $COLLECTD_BIN -f -C $IT_CONF   (pid $IT_PID)"
echo "   alec plugin listening on 127.0.0.1:$port; csv, logfile, exec (notifications) loaded"

echo "== fleet: $EMITTERS emitters x $STEPS steps at $RATE steps/s; sensor-$TARGET runs 20 degrees hot for steps 501..700"
it_bg "$IT_TMP/alec-send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario recovery \
  --emitters "$EMITTERS" --steps "$STEPS" --rate $((EMITTERS * RATE)) --format single
send_pid=$IT_BG_PID
t=0
shown=0
while kill -0 "$send_pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$send_pid/stat" 2>/dev/null)" != Z ]; do
  sleep 1
  t=$((t + 1))
  stored=$(cat "$IT_CSV"/sensor-*/alec-hall-a/temperature-room-* 2>/dev/null | grep -c -v '^epoch' || true)
  notes=$(grep -c 'Notification: severity' "$IT_LOG" 2>/dev/null || true)
  printf '   t=%2ds  %6d values stored  %d notifications\n' "$t" "$stored" "$notes"
  # Show each notification as it arrives.
  grep 'Notification: severity' "$IT_LOG" | tail -n +$((shown + 1)) |
    sed 's/^\[[^]]*\] \[[a-z]*\] Notification: /          /; s/, plugin = .*message = /: /'
  shown=$notes
  [ "$t" -ge 60 ] && break
done
it_bg_wait "$send_pid" 10 || it_fail "alec-send did not finish"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/alec-send.out"; it_fail "alec-send failed"; }
echo "   $(tail -n 1 "$IT_TMP/alec-send.out")"
# From here on the fleet is silent: a "silent" (group) or "stale" (emitter)
# WARNING after this point is the receiver noticing that, not a false alarm.
notes_at_end=$(grep -c 'Notification: severity' "$IT_LOG" || true)

# Let the last values land and the OKAY arrive (ExitCount evaluations).
for i in $(seq 0 $((EMITTERS - 1))); do it_wait_rows "sensor-$i" alec-hall-a temperature-room "$STEPS" 15; done
it_wait_for 15 grep -q "severity = OKAY, host = sensor-$TARGET" "$IT_LOG"
sleep 1.2 # one more statistics interval

echo "== values per emitter (csv: $IT_CSV/<host>/alec-hall-a/temperature-room-<date>)"
printf '   %-10s %7s %12s %10s %s\n' host values "last value" "max value" "fleet state (alec_anomaly)"
for i in $(seq 0 $((EMITTERS - 1))); do
  h=sensor-$i
  rows=$(it_csv_count "$h" alec-hall-a temperature-room)
  last=$(it_csv_last "$h" alec-hall-a temperature-room)
  max=$(it_csv_rows "$h" alec-hall-a temperature-room | cut -d, -f2 | sort -g | tail -n 1)
  worst=$(it_csv_rows "$h" alec-hall-a alec_anomaly-temperature-room | cut -d, -f2 | sort -g | tail -n 1)
  case "${worst%%.*}" in 2) state="reached FAILURE" ;; 1) state="reached WARNING" ;; 0) state="normal throughout" ;; *) state="-" ;; esac
  printf '   %-10s %7s %12.2f %10.2f %s\n' "$h" "$rows" "${last:-0}" "${max:-0}" "$state"
done

echo "== notifications (logfile, in dispatch order)"
grep 'Notification: severity' "$IT_LOG" | sed 's/^/   /'
echo "== the same for sensor-$TARGET as NotificationExec received them (headers, meta data, message)"
it_notifications | grep -F "|Host: sensor-$TARGET|" | sed 's/^/   /; s/|/\n   /g; s/$/\n/'

dispatched=$(it_stat derive-values_dispatched)
bytes=$(it_stat total_bytes-datagrams)
echo "== plugin statistics"
echo "   values dispatched: ${dispatched:-?}; datagram bytes: ${bytes:-?}$(
  [ -n "$dispatched" ] && [ -n "$bytes" ] && [ "$dispatched" -gt 0 ] &&
    awk -v b="$bytes" -v v="$dispatched" 'BEGIN { printf " (%.2f bytes per value, one frame per datagram)", b / v }')"
echo "   rejected: $(it_stat_rejected); held back: $(it_stat derive-values_held_back)"

echo "== stopping collectd (pid $IT_PID)"
it_stop
echo "   exit status $IT_STATUS"

# The verdict.
entries=$(grep -c -E "severity = (WARNING|FAILURE), host = sensor-$TARGET," "$IT_LOG" || true)
okays=$(grep -c -E "severity = OKAY, host = sensor-$TARGET," "$IT_LOG" || true)
others=$(grep 'Notification: severity' "$IT_LOG" | head -n "$notes_at_end" | grep -v -c "host = sensor-$TARGET," || true)
late=$(grep 'Notification: severity' "$IT_LOG" | tail -n +$((notes_at_end + 1)) | grep -v "host = sensor-$TARGET,")
silence=$(printf '%s\n' "$late" | grep -c -E ', type = (silent|stale),' || true)
others=$((others + $(printf '%s\n' "$late" | grep -v -E ', type = (silent|stale),' | grep -c . || true)))
stored=$(cat "$IT_CSV"/sensor-*/alec-hall-a/temperature-room-* 2>/dev/null | grep -c -v '^epoch' || true)

echo "== files"
echo "   configuration   $IT_CONF"
echo "   log             $IT_LOG"
echo "   csv values      $IT_CSV/"
echo "   notifications   $IT_NOTIFY_OUT"
if [ "$entries" -eq 1 ] && [ "$okays" -eq 1 ] && [ "$others" -eq 0 ] && [ "$stored" -eq $((EMITTERS * STEPS)) ]; then
  [ "$silence" -eq 0 ] ||
    echo "demo: the fleet stopped sending before collectd was stopped: $silence silence notification(s) after the last frame, as expected."
  echo "demo: OK: $stored values stored; sensor-$TARGET raised one alert and recovered; no other emitter alerted."
  exit 0
fi
echo "demo: unexpected result: $stored values stored (want $((EMITTERS * STEPS))), sensor-$TARGET $entries alert(s) / $okays OKAY, $others other notification(s)"
IT_FAILED=1
exit 1
