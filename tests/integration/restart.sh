#!/bin/bash
# SPDX-License-Identifier: MIT
# Restarts without desynchronisation (StateFile). A fleet streams single
# frames (alec-send, values logged with --log-values, emitter timestamps
# --start-time so every stored value can be matched to what was sent) while
# the real daemon is stopped (SIGTERM, by PID) and started again twice:
#
#  1. the sender pauses (SIGSTOP) around the restart: no frame is missed, so
#     the first frames after the restart must decode against the restored
#     contexts, reliably: the second daemon holds nothing back and stores
#     every value it receives;
#  2. the sender goes on while the daemon is down: those frames are lost,
#     the next ones show the gap and are held back until the keyframe the
#     third daemon asks for.
#
# Both times: no decode error, and every value in csv within the codec's
# bound of the value sent. Then hostile state files (truncated, one bit
# flipped, a huge count, garbage, empty, a directory) must each be refused
# with a message while the plugin starts clean (`collectd -T`), and a
# refused file is kept aside as *.refused.
IT_LIMIT=300
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
EMITTERS=10
STEPS=400
RATE=400 # frames/s: 2 frames per step and emitter, one step every 50 ms
FIRST=500
# 40000 s in the past: the configuration widens TimestampTolerance (default 600 s) to keep them.
START=$(($(date +%s) - 40000))
STATE_DIR=$IT_TMP/state
mkdir -p "$STATE_DIR"
STATE=$STATE_DIR/alec.state

conf() {
  it_conf_begin
  it_conf_csv
  it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 4194304
  TimestampTolerance 86400 60
  StateFile \"$1\"
  StateInterval 1
  ResyncRequests true
  ResyncInterval 0.05"
}
conf "$STATE"

# Log of each daemon kept apart (it_start empties the log).
LOGN=0
start_daemon() {
  it_start_alec "$port"
}
stop_daemon() {
  it_stop
  [ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
  LOGN=$((LOGN + 1))
  cp "$IT_LOG" "$IT_TMP/collectd.run$LOGN.log"
}

start_daemon
it_log_has "no state file .* yet" || it_check_fail "first start: no message about the missing state file"

it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario noisy --emitters "$EMITTERS" \
  --steps "$STEPS" --channels 2 --format single --emitter "$FIRST" --rate "$RATE" --seed 11 \
  --start-time "$START" --log-values "$IT_TMP/sent.log"
SENDER=$IT_BG_PID

# --- 1. restart while the sender pauses.
sleep 3
kill -STOP "$SENDER"
sleep 1.5 # what is in flight is processed
stop_daemon
[ -s "$STATE" ] || it_fail "no state file after shutdown"
it_log_has "state of $EMITTERS emitters saved" || it_check_fail "run 1: the shutdown did not save $EMITTERS emitters"
start_daemon
it_log_has "restored $EMITTERS emitters" || it_check_fail "run 2: did not restore $EMITTERS emitters"
kill -CONT "$SENDER"

# --- 2. restart while the sender goes on.
sleep 3
stop_daemon
sleep 1 # frames sent now are lost
start_daemon
it_log_has "restored $EMITTERS emitters" || it_check_fail "run 3: did not restore $EMITTERS emitters"

it_bg_wait "$SENDER" 120 || it_fail "alec-send did not finish"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "alec-send failed ($IT_STATUS)"; }
it_say "$(tr '\n' ' ' <"$IT_TMP/send.out")"
sleep 2.5
stop_daemon

# --- checks of the three runs.
summary() { sed -n 's/.*alec plugin: shut down; \(.*\)/\1/p' "$IT_TMP/collectd.run$1.log"; }
for k in 1 2 3; do
  it_say "daemon $k: $(summary $k)"
  if grep -q -E "decode error|refused|StateFile" "$IT_TMP/collectd.run$k.log"; then
    it_check_fail "daemon $k logged decode errors or state file problems:"
    grep -E "decode error|refused|StateFile" "$IT_TMP/collectd.run$k.log" | head -n 5
  fi
done
held2=$(summary 2 | sed -n 's/.*dispatched, \([0-9]*\) held back.*/\1/p')
[ "$held2" = 0 ] || it_check_fail "daemon 2 (sender paused over the restart) held back ${held2:-?} values, want 0"
held3=$(summary 3 | sed -n 's/.*dispatched, \([0-9]*\) held back.*/\1/p')
it_say "daemon 3 (sender went on while it was down) held back ${held3:-?} values until the keyframe"

