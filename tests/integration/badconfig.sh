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

LISTEN="  Listen \"127.0.0.1\" \"$port\""

# The baseline: every option of the documented syntax, accepted.
it_write_conf "$LISTEN
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

it_refuse_case "unknown option" "Bogus" "$LISTEN
  Bogus 1
$GOOD_PROFILE"

it_refuse_case "unknown type" "nosuchtype" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 2
    Channel 0 \"nosuchtype\" \"x\"
  </Profile>"

it_refuse_case "type with two data sources" "Channel" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 2
    Channel 0 \"load\" \"x\"
  </Profile>"

# A repeated single-valued option or block would silently win.
it_refuse_case "MaxEmitters twice" "option \`MaxEmitters': given twice" "$LISTEN
  MaxEmitters 100
  MaxEmitters 200"
it_refuse_case "two <Dashboard> blocks" "option \`Dashboard': given twice" "$LISTEN
  <Dashboard>
    History 10
  </Dashboard>
  <Dashboard>
    History 20
  </Dashboard>"

it_refuse_case "bad port" "Listen" "  Listen \"127.0.0.1\" \"notaport\"
$GOOD_PROFILE"

it_refuse_case "port out of range" "Listen" "  Listen \"127.0.0.1\" \"70000\"
$GOOD_PROFILE"

it_refuse_case "bad format" "Format" "$LISTEN
  <Profile \"p\">
    Format \"triple\"
  </Profile>"

it_refuse_case "zero MaxEmitters" "MaxEmitters" "$LISTEN
  MaxEmitters 0
$GOOD_PROFILE"

it_refuse_case "Channel index out of range" "Channel" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 2
    Channel 5 \"gauge\" \"x\"
  </Profile>"

it_refuse_case "fixed Channels out of range" "Channels" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Channels 65
  </Profile>"

it_refuse_case "unknown UnknownEmitters policy" "UnknownEmitters" "$LISTEN
  UnknownEmitters \"maybe\""

it_refuse_case "bad NotifyPriority" "NotifyPriority" "$LISTEN
  NotifyPriority \"P9\""

it_refuse_case "ExitThreshold above Threshold" "ExitThreshold" "$LISTEN
  <Fleet>
    Threshold 3.5
    ExitThreshold 5
  </Fleet>"

it_refuse_case "negative EvaluationInterval" "EvaluationInterval" "$LISTEN
  <Fleet>
    EvaluationInterval -1
  </Fleet>"

it_refuse_case "undefined profile" "Profile" "$LISTEN
  <Emitter 7>
    Profile \"nope\"
  </Emitter>"

it_refuse_case "bad emitter id" "Emitter" "$LISTEN
  <Emitter \"sensor\">
    Host \"x\"
  </Emitter>"

it_refuse_case "string where a number belongs" "QueueLength" "$LISTEN
  QueueLength \"many\""

# <Profile> and <Emitter> rows (issue 13 finding 16): a single-valued
# option given twice is refused by name, ranges as in the other tables.
it_refuse_case "Format twice in a profile" "option \`Format' in <Profile \"p\">: given twice" "$LISTEN
  <Profile \"p\">
    Format \"fixed\"
    Format \"multi\"
  </Profile>"

it_refuse_case "Host twice in an emitter" "option \`Host' in <Emitter 7>: given twice" "$LISTEN
  <Emitter 7>
    Host \"a\"
    Host \"b\"
  </Emitter>"

it_refuse_case "Scale out of range" "option \`Scale' in <Emitter 7>" "$LISTEN
  <Emitter 7>
    Scale 4294967296
  </Emitter>"

[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "$IT_REFUSED wrong configurations refused"
exit 0
