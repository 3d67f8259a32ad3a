#!/bin/bash
# SPDX-License-Identifier: MIT
# The LoRaWAN demo (README, second demo): a fleet of 20 EM500-CO2-like
# devices (tests' emulator alec-lorawan-sim: reference-compatible encoder,
# Milesight TLV fallback on cold start and keyframes, 2 % radio loss) for
# one day of 10-minute uplinks, delivered the way ChirpStack v4 delivers
# them: JSON uplink events on a real mosquitto (started here on loopback),
# received by a real collectd with the alec plugin's <MQTT> block. Shows the
# values landing per device (host = deviceName, group = application), the
# keyframe requests going back as ChirpStack downlinks, and the plugin's
# MQTT statistics; stops everything it started (by PID).
#
#   contrib/demo-lorawan.sh     build tree: ./build (override: ALEC_BUILDDIR)
#
# Run contrib/demo.sh first (it builds), or `make check` in the build tree.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${ALEC_BUILDDIR:-$top/build}
export ALEC_BUILDDIR="$build" ALEC_SRCDIR="$top"
IT_LIMIT=180
. "$top/tests/integration/lib.sh"
IT_NAME=demo-lorawan
IT_KEEP=1
. "$top/tests/integration/mqtt_lib.sh"

it_require_plugin
if ! it_find_build tests/integration/lorapub >/dev/null; then
  make -C "$build" tests/integration/lorapub >/dev/null 2>&1 || it_fail "cannot build tests/integration/lorapub"
fi
mq_require
SIM=$(it_find_build src/tools/alec-lorawan-sim) || it_fail "alec-lorawan-sim is not built (make in $build)"
it_mktemp "$build/demo-lorawan"
port=$(mq_free_port)
mq_conf "$port"
mq_start
echo "== mosquitto on 127.0.0.1:$port (pid $MQ_PID), persistence in $IT_TMP/mosquitto"

"$SIM" --devices 20 --days 1 --loss 2 --no-outage --format chirpstack --topics >"$IT_TMP/uplinks.events" ||
  it_fail "alec-lorawan-sim failed"
n=$(wc -l <"$IT_TMP/uplinks.events")
echo "== fleet: 20 devices, 1 day of uplinks every 10 min, 2 % lost on the radio: $n ChirpStack uplink events"

it_conf_begin
it_conf_csv
it_conf_alec "  UnknownEmitters \"accept\"
  StateFile \"$IT_TMP/alec.state\"
  <Profile \"em500-co2\">
    Format \"fixed\"
    Channels 5
    Fallback \"milesight-tlv\"
    TLV \"battery\" 0
    TLV \"temperature\" 1
    TLV \"humidity\" 2
    TLV \"co2\" 3
    TLV \"pressure\" 4
    Channel 0 \"percent\" \"battery\"
    Channel 1 \"temperature\" \"air\" Multiply 0.1
    Channel 2 \"humidity\" \"air\" Multiply 0.5
    Channel 3 \"gauge\" \"co2\"
    Channel 4 \"pressure\" \"air\" Multiply 0.1
  </Profile>
  <MQTT \"chirpstack\">
    Host \"127.0.0.1\"
    Port $port
    Dialect \"chirpstack\"
    FPort 85 \"em500-co2\"
    GroupFrom \"application\"
    DownlinkBudget 10
    DownlinkInterval 600
  </MQTT>"
it_start
it_wait_for 10 it_log_has 'MQTT "chirpstack".*connected to' || it_fail "the plugin did not connect to mosquitto"
echo "== collectd: $COLLECTD_BIN -f -C $IT_CONF   (pid $IT_PID)"

it_bg "$IT_TMP/downlinks.txt" mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -v -t 'application/+/device/+/command/down'
sub_pid=$IT_BG_PID
sleep 0.5
echo "== publishing (QoS 1, as ChirpStack's MQTT integration)"
"$MQ_LORAPUB" pub --port "$port" --id demo-chirpstack "$IT_TMP/uplinks.events" | sed 's/^/   /' ||
  it_fail "publishing failed"
sleep 3
it_kill_pid "$sub_pid" 5

echo "== values per device (csv: $IT_CSV/<deviceName>/alec-<application>/)"
printf '   %-12s %-12s %8s %12s %10s %10s\n' device application values "temperature" "CO2 ppm" "pressure"
for d in "$IT_CSV"/em500-*; do
  [ -d "$d" ] || continue
  h=$(basename "$d")
  for g in "$d"/alec-*; do
    app=${g##*/alec-}
    rows=$(awk 'FNR > 1' "$g"/temperature-air-* "$g"/gauge-co2-* "$g"/percent-battery-* "$g"/humidity-air-* \
      "$g"/pressure-air-* 2>/dev/null | wc -l)
    printf '   %-12s %-12s %8s %12s %10s %10s\n' "$h" "$app" "$rows" \
      "$(it_csv_last "$h" "alec-$app" temperature-air)" "$(it_csv_last "$h" "alec-$app" gauge-co2)" \
      "$(it_csv_last "$h" "alec-$app" pressure-air)"
  done
done
echo "== keyframe requests sent back as ChirpStack downlinks (first 5 of $(wc -l <"$IT_TMP/downlinks.txt"))"
head -n 5 "$IT_TMP/downlinks.txt" | sed 's/^/   /'
echo "== plugin statistics (it-receiver/alec-fleet, it-receiver/alec-mqtt-chirpstack)"
for s in derive-values_dispatched derive-values_held_back derive-lost_frames derive-resync_requests derive-resync_suppressed; do
  printf '   %-28s %s\n' "$s" "$(it_stat "$s")"
done
for s in packets-messages derive-duplicates derive-downlinks gauge-connected; do
  printf '   %-28s %s\n' "$s" "$(mq_stat chirpstack "$s")"
done
it_stop
mq_stop
echo "== stopped collectd and mosquitto; files kept in $IT_TMP"
exit 0
