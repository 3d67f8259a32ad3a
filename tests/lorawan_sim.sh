#!/bin/sh
# SPDX-License-Identifier: MIT
# alec-lorawan-sim's outputs: one uplink per line, cold start as TLV, fCnt
# per device, ChirpStack v4 and TTS v3 events with the public fields.
set -eu
SIM="${ALEC_BUILDDIR:-.}/src/tools/alec-lorawan-sim"
[ -x "$SIM" ] || { echo "alec-lorawan-sim not built"; exit 99; }
tmp="${TMPDIR:-/tmp}/alec-lws.$$"
mkdir "$tmp"
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

"$SIM" --devices 2 --days 1 --no-outage --loss 0 >"$tmp/a.jsonl"
[ "$(wc -l <"$tmp/a.jsonl")" -eq 288 ] || fail "2 devices x 144 uplinks expected"
# Deterministic for a seed.
"$SIM" --devices 2 --days 1 --no-outage --loss 0 | cmp -s - "$tmp/a.jsonl" || fail "not deterministic"
# Each device's first uplink is the cold-start TLV (channel 1 battery), fCnt 0.
for d in 0 1; do
  first=$(grep "\"device\":$d," "$tmp/a.jsonl" | head -1)
  case "$first" in *'"fCnt":0,'*'"kind":"tlv"'*'"payload":"0175'*) ;; *) fail "device $d cold start: $first" ;; esac
done
grep -q '"kind":"alec".*"payload":"a1' "$tmp/a.jsonl" || fail "no ALEC frame"
# Every ALEC payload fits the 11-byte ceiling (22 hex digits).
awk -F'"payload":"' '/"kind":"alec"/ { split($2, p, "\""); if (length(p[1]) > 22) bad++ } END { exit bad > 0 }' \
  "$tmp/a.jsonl" || fail "ALEC payload above 11 bytes"
# Loss: lost uplinks are left out, fCnt counts them.
"$SIM" --devices 1 --days 1 --loss 50 --no-outage >"$tmp/l.jsonl"
n=$(wc -l <"$tmp/l.jsonl")
[ "$n" -gt 30 ] && [ "$n" -lt 114 ] || fail "50 % loss kept $n of 144"
"$SIM" --devices 1 --days 1 --loss 50 --no-outage --lost | grep -c '"lost":true' >/dev/null || fail "--lost"

"$SIM" --devices 3 --days 0.1 --format chirpstack --topics >"$tmp/cs.txt"
for f in deduplicationId time deviceInfo applicationId applicationName deviceName devEui tags fCnt fPort data rxInfo rssi snr; do
  grep -q "\"$f\":" "$tmp/cs.txt" || fail "ChirpStack field $f missing"
done
grep -q '^application/[0-9a-f-]*/device/24e124136b00000[0-2]/event/up	{' "$tmp/cs.txt" || fail "ChirpStack topic"
"$SIM" --devices 3 --days 0.1 --format tts --topics >"$tmp/tts.txt"
for f in end_device_ids device_id application_ids dev_eui received_at uplink_message f_port f_cnt frm_payload rx_metadata; do
  grep -q "\"$f\":" "$tmp/tts.txt" || fail "TTS field $f missing"
done
grep -q '^v3/building-[ab]@ttn/devices/em500-00[0-2]/up	{' "$tmp/tts.txt" || fail "TTS topic"
# The base64 payload of the first event is the cold-start TLV.
b64=$(head -1 "$tmp/cs.txt" | sed 's/.*"data":"\([^"]*\)".*/\1/')
[ "$(printf %s "$b64" | base64 -d | od -An -tx1 -N2 | tr -d ' ')" = "0175" ] || fail "ChirpStack data is not the TLV"
"$SIM" --format nope >/dev/null 2>&1 && fail "unknown format accepted"
echo "PASS: alec-lorawan-sim"
