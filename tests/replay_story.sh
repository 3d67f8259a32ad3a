#!/bin/sh
# SPDX-License-Identifier: MIT
# The acceptance fleet of issue 10 through alec-replay, in virtual time:
# 1000 emitters in 4 groups, periods mixed 0.5/1/1.5 P at their own phases,
# 14 days of diurnal and weekly cycles with a drift, a step, a stuck sensor,
# a dead one and a gateway outage (src/fleet/fleet_story.c says what and
# when). fleet-story --check must find exactly the expected events at
# P = 600 s, 60 s and 1 s, with the receiver's default options except
# EmitterTimeout, which must cover the slowest period (12 P). About 40 s of
# CPU. Exit 0 pass, 1 fail, 99 hard error.
set -u
B=${ALEC_BUILDDIR:-.}
story="$B/src/fleet/fleet-story"
replay="$B/src/tools/alec-replay"
[ -x "$story" ] && [ -x "$replay" ] || { echo "replay_story: build fleet-story and alec-replay first" >&2; exit 99; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
for P in 600 60 1; do
  timeout=$(awk -v p="$P" 'BEGIN { print 12 * p }')
  if ! "$story" --period "$P" | "$replay" --emitter-timeout "$timeout" >"$tmp/events" 2>"$tmp/stats"; then
    echo "replay_story: P = $P s: the replay failed" >&2
    cat "$tmp/stats" >&2
    status=1
    continue
  fi
  sed 's/^/replay_story: P = '"$P"' s: /' "$tmp/stats"
  grep -v '^stale\|^silent' "$tmp/events" | head -n 20 | sed 's/^/  /'
  "$story" --period "$P" --check "$tmp/events" || status=1
done
exit $status
