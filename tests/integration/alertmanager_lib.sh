# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Alertmanager for tests/integration/prometheus_alerting.sh and
# writers_alertmanager.sh, sourced after lib.sh and writers_lib.sh: a real
# prometheus-alertmanager on a free loopback port (no cluster listener),
# one route to a webhook receiver (writers_lib.sh's HTTP sink) with
# send_resolved, its API polled into a file, and the check that the alerts
# of one emitter fired and resolved and that no other emitter alerted.

# Starts Alertmanager and its webhook sink on the ports $1 (API) and $2
# (webhook). Sets AM_PORT, AM_HOOK_LOG.
am_start() {
  AM_PORT=$1
  AM_HOOK_LOG=$IT_TMP/webhook.log
  mkdir -p "$IT_TMP/am" || it_fail "mkdir $IT_TMP/am"
  cat >"$IT_TMP/alertmanager.yml" <<EOF
route:
  receiver: sink
  group_by: ["alertname", "group", "host", "channel"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: "http://127.0.0.1:$2/"
        send_resolved: true
EOF
  wr_http_sink "$2" "$AM_HOOK_LOG"
  # No cluster listener: it would bind 0.0.0.0:9094.
  wr_daemon alertmanager prometheus-alertmanager --config.file="$IT_TMP/alertmanager.yml" \
    --storage.path="$IT_TMP/am" --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address=
  wr_wait_listen alertmanager "$WR_PID" "$AM_PORT" 20
  it_wait_for 20 curl -s -f -m 2 -o /dev/null "http://127.0.0.1:$AM_PORT/api/v2/status" ||
    it_fail "Alertmanager does not answer /api/v2/status"
}

# Polls GET /api/v2/alerts every 0.5 s into $IT_TMP/am_api.log ("<epoch>
# <json>" per line) until am_poll_stop.
am_poll_start() {
  AM_API_LOG=$IT_TMP/am_api.log
  (
    while :; do
      printf '%s ' "$(date +%s.%N)"
      curl -s -m 2 "http://127.0.0.1:$AM_PORT/api/v2/alerts" | tr -d '\n'
      echo
      sleep 0.5
    done
  ) >"$AM_API_LOG" 2>/dev/null &
  AM_POLL_PID=$!
  IT_BG_PIDS="$IT_BG_PIDS $AM_POLL_PID"
}
am_poll_stop() {
  it_kill_pid "$AM_POLL_PID" 5
  IT_BG_PIDS=$(echo "$IT_BG_PIDS" | tr ' ' '\n' | grep -vx "$AM_POLL_PID" | tr '\n' ' ')
}

# True once the webhook delivered a resolved notification for host $1.
am_resolved() { grep -q '"status": *"resolved"' "$AM_HOOK_LOG" && grep -q "\"host\": *\"$1\"" "$AM_HOOK_LOG"; }

# Waits (at most $2 s) for the resolution of host $1's alerts, stops the
# poller and checks both logs: an active alert of host $1 in the API, not
# before epoch $3, carrying the labels group, host, channel and severity;
# none of host $1 in the last poll; the webhook's firing then resolved; no
# alert of any other host or kind. Failures go through it_check_fail.
am_verify() {
  local target=$1 bound=$2 earliest=$3
  it_wait_for "$bound" am_resolved "$target" ||
    it_check_fail "no resolved notification of $target from Alertmanager within $bound s"
  sleep 1
  am_poll_stop
  python3 - "$AM_API_LOG" "$AM_HOOK_LOG" "$target" "$earliest" "$IT_NAME" <<'EOF' || IT_FAILED=1
import json
import sys

api_log, hook_log, target, earliest, name = sys.argv[1:6]
earliest = float(earliest)
fail = []
polls = []
for line in open(api_log):
    t, _, body = line.partition(" ")
    try:
        polls.append((float(t), json.loads(body)))
    except ValueError:
        continue
if not polls:
    fail.append("no answer from Alertmanager's API")
first = None
others = set()
for t, alerts in polls:
    for a in alerts:
        lab = a.get("labels", {})
        if lab.get("host") == target:
            if first is None and a.get("status", {}).get("state") == "active":
                first = (t, lab)
        else:
            others.add((lab.get("alertname"), lab.get("host")))
if first is None:
    fail.append("Alertmanager's API never showed an active alert for " + target)
else:
    t, lab = first
    print("%s: ok: API: %s active %.1f s after the deviation was sent, labels group=%s host=%s channel=%s severity=%s"
          % (name, lab.get("alertname"), t - earliest, lab.get("group"), lab.get("host"), lab.get("channel"),
             lab.get("severity")))
    if t < earliest:
        fail.append("alert active %.1f s before the deviation was sent" % (earliest - t))
    for k in ("group", "host", "channel", "severity"):
        if not lab.get(k):
            fail.append("alert without label " + k)
if polls and first:
    still = [a["labels"].get("alertname") for a in polls[-1][1] if a.get("labels", {}).get("host") == target]
    if still:
        fail.append("still active in the last poll: %s" % still)
    else:
        gone = next(t for t, al in polls
                    if t > first[0] and not any(a.get("labels", {}).get("host") == target for a in al))
        print("%s: ok: API: no alert of %s any more %.1f s after it was first active" % (name, target, gone - first[0]))
if others:
    fail.append("alerts of other emitters or kinds: %s" % sorted(others))
events = []
for line in open(hook_log):
    line = line.strip()
    if line:
        for a in json.loads(line).get("alerts", []):
            events.append((a.get("status"), a["labels"].get("alertname"), a["labels"].get("host")))
if {h for _, _, h in events} - {target}:
    fail.append("webhook notifications of %s" % sorted({h for _, _, h in events} - {target}))
st = [s for s, _, h in events if h == target]
if "firing" not in st or "resolved" not in st or st.index("firing") > max(i for i, s in enumerate(st) if s == "resolved"):
    fail.append("webhook: want firing then resolved for %s, got %s" % (target, st))
else:
    print("%s: ok: webhook: %s" % (name, ", ".join("%s %s" % (n, s) for s, n, _ in events)))
for f in fail:
    print("%s: FAIL: %s" % (name, f))
sys.exit(1 if fail else 0)
EOF
}
