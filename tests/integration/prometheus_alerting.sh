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
. "$(dirname "$0")/alertmanager_lib.sh"

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
mkdir -p "$IT_TMP/prom"
am_start "$am_port" "$hook_port"

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

am_poll_start
it_wait_for 10 it_port_bound "$WR_PORT" || it_fail "alec plugin does not listen on $WR_PORT"
WR_T0=$(date +%s.%N)
it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$WR_PORT" --scenario recovery \
  --emitters "$WR_EMITTERS" --steps "$WR_STEPS" --rate "$WR_RATE" --format single
WR_SEND_PID=$IT_BG_PID
wr_fleet_wait

# Step 501, the first deviating one, leaves 25 s after t0 at the earliest.
am_verify "$TARGET_HOST" 30 "$(awk -v t="$WR_T0" -v e="$WR_EMITTERS" -v r="$WR_RATE" 'BEGIN { printf "%.3f", t + 500 * e / r }')"

it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || { tail -n 5 "$IT_TMP/prometheus.log" "$IT_TMP/alertmanager.log"; exit 1; }
exit 0
