#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile state and key files (docs/SECURITY.md, issue 13 findings 7 and 16).
# A well-formed state file in which emitter 103 last sent 1000.0 (written by
# a receiver of ours) is put at our StateFile path as another receiver's
# (other ReceiverId), as a file others may write (mode 0666), and, as root,
# as a file owned by another user (nobody). Each must be refused: the honest
# emitter's next "repeated" frame must not store 1000.0. The same file, ours,
# mode 0600, same ReceiverId, is restored (the control). An AuthFile others
# may write is refused by collectd -T unless AuthFileStrictModes is false.
IT_LIMIT=200
. "$(dirname "$0")/lib.sh"

it_require_plugin
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port=$(it_free_port)
E=103
STATE=$IT_TMP/alec.state
# Fixed 1-channel frames: Raw32 1000.0, then "repeated" (bitmap code 0).
printf 'a100010000 03 447a0000\na10002000000\n' | tr -d ' ' >"$IT_TMP/poison.frames"
printf 'a10003000000\n' >"$IT_TMP/repeat.frames"
printf 'a1000400000341a00000\n' >"$IT_TMP/fresh.frames" # Raw32 20.0
for f in poison repeat fresh; do
  "$SECTOOL" --frames "$IT_TMP/$f.frames" --emitter "$E" --channels 1 >"$IT_TMP/$f.hex" || it_fail "sectool"
done
send() { "$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/$1.hex" --gap-us 2000 >/dev/null || it_fail "sendraw"; }

start_with() { # receiver id, state file
  it_conf_begin
  it_conf_csv
  it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiverId \"$1\"
  StateFile \"$2\"
  StateInterval 3600
  ResyncRequests false
  <Emitter $E>
    Host \"honest\"
    Format \"fixed\"
    Channels 1
  </Emitter>"
  rm -rf "$IT_CSV"
  mkdir -p "$IT_CSV"
  it_start_alec "$port"
}
values() { it_csv_rows honest alec gauge-ch0 | cut -d, -f2 | tr '\n' ' '; }

# The file: a receiver that saw 1000.0 from emitter 103.
start_with "rx-a" "$IT_TMP/made.state"
send poison
it_wait_rows honest alec gauge-ch0 2 10 || it_fail "the state's frames did not land: $(values)"
it_stop
[ -s "$IT_TMP/made.state" ] || it_fail "no state file was written"
cp "$IT_TMP/made.state" "$IT_TMP/other.state"

# case: name, receiver id, mode, owner, expected log text (empty: restored)
run_case() {
  rm -f "$STATE" "$STATE.refused"
  cp "$IT_TMP/made.state" "$STATE"
  chmod "$3" "$STATE"
  [ -n "$4" ] && chown "$4" "$STATE"
  start_with "$2" "$STATE"
  send repeat
  send fresh
  it_wait_rows honest alec gauge-ch0 1 10 || true
  sleep 0.5
  local got
  got=$(values)
  if [ -z "$5" ]; then
    it_log_has "restored 1 emitters" || it_check_fail "$1: the state was not restored"
    case "$got" in "1000.000000 20.000000 ") it_ok "$1: restored, the repeated frame stored 1000 (the attack vehicle works)" ;;
    *) it_check_fail "$1: values '$got', want '1000.000000 20.000000'" ;; esac
  else
    it_log_has "$5" || it_check_fail "$1: the log does not say \"$5\""
    it_log_has "restored 1 emitters" && it_check_fail "$1: the state was restored"
    case "$got" in "20.000000 ") it_ok "$1: refused ($(grep -o "state file.*refused: [^;]*" "$IT_LOG" | head -n 1 | cut -c1-150)); stored only 20" ;;
    *) it_check_fail "$1: values '$got', want only 20 (1000 would be the other state's)" ;; esac
  fi
  it_stop
}
run_case "our own file" rx-a 0600 "" ""
run_case "another receiver's file" rx-b 0600 "" "belongs to receiver \"rx-a\""
run_case "a file others may write" rx-a 0666 "" "writable by group or others"
if [ "$(id -u)" -eq 0 ]; then
  run_case "a file of another user" rx-a 0600 nobody "owned by uid"
else
  it_say "not root: the case of a state file owned by another user is left to the unit test"
fi

# AuthFile others may write: refused at start unless AuthFileStrictModes false.
K=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
printf '1: %s\n' "$K" >"$IT_TMP/open.keys"
chmod 0666 "$IT_TMP/open.keys"
it_refuse_case "AuthFile mode 0666" "writable by group or others" "  Listen \"127.0.0.1\" \"$port\"
  AuthFile \"$IT_TMP/open.keys\"" "$K"
it_write_conf "  Listen \"127.0.0.1\" \"$port\"
  AuthFile \"$IT_TMP/open.keys\"
  AuthFileStrictModes false" "$IT_TMP/lax.conf"
: >"$IT_LOG"
if it_collectd_test_config "$IT_TMP/lax.conf" "$IT_TMP/lax.out"; then
  it_ok "AuthFile mode 0666 with AuthFileStrictModes false: accepted with a warning"
else
  it_check_fail "AuthFileStrictModes false: the AuthFile was still refused"
fi
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "hostile state and key files refused"
exit 0
