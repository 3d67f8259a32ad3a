#!/bin/bash
# SPDX-License-Identifier: MIT
# Prometheus-native alerting end to end, with the real daemons on loopback:
# collectd (write_prometheus from contrib/writers/prometheus.conf, the alec
# plugin), Prometheus (contrib/prometheus/prometheus.yml evaluating
# contrib/prometheus/alec.rules.yml, 1 s intervals) and Alertmanager
# (webhook to a loopback receiver, send_resolved). The recovery fleet:
# emitter 5 of 10 runs 20 degrees above its peers for steps 501..700, then
# comes back. Alertmanager's API (/api/v2/alerts, polled) must show an alert
# of emitter 5 active and later none; its webhook must have delivered the
# alert firing and then resolved; no alert may ever name another emitter.
IT_LIMIT=115
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/writers_lib.sh"

wr_require curl python3 prometheus prometheus-alertmanager
it_require_collectd
so=/usr/lib/collectd/write_prometheus.so
[ -f "$(dirname "$(readlink -f "$COLLECTD_BIN")")/../lib/collectd/write_prometheus.so" ] &&
  so=$(dirname "$(readlink -f "$COLLECTD_BIN")")/../lib/collectd/write_prometheus.so
[ -f "$so" ] || it_skip "collectd plugin write_prometheus not found"
ldd "$so" 2>/dev/null | grep -q 'not found' && it_skip "write_prometheus lacks libraries"
it_require_plugin
it_mktemp

# 800 steps at 20 steps/s: 25 s in line, 10 s off, 5 s back in line.
WR_RATE=200
WR_STEPS=800
TARGET_HOST=$(wr_host "$WR_TARGET")
# Four distinct ports (each pick runs in a subshell that forgets the last).
ports=""
while [ "$(echo $ports | wc -w)" -lt 4 ]; do
  p=$(wr_free_port)
  case " $ports " in *" $p "*) ;; *) ports="$ports $p" ;; esac
done
read -r wp_port prom_port am_port hook_port <<<"$ports"
hook_log=$IT_TMP/webhook.log
api_log=$IT_TMP/am_api.log

# ---- Alertmanager: one route to the webhook, fast grouping.
mkdir -p "$IT_TMP/am" "$IT_TMP/prom"
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
      - url: "http://127.0.0.1:$hook_port/"
        send_resolved: true
EOF
wr_http_sink "$hook_port" "$hook_log"
# No cluster listener: it would bind 0.0.0.0:9094.
wr_daemon alertmanager prometheus-alertmanager --config.file="$IT_TMP/alertmanager.yml" \
  --storage.path="$IT_TMP/am" --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address=
AM_PID=$WR_PID
wr_wait_listen alertmanager "$AM_PID" "$am_port" 20

# ---- Prometheus: the shipped configuration, rewritten.
sed -e "s|scrape_interval: 15s|scrape_interval: 1s|" \
  -e "s|evaluation_interval: 15s|evaluation_interval: 1s|" \
  -e "s|\"/usr/share/collectd-alec/prometheus/alec.rules.yml\"|\"$IT_SRCDIR/contrib/prometheus/alec.rules.yml\"|" \
  -e "s|127.0.0.1:9093|127.0.0.1:$am_port|" \
  -e "s|127.0.0.1:9103|127.0.0.1:$wp_port|" \
  "$IT_SRCDIR/contrib/prometheus/prometheus.yml" >"$IT_TMP/prometheus.yml" || it_fail "cannot write prometheus.yml"
if grep -v '^ *#' "$IT_TMP/prometheus.yml" | grep -n -E '15s|/usr/share|:9093|:9103'; then
  it_fail "contrib/prometheus/prometheus.yml changed: the rewrite above no longer covers it"
fi
wr_daemon prometheus prometheus --config.file="$IT_TMP/prometheus.yml" --storage.tsdb.path="$IT_TMP/prom" \
  --web.listen-address="127.0.0.1:$prom_port" --rules.alert.resend-delay=1s
PROM_PID=$WR_PID
wr_wait_listen prometheus "$PROM_PID" "$prom_port" 30

# ---- collectd: write_prometheus and the fleet.
it_conf_begin
wr_include_snippet prometheus.conf "s|\"9103\"|\"$wp_port\"|"
wr_conf_fleet
it_start
wr_wait_listen collectd "$IT_PID" "$wp_port" 10
it_wait_for 20 sh -c "curl -s -f -m 2 'http://127.0.0.1:$prom_port/api/v1/rules' | grep -q AlecEmitterFailure" ||
  it_fail "Prometheus has not loaded the alec rules"

