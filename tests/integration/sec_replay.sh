#!/bin/bash
# SPDX-License-Identifier: MIT
# Signed replays across a restart and across a key removed and re-added
# (docs/SECURITY.md, issue 13 findings 3 and 4). With SecurityLevel Sign
# and a StateFile:
#  1. 100 signed datagrams are captured (sectool) and accepted; collectd
#     restarts; the 100 are replayed: every one must be refused as a replay
#     (the highest counter per key is in the state file), and the sender,
#     whose counter goes on, must keep working.
#  2. 50 datagrams signed with key 5 are accepted; the AuthFile is rewritten
#     without key 5, then with it again; the 50 are replayed: replays (the
#     window of key 5 was kept while the key was absent), not accepted.
#  3. collectd restarts while key 5 is absent from the AuthFile; key 5 is
#     added back: the 50 are still replays (counters of absent keys are saved).
IT_LIMIT=200
. "$(dirname "$0")/lib.sh"

it_require_plugin
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port=$(it_free_port)
GOOD=103
src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
[ "$(wc -l <"$IT_TMP/good.frames")" -ge 190 ] || it_skip "fewer than 190 frames in $src"
sed -n 1,100p "$IT_TMP/good.frames" >"$IT_TMP/a.frames"
sed -n 101,120p "$IT_TMP/good.frames" >"$IT_TMP/b.frames"
sed -n 121,170p "$IT_TMP/good.frames" >"$IT_TMP/c.frames"
sed -n 171,190p "$IT_TMP/good.frames" >"$IT_TMP/d.frames"

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
K1=$(rand_hex 32)
K5=$(rand_hex 32)
KEYS=$IT_TMP/keys
replace_keys() { printf '%s\n' "$@" >"$KEYS.new" && chmod 0600 "$KEYS.new" && mv "$KEYS.new" "$KEYS"; }
replace_keys "1: $K1" "5: $K5"
sign() { # frames, key, key id, first counter > out
  "$SECTOOL" --frames "$1" --emitter "$GOOD" --channels 2 --key "$2" --key-id "$3" --counter "$4" || it_fail "sectool"
}
sign "$IT_TMP/a.frames" "$K1" 1 1000 >"$IT_TMP/a.hex"
sign "$IT_TMP/b.frames" "$K1" 1 5000 >"$IT_TMP/b.hex"
sign "$IT_TMP/c.frames" "$K5" 5 70000 >"$IT_TMP/c.hex"
sign "$IT_TMP/d.frames" "$K1" 1 9000 >"$IT_TMP/d.hex"
send() { "$SENDRAW" --to "127.0.0.1:$port" --hex "$1" --gap-us 500 >/dev/null || it_fail "sendraw"; }

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  SecurityLevel \"Sign\"
  AuthFile \"$KEYS\"
  StateFile \"$IT_TMP/alec.state\"
  StateInterval 1
  <Emitter $GOOD>
    Host \"good\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
rows() { it_csv_count good alec gauge-ch0; }
log_count() { grep -c -E "$1" "$IT_LOG" 2>/dev/null || true; }
it__log_count_is() { [ "$(log_count "$1")" -ge "$2" ]; }

# 1. Restart.
it_start_alec "$port"
send "$IT_TMP/a.hex"
it_wait_rows good alec gauge-ch0 100 10 || it_check_fail "the 100 signed frames did not land: $(rows)"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
it_start_alec "$port"
it_log_has "replay counters of 2 keys|replay counters of 1 keys" || it_check_fail "the state file did not restore the replay counters"
send "$IT_TMP/a.hex"
it_wait_stat errors-rejected_replay 100 10 || true
r1=$(it_stat errors-rejected_replay)
[ "$r1" = 100 ] || it_check_fail "after the restart: rejected_replay $r1 of 100 replayed datagrams"
[ "$(rows)" = 100 ] || it_check_fail "replayed datagrams were stored: $(rows) rows, want 100"
send "$IT_TMP/b.hex"
it_wait_rows good alec gauge-ch0 120 10 || it_check_fail "the sender's next 20 frames did not land: $(rows) rows"
it_say "restart: $r1 of 100 replayed datagrams refused as replays; the sender's next 20 landed ($(rows) rows)"

# 2. Key 5 removed and re-added.
send "$IT_TMP/c.hex"
it_wait_rows good alec gauge-ch0 170 10 || it_check_fail "the 50 frames signed with key 5 did not land: $(rows)"
replace_keys "1: $K1"
it_wait_for 5 it__log_count_is "AuthFile .*reloaded: 1 keys" 1 || it_check_fail "the AuthFile without key 5 was not loaded"
sleep 1
replace_keys "1: $K1" "5: $K5"
it_wait_for 5 it__log_count_is "AuthFile .*reloaded: 2 keys" 1 || it_check_fail "the AuthFile with key 5 was not loaded"
before=$(it_stat errors-rejected_replay)
send "$IT_TMP/c.hex"
it_wait_stat errors-rejected_replay $((before + 50)) 10 || true
r2=$(($(it_stat errors-rejected_replay) - before))
[ "$r2" = 50 ] || it_check_fail "key 5 re-added: $r2 of 50 replayed datagrams refused as replays"
[ "$(rows)" = 170 ] || it_check_fail "replays of key 5 were stored: $(rows) rows, want 170"
it_say "key 5 removed for 1 s and re-added: $r2 of 50 replayed datagrams refused as replays"

# 3. Restart while key 5 is absent, then add it back.
replace_keys "1: $K1"
it_wait_for 5 it__log_count_is "AuthFile .*reloaded: 1 keys" 2 || it_check_fail "the AuthFile without key 5 was not loaded"
it_stop
it_start_alec "$port"
replace_keys "1: $K1" "5: $K5"
it_wait_for 5 it__log_count_is "AuthFile .*reloaded: 2 keys" 1 || it_check_fail "the AuthFile with key 5 was not loaded"
send "$IT_TMP/c.hex"
it_wait_stat errors-rejected_replay 50 10 || true
r3=$(it_stat errors-rejected_replay)
[ "$r3" = 50 ] || it_check_fail "restart without key 5, then re-added: $r3 of 50 replays refused"
send "$IT_TMP/d.hex"
it_wait_rows good alec gauge-ch0 190 10 || it_check_fail "the sender's frames after the second restart did not land: $(rows) rows"
it_say "restart while key 5 was absent, key re-added: $r3 of 50 replays refused; $(rows) rows in all"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "no signed datagram replayed across restarts or key re-adds was accepted"
exit 0
