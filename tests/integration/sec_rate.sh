#!/bin/bash
# SPDX-License-Identifier: MIT
# RateLimit (docs/SECURITY.md): one noisy emitter sends 5000 frames/s for
# 4 s while a quiet one sends the reference's frames at 15 frames/s, under
# `RateLimit 20 40`. The quiet emitter must lose nothing; the noisy one gets
# its burst plus 20 frames/s, the rest is dropped before decoding and
# counted (errors-rejected_rate_limited), and the dispatch thread keeps up
# (no queue drops).
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
QUIET=103
NOISY=900
RATE=20
BURST=40
NOISY_FRAMES=20000
src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
QUIET_FRAMES=60
head -n "$QUIET_FRAMES" "$IT_TMP/good.frames" >"$IT_TMP/quiet.frames"

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 8388608
  RateLimit $RATE $BURST
  <Emitter $QUIET>
    Host \"quiet\"
    Format \"fixed\"
    Channels 2
  </Emitter>
  <Emitter $NOISY>
    Host \"noisy\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
it_start_alec "$port"

t0=$(date +%s.%N)
it_bg "$IT_TMP/noisy.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario spike --emitters 1 \
  --steps "$NOISY_FRAMES" --rate 5000 --format fixed --channels 2 --emitter "$NOISY" --quiet
npid=$IT_BG_PID
"$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$QUIET" --format fixed --channels 2 --rate 15 --quiet \
  --hex "$IT_TMP/quiet.frames" || it_fail "alec-send (quiet) failed"
it_bg_wait "$npid" 60 || it_fail "the noisy alec-send did not finish"
[ "$IT_STATUS" -eq 0 ] || it_fail "the noisy alec-send failed: $(cat "$IT_TMP/noisy.out")"
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

for ch in 0 1; do
  awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/good.expect" | head -n "$QUIET_FRAMES" >"$IT_TMP/ch$ch.want"
  it_wait_rows quiet alec "gauge-ch$ch" "$QUIET_FRAMES" 10 || true
  it_csv_rows quiet alec "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/ch$ch.got"
  cmp -s "$IT_TMP/ch$ch.want" "$IT_TMP/ch$ch.got" ||
    it_check_fail "quiet ch$ch: $(wc -l <"$IT_TMP/ch$ch.got") of $QUIET_FRAMES values, or not the reference's"
done

sleep 1.5
limited=$(it_stat errors-rejected_rate_limited)
# Frames of the noisy emitter that passed the bucket: decoded (values, held
# back or not) or refused by its decoder after the gaps the limit leaves.
passed=$((NOISY_FRAMES - limited))
hi=$(awk -v b="$BURST" -v r="$RATE" -v s="$secs" 'BEGIN { printf "%d", b + r * (s + 1) }')
lo=$BURST
it_say "noisy: $NOISY_FRAMES frames in ${secs} s, $passed passed the bucket (allowed $lo..$hi), $limited dropped" \
  "before decoding; rows landed: $(it_csv_count noisy alec gauge-ch0); queue drops $(it_stat derive-queue_drops)"
[ "$passed" -ge "$lo" ] && [ "$passed" -le "$hi" ] ||
  it_check_fail "the noisy emitter passed $passed frames, want $lo..$hi"
[ "$(it_csv_count noisy alec gauge-ch0)" -le "$passed" ] || it_check_fail "more noisy values than passed frames"
[ "$(it_stat derive-queue_drops)" = 0 ] || it_check_fail "queue drops: $(it_stat derive-queue_drops)"
[ "$(it_stat errors-rejected_rate_limited)" -gt 0 ] || it_check_fail "nothing counted as rate_limited"
it_log_has "rate limit exceeded" || it_check_fail "no log line about the rate limit"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "RateLimit $RATE $BURST: quiet emitter complete, noisy emitter held to $passed of $NOISY_FRAMES frames"
exit 0
