#!/bin/bash
# SPDX-License-Identifier: MIT
# UnknownEmitters policy. "accept": an emitter without <Emitter> block is
# received under the default host name alec-<16 hex digits of its id>, with
# the default names (plugin instance empty, gauge / ch<N>). "reject": its
# frames land nowhere and are counted as rejected_unknown_emitter, while a
# configured emitter sending at the same time still lands.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
UNKNOWN=0xABCDEF0123  # never configured
KNOWN=7
UNKNOWN_HOST=alec-000000abcdef0123

src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/all.frames" "$IT_TMP/all.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
# The first 40 frames (the extract of tests/fixtures has 52).
head -n 40 "$IT_TMP/all.frames" >"$IT_TMP/frames"
for ch in 0 1; do
  awk -v c="$ch" '$1 == c { print $2 }' "$IT_TMP/all.expect" | head -n 40 >"$IT_TMP/ch$ch.want"
done

send() { # emitter id
  "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$1" --format fixed --channels 2 --rate 2000 \
    --quiet --hex "$IT_TMP/frames" || it_fail "alec-send --emitter $1 failed"
}

check_values() { # host plugin-dir
  local ch
  for ch in 0 1; do
    it_wait_rows "$1" "$2" "gauge-ch$ch" 40 20 ||
      { it_check_fail "$1: $(it_csv_count "$1" "$2" "gauge-ch$ch") values for ch$ch, want 40"; continue; }
    it_csv_rows "$1" "$2" "gauge-ch$ch" | cut -d, -f2 | cmp -s - "$IT_TMP/ch$ch.want" ||
      it_check_fail "$1 ch$ch: values differ from the reference's"
  done
}

for policy in accept reject; do
  port=$(it_free_port)
  IT_CSV=$IT_TMP/csv-$policy
  it_conf_begin
  it_conf_csv
  it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  UnknownEmitters \"$policy\"
  <Emitter $KNOWN>
    Host \"known\"
    Group \"site\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
  it_start_alec "$port"
  send "$UNKNOWN"
  send "$KNOWN"
  check_values known alec-site
  if [ "$policy" = accept ]; then
    check_values "$UNKNOWN_HOST" alec
    [ "$IT_FAILED" -eq 0 ] && it_ok "accept: unknown emitter $UNKNOWN landed as $UNKNOWN_HOST/alec/gauge-ch{0,1}"
    it_wait_stat derive-values_dispatched 160 15 || it_check_fail "values_dispatched $(it_stat derive-values_dispatched), want 160"
    [ "$(it_stat_rejected)" = 0 ] || it_check_fail "accept: rejections $(it_stat_rejections)"
  else
    it_wait_stat errors-rejected_unknown_emitter 40 15 ||
      it_check_fail "reject: rejected_unknown_emitter is $(it_stat errors-rejected_unknown_emitter), want 40"
    sleep 1.2
    [ "$(it_stat errors-rejected_unknown_emitter)" = 40 ] ||
      it_check_fail "reject: rejected_unknown_emitter is $(it_stat errors-rejected_unknown_emitter), want 40"
    [ "$(it_stat derive-values_dispatched)" = 80 ] ||
      it_check_fail "reject: values_dispatched $(it_stat derive-values_dispatched), want 80 (the known emitter's)"
    others=$(ls "$IT_CSV" | grep -v -x -e known -e it-receiver || true)
    [ -z "$others" ] || it_check_fail "reject: values landed for $(echo $others)"
    it_log_has 'unknown emitter' || it_check_fail "reject: the log does not mention the unknown emitter"
    [ "$IT_FAILED" -eq 0 ] && it_ok "reject: 40 frames of $UNKNOWN refused and counted, nothing landed, the known emitter did"
  fi
  it_stop
  [ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd ($policy) exited with status $IT_STATUS"
done
[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
