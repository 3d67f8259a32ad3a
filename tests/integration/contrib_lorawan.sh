#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped LoRaWAN configurations work as shipped: contrib/collectd-chirpstack.conf
# and contrib/collectd-tts.conf, with only what a test must change rewritten
# (paths into the test directory, the broker on a free loopback port, no TLS
# or credentials, TTS's topic widened to the emulator's applications), pass
# `collectd -T`, and then receive a small EM500-CO2 fleet (LoRaWAN device
# emulator: reference-compatible encoder, TLV fallback on cold start and
# keyframes) published through Debian's mosquitto as each network server
# delivers it. Every value lands in csv as the device measured it (register
# units times the config's Multiply), under the device's name, in the group
# the config's GroupFrom gives; 0 held back, 0 refused.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
[ -r "$IT_SRCDIR/tests/integration/mqtt_lib.sh" ] || it_skip "no MQTT transport in this tree (tests/integration/mqtt_lib.sh)"
. "$IT_SRCDIR/tests/integration/mqtt_lib.sh"
mq_require
SIM=$(it_find_build src/tools/alec-lorawan-sim) || it_skip "alec-lorawan-sim is not built"
it_mktemp
port=$(mq_free_port)
mq_conf "$port"
mq_start

# The shipped file with the test's paths and ports: every other line as shipped.
rewrite() {
  local src=$1 dialect=$2 udp=$3
  sed -e "s|^Hostname .*|Hostname \"it-receiver\"\nBaseDir \"$IT_TMP\"|" \
    -e "s|^Interval .*|Interval 1|" \
    -e "s|^TypesDB .*|TypesDB \"$IT_STOCK_TYPESDB\" \"$IT_SRCDIR/contrib/alec.types.db\"|" \
    -e "s|^  File STDOUT|  File \"$IT_LOG\"|" \
    -e "s|^  DataDir .*|  DataDir \"$IT_CSV\"|" \
    -e "s|^LoadPlugin alec|PluginDir \"$IT_PLUGIN_DIR\"\nLoadPlugin alec|" \
    -e "s|^  Listen \"127.0.0.1\" \"25830\"|  Listen \"127.0.0.1\" \"$udp\"|" \
    -e "s|^  StateFile .*|  StateFile \"$IT_TMP/$dialect.state\"|" \
    -e "s|^    Host .*|    Host \"127.0.0.1\"|" \
    -e "s|^    Port .*|    Port $port|" \
    -e "/^    \(CACert\|ClientCert\|ClientKey\|User\|Password\) /d" \
    -e "s|^    Topic \"v3/[^\"]*\"|    Topic \"v3/+/devices/+/up\"|" \
    "$src"
}

