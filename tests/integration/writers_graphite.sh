#!/bin/bash
# SPDX-License-Identifier: MIT
# collectd -> Graphite with contrib/writers/graphite.conf: a private
# carbon-cache (every listener on 127.0.0.1, free ports, storage in the test
# directory, 1 s resolution) receives write_graphite's plaintext protocol.
# After the spike fleet run, whisper-fetch reads back emitter 5's values, the
# anomaly score and state of emitters 5 and 3 and the fleet statistics:
# emitter 5's score must be high once step 500 is past, emitter 3's low all
# along.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/writers_lib.sh"

wr_require carbon-cache whisper-fetch
it_require_plugin
it_mktemp

# ---- carbon-cache, private configuration (Debian's binds 0.0.0.0 and
# switches to user _graphite).
g=$IT_TMP/graphite
mkdir -p "$g/conf" "$g/storage/whisper" "$g/log" "$g/run" || it_fail "mkdir $g"
line_port=$(wr_free_port)
pickle_port=$(wr_free_port)
query_port=$(wr_free_port)
cat >"$g/conf/carbon.conf" <<EOF
[cache]
STORAGE_DIR = $g/storage/
LOCAL_DATA_DIR = $g/storage/whisper/
WHITELISTS_DIR = $g/storage/lists/
CONF_DIR = $g/conf/
LOG_DIR = $g/log/
PID_DIR = $g/run/
USER =
DATABASE = whisper
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
# The defaults (500 updates/s, 50 new files/min) would delay the ~60 files
# of this run by a minute.
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $line_port
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $pickle_port
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $query_port
ENABLE_MANHOLE = False
CARBON_METRIC_INTERVAL = 0
LOG_LISTENER_CONN_SUCCESS = False
WHISPER_AUTOFLUSH = False
EOF
cat >"$g/conf/storage-schemas.conf" <<EOF
[everything]
pattern = .*
retentions = 1s:1h
EOF
wr_daemon carbon carbon-cache "--config=$g/conf/carbon.conf" "--pidfile=$g/run/carbon-cache.pid" \
  --nodaemon "--logdir=$g/log" start
carbon_pid=$WR_PID
wr_wait_listen carbon "$carbon_pid" "$line_port" 60

# ---- collectd with write_graphite -> carbon, and the fleet.
it_conf_begin
wr_include_snippet graphite.conf "s|\"2003\"|\"$line_port\"|"
wr_conf_fleet
it_start
wr_run_fleet
# Scores are written every interval; collect a few more after the run, then
# stop collectd (write_graphite flushes at shutdown).
sleep 3
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"

# ---- read back. Path: collectd.<host>.alec-<group>.<type>-<type_instance>.
w=$g/storage/whisper/collectd
from=$(awk -v t="$WR_T0" 'BEGIN { printf "%d", t - 10 }')
# "time value" rows with a value, of one whisper file ($1 relative to $w).
points() {
  [ -f "$w/$1.wsp" ] || return 0
  whisper-fetch --from="$from" "$w/$1.wsp" 2>/dev/null | awk '$2 != "None"'
}
v5=$WR_HOST_TARGET/alec-$WR_GROUP/$WR_TYPE-$WR_TI
v3=$WR_HOST_OTHER/alec-$WR_GROUP/$WR_TYPE-$WR_TI
sc5=$WR_HOST_TARGET/alec-$WR_GROUP/alec_score-$WR_TYPE-$WR_TI
sc3=$WR_HOST_OTHER/alec-$WR_GROUP/alec_score-$WR_TYPE-$WR_TI
an5=$WR_HOST_TARGET/alec-$WR_GROUP/alec_anomaly-$WR_TYPE-$WR_TI
fleet_emitters=$WR_RECEIVER/alec-fleet/count-emitters
fleet_frames=$WR_RECEIVER/alec-fleet/derive-frames
# carbon writes its cache to the files asynchronously: wait until the last
# score written (after the run) is on disk.
last_ok() { [ "$(points "$1" | awk -v t="$2" '$1 >= t' | wc -l)" -ge 1 ]; }
t_end=$(awk -v t="$WR_T_END" 'BEGIN { printf "%d", t }')
for f in $v5 $v3 $sc5 $sc3 $an5 $fleet_emitters $fleet_frames; do
  it_wait_for 30 last_ok "$f" "$((t_end - 2))" || it_check_fail "$f.wsp: no point at or after $((t_end - 2)) within 30 s"
done
wr_stop "$carbon_pid"

