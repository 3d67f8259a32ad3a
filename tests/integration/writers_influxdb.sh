#!/bin/bash
# SPDX-License-Identifier: MIT
# collectd -> InfluxDB 1.x with the shipped configurations: influxd runs
# contrib/writers/influxd/influxdb.conf (rewritten to private directories and
# free loopback ports; its [[collectd]] typesdb directory holds the stock
# types.db and contrib/alec.types.db), collectd includes
# contrib/writers/influxdb.conf (network plugin). After the spike fleet run,
# the values of emitter 5, its anomaly score and state and the fleet
# statistics are queried back with the influx CLI.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/writers_lib.sh"

wr_require influxd influx curl
it_require_plugin
it_mktemp

wr_influx_start
wr_influx_fleet

# All of emitter 5's values (their times are unique per emitter, so InfluxDB
# keeps every one); a few may still be in the network plugin's buffer.
sel="FROM \"alec_value\" WHERE \"host\" = '$WR_HOST_TARGET' AND \"instance\" = '$WR_GROUP'"
q_count="SELECT count(\"value\") $sel AND \"type\" = '$WR_TYPE' AND \"type_instance\" = '$WR_TI'"
wr_influx_wait "$q_count" "$WR_STEPS" 20
n=$(wr_influx_query "$q_count" | awk -F, '{ print $NF }')
if [ "${n:-0}" -eq "$WR_STEPS" ]; then
  it_ok "$WR_HOST_TARGET: $n values of $WR_TYPE-$WR_TI in InfluxDB"
else
  it_check_fail "$WR_HOST_TARGET: ${n:-0} values of $WR_TYPE-$WR_TI in InfluxDB, want $WR_STEPS"
fi

# The values after step 500: emitter 5 about 20 above emitter 3.
spike_ns=$(awk -v t="$WR_T_SPIKE" 'BEGIN { printf "%.0f", (t + 0.5) * 1e9 }')
eval_ns=$(awk -v t="$WR_T_SPIKE" 'BEGIN { printf "%.0f", (t + 2) * 1e9 }')
mean_after() {
  wr_influx_query "SELECT mean(\"value\") FROM \"alec_value\" WHERE \"host\" = '$1' AND \"type\" = '$WR_TYPE'
    AND \"type_instance\" = '$WR_TI' AND time > ${spike_ns}" | awk -F, '{ print $NF }'
}
m5=$(mean_after "$WR_HOST_TARGET")
m3=$(mean_after "$WR_HOST_OTHER")
if awk -v a="$m5" -v b="$m3" 'BEGIN { exit !(a != "" && b != "" && a - b > 15 && a - b < 25) }'; then
  it_ok "after step 500: mean $m5 for $WR_HOST_TARGET, $m3 for $WR_HOST_OTHER"
else
  it_check_fail "after step 500: mean '$m5' for $WR_HOST_TARGET, '$m3' for $WR_HOST_OTHER (want about 20 apart)"
fi

# Scores: the plugin writes them every interval while the emitter is active.
q_score="SELECT last(\"value\") FROM \"alec_value\" WHERE \"type\" = 'alec_score'
  AND \"type_instance\" = '$WR_TYPE-$WR_TI' AND \"host\" = "
wr_influx_wait "SELECT count(\"value\") FROM \"alec_value\" WHERE \"type\" = 'alec_score'
  AND \"host\" = '$WR_HOST_TARGET' AND time > ${eval_ns}" 2 15
s5=$(wr_influx_query "$q_score'$WR_HOST_TARGET'" | awk -F, '{ print $NF }')
s3=$(wr_influx_query "$q_score'$WR_HOST_OTHER'" | awk -F, '{ print $NF }')
# Minimum of emitter 5's score once the deviation had time to be evaluated,
# maximum |score| of emitter 3 over the whole run.
s5min=$(wr_influx_query "SELECT min(\"value\") FROM \"alec_value\" WHERE \"type\" = 'alec_score'
  AND \"host\" = '$WR_HOST_TARGET' AND time > ${eval_ns}" | awk -F, '{ print $NF }')
s3max=$(wr_influx_query "SELECT max(\"value\"), min(\"value\") FROM \"alec_value\" WHERE \"type\" = 'alec_score'
  AND \"host\" = '$WR_HOST_OTHER'" | awk -F, '{ a = $(NF - 1); b = -$NF; print (a > b ? a : b) }')
if awk -v a="$s5min" -v b="$s3max" -v t="$WR_THRESHOLD" 'BEGIN { exit !(a != "" && b != "" && a > t && b < t) }'; then
  it_ok "alec_score: $WR_HOST_TARGET last $s5 (min $s5min after the spike), $WR_HOST_OTHER last $s3 (max |z| $s3max)"
else
  it_check_fail "alec_score: $WR_HOST_TARGET last '$s5' min '$s5min' after the spike, $WR_HOST_OTHER max |z| '$s3max' (threshold $WR_THRESHOLD)"
fi
st5=$(wr_influx_query "SELECT last(\"value\") FROM \"alec_value\" WHERE \"type\" = 'alec_anomaly'
  AND \"host\" = '$WR_HOST_TARGET'" | awk -F, '{ print $NF }')
st3=$(wr_influx_query "SELECT max(\"value\") FROM \"alec_value\" WHERE \"type\" = 'alec_anomaly'
  AND \"host\" = '$WR_HOST_OTHER'" | awk -F, '{ print $NF }')
if [ "$st5" = 2 ] && [ "$st3" = 0 ]; then
  it_ok "alec_anomaly: $WR_HOST_TARGET $st5 (failure), $WR_HOST_OTHER never above $st3"
else
  it_check_fail "alec_anomaly: $WR_HOST_TARGET '$st5' (want 2), $WR_HOST_OTHER max '$st3' (want 0)"
fi

# Fleet statistics of the receiving collectd.
fleet() {
  wr_influx_query "SELECT last(\"value\") FROM \"alec_value\" WHERE \"host\" = '$WR_RECEIVER'
    AND \"instance\" = 'fleet' AND \"type\" = '$1' AND \"type_instance\" = '$2'" | awk -F, '{ print $NF }'
}
wr_influx_wait "SELECT last(\"value\") FROM \"alec_value\" WHERE \"host\" = '$WR_RECEIVER'
    AND \"instance\" = 'fleet' AND \"type\" = 'derive' AND \"type_instance\" = 'frames'" \
  $((WR_EMITTERS * WR_STEPS)) 15
got="emitters=$(fleet count emitters) emitters_active=$(fleet count emitters_active)"
got="$got anomalies_active=$(fleet count anomalies_active) frames=$(fleet derive frames)"
got="$got rejected_decode=$(fleet errors rejected_decode) lost_frames=$(fleet derive lost_frames)"
want="emitters=$WR_EMITTERS emitters_active=$WR_EMITTERS anomalies_active=1 frames=$((WR_EMITTERS * WR_STEPS))"
want="$want rejected_decode=0 lost_frames=0"
if [ "$got" = "$want" ]; then
  it_ok "fleet statistics: $got"
else
  it_check_fail "fleet statistics: got [$got], want [$want]"
fi

it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
wr_influx_stop
[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