# Every stored value against what was sent (single frames: one row per
# emitter, channel and step; csv prints the emitter's timestamp).
for e in $(seq 0 $((EMITTERS - 1))); do
  id=$((FIRST + e))
  for f in "$IT_CSV/$(printf 'alec-%016x' "$id")"/alec/gauge-ch*-[0-9]*; do
    [ -f "$f" ] || continue
    ch=${f##*/gauge-ch}
    ch=${ch%%-*}
    tail -n +2 "$f" | awk -F, -v id="$id" -v ch="$ch" '{ print id, ch, $1, $2 }'
  done
done >"$IT_TMP/rows"
res=$(awk -v start="$START" '
  FNR == NR { sent[$1 " " $2 " " $3] = $4; n++; next }
  {
    key = $1 " " (sprintf("%d", $3) - start) " " $2
    if (!(key in sent)) { bad++; if (bad < 5) print "unknown row", $0 > "/dev/stderr"; next }
    if (seen[key]++) { bad++; if (bad < 5) print "stored twice", $0 > "/dev/stderr"; next }
    v = sent[key] + 0; err = $4 - v; if (err < 0) err = -err
    if (err > maxerr) maxerr = err
    if (err > 0.005 + (v < 0 ? -v : v) * 2 ^ -24 + 5e-7 + 1e-9) { bad++; if (bad < 5) print "error", err, $0 > "/dev/stderr" }
    stored++
  }
  END { printf "%d %d %d %.6f\n", n, stored, bad + 0, maxerr }' "$IT_TMP/sent.log" "$IT_TMP/rows")
set -- $res
it_say "stored $2 of $1 values sent, max error $4"
[ "$3" = 0 ] || it_check_fail "$3 stored values are wrong, unknown or repeated"
[ "$2" -gt $(($1 / 2)) ] || it_check_fail "only $2 of $1 values stored"
[ "$IT_FAILED" -eq 0 ] && it_ok "two restarts mid-stream: no decode error, no wrong value (max error $4)"

# --- hostile state files: refused with a message, the plugin starts clean.
cp "$STATE" "$IT_TMP/good.state"
size=$(stat -c %s "$IT_TMP/good.state")
hostile() { # name, then a command writing $HSTATE
  local name=$1 out
  shift
  HSTATE=$STATE_DIR/hostile.state
  rm -rf "$HSTATE" "$HSTATE.refused"
  "$@"
  conf "$HSTATE"
  : >"$IT_LOG"
  HN=$((${HN:-0} + 1))
  out=$IT_TMP/collectd-hostile-$HN.out # collectd*.out: scanned for sanitizer reports
  if ! it_collectd_test_config "$IT_CONF" "$out"; then
    it_check_fail "$name: collectd -T failed (the plugin must start clean)"
    tail -n 5 "$IT_LOG" "$out"
    return
  fi
  if ! grep -q -E "state file .* refused|not a regular file" "$IT_LOG"; then
    it_check_fail "$name: no refusal in the log"
    tail -n 5 "$IT_LOG"
    return
  fi
  it_ok "$name: $(grep -h -E "refused|not a regular file" "$IT_LOG" | head -n 1 | sed 's/.*alec plugin: //' | cut -c1-160)"
}
w_trunc() { head -c $((size / 2)) "$IT_TMP/good.state" >"$HSTATE"; }
w_flip() {
  cp "$IT_TMP/good.state" "$HSTATE"
  printf '\x55' | dd of="$HSTATE" bs=1 seek=$((size / 3)) conv=notrunc status=none
}
w_count() { # the header of a valid file with count 2^32-1 and its CRC fixed up, then nothing
  perl -e '
    open(my $f, "<:raw", $ARGV[0]) or die; read($f, my $h, 24) == 24 or die;
    substr($h, 12, 4) = pack("V", 0xFFFFFFFF);
    my $c = 0xFFFFFFFF;
    for my $b (unpack("C*", $h)) { $c ^= $b; $c = ($c >> 1) ^ (($c & 1) ? 0xEDB88320 : 0) for 1 .. 8 }
    open(my $o, ">:raw", $ARGV[1]) or die; print $o $h, pack("V", $c ^ 0xFFFFFFFF);
  ' "$IT_TMP/good.state" "$HSTATE"
}
w_garbage() { head -c 5000 /dev/urandom >"$HSTATE"; }
w_empty() { : >"$HSTATE"; }
w_dir() { mkdir "$HSTATE"; }
hostile "truncated state file" w_trunc
hostile "state file with one byte changed" w_flip
hostile "state file announcing 2^32-1 emitters" w_count
hostile "random bytes" w_garbage
hostile "empty state file" w_empty
hostile "a directory" w_dir
# A refused file is kept aside for inspection, a fresh one replaces it.
hostile "truncated state file, again" w_trunc
cmp -s "$STATE_DIR/hostile.state.refused" <(head -c $((size / 2)) "$IT_TMP/good.state") ||
  it_check_fail "the refused file was not kept as hostile.state.refused"
[ -s "$STATE_DIR/hostile.state" ] || it_check_fail "no fresh state file was written after the refusal"

[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
