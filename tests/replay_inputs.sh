#!/bin/sh
# SPDX-License-Identifier: MIT
# alec-replay's capture and MQTT inputs give the events of the equivalent
# JSONL, through the same receiver core:
#  - one day of the issue-10 fleet story (groups left out: envelopes carry
#    none) as JSONL, and as pcap of envelope datagrams written by
#    tests/replay-pcapgen over every link type, IPv4 and IPv6, with noise
#    (TCP, other ports, fragments, ARP) and hostile packets (lengths that
#    lie, snaplen cuts) that are counted and change nothing; in IP
#    fragments (reassembled); signed, verified with --auth-file;
#  - hostile files: cut inside a record, a record claiming 2 GB, random
#    bytes, an empty input: counted or refused, exit 1, no crash;
#  - two days of the LoRaWAN simulator (TLV fallback, loss, one anomalous
#    device) as ChirpStack v4 and TTS v3 events, with and without topics
#    (after a tab, or a space as mosquitto_sub -v writes them), and as the
#    JSONL of the same uplinks (FPort profile, fCnt, the events' own
#    microsecond times).
# About 15 s of CPU. Exit 0 pass, 1 fail, 99 hard error.
set -u
B=${ALEC_BUILDDIR:-.}
story="$B/src/fleet/fleet-story"
replay="$B/src/tools/alec-replay"
gen="$B/tests/replay-pcapgen"
sim="$B/src/tools/alec-lorawan-sim"
for x in "$story" "$replay" "$gen" "$sim"; do
  [ -x "$x" ] || { echo "replay_inputs: $x not built" >&2; exit 99; }
done
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0
fail() {
  echo "FAIL: replay_inputs: $*" >&2
  status=1
}
ok() { echo "ok: $*"; }

# ---- pcap ----------------------------------------------------------------
"$story" --period 600 --days 1 | sed 's/"group": "g[0-9]*", //' >"$tmp/story.jsonl" || exit 99
R="$replay --emitter-timeout 7200"
$R "$tmp/story.jsonl" >"$tmp/want" 2>"$tmp/stats" || { cat "$tmp/stats" >&2; exit 99; }
n_ev=$(grep -c '^event' "$tmp/want")
[ "$n_ev" -gt 0 ] || fail "the JSONL story gives no emitter event"
for v in "en10mb" "sll" "sll2" "raw" "null" "loop" "en10mb --ipv6" "sll2 --ipv6" "null --ipv6"; do
  # shellcheck disable=SC2086
  "$gen" --link $v "$tmp/a.pcap" <"$tmp/story.jsonl" 2>/dev/null || { fail "$v: generator"; continue; }
  if ! $R "$tmp/a.pcap" >"$tmp/got" 2>"$tmp/stats"; then
    fail "$v: replay failed: $(cat "$tmp/stats")"
  elif ! cmp -s "$tmp/want" "$tmp/got"; then
    fail "$v: events differ from the JSONL's"
    diff "$tmp/want" "$tmp/got" | head -n 5 >&2
  else
    ok "pcap $v: the $n_ev emitter events of the JSONL"
  fi
done
# A pipe, and another port.
"$gen" --link sll2 --port 4000 "$tmp/p.pcap" <"$tmp/story.jsonl" 2>/dev/null
if cat "$tmp/p.pcap" | $R --port 4000 >"$tmp/got" 2>/dev/null && cmp -s "$tmp/want" "$tmp/got"; then
  ok "pcap through a pipe, --port 4000"
else
  fail "pcap through a pipe with --port 4000"
fi
cat "$tmp/p.pcap" | $R --quiet >"$tmp/stats" 2>&1
grep -q ' 0 datagrams to port 25830 .* other_port' "$tmp/stats" || fail "datagrams to port 4000 not counted as other_port: $(head -1 "$tmp/stats")"

# Bare frames of three emitters from their own source ports: theirs with
# --source (the <Emitter> Source of the plugin), refused without.
"$gen" --ipv6 --bare 1,2,5 "$tmp/b.pcap" <"$tmp/story.jsonl" 2>/dev/null
src="2001:db8::1/40001=1:fixed:2,2001:db8::1/40002=2:fixed:2,2001:db8::1/40005=0x5:fixed:2"
if $R --source "$src" "$tmp/b.pcap" >"$tmp/got" 2>/dev/null && cmp -s "$tmp/want" "$tmp/got"; then
  ok "bare frames by source address (--source): the events of the JSONL"
else
  fail "bare frames with --source: events differ"
fi
$R --quiet "$tmp/b.pcap" >"$tmp/stats" 2>&1
grep -q '^replay: .* [1-9][0-9]* rejected, 997 emitters' "$tmp/stats" || fail "bare frames without --source: $(sed -n 2p "$tmp/stats")"

