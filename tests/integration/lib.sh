# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared harness of the integration tests: sourced (bash) by every
# tests/integration/*.sh, by contrib/demo.sh and contrib/bench-network.sh.
#
# It runs the real collectd daemon (COLLECTD_BIN, default /usr/sbin/collectd)
# in the foreground as a background child of the script, with a configuration
# generated into a private directory under the build tree, and guarantees that
# every process it started is stopped by its PID (SIGTERM, bounded wait,
# SIGKILL) when the script ends, passes, fails or is interrupted.
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip.
#
# Before sourcing, a script may set IT_LIMIT (seconds, default 300): the whole
# script is re-executed under timeout(1) with that bound.

if [ -z "${IT_BOUNDED:-}" ] && command -v timeout >/dev/null 2>&1; then
  IT_BOUNDED=1 exec timeout -k 20 "${IT_LIMIT:-300}" bash "$0" "$@"
fi
export IT_BOUNDED=1

set -u
IT_NAME=$(basename "$0" .sh)
IT_SRCDIR=${ALEC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
IT_BUILDDIR=${ALEC_BUILDDIR:-$PWD}
IT_SHARED=${ALEC_SHARED:-$IT_SRCDIR/../shared}
COLLECTD_BIN=${COLLECTD_BIN:-/usr/sbin/collectd}
IT_STOCK_TYPESDB=${IT_STOCK_TYPESDB:-/usr/share/collectd/types.db}
IT_TMP=""
IT_KEEP=${IT_KEEP:-0}
IT_PIDS=""      # daemons, stopped with it_stop
IT_BG_PIDS=""   # helper processes (senders), stopped at exit
IT_FAILED=0
IT_PRELOAD=""
IT_ASAN_OPTIONS=""
IT_USED_PORTS=""

it_say() { printf '%s: %s\n' "$IT_NAME" "$*"; }
it_skip() { it_say "SKIP: $*"; exit 77; }
it_fail() { it_say "FAIL: $*"; IT_FAILED=1; exit 1; }
# Records a failed check and goes on, so one run reports every problem.
it_check_fail() { it_say "FAIL: $*"; IT_FAILED=1; }
it_ok() { it_say "ok: $*"; }

# ---------------------------------------------------------------- processes

# Stops one process by PID: SIGTERM, up to $2 seconds (default 10), SIGKILL.
# Sets IT_STATUS to its exit status (when it is our child).
it_kill_pid() {
  local pid=$1 bound=${2:-10} i=0
  IT_STATUS=0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; IT_STATUS=$?; return 0; }
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt $((bound * 10)) ]; do
    # A zombie child still answers kill -0; reap it as soon as it exits.
    if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then break; fi
    sleep 0.1
    i=$((i + 1))
  done
  if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
    it_say "process $pid did not stop within ${bound}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    IT_KILLED=1
  fi
  wait "$pid" 2>/dev/null
  IT_STATUS=$?
  return 0
}

# Runs a helper in the background, remembered for the exit trap.
# Usage: it_bg OUTFILE cmd args...  (sets IT_BG_PID)
it_bg() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  IT_BG_PID=$!
  IT_BG_PIDS="$IT_BG_PIDS $IT_BG_PID"
}

