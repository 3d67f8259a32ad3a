#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile and mistaken security configuration (docs/SECURITY.md): bad
# SecurityLevel values, Sign without keys, AuthFiles that are missing,
# unreadable, a directory, a FIFO, binary, huge, or hold short, malformed or
# duplicate keys, a Listen block with unknown options, a Source emitter that
# should be signed, bad RateLimit values. For each, `collectd -T -C` must
# exit non-zero, name the option, and never print a key; a FIFO must not
# hang the daemon. The complete valid configuration passes. (The other
# options' refusals are tests/integration/badconfig.sh.)
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
GOODKEYS=$IT_TMP/good.keys
printf '1: %s\n2: base64:%s 100-199 250\n' "$KEY" "$(head -c 16 /dev/zero | base64)" >"$GOODKEYS"
chmod 0600 "$GOODKEYS"

# Refused, and the key never shows.
run_case() { # name, text the log must contain, body
  it_refuse_case "$1" "$2" "$3" "0011223344"
}

SIGN="  <Listen \"127.0.0.1\" \"$port\">
    SecurityLevel \"Sign\"
  </Listen>"
keys_case() { # name, want, file
  run_case "$1" "$2" "$SIGN
  AuthFile \"$3\""
}

# The baseline: every security option, accepted.
it_write_conf "$SIGN
  AuthFile \"$GOODKEYS\"
  SecurityLevel \"None\"
  RateLimit 100 500
  <Emitter 5>
    SecurityLevel \"None\"
  </Emitter>
  <Emitter 6>
    SecurityLevel \"Sign\"
  </Emitter>" "$IT_TMP/good.conf"
: >"$IT_LOG"
if ! it_collectd_test_config "$IT_TMP/good.conf" "$IT_TMP/good.out"; then
  cat "$IT_TMP/good.out"
  tail -n 20 "$IT_LOG"
  it_fail "collectd -T refuses the correct security configuration"
fi
grep -q "2 keys loaded" "$IT_LOG" || it_check_fail "the baseline did not load its 2 keys"
it_ok "the complete security configuration passes collectd -T"

run_case "unknown SecurityLevel" "SecurityLevel" "  SecurityLevel \"Encrypt\""
run_case "SecurityLevel a boolean" "SecurityLevel" "  SecurityLevel true"
run_case "Sign without AuthFile" "AuthFile" "$SIGN"
run_case "emitter Sign without AuthFile" "AuthFile" "  <Emitter 5>
    SecurityLevel \"Sign\"
  </Emitter>"
run_case "unknown option in a Listen block" "Bogus" "  <Listen \"127.0.0.1\" \"$port\">
    Bogus \"x\"
  </Listen>"
run_case "Sign on a bare Source" "Source" "  AuthFile \"$GOODKEYS\"
  <Emitter 5>
    Source \"127.0.0.1\" \"9999\"
    Format \"single\"
    SecurityLevel \"Sign\"
  </Emitter>"
run_case "RateLimit zero" "RateLimit" "  RateLimit 0"
run_case "RateLimit burst below 1" "RateLimit" "  RateLimit 10 0.5"
run_case "RateLimit not a number" "RateLimit" "  RateLimit \"fast\""

keys_case "AuthFile missing" "AuthFile" "$IT_TMP/nonexistent.keys"
keys_case "AuthFile a directory" "not a regular file" "$IT_TMP"
mkfifo "$IT_TMP/fifo.keys"
keys_case "AuthFile a FIFO (must not hang)" "not a regular file" "$IT_TMP/fifo.keys"
head -c 5000 /dev/urandom >"$IT_TMP/binary.keys"
keys_case "AuthFile binary garbage" "AuthFile" "$IT_TMP/binary.keys"
head -c 2000000 /dev/zero | tr '\0' '\n' >"$IT_TMP/huge.keys"
keys_case "AuthFile above 1 MiB" "larger than" "$IT_TMP/huge.keys"
printf '1: 00112233445566778899aabbccddee\n' >"$IT_TMP/short.keys"
keys_case "key of 15 bytes" "16..64 bytes" "$IT_TMP/short.keys"
printf '1: %s\n1: %s\n' "$KEY" "$KEY" >"$IT_TMP/dup.keys"
keys_case "duplicate key id" "defined twice" "$IT_TMP/dup.keys"
printf '# nothing\n' >"$IT_TMP/empty.keys"
keys_case "no key at all" "no key" "$IT_TMP/empty.keys"
printf '70000: %s\n' "$KEY" >"$IT_TMP/bigid.keys"
keys_case "key id above 65535" "0..65535" "$IT_TMP/bigid.keys"
printf '1: %s 9-3\n' "$KEY" >"$IT_TMP/range.keys"
keys_case "inverted emitter range" "LO <= HI" "$IT_TMP/range.keys"
{ printf '1: %s ' "$KEY"; head -c 6000 /dev/zero | tr '\0' '7'; echo; } >"$IT_TMP/longline.keys"
keys_case "line above 4096 characters" "longer than" "$IT_TMP/longline.keys"
if [ "$(id -u)" -ne 0 ]; then
  cp "$GOODKEYS" "$IT_TMP/unreadable.keys" && chmod 0000 "$IT_TMP/unreadable.keys"
  keys_case "AuthFile unreadable" "Permission denied" "$IT_TMP/unreadable.keys"
fi

# A world-readable key file works, with a warning.
cp "$GOODKEYS" "$IT_TMP/open.keys" && chmod 0644 "$IT_TMP/open.keys"
it_write_conf "$SIGN
  AuthFile \"$IT_TMP/open.keys\"" "$IT_TMP/open.conf"
: >"$IT_LOG"
it_collectd_test_config "$IT_TMP/open.conf" "$IT_TMP/open.out" || it_check_fail "a readable AuthFile was refused"
grep -q "readable or writable by group or others" "$IT_LOG" || it_check_fail "no warning about a readable AuthFile"

[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "$IT_REFUSED hostile security configurations refused"
exit 0
