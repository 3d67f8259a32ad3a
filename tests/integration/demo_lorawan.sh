#!/bin/bash
# SPDX-License-Identifier: MIT
# contrib/demo-lorawan.sh (the README's second demo) in its quick mode, on
# the build tree under test: it must pass its own verdict and print what an
# operator is promised: values per device, em500-006's temperature alert and
# OKAY, keyframe requests on ChirpStack's downlink topic, the statistics,
# and every process it started stopped. Skips where the demo skips (no
# mosquitto, no MQTT transport).
set -u
src=${ALEC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${ALEC_BUILDDIR:-$PWD}
name=demo_lorawan
say() { printf '%s: %s\n' "$name" "$*"; }
mkdir -p "$build/tests/integration/run" || exit 1
dir=$build/tests/integration/run/$name.$$
out=$build/tests/integration/run/$name.$$.out

DEMO_BUILT=1 DEMO_DIR=$dir ALEC_BUILDDIR=$build ALEC_SRCDIR=$src IT_BOUNDED='' \
  timeout -k 10 200 "$src/contrib/demo-lorawan.sh" --quick >"$out" 2>&1
rc=$?
if [ "$rc" -eq 77 ]; then
  grep 'SKIP' "$out"
  rm -rf "$dir" "$out"
  exit 77
fi
failed=0
fail() { say "FAIL: $*"; failed=1; }
[ "$rc" -eq 0 ] || fail "the demo exited with status $rc"
grep -q '^demo-lorawan: OK: ' "$out" || fail "no OK verdict"
# Values per device: 20 rows under the device names, two applications.
rows=$(grep -c -E '^   em500-0[0-9]{2} +building-[ab] +[0-9]+ ' "$out")
[ "$rows" -eq 20 ] || fail "$rows device rows in the values table, want 20"
grep -q -E '^   em500-006 +building-a .*FAILURE|^   em500-006 +building-a .*WARNING' "$out" ||
  fail "em500-006's fleet state is not shown as an alert"
grep -q -E 'severity = (WARNING|FAILURE), host = [^:]*: .*deviates from its fleet' "$out" || fail "no alert shown as it arrived"
grep -q -E '^   Severity: OKAY' "$out" || fail "no OKAY notification shown"
grep -q -E '^   application/[0-9a-f-]{36}/device/[0-9a-f]{16}/command/down \{"devEui":"[0-9a-f]{16}","confirmed":false,"fPort":85,"data":"/w=="\}$' "$out" ||
  fail "no keyframe request on the downlink topic"
grep -q -E '^   mqtt-chirpstack: derive-downlinks [1-9]' "$out" || fail "the downlinks statistic is missing"
grep -q -E '^   receiver: derive-tlv_frames [1-9]' "$out" || fail "the TLV statistic is missing"
grep -q -E 'shut down; [0-9]+ messages, .* 0 rejected, 0 queue drops' "$out" || fail "collectd's shutdown line is missing"
# Every PID the demo named is gone.
for pid in $(grep -o '(pid [0-9]*' "$out" | tr -dc '0-9\n' | sort -u); do
  if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
    fail "process $pid is still running"
  fi
done
if [ "$failed" -eq 0 ]; then
  say "ok: $(grep '^demo-lorawan: OK: ' "$out" | cut -c 19-)"
  rm -rf "$dir" "$out"
  exit 0
fi
say "output kept in $out, files in $dir"
tail -n 40 "$out"
exit 1
