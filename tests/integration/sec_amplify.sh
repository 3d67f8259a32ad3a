#!/bin/bash
# SPDX-License-Identifier: MIT
# Amplification by unknown many-channel emitters (docs/SECURITY.md, issue
# 13 finding 2): 1000 unknown ids each send one 64-channel frame, then 1000
# others one 16-channel frame, with the default bounds (UnknownMaxChannels
# 16, MaxNewIdentifiers 1000/s, UnknownScores "anomalous"). The 64-channel
# frames are refused before decoding; of the 16-channel ones only what the
# identifier bucket pays for is dispatched; with no further traffic nothing
# more is dispatched per interval; collectd's RSS stays bounded; a
# configured emitter keeps all its values. Prints what it measured.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
[ -n "$IT_ASAN_OPTIONS" ] && IT_ASAN_OPTIONS="$IT_ASAN_OPTIONS:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port=$(it_free_port)
N=${SEC_AMPLIFY_N:-1000}
"$SECTOOL" --random-emitters "$N" --channels 64 --seed 11 --base 1099511627776 >"$IT_TMP/wide.hex" || it_fail "sectool"
"$SECTOOL" --random-emitters "$N" --channels 16 --seed 12 --base 2199023255552 >"$IT_TMP/mid.hex" || it_fail "sectool"

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 16777216
  UnknownEmitters \"accept\"
  <Emitter 7>
    Host \"good\"
  </Emitter>"
it_start_alec "$port"
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$IT_PID/status"; }
unknown_files() { find "$IT_CSV" -path "$IT_CSV/alec-*" -type f | wc -l; }
score_files() { find "$IT_CSV" -path "$IT_CSV/alec-*" -type f -name 'alec_*' | wc -l; }
it_bg "$IT_TMP/good.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario spike --emitters 1 --emitter 7 \
  --channels 2 --steps 40 --rate 4 --quiet
gpid=$IT_BG_PID
sleep 2
rss0=$(rss)

"$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/wide.hex" --gap-us 50 >/dev/null || it_fail "sendraw"
it_wait_stat errors-rejected_channel_limit "$N" 15 ||
  it_check_fail "64-channel frames: rejected_channel_limit $(it_stat errors-rejected_channel_limit), want $N"
rss1=$(rss)
d0=$(it_stat derive-values_dispatched)
t0=$(date +%s.%N)
"$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/mid.hex" --gap-us 50 >/dev/null || it_fail "sendraw"
t1=$(date +%s.%N)
sleep 3
d1=$(it_stat derive-values_dispatched)
sleep 5
d2=$(it_stat derive-values_dispatched)
rss2=$(rss)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
idrate=$(it_stat errors-rejected_identifier_rate)
emitters=$(it_stat count-emitters)
files=$(unknown_files)
scores=$(score_files)
it_bg_wait "$gpid" 30 || it_check_fail "alec-send of the good emitter did not finish"

burst=$((d1 - d0))
idle=$((d2 - d1))
it_say "64-channel burst: $N frames of $(($(wc -c <"$IT_TMP/wide.hex") / 2 / N)) bytes refused (rejected_channel_limit $(it_stat errors-rejected_channel_limit))"
it_say "16-channel burst: $N frames in ${secs} s: $burst values dispatched (bound 1000 + 1000/s), identifier_rate refusals $idrate, $emitters emitters"
it_say "afterwards, idle: $idle values dispatched in 5 s by the good emitter and the unknown ones; $files CSV files of unknown hosts ($scores of them scores)"
it_say "RSS: ${rss0} KiB before, ${rss1} KiB after the 64-channel burst, ${rss2} KiB after the 16-channel burst (+$((rss2 - rss0)) KiB)"
bound=$(awk -v s="$secs" 'BEGIN { printf "%d", 1000 + 1000 * (s + 3) + 200 }')
[ "$burst" -le "$bound" ] || it_check_fail "$burst values dispatched in the burst, bound $bound"
[ "$files" -le "$bound" ] || it_check_fail "$files identifiers of unknown emitters, bound $bound"
[ "$idrate" -gt 0 ] || it_check_fail "no value was refused by MaxNewIdentifiers"
# Only the good emitter (2 channels, 4 frames/s at most) may go on.
[ "$idle" -le 80 ] || it_check_fail "$idle values dispatched in 5 s without traffic from the unknown emitters"
[ $((rss2 - rss0)) -lt 65536 ] || it_check_fail "RSS grew by $((rss2 - rss0)) KiB (bound 64 MiB)"
n7=$(it_csv_count good alec gauge-ch0)
[ "$n7" -ge 40 ] || it_check_fail "the configured emitter has $n7 of 40 values on ch0"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "unknown many-channel bursts bounded: $burst values, $files identifiers, +$((rss2 - rss0)) KiB"
exit 0
