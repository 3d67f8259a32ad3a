#!/bin/bash
# SPDX-License-Identifier: MIT
# Housekeeping has its own clock (docs/SECURITY.md, findings "state file
# errors" and "long EvaluationInterval"):
# - an unwritable StateFile with StateInterval 0.2 is retried every 0.2 s
#   but logged at most once per 5 minutes, with the count of failures not
#   logged (it used to write an ERROR line per attempt: 509 in 5 s);
# - with EvaluationInterval 86400 the state file is still saved every
#   StateInterval and the dashboard still answers (it used to answer 503 and
#   never save, both waiting for an evaluation).
IT_LIMIT=120
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
free_tcp_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    awk -v p="$(printf ':%04X' "$p")" 'NR > 1 && substr($2, length($2) - 4) == p { f = 1 } END { exit f }' \
      /proc/net/tcp /proc/net/tcp6 && { echo "$p"; return 0; }
  done
  it_fail "no free TCP port found"
}
dport=$(free_tcp_port)

# --- unwritable state file: once collectd runs, the path becomes a
# non-empty directory (root writes anywhere else), so every save's rename
# fails.
BAD=$IT_TMP/bad.state
it_conf_begin
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  StateFile \"$BAD\"
  StateInterval 0.2"
it_start_alec "$port"
mkdir -p "$BAD" && : >"$BAD/keep"
sleep 5
n=$(grep -c "option \`StateFile'" "$IT_LOG" || true)
it_stop
if [ "$n" -ge 1 ] && [ "$n" -le 2 ]; then
  it_ok "unwritable StateFile: $n log line(s) in 5 s at StateInterval 0.2"
else
  it_check_fail "unwritable StateFile: $n log lines in 5 s (want 1 or 2)"
fi

# --- EvaluationInterval 86400: state saves and the dashboard go on.
STATE=$IT_TMP/alec.state
it_conf_begin
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  StateFile \"$STATE\"
  StateInterval 1
  <Fleet>
    EvaluationInterval 86400
  </Fleet>
  <Dashboard>
    Listen \"127.0.0.1\" \"$dport\"
  </Dashboard>"
it_start_alec "$port"
"$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario noisy --emitters 3 --steps 20 --rate 100 --quiet ||
  it_fail "alec-send failed"
state_saved() { [ -s "$STATE" ]; }
it_wait_for 5 state_saved && it_ok "state saved with EvaluationInterval 86400" ||
  it_check_fail "no state file 5 s after start with EvaluationInterval 86400 and StateInterval 1"
status() {
  { exec 9<>"/dev/tcp/127.0.0.1/$dport"; } 2>/dev/null || return 1
  printf 'GET /api/fleet HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&9
  HTTP_STATUS=$(timeout 5 head -n 1 <&9 | awk '{print $2}')
  exec 9<&- 9>&-
  [ "$HTTP_STATUS" = 200 ]
}
it_wait_for 5 status && it_ok "dashboard answers 200 with EvaluationInterval 86400" ||
  it_check_fail "dashboard answers ${HTTP_STATUS:-nothing} with EvaluationInterval 86400"
it_stop
[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
