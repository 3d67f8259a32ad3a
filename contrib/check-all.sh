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
    # automake's summary log holds the log of every failed test.
    tail -n 400 "$dir/test-suite.log"
    exit 1
  fi
  tot_pass=$((tot_pass + $(count PASS "$dir")))
  tot_fail=$((tot_fail + $(count FAIL "$dir") + $(count ERROR "$dir")))
  tot_skip=$((tot_skip + $(count SKIP "$dir")))
}

# Counts of automake's test-suite.log summary ("# PASS:  12").
count() {
  n=$(sed -n "s/^# $1: *//p" "$2/test-suite.log" | head -n 1)
  echo "${n:-0}"
}
tot_pass=0
tot_fail=0
tot_skip=0

echo "== build and test (-Werror)"
run_suite build-ci
echo "== build and test under ASan + UBSan"
run_suite build-ci-san --enable-sanitizers
# Builds, installs and purges the Debian packages on this machine: once,
# after both suites, with the first suite's tree for its scratch files.
echo "== Debian packages (dpkg-buildpackage, lintian, dpkg -i, stock collectd, purge)"
deb_rc=0
ALEC_SRCDIR="$top" ALEC_BUILDDIR="$top/build-ci" ALEC_SHARED="${ALEC_SHARED:-$top/../shared}" \
  bash "$top/tests/integration/debian_packages.sh" || deb_rc=$?
case $deb_rc in
  0) tot_pass=$((tot_pass + 1)) ;;
  77) tot_skip=$((tot_skip + 1)) ;;
  *) tot_fail=$((tot_fail + 1)) ;;
esac
echo "check-all: $tot_pass passed, $tot_fail failed, $tot_skip skipped"
[ "$tot_fail" -eq 0 ] && [ "$tot_pass" -gt 0 ]