for v in "" "--ipv6"; do
  # shellcheck disable=SC2086
  "$gen" $v --noise --hostile --every 500 "$tmp/h.pcap" <"$tmp/story.jsonl" 2>/dev/null
  if ! $R "$tmp/h.pcap" >"$tmp/got" 2>"$tmp/stats"; then
    fail "hostile $v: replay failed"
  elif ! cmp -s "$tmp/want" "$tmp/got"; then
    fail "hostile $v: events differ from the JSONL's"
  else
    line=$(grep '^replay: pcap' "$tmp/stats")
    bad=""
    for k in snaplen_cut truncated bad_length not_ip fragment not_udp other_port; do
      echo "$line" | grep -q "[1-9][0-9]* $k" || bad="$bad $k"
    done
    [ -z "$bad" ] && ok "noise and hostile packets${v:+ $v} counted, events unchanged (${line#replay: pcap: })" ||
      fail "hostile $v: not counted:$bad ($line)"
  fi
done

# IP fragments (datagrams over the MTU), every other one last fragment
# first, IPv4 and IPv6: reassembled, the same events.
for v in "" "--ipv6"; do
  # shellcheck disable=SC2086
  "$gen" $v --fragment 24 "$tmp/f.pcap" <"$tmp/story.jsonl" 2>/dev/null
  if ! $R "$tmp/f.pcap" >"$tmp/got" 2>"$tmp/stats"; then
    fail "fragments $v: replay failed ($(grep '^replay: pcap' "$tmp/stats"))"
  elif ! cmp -s "$tmp/want" "$tmp/got"; then
    fail "fragments $v: events differ from the JSONL's"
  elif ! grep -q '(0 reassembled' "$tmp/stats" && ! grep -q -E ', [0-9]+ fragment' "$tmp/stats"; then
    ok "IP fragments${v:+ $v} reassembled, the same events ($(grep -o '[0-9]* datagrams.*reassembled[^)]*' "$tmp/stats"))"
  else
    fail "fragments $v: $(grep '^replay: pcap' "$tmp/stats")"
  fi
done

# Signed envelopes: verified against --auth-file; without it, refused.
key=000102030405060708090a0b0c0d0e0f
printf '7: %s\n' "$key" >"$tmp/keys"
chmod 600 "$tmp/keys"
"$gen" --key "$key" --key-id 7 "$tmp/s.pcap" <"$tmp/story.jsonl" 2>/dev/null
if $R --auth-file "$tmp/keys" "$tmp/s.pcap" >"$tmp/got" 2>"$tmp/stats" && cmp -s "$tmp/want" "$tmp/got"; then
  ok "signed envelopes verified with --auth-file, the same events"
else
  fail "signed envelopes with --auth-file: $(tail -n 2 "$tmp/stats" | tr '\n' ' ')"
fi
printf '7: %s\n' "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff" >"$tmp/wrong"
chmod 600 "$tmp/wrong"
$R --quiet --auth-file "$tmp/wrong" "$tmp/s.pcap" >"$tmp/stats" 2>&1
if grep -q 'rejected' "$tmp/stats" && ! grep -q '^event' "$tmp/stats"; then
  ok "signed envelopes under another key: refused, no event"
else
  fail "signed envelopes under another key: $(head -n 3 "$tmp/stats" | tr '\n' ' ')"
fi

# Hostile files.
"$gen" "$tmp/a.pcap" <"$tmp/story.jsonl" 2>/dev/null
head -c 100000 "$tmp/a.pcap" >"$tmp/cut.pcap"
$R --quiet "$tmp/cut.pcap" >"$tmp/stats" 2>&1
rc=$?
{ [ $rc -eq 1 ] && grep -q 'stopped: truncated' "$tmp/stats"; } && ok "a capture cut inside a record: replayed up to it, exit 1" ||
  fail "cut capture: exit $rc, $(head -1 "$tmp/stats")"
cp "$tmp/a.pcap" "$tmp/big.pcap"
# The first record's captured length (offset 24 + 8): 2^31 - 1.
printf '\377\377\377\177' | dd of="$tmp/big.pcap" bs=1 seek=32 conv=notrunc 2>/dev/null
$R --quiet "$tmp/big.pcap" >"$tmp/stats" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q '0 packets' "$tmp/stats" && ok "a record claiming 2 GB: refused, exit 1" || fail "2 GB record: exit $rc"
head -c 4096 /dev/urandom >"$tmp/rnd"
$R --input pcap "$tmp/rnd" >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] && ok "random bytes as pcap: refused, exit 1" || fail "random bytes as pcap: exit $rc"
$R --input pcap </dev/null >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] && ok "empty pcap input: exit 1" || fail "empty pcap input: exit $rc"

# ---- MQTT capture ----------------------------------------------------------
S="--devices 20 --days 2 --anomaly 3:12:6:80"
P="--fport 85=fixed:5 --tlv 85=battery,temperature,humidity,co2,pressure"
# shellcheck disable=SC2086
"$sim" $S --format chirpstack --topics >"$tmp/cs.txt" && "$sim" $S --format tts --topics >"$tmp/tts.txt" &&
  "$sim" $S >"$tmp/sim.jsonl" || exit 99