# Waits for a helper started by it_bg, at most $2 seconds; 1 if it had to be
# killed. IT_STATUS receives its exit status.
it_bg_wait() {
  local pid=$1 bound=${2:-60} i=0
  while kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
    [ "$i" -lt $((bound * 10)) ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
    it_kill_pid "$pid" 5
    IT_BG_PIDS=$(echo "$IT_BG_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
    return 1
  fi
  wait "$pid" 2>/dev/null
  IT_STATUS=$?
  IT_BG_PIDS=$(echo "$IT_BG_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
  return 0
}

it__cleanup() {
  local rc=$? p
  trap - EXIT INT TERM HUP
  for p in $IT_BG_PIDS; do it_kill_pid "$p" 5; done
  for p in $IT_PIDS; do it_kill_pid "$p" 10; done
  IT_PIDS=""
  if [ -n "$IT_TMP" ] && [ -d "$IT_TMP" ]; then
    if it__sanitizer_report; then rc=1; fi
    if [ "$rc" -eq 0 ] && [ "$IT_FAILED" -eq 0 ] && [ "$IT_KEEP" != 1 ]; then
      rm -rf "$IT_TMP"
    elif [ "$rc" -ne 77 ]; then
      it_say "files kept in $IT_TMP"
      if [ "$rc" -ne 0 ] && [ -f "$IT_TMP/collectd.log" ]; then
        it_say "---- last lines of collectd.log"
        tail -n 40 "$IT_TMP/collectd.log"
      fi
    fi
  fi
  [ "$IT_FAILED" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
  exit "$rc"
}
trap it__cleanup EXIT
trap 'it_say "interrupted"; IT_FAILED=1; exit 1' INT TERM HUP

# Sanitizer reports of the daemon and its children (the plugin is the only
# instrumented code in it). True when there was one.
it__sanitizer_report() {
  local f found=1
  for f in "$IT_TMP"/collectd*.out; do
    [ -f "$f" ] || continue
    if grep -q -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$f"; then
      it_say "sanitizer report in $f:"
      grep -A 30 -E 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$f" | head -n 60
      found=0
    fi
  done
  return $found
}

# ---------------------------------------------------------------- environment

# Polls a command every 0.1 s until it succeeds; 1 after $1 seconds.
it_wait_for() {
  local bound=$1 i=0
  shift
  while ! "$@"; do
    [ "$i" -ge $((bound * 10)) ] && return 1
    sleep 0.1
    i=$((i + 1))
  done
  return 0
}

it_require_collectd() {
  [ -n "$COLLECTD_BIN" ] && [ -x "$COLLECTD_BIN" ] || it_skip "collectd not found (COLLECTD_BIN=$COLLECTD_BIN)"
  [ -f "$IT_STOCK_TYPESDB" ] || it_skip "collectd types.db not found ($IT_STOCK_TYPESDB)"
}

it_have_shared() { [ -d "$IT_SHARED/vectors" ] && [ -d "$IT_SHARED/data/samples" ]; }

# Finds a program or plugin of the build tree: prints its path, or nothing.
it_find_build() {
  local c
  for c in "$@"; do
    if [ -x "$IT_BUILDDIR/$c" ] || { [ -f "$IT_BUILDDIR/$c" ] && [ "${c%.so}" != "$c" ]; }; then
      echo "$IT_BUILDDIR/$c"
      return 0
    fi
  done
  return 1
}
it_alec_send() { it_find_build alec-send src/tools/alec-send src/plugin/alec-send; }
it_plugin_so() { it_find_build .libs/alec.so src/plugin/.libs/alec.so; }
it_sendraw() { it_find_build tests/integration/sendraw; }
it_netsend() { it_find_build src/tools/bench-netsend bench-netsend; }

# Everything the alec plugin tests need, or skip.
it_require_plugin() {
  it_require_collectd
  IT_PLUGIN_SO=$(it_plugin_so) || it_skip "alec.so is not built"
  IT_PLUGIN_DIR=$(dirname "$IT_PLUGIN_SO")
  IT_ALEC_SEND=$(it_alec_send) || it_skip "alec-send is not built"
  it__sanitizer_setup
}

# An instrumented plugin can only be dlopen()ed into the uninstrumented
# daemon when the ASan runtime is loaded first.
it__sanitizer_setup() {
  if [ -n "${IT_PLUGIN_SO:-}" ] && readelf -d "$IT_PLUGIN_SO" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
    local so
    so=$(${CC:-gcc} -print-file-name=libasan.so 2>/dev/null)
    [ -n "$so" ] && [ -e "$so" ] || it_skip "plugin built with ASan but libasan.so not found to preload"
    IT_PRELOAD=$(readlink -f "$so")
    # The daemon's own allocations are not freed at exit; only errors count.
    IT_ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1"
    it_say "sanitizer build: collectd runs with LD_PRELOAD=$IT_PRELOAD"
  fi
}

# A scratch directory under the build tree (or the directory $1, emptied),
# readable and writable by the user the exec plugin switches to (nobody).
# A build tree nobody cannot enter (a checkout in root's home directory,
# mode 0700: the natural place on a fresh machine) gets it in /tmp instead.
it_mktemp() {
  if [ -n "${1:-}" ]; then
    mkdir -p "$(dirname "$1")" || it_fail "cannot create $(dirname "$1")"
    if it__exec_reaches "$(dirname "$1")"; then
      rm -rf "$1" && mkdir -p "$1" || it_fail "cannot create $1"
      IT_TMP=$(cd "$1" && pwd)
    else
      IT_TMP=$(mktemp -d "/tmp/alec-$IT_NAME.XXXXXX") || it_fail "mktemp"
      it_say "scratch directory $IT_TMP: exec's user cannot enter $(dirname "$1")"
    fi
  else
    mkdir -p "$IT_BUILDDIR/tests/integration/run" || it_fail "cannot create run directory"
    chmod 0755 "$IT_BUILDDIR/tests/integration/run" "$IT_BUILDDIR/tests/integration" 2>/dev/null
    if it__exec_reaches "$IT_BUILDDIR/tests/integration/run"; then
      IT_TMP=$(mktemp -d "$IT_BUILDDIR/tests/integration/run/$IT_NAME.XXXXXX") || it_fail "mktemp"
    else
      IT_TMP=$(mktemp -d "/tmp/alec-$IT_NAME.XXXXXX") || it_fail "mktemp"
    fi
  fi
  chmod 0777 "$IT_TMP"
  IT_CONF=$IT_TMP/collectd.conf
  IT_LOG=$IT_TMP/collectd.log
  IT_CSV=$IT_TMP/csv
  IT_NOTIFY_OUT=$IT_TMP/notifications.txt
}

# The 00:00 UTC of the latest weekday (Monday to Friday) whose first $1
# seconds are over by now. The LoRaWAN emulator's signals follow UTC
# (diurnal cycles, CO2 in office hours on weekdays): a recording that
# starts there has the same values whatever the hour a test runs, and it
# is at most 4 days old (the plugin takes network-server times up to 7
# days back).
it_weekday_start() {
  local s=$((($(date +%s) - $1) / 86400 * 86400))
  while [ $(((s / 86400 + 3) % 7)) -ge 5 ]; do s=$((s - 86400)); done
  echo "$s"
}

# A UDP port on 127.0.0.1 that nothing listens on, chosen from the PID so
# tests running in parallel do not collide, and probed in /proc/net/udp*.
it_free_port() {
  local base p hex try
  base=$((20000 + ($$ * 37 + RANDOM) % 40000))
  for try in $(seq 0 499); do
    p=$((20000 + (base - 20000 + try * 7) % 40000))
    case " $IT_USED_PORTS " in *" $p "*) continue ;; esac
    hex=$(printf '%04X' "$p")
    if ! awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
      /proc/net/udp /proc/net/udp6 2>/dev/null; then
      IT_USED_PORTS="$IT_USED_PORTS $p"
      echo "$p"
      return 0
    fi
  done
  it_fail "no free UDP port found"
}

it_port_bound() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
    /proc/net/udp /proc/net/udp6 2>/dev/null
}

# ---------------------------------------------------------------- configuration

# Global options and the logfile plugin (always first, so every later error
# is logged). $1: extra global lines (optional).
it_conf_begin() {
  local typesdb="\"$IT_STOCK_TYPESDB\""
  if [ -f "$IT_SRCDIR/contrib/alec.types.db" ]; then
    typesdb="$typesdb \"$IT_SRCDIR/contrib/alec.types.db\""
  fi
  cat >"$IT_CONF" <<EOF
# Generated by tests/integration/lib.sh for $IT_NAME
Hostname "it-receiver"
FQDNLookup false
BaseDir "$IT_TMP"
PIDFile "$IT_TMP/collectd.pid"
TypesDB $typesdb
Interval 1
Timeout 2
ReadThreads 2
# csv.c is racy with parallel write threads (notes, pitfall 12).
WriteThreads 1
${1:-}
LoadPlugin logfile
<Plugin logfile>
  LogLevel "info"
  File "$IT_LOG"
  Timestamp true
  PrintSeverity true
</Plugin>
EOF
}

it_conf_add() { printf '%s\n' "$@" >>"$IT_CONF"; }

it_conf_csv() {
  mkdir -p "$IT_CSV"
  cat >>"$IT_CONF" <<EOF
LoadPlugin csv
<Plugin csv>
  DataDir "$IT_CSV"
  StoreRates false
</Plugin>
EOF
}

# True when the user exec runs programs as (it_exec_user) can enter $1.
it__exec_reaches() {
  [ "$(id -u)" -eq 0 ] || return 0
  command -v runuser >/dev/null 2>&1 || return 0
  runuser -u nobody -- test -x "$1" 2>/dev/null
}

# The user exec runs programs as: it refuses root, and only root may switch
# to another user.
it_exec_user() {
  if [ "$(id -u)" -eq 0 ]; then echo "nobody:nogroup"; else echo "$(id -un):$(id -gn)"; fi
}

# exec's NotificationExec: one record per notification (headers, blank
# line, message) appended under a lock, followed by a line "----".
it_conf_notify_exec() {
  local script=$IT_TMP/notify.sh
  : >"$IT_NOTIFY_OUT"
  : >"$IT_TMP/notify.lock"
  chmod 0666 "$IT_NOTIFY_OUT" "$IT_TMP/notify.lock"
  cat >"$script" <<EOF
#!/bin/sh
# Appends one notification as one block; exec runs these concurrently.
t=\$(mktemp "$IT_TMP/notif.XXXXXX") || exit 1
cat >"\$t"
echo "----" >>"\$t"
flock "$IT_TMP/notify.lock" sh -c 'cat "\$1" >>"\$2"' sh "\$t" "$IT_NOTIFY_OUT"
rm -f "\$t"
EOF
  chmod 0755 "$script"
  cat >>"$IT_CONF" <<EOF
LoadPlugin exec
<Plugin exec>
  NotificationExec "$(it_exec_user)" "$script"
</Plugin>
EOF
}

# Loads the plugin under test from the build tree: stock plugins must be
# loaded before, because PluginDir applies to every later LoadPlugin.
# $1: the body of <Plugin alec> (several lines).
it_conf_alec() {
  cat >>"$IT_CONF" <<EOF
PluginDir "$IT_PLUGIN_DIR"
LoadPlugin alec
<Plugin alec>
$1
</Plugin>
EOF
}

# A configuration file $2 (logfile, csv) whose <Plugin alec> body is $1,
# apart from $IT_CONF, which stays the daemon's.
it_write_conf() {
  it_conf_begin
  it_conf_csv
  it_conf_alec "$1"
  mv "$IT_CONF" "$2"
  IT_CONF=$IT_TMP/collectd.conf
}

# A configuration collectd -T must refuse: $1 names the case, $3 is the body
# of <Plugin alec>; the log or the daemon's output must contain $2 (case
# insensitive) and, when given, never $4 (a secret such as a key). Failures
# are recorded with it_check_fail; IT_REFUSED counts the cases.
IT_REFUSED=0
it_refuse_case() {
  local name=$1 want=$2 body=$3 secret=${4:-} conf out
  IT_REFUSED=$((IT_REFUSED + 1))
  conf=$IT_TMP/case$IT_REFUSED.conf
  out=$IT_TMP/case$IT_REFUSED.out
  : >"$IT_LOG"
  it_write_conf "$body" "$conf"
  if it_collectd_test_config "$conf" "$out"; then
    it_check_fail "$name: collectd -T accepted it"
    return
  fi
  if ! grep -q -i -F -- "$want" "$out" "$IT_LOG"; then
    it_check_fail "$name: refused, but neither the log nor the output says \"$want\""
    sed 's/^/    /' "$IT_LOG" "$out" | tail -n 8
    return
  fi
  if [ -n "$secret" ] && grep -q -i -F -- "$secret" "$out" "$IT_LOG"; then
    it_check_fail "$name: a secret appears in the log"
  fi
  it_ok "$name: refused: $(grep -h -i -F -- "$want" "$IT_LOG" "$out" | head -n 1 | sed 's/^.*alec plugin: //' | cut -c1-140)"
}

# ---------------------------------------------------------------- fleets

# <Emitter 0> .. <Emitter $1 - 1>, each of profile "thermo" with host
# sensor-<id>, for a body of it_conf_alec.
it_fleet_emitters() {
  local i
  for i in $(seq 0 $(($1 - 1))); do
    printf '\n  <Emitter %d>\n    Profile "thermo"\n    Host "sensor-%d"\n  </Emitter>' "$i" "$i"
  done
}

# The alec plugin of a fleet scenario (alec-send --scenario): Listen on
# 127.0.0.1:$1, UnknownEmitters $2, the profile "thermo" (group $3, channel
# 0 a temperature "room") and $EMITTERS emitters of it; a <Fleet> evaluating
# every 0.1 s with the extra lines $4 (optional); the extra plugin lines $5
# (optional, e.g. a <Dashboard>).
it_conf_fleet() {
  it_conf_alec "  Listen \"127.0.0.1\" \"$1\"
  ReceiveBufferSize 4194304
  UnknownEmitters \"$2\"
  <Fleet>${4:+
$4}
    EvaluationInterval 0.1
  </Fleet>${5:+
$5}
  <Profile \"thermo\">
    Group \"$3\"
    Channel 0 \"temperature\" \"room\"
  </Profile>$(it_fleet_emitters "$EMITTERS")"
}

# ---------------------------------------------------------------- daemon

# Runs `collectd -T -C FILE` (-t does not even read the file in 5.12): loads
# the plugins, runs init, one read, shutdown. Prints its output; returns its
# exit status. collectd 5.12's network plugin now and then crashes while its
# receive thread stops after "Exiting normally" (seen twice in fresh roots,
# never with the alec plugin alone): a SIGSEGV is retried, twice at most,
# and logged; a refused configuration exits 1 and is not retried.
it_collectd_test_config() {
  local conf=${1:-$IT_CONF} out=${2:-$IT_TMP/collectd-T.out} rc attempt
  for attempt in 1 2 3; do
    env ${IT_PRELOAD:+LD_PRELOAD="$IT_PRELOAD"} ${IT_ASAN_OPTIONS:+ASAN_OPTIONS="$IT_ASAN_OPTIONS"} \
      timeout -k 5 30 "$COLLECTD_BIN" -T -C "$conf" >"$out" 2>&1
    rc=$?
    [ "$rc" -eq 139 ] || return "$rc"
    it_say "collectd -T crashed (SIGSEGV) at shutdown, attempt $attempt of 3"
  done
  return "$rc"
}

# Starts the daemon with $IT_CONF in the background, waits until it entered
# its read loop (or died), sets IT_PID.
it_start() {
  local out=$IT_TMP/collectd.out n=0
  while [ -e "$out" ]; do n=$((n + 1)); out=$IT_TMP/collectd.$n.out; done
  : >"$IT_LOG"
  chmod 0666 "$IT_LOG"
  env ${IT_PRELOAD:+LD_PRELOAD="$IT_PRELOAD"} ${IT_ASAN_OPTIONS:+ASAN_OPTIONS="$IT_ASAN_OPTIONS"} \
    "$COLLECTD_BIN" -f -C "$IT_CONF" -P "$IT_TMP/collectd.pid" >"$out" 2>&1 &
  IT_PID=$!
  IT_PIDS="$IT_PIDS $IT_PID"
  if ! it_wait_for 30 it__ready; then
    cat "$out"
    it_fail "collectd (pid $IT_PID) did not become ready in 30 s"
  fi
  if ! kill -0 "$IT_PID" 2>/dev/null; then
    wait "$IT_PID" 2>/dev/null
    cat "$out"
    tail -n 30 "$IT_LOG"
    it_fail "collectd exited during startup (status $?)"
  fi
  if [ -n "$IT_PRELOAD" ] && ! grep -q libasan "/proc/$IT_PID/maps" 2>/dev/null; then
    it_fail "the ASan runtime is not loaded in collectd (pid $IT_PID)"
  fi
}

# it_start, then waits until the alec plugin listens on UDP port $1.
it_start_alec() {
  it_start
  it_wait_for 10 it_port_bound "$1" || it_fail "alec plugin does not listen on $1"
}

it__ready() {
  grep -q 'Initialization complete, entering read-loop' "$IT_LOG" 2>/dev/null && return 0
  # Died: stop polling, it_start reports it.
  kill -0 "$IT_PID" 2>/dev/null || return 0
  return 1
}

# Stops the daemon started last (or $1) by its PID; sets IT_STATUS.
it_stop() {
  local pid=${1:-$IT_PID}
  [ -n "$pid" ] || return 0
  IT_KILLED=0
  it_kill_pid "$pid" 15
  IT_PIDS=$(echo "$IT_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
  [ "$IT_KILLED" -eq 1 ] && it_check_fail "collectd did not stop on SIGTERM"
  return 0
}

# utime+stime of a process in seconds (all its threads).
it_cpu_seconds() {
  local tck
  tck=$(getconf CLK_TCK)
  # Fields after the parenthesised command name: utime is 14th, stime 15th.
  sed 's/^.*) //' "/proc/$1/stat" | awk -v t="$tck" '{ printf "%.2f\n", ($12 + $13) / t }'
}

# ---------------------------------------------------------------- results

it_log_has() { grep -q -E "$1" "$IT_LOG" 2>/dev/null; }

# CSV files of one identifier (any date): host, plugin[-instance], type[-instance].
it_csv_files() { ls "$IT_CSV/$1/$2/$3"-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] 2>/dev/null; }

# Data rows (header excluded) of one identifier, in write order.
it_csv_rows() {
  local f
  for f in $(it_csv_files "$1" "$2" "$3"); do tail -n +2 "$f"; done
}

it_csv_count() { it_csv_rows "$@" | wc -l | tr -d ' '; }

# Value column of the last row of one identifier (empty if none).
it_csv_last() { it_csv_rows "$@" | tail -n 1 | cut -d, -f2; }

# Waits until the identifier has at least $4 rows, for at most $5 seconds.
it_wait_rows() {
  local n=$4 bound=${5:-20}
  it_wait_for "$bound" it__rows_at_least "$1" "$2" "$3" "$n"
}
it__rows_at_least() { [ "$(it_csv_count "$1" "$2" "$3")" -ge "$4" ]; }

# Notification blocks written by the exec script: each block's lines joined
# by '|' on one line.
it_notifications() {
  awk '$0 == "----" { print b; b = ""; next } { b = (b == "" ? $0 : b "|" $0) }' "$IT_NOTIFY_OUT"
}

# ---------------------------------------------------------------- golden vectors

# Splits a golden-vector JSONL file (vectors/README.md) into the frames to send
# (hex, one per line, frames with "dropped":true or without frame_hex left
# out) and the values the reference receiver decoded, one "<channel> <%f>"
# per line in order. The channel is the id the plugin maps: source_id for
# single frames, name_id for multi frames, the position for fixed frames.
# Usage: it_vectors_split FILE single|multi|fixed FRAMES_OUT EXPECT_OUT
it_vectors_split() {
  awk -v mode="$2" -v frames="$3" -v expect="$4" '
    function field(obj, name,    m) {
      if (!match(obj, "\"" name "\":(\"[^\"]*\"|[^,}]*)")) return ""
      m = substr(obj, RSTART + length(name) + 3, RLENGTH - length(name) - 3)
      gsub(/"/, "", m)
      return m
    }
    {
      if ($0 ~ /"dropped":true/) next
      hex = field($0, "frame_hex")
      if (hex == "" || hex == "null") next
      print hex > frames
      n = split($0, objs, /\{"source_id":/)
      for (i = 2; i <= n; i++) {
        o = "\"source_id\":" objs[i]
        if (field(o, "in_frame") != "true") continue
        d = field(o, "decoded")
        if (d == "null" || d == "") continue
        if (mode == "single") ch = field(o, "source_id")
        else if (mode == "multi") ch = field(o, "name_id")
        else ch = i - 2
        if (d == "NaN") v = "nan"; else if (d == "Infinity") v = "inf"
        else if (d == "-Infinity") v = "-inf"; else v = sprintf("%f", d + 0)
        print ch, v > expect
      }
    }' "$1"
}

# The golden vectors of a scenario (prefix "s3_fixed_hvac") split into
# FRAMES_OUT / EXPECT_OUT as it_vectors_split does: from the shared reference
# data when present, else from the extract in tests/fixtures/vectors.tsv (the
# "tools" engineer's, a prefix of each stream; format in its README.md).
# Prints the source used; 1 when neither has the scenario.
# Usage: it_golden PREFIX single|multi|fixed FRAMES_OUT EXPECT_OUT
it_golden() {
  local f
  for f in "$IT_SHARED/vectors/$1"*.jsonl; do
    if [ -f "$f" ]; then
      it_vectors_split "$f" "$2" "$3" "$4"
      echo "$f"
      return 0
    fi
  done
  f=$IT_SRCDIR/tests/fixtures/vectors.tsv
  [ -f "$f" ] || return 1
  : >"$3"
  : >"$4"
  awk -F '\t' -v prefix="$1" -v mode="$2" -v frames="$3" -v expect="$4" '
    # binary64 bits (16 hex digits) -> the double, exactly: the 52-bit
    # mantissa and the power-of-two scaling are exact in double arithmetic.
    function hexval(h,    i, v) {
      v = 0
      for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(tolower(h), i, 1)) - 1
      return v
    }
    function bits2num(b,    hi, sign, e, m) {
      hi = hexval(substr(b, 1, 3))
      sign = hi >= 2048 ? -1 : 1
      e = hi % 2048
      m = hexval(substr(b, 4))
      if (e == 2047) return m == 0 ? (sign < 0 ? "-inf" : "inf") : "nan"
      if (e == 0) return sprintf("%f", sign * m * 2 ^ -1074)
      return sprintf("%f", sign * (1 + m / 2 ^ 52) * 2 ^ (e - 1023))
    }
    $1 == "G" { on = index($2, prefix) == 1; next }
    !on || $1 != "F" || $2 == "-" || $3 == "-" || $3 ~ /^error/ { next }
    {
      print $2 > frames
      n = split($3, parts, " ")
      for (i = 1; i <= n; i++) {
        if (mode == "single") { if (i == 1) { ch = parts[1]; continue } v = parts[i] }
        else if (mode == "multi") { ch = substr(parts[i], 1, index(parts[i], ":") - 1); v = substr(parts[i], index(parts[i], ":") + 1) }
        else { ch = i - 1; v = parts[i] }
        print ch, bits2num(v) > expect
      }
    }' "$f"
  [ -s "$3" ] || return 1
  echo "$f (extract)"
}

# ---------------------------------------------------------------- plugin statistics

# Last value the alec plugin reported for one of its statistics (host
# it-receiver, plugin instance "fleet"), e.g. derive-values_dispatched or
# errors-rejected_decode; empty when not written yet.
it_stat() { it_csv_last it-receiver alec-fleet "$1" | awk '{ printf "%.0f\n", $1 }'; }

# Sum of the plugin's rejection counters (errors-rejected_*).
it_stat_rejected() {
  local f sum=0 v
  for f in "$IT_CSV"/it-receiver/alec-fleet/errors-rejected_*-[0-9]*; do
    [ -f "$f" ] || continue
    v=$(tail -n 1 "$f" | cut -d, -f2)
    case "$v" in value | "") continue ;; esac
    sum=$(awk -v a="$sum" -v b="$v" 'BEGIN { printf "%.0f", a + b }')
  done
  echo "$sum"
}

# Rejection counters that are not zero, "kind=N ..." sorted.
it_stat_rejections() {
  local f v k
  for f in "$IT_CSV"/it-receiver/alec-fleet/errors-rejected_*-[0-9]*; do
    [ -f "$f" ] || continue
    v=$(tail -n 1 "$f" | cut -d, -f2)
    k=${f##*/errors-rejected_}
    k=${k%-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]}
    case "$v" in value | "" | 0) continue ;; esac
    printf '%s=%.0f\n' "$k" "$v"
  done | sort | tr '\n' ' '
}

# Waits (at most $3 s) until statistic $1 reports at least $2.
it_wait_stat() { it_wait_for "${3:-15}" it__stat_at_least "$1" "$2"; }
it__stat_at_least() {
  local v
  v=$(it_stat "$1")
  [ -n "$v" ] && [ "$v" -ge "$2" ]
}
