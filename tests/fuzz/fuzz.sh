#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds and runs the libFuzzer targets of tests/fuzz (README.md there).
# Used by `make fuzz` and by tests/fuzz/smoke.sh.
#
#   fuzz.sh build OUT              compile the targets and the seed generator
#   fuzz.sh seeds OUT              (re)generate OUT/seeds/<target>
#   fuzz.sh run OUT SECONDS [T..]  replay tests/fuzz/regress, then fuzz each
#                                  target for SECONDS; prints a table, exits 1
#                                  if any target crashed
#   fuzz.sh all OUT SECONDS [T..]  the three in a row
#
# Environment: ALEC_SRCDIR (the source tree, default: two levels above this
# script), ALEC_SHARED (shared reference data, default $ALEC_SRCDIR/../shared;
# optional), FUZZ_ENV_FILE (tests/fuzz/fuzz.env of a build tree: the library
# sources and link flags from the Makefile fragments; without it src/lib/*.c
# and the usual libraries), FUZZ_CC (clang), FUZZ_CFLAGS (-g -O1),
# COLLECTD_CPPFLAGS (for the config target), FUZZ_CORPUS (corpus root,
# default OUT/corpus), FUZZ_NICE (nice increment, 0), FUZZ_RSS_MB (2048),
# FUZZ_EXTRA (more libFuzzer flags).
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${ALEC_SRCDIR:-$(cd "$here/../.." && pwd)}
shared=${ALEC_SHARED:-$src/../shared}
if [ -n "${FUZZ_ENV_FILE:-}" ]; then
  [ -r "$FUZZ_ENV_FILE" ] || { echo "fuzz.sh: cannot read $FUZZ_ENV_FILE" >&2; exit 2; }
  # shellcheck disable=SC1090
  . "$FUZZ_ENV_FILE"
