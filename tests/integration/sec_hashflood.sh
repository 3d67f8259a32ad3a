#!/bin/bash
# SPDX-License-Identifier: MIT
# Hash flooding (docs/SECURITY.md): 6,000 unknown emitter ids chosen to
# collide under the unkeyed hash the receiver's tables used before, in one
# burst (about 125 KB, each a valid first frame), with the dashboard on so
# that its snapshot table is filled too. Before the tables were keyed this
# kept the dispatch thread busy for the emitters' lifetime and a configured
# emitter got 20-28 of its 100 values through. Now: every value of the good
# emitter, sent right after the burst, lands exactly. The same burst of
# random ids is sent next, and the daemon's CPU for each burst is printed
# side by side (a figure, not an assertion: bench-receiver has the ratio).
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port=$(it_free_port)
dport=$(it_free_port)
GOOD=103
IDS=${SEC_HASHFLOOD_IDS:-6000}
src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
head -n 100 "$IT_TMP/good.frames" >"$IT_TMP/good.a"

"$SECTOOL" --colliding-emitters "$IDS" >"$IT_TMP/colliding.hex" || it_fail "sectool --colliding-emitters"
# Random ids from 2^40 up: never the good emitter's, never a colliding one.
"$SECTOOL" --random-emitters "$IDS" --seed 3 --base 1099511627776 >"$IT_TMP/random.hex" || it_fail "sectool"

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 16777216
  MaxEmitters $((2 * IDS + 10))
  UnknownEmitters \"accept\"
  <Dashboard>
    Listen \"127.0.0.1\" \"$dport\"
  </Dashboard>
  <Emitter $GOOD>
    Host \"good\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
it_start_alec "$port"

burst() { # hex file -> CPU seconds of the daemon until the burst is absorbed
  local c0 c1 want
  c0=$(it_cpu_seconds "$IT_PID")
  want=$(($(it_stat count-emitters) + IDS))
  "$SENDRAW" --to "127.0.0.1:$port" --hex "$1" --gap-us 0 >/dev/null || it_fail "sendraw"
  it_wait_stat count-emitters "$want" 60 ||
    it_check_fail "$2 burst: count-emitters $(it_stat count-emitters), want $want (drops: $(it_stat derive-queue_drops))"
  # Several evaluations and dashboard snapshots with the burst's emitters in.
  sleep 3
  c1=$(it_cpu_seconds "$IT_PID")
  awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }'
}

it_wait_stat count-emitters 0 20 || true
cpu_c=$(burst "$IT_TMP/colliding.hex" colliding)
# The good emitter, right after the colliding burst: every value lands.
"$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$GOOD" --format fixed --channels 2 --rate 50 --quiet \
  --hex "$IT_TMP/good.a" || it_fail "alec-send failed"
for ch in 0 1; do
  awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/good.expect" | head -n 100 >"$IT_TMP/ch$ch.want"
  it_wait_rows good alec "gauge-ch$ch" 100 20 || true
  it_csv_rows good alec "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/ch$ch.got"
  cmp -s "$IT_TMP/ch$ch.want" "$IT_TMP/ch$ch.got" ||
    it_check_fail "good ch$ch after the colliding burst: $(wc -l <"$IT_TMP/ch$ch.got") of 100 values, or values differ"
done
cpu_r=$(burst "$IT_TMP/random.hex" random)
# The dashboard still answers with 12,000 emitters in its table.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$dport/api/emitters/$GOOD") || code=000
[ "$code" = 200 ] || it_check_fail "dashboard /api/emitters/$GOOD answered $code"

it_say "daemon CPU for $IDS new emitters (burst + 3 s of evaluations and snapshots): colliding ids ${cpu_c} s, random ids ${cpu_r} s"
kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "$IDS colliding ids: the good emitter's 100 values all landed; CPU colliding ${cpu_c} s vs random ${cpu_r} s"
exit 0
