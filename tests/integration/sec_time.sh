#!/bin/bash
# SPDX-License-Identifier: MIT
# Value times claimed by the emitter (docs/SECURITY.md, issue 13 finding 10):
# legacy frames stamped 59 s in the future, and a fresh emitter's frames
# stamped 86000 s in the past. With the default TimestampTolerance (600 s
# past, 5 s future) both must land at their receive time (never dragging
# later values ahead, never a day in the past), counted in
# derive-timestamps_clamped_future / _past; frames stamped 30 s ago (within
# the tolerance) keep their own time.
IT_LIMIT=120
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  UnknownEmitters \"accept\"
  <Emitter 21>
    Host \"ahead\"
  </Emitter>
  <Emitter 22>
    Host \"behind\"
  </Emitter>
  <Emitter 23>
    Host \"recent\"
  </Emitter>"
it_start_alec "$port"
send() { # emitter, start time
  "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario spike --emitters 1 --emitter "$1" --format single \
    --channels 1 --steps 20 --rate 20 --start-time "$2" --quiet || it_fail "alec-send failed"
}
now=$(date +%s)
send 21 $((now + 59))
send 22 $((now - 86000))
send 23 $((now - 30))
t1=$(date +%s)
for h in ahead behind recent; do
  it_wait_rows "$h" alec gauge-ch0 20 10 || it_check_fail "$h: $(it_csv_count "$h" alec gauge-ch0) of 20 values"
done
# Largest distance of a stored time from the sending interval [now, t1].
spread() {
  it_csv_rows "$1" alec gauge-ch0 | cut -d, -f1 |
    awk -v a="$now" -v b="$t1" 'BEGIN { m = 0 } { d = $1 < a ? a - $1 : ($1 > b + 1 ? $1 - b - 1 : 0); if (d > m) m = d } END { printf "%.1f\n", m }'
}
sa=$(spread ahead)
sb=$(spread behind)
recent_first=$(it_csv_rows recent alec gauge-ch0 | head -n 1 | cut -d, -f1)
sleep 1.2
cf=$(it_stat derive-timestamps_clamped_future)
cp=$(it_stat derive-timestamps_clamped_past)
it_say "stamped +59 s: stored at most ${sa} s from the receive time; stamped -86000 s: at most ${sb} s; clamped future $cf, past $cp"
awk -v s="$sa" 'BEGIN { exit !(s <= 6) }' || it_check_fail "frames stamped 59 s ahead were stored ${sa} s away from their receive time"
awk -v s="$sb" 'BEGIN { exit !(s <= 6) }' || it_check_fail "frames stamped 86000 s ago were stored ${sb} s away from their receive time"
[ "$cf" -ge 20 ] || it_check_fail "timestamps_clamped_future $cf, want >= 20"
[ "$cp" -ge 20 ] || it_check_fail "timestamps_clamped_past $cp, want >= 20"
d=$(awk -v t="$recent_first" -v n="$now" 'BEGIN { printf "%.0f", n - t }')
[ "$d" -ge 25 ] && [ "$d" -le 35 ] || it_check_fail "frames stamped 30 s ago: first stored $d s before the send, want about 30"
it_say "stamped -30 s (within the tolerance): first value stored $d s before the send"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "claimed times outside TimestampTolerance replaced by the receive time and counted"
exit 0
