#!/bin/bash
# SPDX-License-Identifier: MIT
# collectd -> Prometheus with contrib/writers/prometheus.conf (write_prometheus
# on a free loopback port) and the notification paths of
# contrib/writers/notifications.conf (logfile, exec running
# contrib/writers/notify.sh, write_http posting JSON to a loopback
# receiver). After the spike fleet run, /metrics is scraped with curl: the
# value, score and state of emitter 5 and the fleet statistics must be
# there; the FAILURE notification of emitter 5 must have reached all three.
IT_LIMIT=150
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/writers_lib.sh"

wr_require curl python3
it_require_collectd
for p in write_prometheus write_http exec; do
  so=$(dirname "$(readlink -f "$COLLECTD_BIN")")/../lib/collectd/$p.so
  [ -f "$so" ] || so=/usr/lib/collectd/$p.so
  [ -f "$so" ] || it_skip "collectd plugin $p not found"
  if ldd "$so" 2>/dev/null | grep -q 'not found'; then
    it_skip "collectd plugin $p lacks libraries: $(ldd "$so" | grep 'not found' | awk '{ print $1 }' | tr '\n' ' ')"
  fi
done
it_require_plugin
it_mktemp

prom_port=$(wr_free_port)
http_port=$(wr_free_port)
notify_log=$IT_TMP/notify.log
http_log=$IT_TMP/http.log
wr_http_sink "$http_port" "$http_log"
# The exec user reads the script and writes the file.
cp "$IT_SRCDIR/contrib/writers/notify.sh" "$IT_TMP/notify.sh" && chmod 0755 "$IT_TMP/notify.sh" ||
  it_fail "cannot copy notify.sh"
: >"$notify_log"
chmod 0666 "$notify_log"

it_conf_begin
wr_include_snippet prometheus.conf "s|\"9103\"|\"$prom_port\"|"
# logfile: the same file as lib.sh's own block (it is loaded first).
wr_include_snippet notifications.conf \
  "s|\"/var/log/collectd.log\"|\"$IT_LOG\"|" \
  "s|\"nobody:nogroup\" \"/usr/share/collectd-alec/notify.sh\"\$|\"$(it_exec_user)\" \"$IT_TMP/notify.sh\" \"$notify_log\"|" \
  "s|http://127.0.0.1:8080/|http://127.0.0.1:$http_port/|"
grep -q "$IT_TMP/notify.sh" "$IT_TMP/notifications.conf" || it_fail "NotificationExec line of notifications.conf not found"
wr_conf_fleet
it_start
wr_wait_listen collectd "$IT_PID" "$prom_port" 10
# Scrape while the fleet still sends, 3 s after step 500 (scores are
# written every interval): write_prometheus drops a metric as soon as
# collectd's cache sees it missing (Timeout x Interval without an update,
# 2 s here), so the values of emitters that went silent are gone.
wr_fleet_start
wr_sleep_until "$(awk -v t="$WR_T_SPIKE" 'BEGIN { printf "%.3f", t + 3 }')"
kill -0 "$WR_SEND_PID" 2>/dev/null || it_say "note: alec-send finished before the scrape (slow machine?)"
curl -s -f -m 10 "http://127.0.0.1:$prom_port/metrics" >"$IT_TMP/metrics.txt" || it_fail "cannot scrape /metrics"
wr_fleet_wait
# The fleet statistics once every frame has been counted (read every 1 s).
sleep 2
curl -s -f -m 10 "http://127.0.0.1:$prom_port/metrics" >"$IT_TMP/metrics_end.txt" || it_fail "cannot scrape /metrics"
it_say "scraped $(grep -c -v '^#' "$IT_TMP/metrics.txt") samples, $(grep -c '^# TYPE' "$IT_TMP/metrics.txt") families"

