#!/bin/bash
# SPDX-License-Identifier: MIT
# Many unknown emitters x 64 channels with the dashboard on (docs/SECURITY.md,
# docs/DASHBOARD.md, issue 13 finding 11; the issue used 10,000, default
# here 2000: SEC_SNAPSHOT_N). With no further traffic the dispatch thread
# must not keep copying the fleet (snapshots skip an unchanged fleet and
# take at most 1/20 of the thread), and /api/fleet is paged: the default
# document holds 200 emitters, ?offset=&limit= pages through all of them,
# ?group= filters, bad parameters are 400. Prints what it measured; the
# dispatch thread's CPU share must stay below 20% (73% before, at 2000).
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
command -v curl >/dev/null 2>&1 || it_skip "curl is not installed"
SENDRAW=$(it_sendraw) || it_skip "tests/integration/sendraw is not built"
SECTOOL=$(it_find_build tests/integration/sectool) || it_skip "tests/integration/sectool is not built"
it_mktemp
port=$(it_free_port)
dport=$(it_free_port)
N=${SEC_SNAPSHOT_N:-2000}
"$SECTOOL" --random-emitters "$N" --channels 64 --seed 21 --base 1099511627776 >"$IT_TMP/wide.hex" || it_fail "sectool"

# A writer: without one, collectd 5.12 logs "Available write targets" for
# every value it cannot store, and under the sanitizers its shutdown then
# hung on the write queue's lock (not released on that path).
it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 16777216
  UnknownEmitters \"accept\"
  UnknownMaxChannels 64
  MaxNewIdentifiers 10000000
  <Dashboard>
    Listen \"127.0.0.1\" $dport
  </Dashboard>"
it_start_alec "$port"
get() { # path, output file: prints "status bytes seconds"
  curl -s -o "$2" -w '%{http_code} %{size_download} %{time_total}\n' --max-time 20 "http://127.0.0.1:$dport$1"
}
emitters_known() { get /api/fleet "$IT_TMP/f.json" >/dev/null; grep -o '"emitters":[0-9]*' "$IT_TMP/f.json" | head -n 1 | cut -d: -f2; }
all_known() { [ "$(emitters_known)" = "$N" ]; }
"$SENDRAW" --to "127.0.0.1:$port" --hex "$IT_TMP/wide.hex" --gap-us 100 >/dev/null || it_fail "sendraw"
it_wait_for 60 all_known || it_fail "the dashboard knows $(emitters_known) of $N emitters"
sleep 2

tid=""
for t in /proc/"$IT_PID"/task/*; do
  [ "$(cat "$t/comm" 2>/dev/null)" = "alec dispatch" ] && tid=${t##*/}
done
[ -n "$tid" ] || it_fail "no thread \"alec dispatch\" in collectd"
ticks() { sed 's/^.*) //' "/proc/$IT_PID/task/$tid/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)
a=$(ticks)
sleep 10
b=$(ticks)
busy=$(awk -v a="$a" -v b="$b" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / 10 }')
get /api/fleet "$IT_TMP/p0.json" >"$IT_TMP/p0.w"
build=$(grep -o '"build_seconds":[0-9.e+-]*' "$IT_TMP/p0.json" | cut -d: -f2)
was=$(awk -v c="$build" 'BEGIN { printf "%.0f", 100 * c / 0.5 }')
it_say "idle with $N x 64 channels: dispatch thread ${busy}% busy; one snapshot costs ${build} s (every 0.5 s before: about ${was}% of the thread)"
awk -v b="$busy" 'BEGIN { exit !(b < 20) }' || it_check_fail "the dispatch thread is ${busy}% busy without traffic"

read -r st bytes secs <"$IT_TMP/p0.w"
# The page's emitters, not the ids of the fleet events the document also carries.
page_len() { python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["emitters"]))' "$1"; }
listed=$(page_len "$IT_TMP/p0.json")
it_say "/api/fleet: HTTP $st, $bytes bytes in $secs s, $listed emitters listed"
[ "$st" = 200 ] && [ "$listed" = 200 ] || it_check_fail "/api/fleet: status $st, $listed emitters (want 200, the first page)"
grep -q "\"page\":{\"group\":null,\"offset\":0,\"limit\":200,\"total\":$N,\"count\":200}" "$IT_TMP/p0.json" ||
  it_check_fail "/api/fleet: no page object with total $N"
total=0
off=0
while [ "$off" -lt "$N" ]; do
  read -r st bytes secs < <(get "/api/fleet?offset=$off&limit=1000" "$IT_TMP/pg.json")
  [ "$st" = 200 ] || it_check_fail "offset $off: HTTP $st"
  n=$(page_len "$IT_TMP/pg.json")
  total=$((total + n))
  [ "$off" = 0 ] && it_say "/api/fleet?offset=0&limit=1000: $bytes bytes in $secs s"
  off=$((off + 1000))
done
[ "$total" = "$N" ] || it_check_fail "the pages of 1000 list $total of $N emitters"
read -r st bytes secs < <(get "/api/fleet?group=&offset=0&limit=5" "$IT_TMP/g.json")
grep -q "\"page\":{\"group\":\"\",\"offset\":0,\"limit\":5,\"total\":$N,\"count\":5}" "$IT_TMP/g.json" ||
  it_check_fail "?group= (the default group): $(grep -o '"page":{[^}]*}' "$IT_TMP/g.json")"
read -r st bytes secs < <(get "/api/fleet?group=nosuch" "$IT_TMP/g2.json")
grep -q '"total":0,"count":0' "$IT_TMP/g2.json" || it_check_fail "an unknown group is not an empty page"
for q in "limit=0" "limit=1001" "offset=-1" "offset=1x" "limit=" "offset=99999999999"; do
  read -r st bytes secs < <(get "/api/fleet?$q" "$IT_TMP/bad.json")
  [ "$st" = 400 ] || it_check_fail "/api/fleet?$q: HTTP $st, want 400"
done
get /dashboard.js "$IT_TMP/d.js" >/dev/null
grep -q "api/fleet?offset=" "$IT_TMP/d.js" || it_check_fail "the page does not ask for pages"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "$N x 64 channels: ${busy}% idle dispatch, paged fleet document"
exit 0
