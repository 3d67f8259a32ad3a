#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile state files (docs/SECURITY.md): the plugin's StateFile (the
# "resync" feature) is replaced by random bytes, an empty file, a truncated
# or bit-flipped or extended copy of a real state, headers with a valid CRC
# announcing 2^32-1 emitters or a 4 GiB decoder blob, a 1 GiB sparse file,
# a directory, a FIFO and a link to /dev/zero. For each, collectd must start
# (never hang, never crash, no sanitizer report), log that the state was
# refused and start clean, and decode a fresh stream exactly. A real state
# file restores first, so the refusals are the files' doing. Skips when the
# plugin has no StateFile option.
IT_LIMIT=300
. "$(dirname "$0")/lib.sh"

it_require_plugin
grep -a -q 'StateFile' "$IT_PLUGIN_SO" || it_skip "the plugin has no StateFile option (resync feature not built)"
it_mktemp
port=$(it_free_port)
GOOD=103
src=$(it_golden s3_fixed_hvac fixed "$IT_TMP/good.frames" "$IT_TMP/good.expect") ||
  it_skip "no s3 golden vectors (neither \$ALEC_SHARED/vectors nor tests/fixtures)"
head -n 100 "$IT_TMP/good.frames" >"$IT_TMP/first.frames"
sed -n 101,200p "$IT_TMP/good.frames" >"$IT_TMP/second.frames"
STATE=$IT_TMP/alec.state

start_with() { # state file path
  it_conf_begin
  it_conf_csv
  it_conf_alec "  Listen \"127.0.0.1\" \"$port\"
  StateFile \"$1\"
  StateInterval 3600
  <Emitter $GOOD>
    Host \"good\"
    Format \"fixed\"
    Channels 2
  </Emitter>"
  rm -rf "$IT_CSV"
  mkdir -p "$IT_CSV"
  it_start_alec "$port"
}
send() {
  "$IT_ALEC_SEND" --to "127.0.0.1:$port" --emitter "$GOOD" --format fixed --channels 2 --rate 2000 --quiet \
    --hex "$1" || it_fail "alec-send failed"
}
# Values of frames $1..$2 (1-based) of channel $3 in the reference.
expect() { awk -v c="$3" '$1 == c { print $2 }' "$IT_TMP/good.expect" | sed -n "$1,$2p"; }
check_values() { # first frame, last frame, label
  local ch n=$(($2 - $1 + 1))
  for ch in 0 1; do
    expect "$1" "$2" "$ch" >"$IT_TMP/want"
    it_wait_rows good alec "gauge-ch$ch" "$n" 15 || true
    it_csv_rows good alec "gauge-ch$ch" | cut -d, -f2 >"$IT_TMP/got"
    cmp -s "$IT_TMP/want" "$IT_TMP/got" ||
      { it_check_fail "$3: ch$ch: $(wc -l <"$IT_TMP/got") values, not the reference's frames $1..$2"; return 1; }
  done
  return 0
}

# A real state: 100 frames, saved at shutdown; restored, the next 100 frames
# decode as if collectd had never stopped.
start_with "$STATE"
send "$IT_TMP/first.frames"
check_values 1 100 "before the restart"
it_stop
[ -s "$STATE" ] || it_fail "no state file was written at shutdown"
cp "$STATE" "$IT_TMP/valid.state"
start_with "$STATE"
it_log_has "restored 1 emitters" || it_check_fail "the real state was not restored"
send "$IT_TMP/second.frames"
check_values 101 200 "after restoring the real state"
it_stop

# Hostile variants.
V=$IT_TMP/variants
mkdir -p "$V"
size=$(wc -c <"$IT_TMP/valid.state")
head -c 4096 /dev/urandom >"$V/random"
: >"$V/empty"
head -c $((size / 2)) "$IT_TMP/valid.state" >"$V/truncated"
cp "$IT_TMP/valid.state" "$V/flipped"
printf '\377' | dd of="$V/flipped" bs=1 seek=$((size / 2)) conv=notrunc status=none
{ cat "$IT_TMP/valid.state"; printf 'trailing'; } >"$V/extended"
# Headers with a correct CRC (gzip's trailer holds the zlib CRC-32 of its input).
crc_le() { gzip -c | tail -c 8 | head -c 4; }
hdr() { # count as 4 octal-escaped bytes
  printf "ALFS\001\000\000\000\000\000\000\000$1\000\000\000\000\000\000\000\000"
}
{ hdr '\377\377\377\377'; hdr '\377\377\377\377' | crc_le; } >"$V/count_max"
{
  hdr '\001\000\000\000'
  hdr '\001\000\000\000' | crc_le
  printf '\147\000\000\000\000\000\000\000'   # id 103
  printf '\000\000\000\000\000\000\000\000'   # last_seen
  printf '\000'                               # no group
  printf '\377\377\377\377'                   # state_len 4 GiB
  head -c 64 /dev/zero
} >"$V/blob_4g"
truncate -s 1G "$V/sparse_1g"

for name in random empty truncated flipped extended count_max blob_4g sparse_1g directory fifo devzero; do
  rm -rf "$STATE"
  case $name in
  fifo) mkfifo "$STATE" ;; # never opened by cp: reading it would block
  devzero) ln -s /dev/zero "$STATE" ;;
  directory) mkdir "$STATE" ;;
  *) cp "$V/$name" "$STATE" ;;
  esac
  t0=$(date +%s.%N)
  start_with "$STATE"
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if ! grep -E 'alec plugin: .*(state file|StateFile|"'"$STATE"'")' "$IT_LOG" | grep -q -i -E 'refused|not a regular|clean'; then
    it_check_fail "$name: no log line says the state was refused"
  fi
  send "$IT_TMP/first.frames"
  if check_values 1 100 "$name"; then
    it_ok "$name: started in ${secs} s, state refused: $(grep -h -E 'alec plugin: .*(refused|not a regular)' "$IT_LOG" | head -n 1 | sed 's/^.*alec plugin: //' | cut -c1-110)"
  fi
  kill -0 "$IT_PID" 2>/dev/null || it_check_fail "$name: collectd died"
  it_stop
  [ "$IT_STATUS" -eq 0 ] || it_check_fail "$name: collectd exited with status $IT_STATUS"
  rm -rf "$STATE" "$STATE".refused "$STATE".tmp* 2>/dev/null
done

[ "$IT_FAILED" -eq 0 ] || exit 1
it_ok "11 hostile state files refused; collectd started clean each time"
exit 0
