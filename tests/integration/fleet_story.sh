#!/bin/bash
# SPDX-License-Identifier: MIT
# The issue-10 acceptance fleet (src/fleet/fleet_story.c: 1000 emitters in 4
# groups at their own phases, periods mixed 0.5/1/1.5 P, 14 story days with
# a drift, a step, a stuck sensor, a dead one and a gateway outage) through
# the real collectd at a fast cadence, P = 100 ms (200 s, about 12,000
# frames/s in envelope datagrams). Its notifications, turned into
# alec-replay's event lines, must be exactly the expected events (what
# fleet-story --check judges; at this cadence the outage is shorter than the
# 1 s floor of the silence test, so no silence is expected, and the dead
# emitter is stale after 1 s).
IT_LIMIT=420
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
STORY=$(it_find_build src/fleet/fleet-story) || it_skip "fleet-story is not built"
port=$(it_free_port)
# Fixed frames carry no time: values are stamped when received, so a receiver
# that falls seconds behind the sender (an ASan build sharing two cores with
# another test) moves the diurnal cycle, a story day being 144 P, and reads
# the lag as fleet shifts or a false entry. So the story runs at P = 0.1 s
# (200 s, about 12,000 frames/s; P = 0.05 s failed both ways on two cores
# shared with the suite's other test): still no silence expected (6 P < 1 s).
P=0.1

emitters() {
  local i
  for i in $(seq 0 999); do
    printf '  <Emitter %d>\n    Host "e%d"\n    Group "g%d"\n    Format "fixed"\n    Channels 2\n  </Emitter>\n' \
      "$i" "$i" $((i % 4))
  done
}

it_conf_begin
it_conf_notify_exec
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 8388608
  MaxEmitters 2000
  UnknownEmitters \"reject\"
  <Fleet>
    EvaluationInterval 0.1
  </Fleet>
$(emitters)"
it_start_alec "$port"

it_bg "$IT_TMP/send.out" "$STORY" --period "$P" --send "127.0.0.1:$port"
send_limit=$(awk -v p="$P" 'BEGIN { printf "%d", 2016 * p * 1.5 + 30 }')
it_bg_wait "$IT_BG_PID" "$send_limit" || it_fail "fleet-story --send did not finish in $send_limit s"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "fleet-story --send failed ($IT_STATUS)"; }
t0=$(sed -n 's/^t0=//p' "$IT_TMP/send.out")
it_say "sender: $(tail -n 1 "$IT_TMP/send.out") t0 $t0"
sleep 1
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
grep -q 'queue_full\|dropped' "$IT_LOG" && it_say "note: $(grep -c 'dropped' "$IT_LOG") drop lines in the log"

# Notifications as alec-replay's lines (time, key, state).
it_notifications | awk -F'|' '
  { delete m; for (i = 1; i <= NF; i++) { k = f = $i; sub(/: .*/, "", k); sub(/^[^:]*: /, "", f); m[k] = f }
    s = tolower(m["Severity"]); if ("Renotify" in m) next
    r = ("Resolved" in m) ? " removed=1" : ""
    if (m["Kind"] == "emitter") printf "event t=%s emitter=%s channel=%s state=%s%s\n", m["Time"], m["EmitterId"], m["Channel"], s, r
    else if (m["Kind"] == "stale") printf "stale t=%s emitter=%s group=%s state=%s%s\n", m["Time"], m["EmitterId"], m["Group"], s, r
    else if (m["Kind"] == "silent") printf "silent t=%s group=%s state=%s\n", m["Time"], m["Group"], s
    else if (m["Kind"] == "fleet-shift") printf "shift t=%s group=%s channel=%s state=%s\n", m["Time"], m["Group"], m["Channel"], s
  }' >"$IT_TMP/events"
it_say "notifications: $(wc -l <"$IT_TMP/events")"
sed 's/^/  /' "$IT_TMP/events" | head -n 30
if "$STORY" --period "$P" --check "$IT_TMP/events" --t0 "$t0" 2>"$IT_TMP/check.out"; then
  it_ok "$(tail -n 1 "$IT_TMP/check.out")"
else
  cat "$IT_TMP/check.out"
  it_check_fail "not the expected events"
fi
[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
