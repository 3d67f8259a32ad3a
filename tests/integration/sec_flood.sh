#!/bin/bash
# SPDX-License-Identifier: MIT
# Floods (docs/SECURITY.md): a good emitter streams the reference's frames
# while 200000 well-formed datagrams arrive from random emitter ids (each a
# valid first frame, so every one would create an emitter) and 50000
# datagrams of random bytes. MaxEmitters must hold: the emitter count stays
# at the bound (MaxEmitters unconfigured ids beside the configured good
# emitter, which keeps its own room), the extra ids are refused and counted, collectd's resident
# memory stops growing once the table is full, the good emitter (known
# before the flood) loses nothing, and the log stays small (one line per
# kind of refusal per 10 s). Prints the RSS it measured.
IT_LIMIT=300
. "$(dirname "$0")/lib.sh"

it_require_plugin
# ASan keeps freed blocks in a 256 MiB quarantine: every refused datagram
# would look like growth. A small quarantine still catches use-after-free.
[ -n "$IT_ASAN_OPTIONS" ] && IT_ASAN_OPTIONS="$IT_ASAN_OPTIONS:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port=$(it_free_port)
GOOD=103
MAX=500
FLOOD1=${SEC_FLOOD1:-20000}
FLOOD2=${SEC_FLOOD2:-200000}
GARBAGE=${SEC_GARBAGE:-50000}
src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
frames=$(wc -l <"$IT_TMP/good.frames")
head -n 100 "$IT_TMP/good.frames" >"$IT_TMP/good.a"
tail -n +101 "$IT_TMP/good.frames" >"$IT_TMP/good.b"

# Random ids from 2^40 up: never the good emitter's.
"$SECTOOL" --random-emitters "$FLOOD1" --seed 1 --base 1099511627776 >"$IT_TMP/flood1.hex" || it_fail "sectool"
"$SECTOOL" --random-emitters "$FLOOD2" --seed 2 --base 1099511627776 >"$IT_TMP/flood2.hex" || it_fail "sectool"

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 16777216
  MaxEmitters $MAX
  UnknownEmitters \"accept\"
  <Emitter $GOOD>
    Host \"good\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
it_start_alec "$port"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$IT_PID/status"; }
good() { # frames file, rate
  "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$GOOD" --format fixed --channels 2 --rate "$2" --quiet \
    --hex "$1" || it_fail "alec-send failed"
}

good "$IT_TMP/good.a" 2000
it_wait_rows good alec gauge-ch0 100 10 || it_check_fail "the good emitter's first frames did not land"
rss0=$(rss)

# Fill the table (and beyond).
"$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/flood1.hex" --gap-us 20 >/dev/null || it_fail "sendraw"
it_wait_stat count-emitters $((MAX + 1)) 20 || it_check_fail "the emitter table did not fill: $(it_stat count-emitters)"
sleep 1.5
rss1=$(rss)

# The big flood, random garbage and the good stream at the same time.
t0=$(date +%s.%N)
it_bg "$IT_TMP/garbage.out" "$SENDRAW" --to "127.0.0.1:$port" --random "$GARBAGE" --seed 7 --max-len 200 --gap-us 40
gpid=$IT_BG_PID
it_bg "$IT_TMP/good.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$GOOD" --format fixed --channels 2 \
  --rate 400 --quiet --hex "$IT_TMP/good.b"
apid=$IT_BG_PID
"$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/flood2.hex" --gap-us 10 >/dev/null || it_fail "sendraw"
it_bg_wait "$gpid" 120 || it_fail "sendraw --random did not finish"
it_bg_wait "$apid" 120 || it_fail "alec-send did not finish"
t1=$(date +%s.%N)
sleep 2
rss2=$(rss)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

# The good emitter lost nothing.
for ch in 0 1; do
  awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/good.expect" >"$IT_TMP/ch$ch.want"
  it_wait_rows good alec "gauge-ch$ch" "$frames" 20 || true
  it_csv_rows good alec "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/ch$ch.got"
  cmp -s "$IT_TMP/ch$ch.want" "$IT_TMP/ch$ch.got" ||
    it_check_fail "good ch$ch: $(wc -l <"$IT_TMP/ch$ch.got") of $frames values, or values differ from the reference"
done

sleep 1.2
emitters=$(it_stat count-emitters)
maxrej=$(it_stat errors-rejected_max_emitters)
drops=$(it_stat derive-queue_drops)
flood=$((FLOOD1 + FLOOD2))
it_say "emitters $emitters (MaxEmitters $MAX), rejected_max_emitters $maxrej of $flood flood datagrams, queue drops $drops"
it_say "rejections: $(it_stat_rejections)"
[ "$emitters" = $((MAX + 1)) ] || it_check_fail "count-emitters $emitters, want $((MAX + 1)) (MaxEmitters unknown + the good one)"
# Every flood datagram beyond the bound was refused (or dropped by the full queue, counted too).
accepted=$MAX
[ $((maxrej + drops)) -ge $((flood - accepted)) ] ||
  it_check_fail "rejected_max_emitters $maxrej + queue drops $drops < $((flood - accepted))"
[ "$(it_stat memory-fleet)" -gt 0 ] || true

grow=$((rss2 - rss1))
it_say "RSS: ${rss0} KiB with 1 emitter, ${rss1} KiB with $((MAX + 1)) (after $FLOOD1 ids), ${rss2} KiB after $FLOOD2 more ids + $GARBAGE random datagrams in ${secs} s (+${grow} KiB)"
# The table is full: the big flood may only cost allocator noise.
[ "$grow" -lt 8192 ] || it_check_fail "RSS grew by $grow KiB during the flood of new ids (bound: 8 MiB)"

# The log: a few lines per kind and 10 s, not one per datagram.
lines=$(grep -c 'alec plugin' "$IT_LOG")
bytes=$(wc -c <"$IT_LOG")
it_say "log: $lines lines, $bytes bytes for $((flood + GARBAGE)) refused datagrams"
[ "$bytes" -lt 65536 ] || it_check_fail "the log grew to $bytes bytes"
it_log_has "more not logged" || it_check_fail "the log does not say how many messages it suppressed"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "MaxEmitters held under $flood random emitter ids; memory flat; the good emitter unharmed; log ${bytes} bytes"
exit 0
