#!/bin/sh
# Builds collectd-alec from a clean checkout and runs every test twice: a
# normal -Werror build, then an AddressSanitizer + UndefinedBehaviorSanitizer
# build. Build trees go to build-ci/ and build-ci-san/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
[ -x ./configure ] || ./bootstrap

run_suite() {
  dir=$1; shift
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && ../configure --enable-werror "$@" >configure.out 2>&1) ||
    { cat "$dir/configure.out"; exit 1; }
  make -C "$dir" -j"$jobs"
  if ! make -C "$dir" -j"$jobs" check; then
    find "$dir" -name '*.log' -path '*tests*' -newer "$dir/configure.out" | while read -r f; do
      grep -q -E '^(FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null && { echo "==== $f"; tail -n 80 "$f"; }
    done
    exit 1
  fi
  for k in PASS FAIL SKIP XFAIL ERROR; do
    n=$(sed -n "s/^# $k: *//p" "$dir/test-suite.log" | head -n 1)
    eval "tot_$k=\$(( \${tot_$k:-0} + \${n:-0} ))"
  done
}

echo "== build and test (-Werror)"
run_suite build-ci
echo "== build and test under ASan + UBSan"
run_suite build-ci-san --enable-sanitizers
echo "check-all: $tot_PASS passed, $(( tot_FAIL + tot_ERROR )) failed, $tot_SKIP skipped"
[ $(( tot_FAIL + tot_ERROR )) -eq 0 ] && [ "$tot_PASS" -gt 0 ]
