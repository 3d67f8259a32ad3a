#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile HTTP clients against the dashboard of the real daemon: a decoded
# %00 must not truncate the path (/api/emitters/1%00 answered as emitter 1),
# 200 pipelined GET requests on one connection are all answered or the
# connection is closed, and 40 slow connections (8 from each of 127.0.0.2 to
# 127.0.0.6, each holding a partial request line) do not lock a normal client
# out. The clients are a small python3 script (skipped without python3).
IT_LIMIT=90
. "$(dirname "$0")/lib.sh"

it_require_plugin
command -v python3 >/dev/null 2>&1 || it_skip "python3 not installed"
it_mktemp
port=$(it_free_port)
EMITTERS=3

free_tcp_port() {
  local p hex try
  for try in $(seq 0 199); do
    p=$((20000 + ($$ * 53 + RANDOM + try * 11) % 40000))
    hex=$(printf '%04X' "$p")
    if ! awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  it_fail "no free TCP port found"
}
dport=$(free_tcp_port)

# Status of one GET over bash's /dev/tcp, bounded by 5 s.
http_status() {
  local resp
  { exec 9<>"/dev/tcp/127.0.0.1/$dport"; } 2>/dev/null || { echo 0; return; }
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&9
  resp=$(timeout 5 head -n 1 <&9 | tr -d '\r')
  exec 9<&- 9>&-
  echo "$resp" | awk '{print $2 + 0}'
}
api_ready() { [ "$(http_status /api/emitters/1)" = 200 ]; }

cat >"$IT_TMP/client.py" <<'PY'
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
if mode == "pipeline":
    n = 200
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /api/fleet HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * n)
    data, t0, closed = b"", time.time(), 0
    try:
        while time.time() - t0 < 20 and data.count(b"HTTP/1.1 200") < n:
            b = s.recv(65536)
            if not b:
                closed = 1
                break
            data += b
    except socket.timeout:
        print("hang", data.count(b"HTTP/1.1 200"))
        sys.exit(0)
    print("closed" if closed else "open", data.count(b"HTTP/1.1 200"))
else:
    socks = []
    for a in range(2, 7):
        for i in range(8):
            s = socket.socket()
            s.bind(("127.0.0.%d" % a, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /api/fl")
            socks.append(s)
    print("open", len(socks), flush=True)
    time.sleep(float(sys.argv[3]))
PY

it_conf_begin
it_conf_fleet "$port" reject hall "" "  <Dashboard>
    Listen \"127.0.0.1\" \"$dport\"
  </Dashboard>"
it_start_alec "$port"
it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario spike \
  --emitters "$EMITTERS" --steps 100 --rate 50 --format single
it_wait_for 15 api_ready || it_fail "/api/emitters/1 does not answer 200 on 127.0.0.1:$dport"

# --- a NUL or trailing bytes after the id.
for u in '/api/emitters/1%00' '/api/emitters/1%00junk' '/api/emitters/1junk' '/api/emitters/1%20' \
  '/api/fleet%00' '/api/emitters/%001'; do
  st=$(http_status "$u")
  case "$st" in 400 | 404) ;; *) it_check_fail "$u answered $st, want 400 or 404" ;; esac
done
[ "$IT_FAILED" -eq 0 ] && it_ok "ids with a NUL or trailing bytes refused (400/404)"

# --- 200 pipelined requests on one connection.
res=$(timeout 30 python3 "$IT_TMP/client.py" pipeline "$dport")
set -- $res
case "$1" in
  hang) it_check_fail "pipelined: connection neither answered nor closed ($2 of 200 answered)" ;;
  open) [ "$2" -eq 200 ] || it_check_fail "pipelined: $2 of 200 answered" ;;
  closed) ;;
  *) it_check_fail "pipelined client failed: $res" ;;
esac
[ "$IT_FAILED" -eq 0 ] && it_ok "pipelined: $2 of 200 answered, connection $1"

# --- slowloris from five source addresses.
it_bg "$IT_TMP/slow.out" python3 "$IT_TMP/client.py" slow "$dport" 30
SLOW=$IT_BG_PID
it_wait_for 10 grep -q '^open 40' "$IT_TMP/slow.out" || it_fail "slow client: $(cat "$IT_TMP/slow.out")"
t0=$(date +%s.%N)
st=$(http_status /api/fleet)
dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
[ "$st" = 200 ] || it_check_fail "with 40 slow connections open, a normal GET answered $st after $dt s"
[ "$IT_FAILED" -eq 0 ] && it_ok "40 slow connections from 5 addresses: a normal GET answered 200 in $dt s"
it_kill_pid "$SLOW" 5
IT_BG_PIDS=$(echo "$IT_BG_PIDS" | tr ' ' '\n' | grep -vx "$SLOW" | tr '\n' ' ')

it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "sec_dashboard"
