#!/bin/bash
# SPDX-License-Identifier: MIT
# EmitterFile in the real daemon: three emitters known only from the file
# (UnknownEmitters "reject") land with the file's host names and groups;
# while they keep sending, the file is replaced with a new group for one of
# them, whose next values carry the new group; then it is replaced with a
# broken line, which is logged and counted and keeps the registry.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"

it_require_plugin
it_mktemp
port=$(it_free_port)
EMITTERS=3
STEPS=2400
REG=$IT_TMP/emitters
replace_reg() { # atomically, a new inode
  printf '%s\n' "$@" >"$REG.new" && chmod 0600 "$REG.new" && mv "$REG.new" "$REG"
}
replace_reg "# id host group profile" \
  "0 fa-0 north thermo" \
  "1 \"fa-1\" north thermo   # quoted" \
  "2 fa-2 south thermo"

it_conf_begin
it_conf_csv
it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  ReceiveBufferSize 4194304
  UnknownEmitters \"reject\"
  EmitterFile \"$REG\"
  <Fleet>
    EvaluationInterval 0.1
  </Fleet>
  <Profile \"thermo\">
    Channel 0 \"temperature\" \"room\"
  </Profile>"
it_start_alec "$port"
it_log_has "EmitterFile .*: 3 emitters" || it_check_fail "the EmitterFile was not loaded at start"

rows() { it_csv_count "$1" "alec-$2" temperature-room; }
log_count() { grep -c -E "$1" "$IT_LOG" 2>/dev/null || true; }
it__log_count_is() { [ "$(log_count "$1")" -ge "$2" ]; }

# 2400 steps of 3 emitters at 600 frames/s: about 12 s of traffic.
it_bg "$IT_TMP/send.out" "$IT_ALEC_SEND" --to "127.0.0.1:$port" --scenario recovery \
  --emitters "$EMITTERS" --steps "$STEPS" --rate $((EMITTERS * 200)) --format single
it_wait_rows fa-2 alec-south temperature-room 200 20 || it_check_fail "fa-2 did not land in group south"

replace_reg "0 fa-0 north thermo" "1 fa-1 north thermo" "2 fa-2 east thermo"
it_wait_for 5 it__log_count_is "EmitterFile .*reloaded: 3 emitters" 1 || it_check_fail "the new EmitterFile was not loaded"
it_wait_rows fa-2 alec-east temperature-room 200 10 || it_check_fail "fa-2 did not move to group east"

replace_reg "0 fa-0 north thermo" "2 fa-2 west nosuchprofile"
it_wait_for 5 it__log_count_is "EmitterFile .*line 2: no <Profile \"nosuchprofile\">.*keeping the 3 emitters" 1 ||
  it_check_fail "the broken EmitterFile was not reported"
east_at_break=$(rows fa-2 east)

it_bg_wait "$IT_BG_PID" 60 || it_fail "alec-send did not finish in 60 s"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "alec-send failed ($IT_STATUS)"; }
for i in 0 1; do
  it_wait_rows "fa-$i" alec-north temperature-room "$STEPS" 20 ||
    it_check_fail "fa-$i: $(rows "fa-$i" north) values in group north, want $STEPS"
done
it_wait_for 20 eval '[ $(( $(rows fa-2 south) + $(rows fa-2 east) )) -ge '"$STEPS"' ]' ||
  it_check_fail "fa-2: $(rows fa-2 south) + $(rows fa-2 east) values, want $STEPS"
[ "$(rows fa-2 east)" -gt "$east_at_break" ] || it_check_fail "fa-2 left group east after the broken file"
[ -z "$(it_csv_files fa-2 alec-west temperature-room)" ] || it_check_fail "the broken file's group was applied"
[ -z "$(ls "$IT_CSV" | grep -v -E '^(fa-[012]|it-receiver)$')" ] ||
  it_check_fail "values under other hosts: $(ls "$IT_CSV" | tr '\n' ' ')"
it_wait_stat derive-emitter_file_errors 1 10 || true
[ "$(it_stat derive-emitter_file_reloads)" = 1 ] ||
  it_check_fail "emitter_file_reloads $(it_stat derive-emitter_file_reloads), want 1"
[ "$(it_stat derive-emitter_file_errors)" = 1 ] ||
  it_check_fail "emitter_file_errors $(it_stat derive-emitter_file_errors), want 1"
it_say "fa-2: $(rows fa-2 south) values in south, $(rows fa-2 east) in east"
it_say "log: $(grep -E 'EmitterFile' "$IT_LOG" | sed 's/^.*alec plugin: //' | tr '\n' '|')"

kill -0 "$IT_PID" 2>/dev/null || it_check_fail "collectd died"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "3 emitters from the EmitterFile; a group changed without restart; a broken file kept the registry"
exit 0
