# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared part of the writer tests (tests/integration/writers_*.sh and
# grafana_queries.sh), sourced after lib.sh: TCP ports, extra daemons
# (carbon-cache, influxd, an HTTP receiver) stopped by PID through lib.sh's
# exit trap, the configuration snippets of contrib/writers/ included with
# their ports and paths rewritten, and the spike fleet run.
#
# The fleet: `alec-send --scenario spike` with WR_EMITTERS emitters (ids
# 0..9) for WR_STEPS steps; emitter 5 runs 20 degrees above its peers after
# step 500. All are declared in group "hall" with channel 0 named
# temperature-room and no Host, so their host names are the plugin's
# default alec-<16 hex digits>. WR_RATE (frames per second over the whole
# fleet) sets the run's length: 10 x 1000 frames at 1000/s take 10 s.

WR_EMITTERS=10
WR_STEPS=${WR_STEPS:-1000}
WR_RATE=${WR_RATE:-1000}
WR_TARGET=5
WR_OTHER=3
WR_GROUP=hall
WR_TYPE=temperature
WR_TI=room
WR_RECEIVER=it-receiver      # collectd's Hostname in lib.sh's it_conf_begin
# Fleet options of the run: the notifications and score checks use them.
WR_THRESHOLD=3.5

wr_host() { printf 'alec-%016x' "$1"; }
WR_HOST_TARGET=$(wr_host "$WR_TARGET")
WR_HOST_OTHER=$(wr_host "$WR_OTHER")

# Skips (77) unless every command exists.
wr_require() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || it_skip "$c not found"
  done
}

