#!/bin/bash
# SPDX-License-Identifier: MIT
# Signed envelopes against the real collectd (docs/SECURITY.md): a socket
# with SecurityLevel Sign and one without, emitters that override the level,
# an AuthFile with a key for any emitter, a key restricted to emitters
# 200..299 and a base64 key. The good emitter's reference frames arrive
# signed (alec-send --key-file) and must all land exactly; then copies of its
# frames come unsigned, forged (another key under the right id), damaged in
# flight, under an unknown key id, under a key not allowed for it, and a
# signed stream of another emitter is replayed. Each class must be refused
# and counted in its own counter, exactly; none may reach any emitter (a
# copy reaching the good emitter's decoder would show as a decode error or
# an extra value), and the keys never appear in the log.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port_sign=$(it_free_port)
port_open=$(it_free_port)
port_src=$(it_free_port)
GOOD=103
N=40 # frames per hostile class

src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
it_say "good emitter: $src"
head -n "$N" "$IT_TMP/good.frames" >"$IT_TMP/some.frames"

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
K1=$(rand_hex 32)
K2=$(rand_hex 16)
K3B64=$(head -c 24 /dev/urandom | base64 | tr -d '\n')
KX=$(rand_hex 32) # the attacker's
KEYS=$IT_TMP/keys
cat >"$KEYS" <<EOF
# collectd-alec AuthFile: <key id>: <key> [emitter ids or ranges]
1: $K1
2: $K2 200-299
3: base64:$K3B64
EOF
chmod 0600 "$KEYS"

it_conf_begin
it_conf_csv
it_conf_alec "  AuthFile \"$KEYS\"
  <Listen \"127.0.0.1\" \"$port_sign\">
    SecurityLevel \"Sign\"
  </Listen>
  Listen \"127.0.0.1\" \"$port_open\"
  ReceiveBufferSize 8388608
  UnknownEmitters \"accept\"
  <Emitter $GOOD>
    Host \"good\"
    Group \"good\"
    Format \"fixed\"
    Channels 2
  </Emitter>
  <Emitter 104>
    Host \"open\"
    Format \"fixed\"
    Channels 2
    SecurityLevel \"None\"
  </Emitter>
  <Emitter 105>
    Host \"strict\"
    Format \"fixed\"
    Channels 2
    SecurityLevel \"Sign\"
  </Emitter>
  <Emitter 250>
    Host \"device\"
    Format \"fixed\"
    Channels 2
  </Emitter>
  <Emitter 110>
    Host \"replayed\"
    Format \"fixed\"
    Channels 2
  </Emitter>
  <Emitter 120>
    Host \"bare\"
    Source \"127.0.0.1\" \"$port_src\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
it_start_alec "$port_sign"
it_log_has "3 keys loaded from" || it_check_fail "the log does not say the keys were loaded"

send() { # port, emitter, frames file, alec-send signing options...
  local port=$1 em=$2 file=$3
  shift 3
  "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$em" --format fixed --channels 2 --rate 2000 --quiet \
    --hex "$file" "$@" || it_fail "alec-send $* failed"
}

# The good emitter, signed with the gateway key, on the Sign socket.
send "$port_sign" "$GOOD" "$IT_TMP/good.frames" --key-file "$KEYS" --key-id 1
want=$(awk '$1 == 0' "$IT_TMP/good.expect" | wc -l)
it_wait_rows good alec-good gauge-ch0 "$want" 30 || it_check_fail "the signed good stream did not land"

# Hostile copies of its frames.
send "$port_sign" "$GOOD" "$IT_TMP/some.frames"                          # unsigned on the Sign socket
send "$port_open" 105 "$IT_TMP/some.frames"                               # unsigned, emitter requires Sign
send "$port_sign" "$GOOD" "$IT_TMP/some.frames" --key "$KX" --key-id 1   # forged
send "$port_open" "$GOOD" "$IT_TMP/some.frames" --key "$K1" --key-id 9   # unknown key id
send "$port_sign" "$GOOD" "$IT_TMP/some.frames" --key "$K2" --key-id 2   # key not allowed for 103
# Damaged in flight: one hex digit of the frame changed after signing.
"$SECTOOL" --frames "$IT_TMP/some.frames" --emitter "$GOOD" --channels 2 --key "$K1" --key-id 1 \
  --counter "$(date +%s%6N)" >"$IT_TMP/signed.hex" || it_fail "sectool failed"
awk '{ c = substr($0, 14, 1); d = (c == "0") ? "1" : "0"; print substr($0, 1, 13) d substr($0, 15) }' \
  "$IT_TMP/signed.hex" >"$IT_TMP/damaged.hex"