# ---- Alertmanager's API, polled every 0.5 s while the fleet runs.
poll() {
  while :; do
    printf '%s ' "$(date +%s.%N)"
    curl -s -m 2 "http://127.0.0.1:$am_port/api/v2/alerts" | tr -d '\n'
    echo
    sleep 0.5
  done
}
poll >"$api_log" 2>/dev/null &
POLL_PID=$!
IT_BG_PIDS="$IT_BG_PIDS $POLL_PID"

it_wait_for 10 it_port_bound "$WR_PORT" || it_fail "alec plugin does not listen on $WR_PORT"
WR_T0=$(date +%s.%N)
it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$WR_PORT" --scenario recovery \
  --emitters "$WR_EMITTERS" --steps "$WR_STEPS" --rate "$WR_RATE" --format single
WR_SEND_PID=$IT_BG_PID
wr_fleet_wait

# Resolved once the webhook got the resolution (it follows the API).
resolved() { grep -q '"status": *"resolved"' "$hook_log" && grep -q "$TARGET_HOST" "$hook_log"; }
it_wait_for 30 resolved || it_check_fail "no resolved notification from Alertmanager within 30 s after the run"
sleep 2
it_kill_pid "$POLL_PID" 5
IT_BG_PIDS=$(echo "$IT_BG_PIDS" | tr ' ' '\n' | grep -vx "$POLL_PID" | tr '\n' ' ')
curl -s -f -m 5 "http://127.0.0.1:$prom_port/api/v1/alerts" >"$IT_TMP/prom_alerts.json" || true

python3 - "$api_log" "$hook_log" "$TARGET_HOST" "$WR_T0" <<'EOF'
import json
import sys

api_log, hook_log, target, t0 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
fail = []
# Alertmanager's API: (time, alerts) per poll.
polls = []
for line in open(api_log):
    t, _, body = line.partition(" ")
    try:
        polls.append((float(t), json.loads(body)))
    except ValueError:
        continue
if not polls:
    fail.append("no answer from Alertmanager's API")
first_active = None
others = set()
for t, alerts in polls:
    for a in alerts:
        lab = a.get("labels", {})
        host = lab.get("host", "")
        if host == target and a.get("status", {}).get("state") == "active":
            if first_active is None:
                first_active = (t, lab)
        elif host != target:
            others.add((lab.get("alertname"), host))
if first_active is None:
    fail.append("Alertmanager's API never showed an active alert for " + target)
else:
    t, lab = first_active
    print("prometheus_alerting: ok: API: %s active at t0+%.1f s, labels group=%s host=%s channel=%s severity=%s"
          % (lab.get("alertname"), t - t0, lab.get("group"), lab.get("host"), lab.get("channel"), lab.get("severity")))
    # Step 501 leaves 25 s after t0 at the earliest (paced sender).
    if t < t0 + 25:
        fail.append("alert active at t0+%.1f s, before the deviation was sent" % (t - t0))
    for k in ("group", "host", "channel", "severity"):
        if not lab.get(k):
            fail.append("alert without label " + k)
if polls:
    last_t, last = polls[-1]
    still = [a["labels"].get("alertname") for a in last if a.get("labels", {}).get("host") == target]
    if still:
        fail.append("still active in the last poll: %s" % still)
    elif first_active:
        gone = next((t for t, al in polls if t > first_active[0]
                     and not any(a.get("labels", {}).get("host") == target for a in al)), None)
        print("prometheus_alerting: ok: API: no alert for %s from t0+%.1f s" % (target, gone - t0))
if others:
    fail.append("alerts for other emitters or kinds: %s" % sorted(others))
# The webhook: firing then resolved, for the target only.
events = []
for line in open(hook_log):
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    for a in msg.get("alerts", []):
        events.append((a.get("status"), a["labels"].get("alertname"), a["labels"].get("host")))
hosts = {h for _, _, h in events}
if hosts - {target}:
    fail.append("webhook notifications for %s" % sorted(hosts - {target}))
st = [s for s, _, h in events if h == target]
if "firing" not in st or "resolved" not in st or st.index("firing") > len(st) - 1 - st[::-1].index("resolved"):
    fail.append("webhook: want firing then resolved for %s, got %s" % (target, st))
else:
    print("prometheus_alerting: ok: webhook: %s" % ", ".join("%s %s" % (n, s) for s, n, h in events))
for f in fail:
    print("prometheus_alerting: FAIL: " + f)
sys.exit(1 if fail else 0)
EOF
[ $? -eq 0 ] || IT_FAILED=1

it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || { tail -n 5 "$IT_TMP/prometheus.log" "$IT_TMP/alertmanager.log"; exit 1; }
exit 0