# True when something listens on TCP port $1 (state 0A) on any address.
wr_tcp_listening() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h && $4 == "0A" { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A port free for TCP and UDP on 127.0.0.1 (lib.sh's it_free_port only
# looks at UDP).
wr_free_port() {
  local p i hex
  for i in $(seq 1 50); do
    p=$(it_free_port)
    hex=$(printf '%04X' "$p")
    if ! awk -v h=":$hex" 'NR > 1 && (substr($2, length($2) - 4) == h || substr($3, length($3) - 4) == h) { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  it_fail "no free TCP port found"
}

# Starts a helper daemon in the background; lib.sh's exit trap stops it by
# PID like collectd. Usage: wr_daemon NAME cmd args... (sets WR_PID; output
# in $IT_TMP/NAME.log).
wr_daemon() {
  local name=$1
  shift
  "$@" >"$IT_TMP/$name.log" 2>&1 &
  WR_PID=$!
  IT_PIDS="$IT_PIDS $WR_PID"
}

# Stops a daemon started by wr_daemon.
wr_stop() {
  it_kill_pid "$1" 15
  IT_PIDS=$(echo "$IT_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# Fails unless daemon $2 (name $1) listens on TCP port $3 within $4 s.
wr_wait_listen() {
  local name=$1 pid=$2 port=$3 bound=${4:-30}
  it_wait_for "$bound" wr__listening_or_dead "$pid" "$port"
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 30 "$IT_TMP/$name.log"
    it_fail "$name exited during startup"
  fi
  wr_tcp_listening "$port" || { tail -n 30 "$IT_TMP/$name.log"; it_fail "$name does not listen on $port after ${bound}s"; }
}
wr__listening_or_dead() { wr_tcp_listening "$2" || ! kill -0 "$1" 2>/dev/null; }

# Copies contrib/writers/$1 to $IT_TMP with sed expressions $2... applied
# and includes it in collectd's configuration (before it_conf_alec: the
# snippets load stock plugins, which must precede PluginDir).
wr_include_snippet() {
  local src=$IT_SRCDIR/contrib/writers/$1 dst=$IT_TMP/$1 e
  shift
  [ -f "$src" ] || it_fail "missing $src"
  cp "$src" "$dst" || it_fail "cannot copy $src"
  for e in "$@"; do
    sed -i -e "$e" "$dst" || it_fail "sed $e on $dst"
  done
  it_conf_add "Include \"$dst\""
}

# The alec plugin receiving the fleet (after the writer snippets).
wr_conf_fleet() {
  local emitters="" i
  WR_PORT=$(wr_free_port)
  for i in $(seq 0 $((WR_EMITTERS - 1))); do
    emitters="$emitters
  <Emitter $i>
    Profile \"thermo\"
  </Emitter>"
  done
  it_conf_alec "  Listen \"127.0.0.1\" \"$WR_PORT\"
  ReceiveBufferSize 4194304
  UnknownEmitters \"reject\"
  <Fleet>
    Threshold $WR_THRESHOLD
    EvaluationInterval 0.1
  </Fleet>
  <Profile \"thermo\">
    Group \"$WR_GROUP\"
    Channel 0 \"$WR_TYPE\" \"$WR_TI\"
  </Profile>$emitters"
}

# Runs the spike fleet into the started daemon. Sets WR_T0 (epoch seconds,
# fractional, before the first frame), WR_T_SPIKE (the earliest time step
# 501 can leave: the sender is paced and never early) and WR_T_END.
wr_run_fleet() {
  wr_fleet_start
  wr_fleet_wait
}

# The same in two halves, to look at the writers while the fleet sends.
wr_fleet_start() {
  it_wait_for 10 it_port_bound "$WR_PORT" || it_fail "alec plugin does not listen on $WR_PORT"
  WR_T0=$(date +%s.%N)
  it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$WR_PORT" --scenario spike \
    --emitters "$WR_EMITTERS" --steps "$WR_STEPS" --rate "$WR_RATE" --format single
  WR_SEND_PID=$IT_BG_PID
  WR_T_SPIKE=$(awk -v t="$WR_T0" -v e="$WR_EMITTERS" -v r="$WR_RATE" 'BEGIN { printf "%.3f", t + 500 * e / r }')
}

wr_fleet_wait() {
  it_bg_wait "$WR_SEND_PID" 120 || it_fail "alec-send did not finish in 120 s"
  [ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "alec-send failed ($IT_STATUS)"; }
  WR_T_END=$(date +%s.%N)
  it_say "alec-send: $(tail -n 1 "$IT_TMP/send.out") ($(awk -v a="$WR_T0" -v b="$WR_T_END" 'BEGIN { printf "%.1f", b - a }') s)"
}

# Sleeps until epoch time $1 (fractional); at once if it is past.
wr_sleep_until() {
  local d
  d=$(awk -v t="$1" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')
  sleep "$d"
}

# A minimal HTTP receiver (python3) on 127.0.0.1:$1 that appends the body of
# every POST as one line to $2.
wr_http_sink() {
  cat >"$IT_TMP/http_sink.py" <<'EOF'
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        with open(sys.argv[2], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
EOF
  : >"$2"
  wr_daemon http_sink python3 "$IT_TMP/http_sink.py" "$1" "$2"
  wr_wait_listen http_sink "$WR_PID" "$1" 15
}

# ---------------------------------------------------------------- InfluxDB

# Starts influxd 1.x with contrib/writers/influxd/influxdb.conf rewritten to
# private directories and free loopback ports; the [[collectd]] input reads
# a types.db directory holding the stock types.db and contrib/alec.types.db.
# Sets WR_INFLUX_HTTP (HTTP API port) and WR_INFLUX_COLLECTD (UDP port of the
# collectd input).
wr_influx_start() {
  local d=$IT_TMP/influx rpc
  mkdir -p "$d/typesdb" || it_fail "mkdir $d"
  cp "$IT_STOCK_TYPESDB" "$d/typesdb/types.db" && cp "$IT_SRCDIR/contrib/alec.types.db" "$d/typesdb/" ||
    it_fail "cannot copy the types.db files"
  WR_INFLUX_HTTP=$(wr_free_port)
  WR_INFLUX_COLLECTD=$(wr_free_port)
  rpc=$(wr_free_port)
  sed -e "s|/var/lib/influxdb|$d|g" \
    -e "s|/usr/share/collectd-alec/influxdb-typesdb|$d/typesdb|" \
    -e "s|127.0.0.1:8088|127.0.0.1:$rpc|" \
    -e "s|127.0.0.1:8086|127.0.0.1:$WR_INFLUX_HTTP|" \
    -e "s|127.0.0.1:25826|127.0.0.1:$WR_INFLUX_COLLECTD|" \
    "$IT_SRCDIR/contrib/writers/influxd/influxdb.conf" >"$d/influxdb.conf" || it_fail "cannot write influxdb.conf"
  # The rewrite must have left no default port or system path behind.
  if grep -n -E '/var/lib|:8086|:8088|:25826|/usr/share/collectd-alec' "$d/influxdb.conf"; then
    it_fail "contrib/writers/influxd/influxdb.conf changed: the rewrite above no longer covers it"
  fi
  wr_daemon influxd influxd -config "$d/influxdb.conf"
  WR_INFLUXD_PID=$WR_PID
  wr_wait_listen influxd "$WR_PID" "$WR_INFLUX_HTTP" 30
  it_wait_for 20 curl -s -f -o /dev/null "http://127.0.0.1:$WR_INFLUX_HTTP/ping" || it_fail "influxd does not answer /ping"
  it_wait_for 10 it_port_bound "$WR_INFLUX_COLLECTD" || it_fail "influxd's collectd input does not listen"
}

# influxd 1.x does not finish a clean shutdown while its collectd input is
# enabled (influxdata/influxdb#8780: it waits 30 s and then shuts down
# hard), so it gets 3 s after SIGTERM and then SIGKILL; every query of the
# tests has completed by then.
wr_influx_stop() {
  local pid=${WR_INFLUXD_PID:-} i=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 30 ]; do
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
    i=$((i + 1))
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  IT_PIDS=$(echo "$IT_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
  WR_INFLUXD_PID=""
}

# The collectd daemon forwarding the alec values to influxd through the
# network plugin (contrib/writers/influxdb.conf), then the fleet run.
wr_influx_fleet() {
  it_conf_begin
  wr_include_snippet influxdb.conf "s|\"25826\"|\"$WR_INFLUX_COLLECTD\"|"
  wr_conf_fleet
  it_start
  wr_run_fleet
}

# Runs one InfluxQL statement on database collectd; prints CSV rows (no
# header) "name,tags,time,value..." with times in seconds. The CLI takes
# every line of -execute as a statement of its own: the query is joined
# into one line.
wr_influx_query() {
  influx -host 127.0.0.1 -port "$WR_INFLUX_HTTP" -database collectd -precision s -format csv \
    -execute "$(printf '%s' "$1" | tr '\n' ' ')" </dev/null 2>&1 | tail -n +2
}

# Waits (at most $3 s) until the first value column of query $1 is >= $2.
wr_influx_wait() {
  it_wait_for "${3:-20}" wr__influx_at_least "$1" "$2"
}
wr__influx_at_least() {
  local v
  v=$(wr_influx_query "$1" | tail -n 1 | awk -F, '{ print $NF }')
  [ -n "$v" ] && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v + 0 >= m + 0 && v ~ /^[-0-9.e+]+$/) }'
}