"$SENDRAW" --to "127.0.0.1:$port_sign" --hex "$IT_TMP/damaged.hex" >/dev/null || it_fail "sendraw failed"

# Bare frames (no envelope, no signature) from a configured Source: refused
# on the Sign socket, accepted on the other.
send "$port_sign" 120 "$IT_TMP/some.frames" --bare --bind "127.0.0.1:$port_src"
send "$port_open" 120 "$IT_TMP/some.frames" --bare --bind "127.0.0.1:$port_src"

# Legitimate traffic next to it: the restricted key for its own emitter, an
# unsigned emitter allowed on the Sign socket.
send "$port_sign" 250 "$IT_TMP/some.frames" --key "$K2" --key-id 2
send "$port_sign" 104 "$IT_TMP/some.frames"
# Replays: emitter 110's signed stream (base64 key 3) is accepted once; the
# same datagrams again, and older counters, are refused.
"$SECTOOL" --frames "$IT_TMP/some.frames" --emitter 110 --channels 2 --key-file "$KEYS" --key-id 3 \
  --counter 1000 >"$IT_TMP/r110.hex" || it_fail "sectool failed"
"$SENDRAW" --to "127.0.0.1:$port_sign" --hex "$IT_TMP/r110.hex" >/dev/null || it_fail "sendraw failed"
it_wait_rows replayed alec gauge-ch0 "$N" 20 || it_check_fail "emitter 110's signed stream did not land"
"$SENDRAW" --to "127.0.0.1:$port_sign" --hex "$IT_TMP/r110.hex" >/dev/null || it_fail "sendraw failed"
"$SECTOOL" --frames "$IT_TMP/some.frames" --emitter 110 --channels 2 --key-file "$KEYS" --key-id 3 \
  --counter 900 >"$IT_TMP/old110.hex" || it_fail "sectool failed"
"$SENDRAW" --to "127.0.0.1:$port_open" --hex "$IT_TMP/old110.hex" >/dev/null || it_fail "sendraw failed"

want_rej="bad_signature=$((2 * N)) replay=$((2 * N)) unauthenticated=$((3 * N)) unauthorized_emitter=$N unknown_key=$N "
it__rejections_are() { [ "$(it_stat_rejections)" = "$1" ]; }
it_wait_for 20 it__rejections_are "$want_rej" || true
got=$(it_stat_rejections)
it_say "rejections: $got"
[ "$got" = "$want_rej" ] || it_check_fail "rejections: got \"$got\", want \"$want_rej\""

# The good emitter: exactly the reference, nothing more.
for ch in 0 1; do
  awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/good.expect" >"$IT_TMP/ch$ch.want"
  it_csv_rows good alec-good "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/ch$ch.got"
  if cmp -s "$IT_TMP/ch$ch.want" "$IT_TMP/ch$ch.got"; then
    it_ok "good emitter ch$ch: $(wc -l <"$IT_TMP/ch$ch.want") values, equal to the reference's"
  else
    it_check_fail "good emitter ch$ch differs from the reference (want/got lines: $(wc -l <"$IT_TMP/ch$ch.want")/$(wc -l <"$IT_TMP/ch$ch.got"))"
  fi
done
for host in device open replayed bare; do
  it_wait_rows "$host" alec gauge-ch1 "$N" 10 || true
  [ "$(it_csv_count "$host" alec gauge-ch1)" = "$N" ] ||
    it_check_fail "$host: $(it_csv_count "$host" alec gauge-ch1) values on ch1, want $N"
done
total=$(($(wc -l <"$IT_TMP/good.expect") + 4 * 2 * N))
it_wait_stat derive-values_dispatched "$total" 10 || true
[ "$(it_stat derive-values_dispatched)" = "$total" ] ||
  it_check_fail "values_dispatched $(it_stat derive-values_dispatched), want $total"
others=$(ls "$IT_CSV" | grep -v -x -e good -e it-receiver -e device -e open -e replayed -e bare || true)
[ -z "$others" ] || it_check_fail "values landed for other hosts: $(echo $others)"
[ "$(it_stat count-auth_keys)" = 3 ] || it_check_fail "count-auth_keys is $(it_stat count-auth_keys), want 3"

# Refusals are logged (rate limited), the keys never.
for what in "bad signature" "unknown key" "replayed datagram" "emitter not allowed" "unsigned datagram"; do
  it_log_has "$what" || it_check_fail "no log line about \"$what\""
done
for k in "$K1" "$K2" "$K3B64" "$KX"; do
  ! grep -q -F -- "$k" "$IT_LOG" "$IT_TMP"/collectd*.out || it_check_fail "a key appears in the log"
done

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "signed stream exact; unsigned, forged, damaged, unknown-key, unauthorized and replayed datagrams refused and counted"
exit 0