# Emitter 5's values: about one per second of the run (whisper keeps the
# last value of each second), about 20 above emitter 3's after step 500.
n5=$(points "$v5" | wc -l)
min_points=$(awk -v s="$WR_STEPS" -v e="$WR_EMITTERS" -v r="$WR_RATE" 'BEGIN { printf "%d", s * e / r * 0.7 }')
if [ "$n5" -ge "$min_points" ]; then
  it_ok "$v5: $n5 points"
else
  it_check_fail "$v5: $n5 points, want at least $min_points"
fi
t_after=$(awk -v t="$WR_T_SPIKE" 'BEGIN { printf "%d", t + 2 }')
mean_after() { points "$1" | awk -v t="$t_after" -v e="$t_end" '$1 >= t && $1 < e { s += $2; n++ } END { if (n) printf "%.3f", s / n }'; }
m5=$(mean_after "$v5")
m3=$(mean_after "$v3")
if awk -v a="$m5" -v b="$m3" 'BEGIN { exit !(a != "" && b != "" && a - b > 15 && a - b < 25) }'; then
  it_ok "after step 500: $WR_HOST_TARGET mean $m5, $WR_HOST_OTHER mean $m3"
else
  it_check_fail "after step 500: $WR_HOST_TARGET mean '$m5', $WR_HOST_OTHER mean '$m3' (want about 20 apart)"
fi

# Scores: every point of emitter 5 from 2 s after step 500 on above the
# threshold (and at least 3 of them), emitter 3 below it all along, also
# emitter 5 before the deviation.
points "$sc5" >"$IT_TMP/score5.txt"
points "$sc3" >"$IT_TMP/score3.txt"
t_before=$(awk -v t="$WR_T_SPIKE" 'BEGIN { printf "%d", t - 1 }')
high=$(awk -v t="$t_after" -v th="$WR_THRESHOLD" '$1 >= t && $2 > th' "$IT_TMP/score5.txt" | wc -l)
not_high=$(awk -v t="$t_after" -v th="$WR_THRESHOLD" '$1 >= t && $2 <= th' "$IT_TMP/score5.txt" | wc -l)
early_high=$(awk -v t="$t_before" -v th="$WR_THRESHOLD" '$1 < t && ($2 > th || -$2 > th)' "$IT_TMP/score5.txt" | wc -l)
other_high=$(awk -v th="$WR_THRESHOLD" '$2 > th || -$2 > th' "$IT_TMP/score3.txt" | wc -l)
other_n=$(wc -l <"$IT_TMP/score3.txt")
if [ "$high" -ge 3 ] && [ "$not_high" -eq 0 ] && [ "$early_high" -eq 0 ] && [ "$other_n" -ge 3 ] && [ "$other_high" -eq 0 ]; then
  it_ok "alec_score: $WR_HOST_TARGET above $WR_THRESHOLD at all $high points after step 500 (last $(tail -n 1 "$IT_TMP/score5.txt" | cut -f2)), $WR_HOST_OTHER below at all $other_n points (last $(tail -n 1 "$IT_TMP/score3.txt" | cut -f2))"
else
  it_check_fail "alec_score: $WR_HOST_TARGET $high high / $not_high not high after step 500, $early_high high before; $WR_HOST_OTHER $other_high of $other_n high"
  cat "$IT_TMP/score5.txt"
fi
st5=$(points "$an5" | tail -n 1 | awk '{ printf "%d", $2 }')
if [ "$st5" = 2 ]; then
  it_ok "alec_anomaly: $WR_HOST_TARGET in failure state (2)"
else
  it_check_fail "alec_anomaly: $WR_HOST_TARGET last state '$st5', want 2"
fi

# Fleet statistics (StoreRates: derive-frames arrives as frames/s).
ne=$(points "$fleet_emitters" | tail -n 1 | awk '{ printf "%d", $2 }')
fps=$(points "$fleet_frames" | awk '{ if ($2 > m) m = $2 } END { printf "%.0f", m }')
if [ "$ne" = "$WR_EMITTERS" ] && awk -v f="$fps" -v r="$WR_RATE" 'BEGIN { exit !(f > 0.5 * r && f < 1.5 * r) }'; then
  it_ok "fleet: count-emitters $ne, derive-frames up to $fps frames/s"
else
  it_check_fail "fleet: count-emitters '$ne' (want $WR_EMITTERS), derive-frames max '$fps'/s (want about $WR_RATE)"
fi

[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
