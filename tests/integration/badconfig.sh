#!/bin/bash
# SPDX-License-Identifier: MIT
# Wrong configurations are refused: for each, `collectd -T -C` (which loads the
# plugins and runs init; -t does nothing in 5.12) exits non-zero, and the log
# or the daemon's output names the offending option. A correct configuration
# built the same way passes, so every refusal is the bad line's doing.
IT_LIMIT=240
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)

GOOD_PROFILE='  <Profile "thermo">
    Format "fixed"
    Channels 2
    Scale 100
    Group "site-a"
    Channel 0 "temperature" "indoor"
  </Profile>
  <Emitter 5>
    Profile "thermo"
    Host "sensor-5"
  </Emitter>'

# Writes a configuration whose <Plugin alec> body is $1.
write_conf() {
  it_conf_begin
  it_conf_csv
  it_conf_alec "$1"
  mv "$IT_CONF" "$2"
  IT_CONF=$IT_TMP/collectd.conf
}

n=0
run_case() { # name, option the log must name, body
  local name=$1 option=$2 body=$3 conf out
  n=$((n + 1))
  conf=$IT_TMP/case$n.conf
  out=$IT_TMP/case$n.out
  : >"$IT_LOG"
  write_conf "$body" "$conf"
  if it_collectd_test_config "$conf" "$out"; then
    it_check_fail "$name: collectd -T accepted it"
    return
  fi
  if ! grep -q -i -F -- "$option" "$out" "$IT_LOG"; then
    it_check_fail "$name: refused, but neither the log nor the output names $option"
    sed 's/^/    /' "$IT_LOG" "$out" | tail -n 8
    return
  fi
  it_ok "$name: refused, names $option: $(grep -h -i -F -- "$option" "$IT_LOG" "$out" | head -n 1 | cut -c1-150)"
}

LISTEN="  Listen \"127.0.0.1\" \"$port\""

# The baseline: every option of the documented syntax, accepted.
write_conf "$LISTEN
  ReceiveBufferSize 4194304
  QueueLength 65536
  MaxEmitters 10000
  EmitterTimeout 300
  UnknownEmitters \"accept\"
  NotifyPriority \"P1\"
  <Fleet>
    Threshold 3.5
    ExitThreshold 2.5
    FailureThreshold 7.0
    EnterCount 3
    ExitCount 5
    MinPeers 3
    EvaluationInterval 0.1
    SyncInterval 60
    MADFloor 0.01
  </Fleet>
$GOOD_PROFILE" "$IT_TMP/good.conf"
: >"$IT_LOG"
if ! it_collectd_test_config "$IT_TMP/good.conf" "$IT_TMP/good.out"; then
  cat "$IT_TMP/good.out"
  tail -n 20 "$IT_LOG"
  it_fail "collectd -T refuses the correct configuration"
fi
it_ok "the complete documented configuration passes collectd -T"

run_case "unknown option" "Bogus" "$LISTEN
  Bogus 1
$GOOD_PROFILE"

run_case "unknown type" "nosuchtype" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 2
    Channel 0 \"nosuchtype\" \"x\"
  </Profile>"

run_case "type with two data sources" "Channel" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 2
    Channel 0 \"load\" \"x\"
  </Profile>"

run_case "bad port" "Listen" "  Listen \"127.0.0.1\" \"notaport\"
$GOOD_PROFILE"

run_case "port out of range" "Listen" "  Listen \"127.0.0.1\" \"70000\"
$GOOD_PROFILE"

run_case "bad format" "Format" "$LISTEN
  <Profile \"p\">
    Format \"triple\"
  </Profile>"

run_case "zero MaxEmitters" "MaxEmitters" "$LISTEN
  MaxEmitters 0
$GOOD_PROFILE"

run_case "Channel index out of range" "Channel" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 2
    Channel 5 \"gauge\" \"x\"
  </Profile>"

run_case "fixed Channels out of range" "Channels" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 65
  </Profile>"

run_case "unknown UnknownEmitters policy" "UnknownEmitters" "$LISTEN
  UnknownEmitters \"maybe\""

run_case "bad NotifyPriority" "NotifyPriority" "$LISTEN
  NotifyPriority \"P9\""

run_case "ExitThreshold above Threshold" "ExitThreshold" "$LISTEN
  <Fleet>
    Threshold 3.5
    ExitThreshold 5
  </Fleet>"

run_case "negative EvaluationInterval" "EvaluationInterval" "$LISTEN
  <Fleet>
    EvaluationInterval -1
  </Fleet>"

run_case "undefined profile" "Profile" "$LISTEN
  <Emitter 7>
    Profile \"nope\"
  </Emitter>"

run_case "bad emitter id" "Emitter" "$LISTEN
  <Emitter \"sensor\">
    Host \"x\"
  </Emitter>"

run_case "string where a number belongs" "QueueLength" "$LISTEN
  QueueLength \"many\""

[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "$n wrong configurations refused"
exit 0