fi
cc=${FUZZ_CC:-clang}
cflags=${FUZZ_CFLAGS:--g -O1}
collectd=${COLLECTD_CPPFLAGS:-}
rss=${FUZZ_RSS_MB:-2048}
nice_inc=${FUZZ_NICE:-0}
lib_sources=${FUZZ_LIB_SOURCES:-$(cd "$src" && ls src/lib/*.c)}
fleet_sources=${FUZZ_FLEET_SOURCES:-$(cd "$src" && ls src/fleet/fleet*.c src/fleet/preload.c)}
conf_sources=${FUZZ_CONF_SOURCES:-src/plugin/alec_conf.c src/receiver/config.c src/receiver/amqpconf.c}
lorawan_sources=${FUZZ_LORAWAN_SOURCES:-src/receiver/tlv.c src/receiver/nsevent.c}
lib_cppflags=${FUZZ_LIB_CPPFLAGS:-$(pkg-config --cflags libsodium yajl 2>/dev/null)}
libs=${FUZZ_LIBS:--lxxhash -lm $(pkg-config --libs libsodium 2>/dev/null || echo -lsodium) $(pkg-config --libs yajl 2>/dev/null || echo -lyajl)}
all_targets="fuzz_decode fuzz_envelope fuzz_auth fuzz_fleet fuzz_state fuzz_config fuzz_nsevent fuzz_tlv fuzz_pcapin"
std="-std=c11 -ffp-contract=off -D_POSIX_C_SOURCE=200809L -I$src/include -I$src/src/plugin -I$src/src/receiver -I$src/src/tools -I$here"

die() { echo "fuzz.sh: $*" >&2; exit 2; }

# Library sources each target needs (C files of the lists, absolute): a
# broken file of one module then only costs the targets that use it.
c_files() { for f in "$@"; do case $f in *.c) echo "$src/$f" ;; esac; done; }
sources_for() {
  # shellcheck disable=SC2086
  case $1 in
    fuzz_decode|fuzz_envelope|fuzz_auth) c_files $lib_sources ;;
    fuzz_fleet|mkseeds) c_files $lib_sources $fleet_sources ;;
    fuzz_state) c_files $lib_sources $fleet_sources $lorawan_sources src/receiver/state.c src/receiver/spool.c src/receiver/nsmsg.c src/receiver/queue.c ;;
    fuzz_config) c_files $lib_sources $conf_sources $lorawan_sources ;; # <MQTT> options use the event parser
    fuzz_nsevent|fuzz_tlv) c_files $lorawan_sources ;;
    fuzz_pcapin) c_files src/tools/pcapin.c ;;
  esac
}
# Link flags without the libtool archives of the lists.
link_flags() { for l in $libs; do case $l in *.la) ;; *) printf '%s ' "$l" ;; esac; done; }

# newer TARGET FILE...: true when TARGET is missing or older than a FILE.
# (sh has no local variables: these names are used nowhere else.)
newer() {
  nw_t=$1; shift
  [ -e "$nw_t" ] || return 0
  # -nt is not POSIX, but dash, bash, busybox and ksh all have it.
  # shellcheck disable=SC3013
  for nw_f in "$@"; do [ "$nw_f" -nt "$nw_t" ] && return 0; done
  return 1
}

headers() { ls "$src"/include/alec/*.h "$src"/src/plugin/*.h "$src"/src/receiver/*.h "$src"/src/tools/*.h "$here"/*.h 2>/dev/null; }

# obj OUT SOURCE: compiles SOURCE once into OUT/obj (instrumented for
# coverage, not linked with libFuzzer, so the seed generator can use it too).
obj() {
  ob_o="$1/obj/$(basename "$2" .c).o"
  # shellcheck disable=SC2046
  if newer "$ob_o" "$2" $(headers); then
    # shellcheck disable=SC2086
    $cc $cflags $std $lib_cppflags $collectd -fsanitize=fuzzer-no-link,address,undefined -c -o "$ob_o" "$2" \
      || { rm -f "$ob_o"; return 1; }
  fi
  echo "$ob_o"
}

build_one() {
  out=$1 t=$2
  objs=""
  for s in $(sources_for "$t"); do
    o=$(obj "$out" "$s") || { echo "fuzz.sh: $t: $s does not compile" >&2; return 1; }
    objs="$objs $o"
  done
  if [ "$t" = mkseeds ]; then san=address,undefined; else san=fuzzer,address,undefined; fi
  # shellcheck disable=SC2046,SC2086
  if newer "$out/bin/$t" "$here/$t.c" $objs $(headers); then
    $cc $cflags $std $lib_cppflags $collectd -Wall -Wextra -Werror -fsanitize=$san -o "$out/bin/$t" \
      "$here/$t.c" $objs $(link_flags) || { rm -f "$out/bin/$t"; return 1; }
  fi
}

do_build() {
  out=$1; shift
  mkdir -p "$out/obj" "$out/bin" || die "cannot create $out"
  command -v "$cc" >/dev/null 2>&1 || die "$cc not found (set FUZZ_CC)"
  failed=0
  for t in mkseeds "$@"; do
    # shellcheck disable=SC2086
    if [ "$t" = fuzz_config ] && ! printf '#include "liboconfig/oconfig.h"\n' \
        | $cc $collectd -E -x c - >/dev/null 2>&1; then
      echo "fuzz.sh: fuzz_config skipped: collectd's liboconfig/oconfig.h not found (COLLECTD_CPPFLAGS)" >&2
      rm -f "$out/bin/fuzz_config"
      continue
    fi
    build_one "$out" "$t" || failed=1
  done
  return $failed
}

do_seeds() {
  out=$1
  [ -x "$out/bin/mkseeds" ] || die "run 'fuzz.sh build' first"
  rm -rf "$out/seeds"
  tsv="$src/tests/fixtures/vectors.tsv"
  [ -r "$tsv" ] || tsv=-
  if [ -d "$shared/vectors" ]; then
    "$out/bin/mkseeds" "$out/seeds" "$tsv" "$shared/vectors"
  else
    echo "fuzz.sh: no $shared/vectors: seeds from the fixtures and the encoder only"
    "$out/bin/mkseeds" "$out/seeds" "$tsv"
  fi
  # Network-server events: the JSON fixtures as they are.
  if [ -d "$src/tests/fixtures/lorawan" ]; then
    mkdir -p "$out/seeds/fuzz_nsevent" && cp "$src"/tests/fixtures/lorawan/*.json "$out/seeds/fuzz_nsevent/"
  fi
}

# field NAME LOG: the last "NAME: <number>" of a libFuzzer log.
field() { grep -o "$1: [0-9]*" "$2" 2>/dev/null | tail -n 1 | sed 's/.*: //'; }

do_run() {
  out=$1 secs=$2; shift 2
  corpus=${FUZZ_CORPUS:-$out/corpus}
  mkdir -p "$out/logs" "$out/artifacts" "$corpus" || die "cannot create $out"
  bad=0
  rows=""
  for t in "$@"; do
    bin="$out/bin/$t"
    if [ ! -x "$bin" ]; then
      if [ "$t" = fuzz_config ]; then why='skipped: no liboconfig/oconfig.h'; else why='NOT BUILT'; bad=1; fi
      rows="$rows$(printf '%-14s %8s %12s %7s %8s  %s' "$t" - - - - "$why")
"
      continue
    fi
    log="$out/logs/$t.log"
    result=ok
    # Known crashers stay fixed: replay them first.
    reg="$src/tests/fuzz/regress/$t"
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg" 2>/dev/null)" ]; then
      if ! "$bin" -rss_limit_mb="$rss" -timeout=10 "$reg"/* >"$out/logs/$t.regress.log" 2>&1; then
        result="REGRESSION (see $out/logs/$t.regress.log)"
        bad=1
      fi
    fi
    mkdir -p "$corpus/$t"
    seeds="$out/seeds/$t"
    [ -d "$seeds" ] || seeds=
    dict=
    [ -r "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
    # shellcheck disable=SC2086
    nice -n "$nice_inc" "$bin" -max_total_time="$secs" -rss_limit_mb="$rss" -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" $dict ${FUZZ_EXTRA:-} \
      "$corpus/$t" $seeds >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
      why=$(grep -m1 -o 'ERROR: [A-Za-z]*: [^(]*\|invariant violated: .*\|runtime error: .*' "$log" | head -n 1)
      result="CRASH rc=$rc ${why:-see log} ($log)"
      bad=1
    fi
    execs=$(field stat::number_of_executed_units "$log")
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    rows="$rows$(printf '%-14s %8s %12s %7s %8s  %s' "$t" "$secs" "${execs:--}" \
      "$(field cov "$log")" "$(field ft "$log")" "$result")
"
  done
  printf '\n%-14s %8s %12s %7s %8s  %s\n' target seconds executions cov ft result
  printf '%s' "$rows"
  if [ $bad -ne 0 ]; then
    echo "fuzz.sh: failures; reproducers in $out/artifacts, logs in $out/logs" >&2
    return 1
  fi
  return 0
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: fuzz.sh build|seeds|run|all OUT [SECONDS] [TARGET...]"
out=$2
case $cmd in
  build)
    shift 2
    # shellcheck disable=SC2086
    [ $# -gt 0 ] || set -- $all_targets
    do_build "$out" "$@" ;;
  seeds) do_seeds "$out" ;;
  run|all)
    [ $# -ge 3 ] || die "$cmd needs SECONDS"
    secs=$3; shift 3
    # shellcheck disable=SC2086
    [ $# -gt 0 ] || set -- $all_targets
    status=0
    if [ "$cmd" = all ]; then
      # A target that does not build shows in the table; the others still run.
      do_build "$out" "$@" || status=1
      do_seeds "$out" || exit 1
    fi
    do_run "$out" "$secs" "$@" || status=1
    exit $status ;;
  *) die "unknown command $cmd" ;;
esac