# Value of the first sample of family $1 whose labels contain all of $2...
# (each "name=\"value\""), empty if none; in scrape $METRICS.
METRICS=$IT_TMP/metrics.txt
sample() {
  local fam=$1
  shift
  awk -v fam="$fam" -v want="$*" '
    $0 ~ /^#/ { next }
    {
      name = $1; sub(/\{.*/, "", name)
      if (name != fam) next
      n = split(want, w, " ")
      for (i = 1; i <= n; i++) if (index($1, w[i]) == 0) next
      print $2; exit
    }' "$METRICS"
}
lab() { printf '%s="%s"' "$1" "$2"; }

v5=$(sample "collectd_alec_$WR_TYPE" "$(lab alec "$WR_GROUP")" "$(lab type "$WR_TI")" "$(lab instance "$WR_HOST_TARGET")")
v3=$(sample "collectd_alec_$WR_TYPE" "$(lab alec "$WR_GROUP")" "$(lab type "$WR_TI")" "$(lab instance "$WR_HOST_OTHER")")
if awk -v a="$v5" -v b="$v3" 'BEGIN { exit !(a != "" && b != "" && a - b > 10) }'; then
  it_ok "collectd_alec_$WR_TYPE: $WR_HOST_TARGET $v5, $WR_HOST_OTHER $v3"
else
  it_check_fail "collectd_alec_$WR_TYPE: $WR_HOST_TARGET '$v5', $WR_HOST_OTHER '$v3' (want both, 5 well above)"
fi
ch=$(lab type "$WR_TYPE-$WR_TI")
s5=$(sample collectd_alec_alec_score "$ch" "$(lab instance "$WR_HOST_TARGET")")
s3=$(sample collectd_alec_alec_score "$ch" "$(lab instance "$WR_HOST_OTHER")")
a5=$(sample collectd_alec_alec_anomaly "$ch" "$(lab instance "$WR_HOST_TARGET")")
a3=$(sample collectd_alec_alec_anomaly "$ch" "$(lab instance "$WR_HOST_OTHER")")
if awk -v a="$s5" -v b="$s3" -v t="$WR_THRESHOLD" 'BEGIN { exit !(a != "" && b != "" && a > t && b < t && -b < t) }' &&
  [ "$a5" = 2 ] && [ "$a3" = 0 ]; then
  it_ok "collectd_alec_alec_score/alec_anomaly: $WR_HOST_TARGET $s5/$a5, $WR_HOST_OTHER $s3/$a3"
else
  it_check_fail "score/state: $WR_HOST_TARGET '$s5'/'$a5' (want > $WR_THRESHOLD / 2), $WR_HOST_OTHER '$s3'/'$a3'"
fi

METRICS=$IT_TMP/metrics_end.txt
fl=("$(lab alec fleet)" "$(lab instance "$WR_RECEIVER")")
got="emitters=$(sample collectd_alec_count "${fl[@]}" "$(lab type emitters)")"
got="$got active=$(sample collectd_alec_count "${fl[@]}" "$(lab type emitters_active)")"
got="$got anomalies=$(sample collectd_alec_count "${fl[@]}" "$(lab type anomalies_active)")"
got="$got frames=$(sample collectd_alec_derive_total "${fl[@]}" "$(lab type frames)")"
got="$got lost=$(sample collectd_alec_derive_total "${fl[@]}" "$(lab type lost_frames)")"
got="$got decode_errors=$(sample collectd_alec_errors_total "${fl[@]}" "$(lab type rejected_decode)")"
want="emitters=$WR_EMITTERS active=$WR_EMITTERS anomalies=1 frames=$((WR_EMITTERS * WR_STEPS)) lost=0 decode_errors=0"
if [ "$got" = "$want" ]; then
  it_ok "fleet statistics: $got"
else
  it_check_fail "fleet statistics: got [$got], want [$want]"
  grep 'alec="fleet"' "$METRICS" | head -n 40
fi
ratio=$(sample collectd_alec_gauge "${fl[@]}" "$(lab type compression_ratio)")
awk -v r="$ratio" 'BEGIN { exit !(r + 0 > 0) }' || it_check_fail "compression_ratio '$ratio'"

it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"

# --- notifications: the FAILURE of emitter 5, through the three paths.
ident="$WR_HOST_TARGET/alec-$WR_GROUP/$WR_TYPE-$WR_TI"
if grep -q -E "Notification: severity = FAILURE, host = $WR_HOST_TARGET, plugin = alec, plugin_instance = $WR_GROUP" "$IT_LOG"; then
  it_ok "logfile: FAILURE notification of $WR_HOST_TARGET"
else
  it_check_fail "logfile: no FAILURE notification of $WR_HOST_TARGET"
fi
# exec runs the script asynchronously.
it_wait_for 10 grep -q " FAILURE $ident score=" "$notify_log" ||
  it_check_fail "notify.sh: no FAILURE line for $ident in its file"
if grep -q " FAILURE $ident score=" "$notify_log"; then
  it_ok "notify.sh: $(grep " FAILURE $ident " "$notify_log" | head -n 1 | cut -c1-200)"
fi
# The group's SILENT notification when the sender stops is about the group.
others=$(grep -v -F " $WR_HOST_TARGET/" "$notify_log" | grep -v -E '/(silent|stale)( |$)' | grep -c . || true)
[ "$others" -eq 0 ] || it_check_fail "notify.sh: $others lines for other emitters"
if python3 - "$http_log" "$WR_HOST_TARGET" "$WR_GROUP" <<'EOF'; then
import json
import sys

found = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    # collectd 5.12's JSON notification: a list of alerts in the format of
    # Prometheus' Alertmanager (labels, annotations, startsAt).
    for n in json.loads(line):
        labels = n.get("labels", {})
        notes = n.get("annotations", {})
        if (labels.get("severity") == "FAILURE" and labels.get("instance") == sys.argv[2]
                and labels.get("alec") == sys.argv[3] and "Score" in notes
                and "deviates from its fleet" in notes.get("summary", "")):
            found += 1
sys.exit(0 if found == 1 else 1)
EOF
  it_ok "write_http: one JSON FAILURE notification of $WR_HOST_TARGET with annotation Score"
else
  it_check_fail "write_http: want one JSON FAILURE notification of $WR_HOST_TARGET; got: $(cut -c1-600 "$http_log")"
fi

[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
