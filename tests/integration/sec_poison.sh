#!/bin/bash
# SPDX-License-Identifier: MIT
# Peer-group poisoning (docs/SECURITY.md "Peer groups", issue 13 finding 5):
# five emitters configured with SecurityLevel "Sign" send about 20 degC in
# signed datagrams; thirty unknown emitters send 80 degC unsigned on the same
# SecurityLevel "None" socket, all in the default group. The unsigned ones
# must go to the group "unauthenticated": no honest emitter is flagged, no
# fleet shift is raised, the honest ones are still scored among themselves.
# Then one of the honest ids is sent unsigned: refused (unauthenticated).
IT_LIMIT=120
. "$(dirname "$0")/lib.sh"

it_require_plugin
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port=$(it_free_port)
ROUNDS=${SEC_POISON_ROUNDS:-40}
# One key per device (a key is one counter), each restricted to its emitter.
KEYS=$IT_TMP/keys
: >"$KEYS"
chmod 0600 "$KEYS"
declare -a K
for e in 1 2 3 4 5; do
  K[$e]=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  printf '%d: %s %d\n' "$e" "${K[$e]}" "$e" >>"$KEYS"
done

# Fixed 1-channel Raw32 frames, sequence 1..ROUNDS: each decodes alone.
honest=(41a00000 41a40000 419c0000 41a80000 41980000) # 20.0 20.5 19.5 21.0 19.0
hostile=(42a00000 42a10000 429f0000 42a20000 429e0000) # 80.0 80.5 79.5 81.0 79.0
frames() { # values array name, offset > file
  local -n vals=$1
  local r
  for r in $(seq 1 "$ROUNDS"); do
    printf 'a1%04x000003%s\n' "$r" "${vals[$(((r + $2) % 5))]}"
  done
}
for e in 1 2 3 4 5; do
  frames honest "$e" >"$IT_TMP/h$e.frames"
  "$SECTOOL" --frames "$IT_TMP/h$e.frames" --emitter "$e" --channels 1 --key "${K[$e]}" --key-id "$e" \
    --counter 1000 >"$IT_TMP/h$e.hex" || it_fail "sectool"
done
for e in $(seq 100 129); do
  frames hostile "$e" >"$IT_TMP/x$e.frames"
  "$SECTOOL" --frames "$IT_TMP/x$e.frames" --emitter "$e" --channels 1 >"$IT_TMP/x$e.hex" || it_fail "sectool"
done
# Round by round: every emitter's r-th datagram.
paste -d '\n' "$IT_TMP"/h[1-5].hex "$IT_TMP"/x1[0-2][0-9].hex | grep . >"$IT_TMP/all.hex"

emitters=""
for e in 1 2 3 4 5; do
  emitters="$emitters
  <Emitter $e>
    Host \"honest-$e\"
    SecurityLevel \"Sign\"
    Format \"fixed\"
    Channels 1
    Channel 0 \"temperature\" \"room\"
  </Emitter>"
done
it_conf_begin
it_conf_csv
it_conf_notify_exec
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  SecurityLevel \"None\"
  AuthFile \"$KEYS\"
  UnknownEmitters \"accept\"
  <Fleet>
    EvaluationInterval 0.1
  </Fleet>$emitters"
it_start_alec "$port"
"$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/all.hex" --gap-us 3000 >/dev/null || it_fail "sendraw"
sleep 2
frames_in=$(it_stat derive-frames)
groups=$(it_stat count-groups)
it_say "$frames_in frames decoded of $((35 * ROUNDS)); $groups peer groups"
[ "$frames_in" -ge $((35 * ROUNDS - 10)) ] || it_check_fail "only $frames_in of $((35 * ROUNDS)) frames decoded"
[ "$groups" = 2 ] || it_check_fail "count-groups $groups, want 2 (the default and \"unauthenticated\")"
flagged=$(it_notifications | grep -E 'Severity: (FAILURE|WARNING)' | grep -c -E 'Host: honest-' || true)
shifts=$(it_notifications | grep -E 'Severity: (FAILURE|WARNING)' | grep -c 'fleet-shift' || true)
[ "$flagged" = 0 ] || it_check_fail "$flagged FAILURE/WARNING notifications for honest emitters"
[ "$shifts" = 0 ] || it_check_fail "$shifts fleet-shift notifications"
# The honest ones were compared with each other (scores dispatched) ...
scored=0
for e in 1 2 3 4 5; do
  [ -n "$(it_csv_files "honest-$e" alec alec_score-temperature-room)" ] && scored=$((scored + 1))
done
[ "$scored" = 5 ] || it_check_fail "$scored of 5 honest emitters were scored"
last=$(it_csv_last honest-1 alec alec_score-temperature-room)
it_say "honest emitters: $flagged notifications, $shifts fleet shifts, $scored scored (last score of honest-1: $last)"
# ... and the unsigned ones among themselves (scores of the fleet's group).
n_apart=$(find "$IT_CSV" -path '*/alec-unauthenticated/*' -name 'alec_*' | wc -l)
it_say "score files of unsigned emitters in group \"unauthenticated\": $n_apart (UnknownScores \"anomalous\")"

# An honest id sent unsigned is refused.
before=$(it_stat errors-rejected_unauthenticated)
printf 'a1%04x000003%s\n' $((ROUNDS + 1)) 42c80000 >"$IT_TMP/spoof.frames"
"$SECTOOL" --frames "$IT_TMP/spoof.frames" --emitter 3 --channels 1 >"$IT_TMP/spoof.hex" || it_fail "sectool"
"$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/spoof.hex" >/dev/null || it_fail "sendraw"
it_wait_stat errors-rejected_unauthenticated $((before + 1)) 5 || it_check_fail "an unsigned record of a Sign emitter was not refused"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "30 unsigned emitters at 80 degC did not move the 5 signed ones: 0 flagged, 0 shifts"
exit 0