# The JSONL of the same uplinks, at the events' RFC 3339 times (days from
# the civil date, so no floating point touches the fraction).
awk '
function days(y, m, d,   era, yoe, doy, doe) {
  y -= (m <= 2); era = int(y / 400); yoe = y - era * 400
  doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
  return era * 146097 + doe - 719468
}
NR == FNR {
  match($0, /"time":"[^"]*"/); iso = substr($0, RSTART + 8, RLENGTH - 9)
  s = days(substr(iso, 1, 4) + 0, substr(iso, 6, 2) + 0, substr(iso, 9, 2) + 0) * 86400 + \
      substr(iso, 12, 2) * 3600 + substr(iso, 15, 2) * 60 + substr(iso, 18, 2)
  t[FNR] = s "." substr(iso, 21, 6)
  next
}
{
  match($0, /"devEui":"[0-9a-f]*"/); eui = substr($0, RSTART + 10, RLENGTH - 11)
  match($0, /"fCnt":[0-9]*/); fc = substr($0, RSTART + 7, RLENGTH - 7)
  match($0, /"fPort":[0-9]*/); fp = substr($0, RSTART + 8, RLENGTH - 8)
  match($0, /"payload":"[0-9a-f]*"/); hx = substr($0, RSTART + 11, RLENGTH - 12)
  printf "{\"time\": %s, \"emitter\": \"0x%s\", \"fport\": %s, \"fcnt\": %s, \"frame_hex\": \"%s\"}\n", t[FNR], eui, fp, fc, hx
}' "$tmp/cs.txt" "$tmp/sim.jsonl" >"$tmp/lw.jsonl"
# shellcheck disable=SC2086
$replay $P "$tmp/lw.jsonl" >"$tmp/want" 2>"$tmp/stats" || { cat "$tmp/stats" >&2; exit 99; }
n_ev=$(grep -c '^event' "$tmp/want")
grep -q '^replay: .* [1-9][0-9]* frames decoded, 0 rejected' "$tmp/stats" || fail "LoRaWAN JSONL: $(cat "$tmp/stats")"
grep -q 'emitter=2657444920943443971 channel=1 state=warning' "$tmp/want" || fail "the anomalous device (temperature) is not flagged"
cut -f2- "$tmp/cs.txt" >"$tmp/cs.notopic"
cut -f2- "$tmp/tts.txt" >"$tmp/tts.notopic"
# mosquitto_sub -v: the topic, a space, the event.
tr '\t' ' ' <"$tmp/tts.txt" >"$tmp/tts.sub"
for c in cs.txt tts.txt cs.notopic tts.notopic tts.sub; do
  # shellcheck disable=SC2086
  if ! $replay $P "$tmp/$c" >"$tmp/got" 2>"$tmp/stats"; then
    fail "MQTT $c: replay failed: $(cat "$tmp/stats")"
  elif ! cmp -s "$tmp/want" "$tmp/got"; then
    fail "MQTT $c: events differ from the JSONL's"
    diff "$tmp/want" "$tmp/got" | head -n 5 >&2
  else
    ok "MQTT $c: the $n_ev emitter events of the JSONL ($(grep '^replay: mqtt' "$tmp/stats" | cut -d' ' -f3-))"
  fi
done
# Unmapped FPort, broken JSON, another device's topic: counted, not fatal;
# the broker's redelivery of the first event: dropped.
{
  head -n 1 "$tmp/cs.txt"
  head -n 1 "$tmp/cs.txt"
  head -n 1 "$tmp/cs.txt" | sed 's/"fPort":85/"fPort":9/'
  printf '{"deviceInfo":\n'
  head -n 1 "$tmp/cs.txt" | sed 's|/device/24e124136b000001/|/device/24e124136b000002/|'
} >"$tmp/bad.txt"
# shellcheck disable=SC2086
$replay $P --quiet "$tmp/bad.txt" >"$tmp/stats" 2>&1
rc=$?
line=$(grep '^replay: mqtt' "$tmp/stats")
case "$line" in
*"5 events, 1 uplinks, 1 redeliveries dropped"*ns_json_*ns_topic_mismatch*unmapped_fport*) [ $rc -eq 0 ] && ok "MQTT refusals counted ($line)" || fail "MQTT refusals: exit $rc" ;;
*) fail "MQTT refusals: $line" ;;
esac

# Options.
for bad in "--input nope" "--port 0" "--fport 85=nope" "--tlv 85=battery" "--fport 85=fixed:5 --tlv 86=battery" \
  "--fport 85=fixed:2 --tlv 85=battery" "--dialect raw" "--source 192.0.2.1=7:fixed" "--source host/1=7:single" \
  "--source 192.0.2.1/0=7:single" "--source 192.0.2.1=7:single,192.0.2.2=7:single"; do
  # shellcheck disable=SC2086
  $replay $bad </dev/null >/dev/null 2>&1
  rc=$?
  [ $rc -eq 2 ] || fail "$bad: exit $rc, want 2"
done
exit $status