for dialect in chirpstack tts; do
  shipped=$IT_SRCDIR/contrib/collectd-$dialect.conf
  [ -r "$shipped" ] || it_fail "$shipped is missing"
  IT_CSV=$IT_TMP/csv-$dialect
  mkdir -p "$IT_CSV"
  udp=$(it_free_port)
  rewrite "$shipped" "$dialect" "$udp" >"$IT_CONF"
  # Nothing of the test's may be left pointing outside its directory.
  if grep -n -E '/var/lib|/usr/share/collectd-alec|thethings|STDOUT' "$IT_CONF" | grep -v '^[0-9]*:[[:space:]]*#'; then
    it_fail "$dialect: the rewrite left a line pointing outside the test"
  fi
  if it_collectd_test_config; then
    it_ok "$dialect: collectd -T accepts contrib/collectd-$dialect.conf"
  else
    cat "$IT_TMP/collectd-T.out"
    it_fail "$dialect: collectd -T refuses contrib/collectd-$dialect.conf"
  fi

  # A recent weekday from 00:00 UTC (it_weekday_start): the emulator's default
  # start is a fixed date, which the plugin stops taking as the uplinks' time
  # once it is more than 7 days old (TimestampTolerance), part way through.
  start=$(it_weekday_start 21600)
  simargs="--devices 4 --days 0.25 --no-outage --loss 0 --seed 11 --start $start"
  # shellcheck disable=SC2086
  "$SIM" $simargs --format "$dialect" --topics >"$IT_TMP/$dialect.events" || it_fail "alec-lorawan-sim $dialect"
  # shellcheck disable=SC2086
  "$SIM" $simargs --format jsonl >"$IT_TMP/$dialect.truth" || it_fail "alec-lorawan-sim jsonl"
  n=$(wc -l <"$IT_TMP/$dialect.truth")
  n_tlv=$(grep -c '"kind":"tlv"' "$IT_TMP/$dialect.truth")

  it_start
  it_wait_for 10 it_log_has "MQTT \"[a-z]*\".*connected to" || it_fail "$dialect: the client did not connect"
  "$MQ_LORAPUB" pub --port "$port" --id "it-contrib-$dialect" "$IT_TMP/$dialect.events" >"$IT_TMP/$dialect.pub" ||
    it_fail "$dialect: publishing"

  # What the config must give: per host, type and type_instance, the values
  # in arrival order (register * Multiply as the shipped Channel lines say).
  awk '{
      match($0, /"device":[0-9]+/); d = substr($0, RSTART + 9, RLENGTH - 9)
      match($0, /"truth":\[[^]]*\]/); split(substr($0, RSTART + 9, RLENGTH - 10), v, ",")
      h = sprintf("em500-%03d", d)
      printf "%s percent-battery %.6f\n", h, v[1]
      printf "%s temperature-air %.6f\n", h, v[2] * 0.1
      printf "%s humidity-air %.6f\n", h, v[3] * 0.5
      printf "%s gauge-co2 %.6f\n", h, v[4]
      printf "%s pressure-air %.6f\n", h, v[5] * 0.1
    }' "$IT_TMP/$dialect.truth" | sort -s -k1,2 >"$IT_TMP/$dialect.want"
  want=$(wc -l <"$IT_TMP/$dialect.want")
  got_values() {
    local f rel
    for f in "$IT_CSV"/em500-*/alec*/*-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]; do
      [ -f "$f" ] || continue
      rel=${f#"$IT_CSV"/}
      case $rel in */lora_*) continue ;; esac
      tail -n +2 "$f" | awk -F, -v r="$rel" '{ split(r, p, "/"); t = p[3]; sub(/-[0-9]+-[0-9]+-[0-9]+$/, "", t); printf "%s %s %s\n", p[1], t, $2 }'
    done | sort -s -k1,2
  }
  enough() { [ "$(got_values | wc -l)" -ge "$want" ]; }
  it_wait_for 60 enough || it_check_fail "$dialect: $(got_values | wc -l) values stored, want $want"
  got_values >"$IT_TMP/$dialect.got"
  if cmp -s "$IT_TMP/$dialect.want" "$IT_TMP/$dialect.got"; then
    it_ok "$dialect: $want values of $n uplinks ($n_tlv TLV fallbacks) land exactly, under the device names"
  else
    it_check_fail "$dialect: stored values differ from the devices' (want / got):"
    diff "$IT_TMP/$dialect.want" "$IT_TMP/$dialect.got" | head -n 10
  fi
  # GroupFrom as shipped: ChirpStack "tag:site" (the emulator's devices have
  # no such tag: no group), TTS "application" (the application id).
  case $dialect in
    chirpstack) groups=$(cd "$IT_CSV" && ls -d em500-*/alec 2>/dev/null | wc -l) ;;
    tts) groups=$(cd "$IT_CSV" && ls -d em500-*/alec-building-* 2>/dev/null | wc -l) ;;
  esac
  [ "$groups" -eq 4 ] && it_ok "$dialect: the group of every device is the one GroupFrom gives" ||
    it_check_fail "$dialect: $groups of 4 devices in the expected group"
  it_stop
  it_log_has "shut down; $n messages, $want values dispatched, 0 held back, 0 rejected" ||
    it_check_fail "$dialect: $(grep -o 'shut down;.*' "$IT_LOG" | tail -n 1)"
done
mq_stop
exit "$IT_FAILED"
