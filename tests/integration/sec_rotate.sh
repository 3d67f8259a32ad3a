#!/bin/bash
# SPDX-License-Identifier: MIT
# Key rotation without restart (docs/SECURITY.md): the AuthFile is replaced
# (rename, as configuration managers do), rewritten in place, broken and
# deleted while collectd runs. The plugin must pick up each new key within
# about a second, refuse the old key at once, keep the keys it has when the
# new file is broken or gone (logging it once), and never lose a frame of
# the good emitter signed with the current key.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
GOOD=103
src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
split -l 20 -d -a 2 "$IT_TMP/good.frames" "$IT_TMP/part."

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
KA=$(rand_hex 32)
KB=$(rand_hex 32)
KC=$(rand_hex 16)
KEYS=$IT_TMP/keys
replace_keys() { # atomically, a new inode
  printf '%s\n' "$@" >"$KEYS.new" && chmod 0600 "$KEYS.new" && mv "$KEYS.new" "$KEYS"
}
replace_keys "1: $KA"

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  SecurityLevel \"Sign\"
  AuthFile \"$KEYS\"
  <Emitter $GOOD>
    Host \"good\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
it_start_alec "$port"

send() { # part, key
  "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$GOOD" --format fixed --channels 2 --rate 2000 --quiet \
    --hex "$IT_TMP/part.$1" --key "$2" --key-id 1 || it_fail "alec-send failed"
}
log_count() { grep -c -E "$1" "$IT_LOG" 2>/dev/null || true; }
it__log_count_is() { [ "$(log_count "$1")" -ge "$2" ]; }

send 00 "$KA"
it_wait_rows good alec gauge-ch0 20 10 || it_check_fail "frames signed with the first key did not land"

# 1. Replaced by rename: the old key is refused, the new one accepted.
replace_keys "# rotated" "1: $KB"
it_wait_for 5 it__log_count_is "AuthFile .*reloaded: 1 keys" 1 || it_check_fail "the new AuthFile was not loaded"
send 01 "$KA"
send 01 "$KB"
# 2. Broken: the keys stay, one error.
replace_keys "1: $KC 0-" "2 nonsense"
it_wait_for 5 it__log_count_is "AuthFile .*line 1.*keeping the 1 keys" 1 ||
  it_check_fail "the broken AuthFile was not reported"
send 02 "$KB"
# 3. Rewritten in place (same inode, other size).
printf '1: %s\n' "$KC" >"$KEYS"
it_wait_for 5 it__log_count_is "AuthFile .*reloaded: 1 keys" 2 || it_check_fail "the rewritten AuthFile was not loaded"
send 03 "$KC"
# 4. Deleted: the keys stay, one error.
rm -f "$KEYS"
it_wait_for 5 it__log_count_is "AuthFile .*No such file.*keeping the 1 keys" 1 ||
  it_check_fail "the deleted AuthFile was not reported"
sleep 1.5
send 04 "$KC"

# 80 + 20 frames of the current key landed, in order, equal to the reference.
want_frames=100
for ch in 0 1; do
  awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/good.expect" | head -n "$want_frames" >"$IT_TMP/ch$ch.want"
  it_wait_rows good alec "gauge-ch$ch" "$want_frames" 10 || true
  it_csv_rows good alec "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/ch$ch.got"
  cmp -s "$IT_TMP/ch$ch.want" "$IT_TMP/ch$ch.got" ||
    it_check_fail "good ch$ch: $(wc -l <"$IT_TMP/ch$ch.got") values, not the reference's first $want_frames"
done
it_wait_stat errors-rejected_bad_signature 20 10 || true
[ "$(it_stat errors-rejected_bad_signature)" = 20 ] ||
  it_check_fail "bad_signature $(it_stat errors-rejected_bad_signature), want 20 (the old key after rotation)"
it_wait_stat derive-auth_reload_errors 2 5 || true
[ "$(it_stat derive-auth_reloads)" = 2 ] || it_check_fail "auth_reloads $(it_stat derive-auth_reloads), want 2"
[ "$(it_stat derive-auth_reload_errors)" = 2 ] ||
  it_check_fail "auth_reload_errors $(it_stat derive-auth_reload_errors), want 2"
# Reported once each, not every second.
sleep 2
[ "$(log_count 'keeping the 1 keys')" = 2 ] || it_check_fail "errors logged $(log_count 'keeping the 1 keys') times, want 2"
it_say "log: $(grep -E 'AuthFile' "$IT_LOG" | sed 's/^.*alec plugin: //' | tr '\n' '|')"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "keys rotated twice without restart; broken and deleted AuthFiles kept the keys"
exit 0
