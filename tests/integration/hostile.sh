#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile datagrams: malformed envelopes, truncated records, frames that do
# not decode, a format mismatch, replays of a good emitter's frames, an
# oversized datagram and thousands of random datagrams are sent (by
# tests/integration/sendraw) interleaved with a good emitter's stream (the
# reference's s3 fixed frames through alec-send). Every bad datagram must be
# counted in the plugin's statistics (read back from csv), the good emitter's
# values must all land exactly as the reference decoded them, nothing may
# land for any other emitter, and the daemon must survive (under
# --enable-sanitizers without any ASan/UBSan report).
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
it_mktemp
port=$(it_free_port)
GOOD=103 # 0x67
RANDOM_N=3000
CHUNKS=8

src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
it_say "good emitter: $src"

# Envelope: header 0x10 (version 1, no flags), then records: emitter id
# (LEB128), descriptor (family << 6 | low), [length], frame. 63 = emitter 99,
# C1 = fixed with 2 channels, F0 = a fixed 2-channel frame of the reference.
F0=a1000000000f41b0000042380000
L0=42000000000000000000       # legacy header: P3, sequence 0, time 0, context 0
L7=47000000000000000000       # the same with priority 7 (invalid)
cat >"$IT_TMP/crafted.hex" <<EOF
# empty datagram
-
# envelope version 2
2063C1$F0
# authenticated envelope (flag 0x01) with a key id that nobody configured:
# trailer = key id 9, counter 1, a 16-byte tag (docs/SECURITY.md)
1163C1${F0}0009000000000000000100000000000000000000000000000000
# reserved flag bits
1463C1$F0
1863C1$F0
# header only, no record
10
# record cut after the emitter id
1063
# record without frame
1063C1
# fixed frame cut in its header
1063C1a10000
# fixed frame cut in its data (bitmap 0F announces two Raw32)
1063C1a1000000000f41b00000
# emitter id not minimal (80 00 = 0)
108000C1$F0
# emitter id longer than 10 bytes
10FFFFFFFFFFFFFFFFFF7FC1$F0
# explicit length below 64 (not canonical)
1063000C${L0}0030
# explicit length above the largest frame
106300FF7F$F0
# trailing byte after a complete record
1063C1${F0}00
# trailing partial record
1063C1${F0}63C1
# legacy header with priority 7
10630C${L7}0030
# fixed frame with deltas and no prediction (fresh emitter 100)
1064C1a100000000050101
# multi frame with a tag other than 0x40
10638E${L0}00410100
# bare frame without envelope (an emitter configured without Source)
$F0
# the good emitter's id with a single frame although it is configured fixed
106710${L0}00013F800000
EOF
# One oversized datagram (9000 bytes).
awk 'BEGIN { s = "1063C1"; while (length(s) < 18000) s = s "00"; print s }' >>"$IT_TMP/crafted.hex"
n_crafted=$(grep -c -v '^#' "$IT_TMP/crafted.hex")

emitters="  <Emitter $GOOD>
    Host \"good\"
    Group \"good\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 8388608
  UnknownEmitters \"accept\"
$emitters"
it_start_alec "$port"

it__rejected_at_least() { [ "$(it_stat_rejected)" -ge "$1" ]; }

# The good stream in CHUNKS pieces; while each piece is sent, random garbage
# flows; after each piece, the crafted datagrams and a replay of the piece's
# last frame (same sequence number: must be refused, not observed twice).
frames=$(wc -l <"$IT_TMP/good.frames")
per=$(((frames + CHUNKS - 1) / CHUNKS))
split -l "$per" -d -a 2 "$IT_TMP/good.frames" "$IT_TMP/good.part."
sent_hostile=0
k=0
for part in "$IT_TMP"/good.part.*; do
  it_bg "$IT_TMP/random.$k.out" "$SENDRAW" --to "127.0.0.1:$port" --random $((RANDOM_N / CHUNKS)) \
    --seed $((k + 1)) --max-len 96 --gap-us 100
  rpid=$IT_BG_PID
  "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$GOOD" --format fixed --channels 2 \
    --rate 2000 --quiet --hex "$part" || it_fail "alec-send failed on $part"
  it_bg_wait "$rpid" 60 || it_fail "sendraw --random did not finish"
  [ "$IT_STATUS" -eq 0 ] || it_fail "sendraw --random failed: $(cat "$IT_TMP/random.$k.out")"
  sent_hostile=$((sent_hostile + RANDOM_N / CHUNKS))
  {
    grep -v '^#' "$IT_TMP/crafted.hex"
    last=$(tail -n 1 "$part")
    # Envelope for emitter 103 (67), fixed 2 channels (C1).
    echo "1067C1$last"
  } >"$IT_TMP/burst.hex"
  "$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/burst.hex" >/dev/null || it_fail "sendraw --hex failed"
  sent_hostile=$((sent_hostile + n_crafted + 1))
  k=$((k + 1))
done
it_say "sent $frames good frames, $sent_hostile hostile datagrams ($n_crafted crafted + 1 replay per round, $RANDOM_N random)"

# The good emitter's values, exactly.
for ch in 0 1; do
  awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/good.expect" >"$IT_TMP/ch$ch.want"
  want=$(wc -l <"$IT_TMP/ch$ch.want")
  it_wait_rows good alec-good "gauge-ch$ch" "$want" 30 ||
    it_check_fail "good ch$ch: $(it_csv_count good alec-good "gauge-ch$ch") values landed, want $want"
  it_csv_rows good alec-good "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/ch$ch.got"
  if cmp -s "$IT_TMP/ch$ch.want" "$IT_TMP/ch$ch.got"; then
    it_ok "good emitter ch$ch: all $want values landed, equal to the reference's"
  else
    it_check_fail "good emitter ch$ch: values differ (want / got):"
    diff "$IT_TMP/ch$ch.want" "$IT_TMP/ch$ch.got" | head -n 10
  fi
done

# Every hostile datagram counted, and only those.
it_wait_for 15 it__rejected_at_least "$sent_hostile" || true
sleep 1.2
rejected=$(it_stat_rejected)
it_say "rejections: $(it_stat_rejections)(total $rejected)"
[ "$rejected" = "$sent_hostile" ] ||
  it_check_fail "the plugin counted $rejected rejections for $sent_hostile hostile datagrams"
# Each class of damage shows in its own counter. Where the plugin has a finer
# kind (authenticated envelopes without a known key, replayed frames), any
# of the names of the class will do.
kinds=" $(it_stat_rejections)"
for class in malformed version oversized format decode \
  "unauthenticated|unknown_key|bad_signature" "stale_frame|replay|decode"; do
  echo "$kinds" | grep -q -E " ($class)=[1-9]" || it_check_fail "no rejection counted as $class"
done
want_total=$(wc -l <"$IT_TMP/good.expect")
[ "$(it_stat derive-values_dispatched)" = "$want_total" ] ||
  it_check_fail "values_dispatched $(it_stat derive-values_dispatched), want $want_total (the good emitter's only)"
[ "$(it_stat derive-queue_drops)" = 0 ] || it_check_fail "queue drops: $(it_stat derive-queue_drops)"

# Nothing landed for anybody else.
others=$(ls "$IT_CSV" | grep -v -x -e good -e it-receiver || true)
[ -z "$others" ] || it_check_fail "values landed for other hosts: $(echo $others)"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "$sent_hostile hostile datagrams counted, the good emitter unharmed"
exit 0
