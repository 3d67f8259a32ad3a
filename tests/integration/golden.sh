#!/bin/bash
# SPDX-License-Identifier: MIT
# Golden vectors end to end: frames a reference emitter put on the wire
# (vectors s1 single, s2 multi, s3 fixed with 2 channels) are sent by
# `alec-send --hex` to a real collectd running the alec plugin; every value the
# reference receiver decoded must land in the csv files, in order, equal to
# the 6 decimals csv writes, and nothing else may land for those emitters.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)

# scenario-prefix  format  emitter-id  host  (values land as gauge-ch<id>)
SCENARIOS="s1_single_hvac:single:101:golden-s1
s2_multi_adaptive_hvac:multi:102:golden-s2
s3_fixed_hvac:fixed:103:golden-s3"

emitters=""
found=0
while IFS=: read -r prefix format id host; do
  if ! src=$(it_golden "$prefix" "$format" "$IT_TMP/$prefix.frames" "$IT_TMP/$prefix.expect"); then
    it_say "no vectors for $prefix: skipped"
    rm -f "$IT_TMP/$prefix.frames" "$IT_TMP/$prefix.expect"
    continue
  fi
  found=$((found + 1))
  it_say "$prefix: $src"
  emitters="$emitters
  <Emitter $id>
    Host \"$host\"
    Group \"$host\"
  </Emitter>"
done <<<"$SCENARIOS"
[ "$found" -gt 0 ] || it_skip "no golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 4194304
  UnknownEmitters \"reject\"$emitters"
it_start_alec "$port"

# Each emitter is its own peer group: a group of fewer than MinPeers is never
# scored, so only decoded values land.
# Send all three streams at once: one emitter's stream must not disturb another.
pids=""
while IFS=: read -r prefix format id host; do
  [ -f "$IT_TMP/$prefix.frames" ] || continue
  chan=""
  [ "$format" = fixed ] && chan="--channels 2"
  # shellcheck disable=SC2086
  it_bg "$IT_TMP/$prefix.send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$id" \
    --format "$format" $chan --hex "$IT_TMP/$prefix.frames"
  pids="$pids $IT_BG_PID:$prefix"
done <<<"$SCENARIOS"
for p in $pids; do
  it_bg_wait "${p%%:*}" 60 || it_fail "alec-send for ${p#*:} did not finish in 60 s"
  [ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/${p#*:}.send.out"; it_fail "alec-send for ${p#*:} failed ($IT_STATUS)"; }
done

total=0
while IFS=: read -r prefix format id host; do
  [ -f "$IT_TMP/$prefix.expect" ] || continue
  frames=$(wc -l <"$IT_TMP/$prefix.frames")
  for ch in $(cut -d' ' -f1 "$IT_TMP/$prefix.expect" | sort -un); do
    awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/$prefix.expect" >"$IT_TMP/$prefix.ch$ch.want"
    want=$(wc -l <"$IT_TMP/$prefix.ch$ch.want")
    if ! it_wait_rows "$host" "alec-$host" "gauge-ch$ch" "$want" 30; then
      it_check_fail "$prefix ch$ch: $(it_csv_count "$host" "alec-$host" "gauge-ch$ch") rows landed, want $want"
    fi
    it_csv_rows "$host" "alec-$host" "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/$prefix.ch$ch.got"
    if ! cmp -s "$IT_TMP/$prefix.ch$ch.want" "$IT_TMP/$prefix.ch$ch.got"; then
      it_check_fail "$prefix ch$ch: values differ from the reference decoder (first differences, want / got):"
      diff "$IT_TMP/$prefix.ch$ch.want" "$IT_TMP/$prefix.ch$ch.got" | head -n 10
    else
      it_ok "$prefix ch$ch: $want values equal to the reference's ($frames frames)"
    fi
    total=$((total + want))
  done
  # Nothing but the expected channels for this emitter.
  extra=$(cd "$IT_CSV/$host" 2>/dev/null && ls -d */* 2>/dev/null | sed 's/-[0-9-]*$//' | sort -u |
    grep -v -x -F "$(cut -d' ' -f1 "$IT_TMP/$prefix.expect" | sort -un | sed "s|^|alec-$host/gauge-ch|")")
  [ -z "$extra" ] || it_check_fail "$prefix: unexpected values for $host: $extra"
done <<<"$SCENARIOS"

# The plugin's own statistics agree: every value dispatched, nothing rejected
# or held back.
it_wait_stat derive-values_dispatched "$total" 15 ||
  it_check_fail "statistics: values_dispatched $(it_stat derive-values_dispatched), want $total"
sleep 1.2 # one more statistics interval, so counters cannot still move
[ "$(it_stat derive-values_dispatched)" = "$total" ] ||
  it_check_fail "statistics: values_dispatched $(it_stat derive-values_dispatched), want $total"
[ "$(it_stat derive-values_held_back)" = 0 ] || it_check_fail "statistics: values held back: $(it_stat derive-values_held_back)"
[ "$(it_stat_rejected)" = 0 ] || it_check_fail "statistics: rejections: $(it_stat_rejections)"

it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "$total reference values landed exactly; statistics: $total dispatched, 0 held back, 0 rejected"
exit 0
