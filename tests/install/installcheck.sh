#!/bin/sh
# SPDX-License-Identifier: MIT
# `make installcheck`: proves an installed tree (or one staged with
# `make install DESTDIR=...`) is usable as installed: a program builds
# against <alec/alec.h> through libalec.pc, an installed tool runs against
# the installed libalec, and collectd accepts a config that loads the
# installed alec.so and the installed types database.
# Arguments: DESTDIR libdir bindir plugindir alecdatadir CC COLLECTD_BIN
set -u
dest=$1 libdir=$2 bindir=$3 plugindir=$4 datadir=$5 cc=$6 collectd=$7
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alec-installcheck.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "installcheck: FAIL: $*" >&2; exit 1; }

# The sysroot makes pkg-config prefix -I/-L with the staging directory.
pc() { PKG_CONFIG_PATH="$dest$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" \
       PKG_CONFIG_LIBDIR="$dest$libdir/pkgconfig" pkg-config "$@"; }
pc --exists libalec || fail "libalec.pc not found in $dest$libdir/pkgconfig"
cat >"$tmp/t.c" <<'C'
#include <alec/alec.h>
#include <stdio.h>
int main(void) { return puts(alec_strerror(0)) < 0; }
C
# shellcheck disable=SC2046
$cc -std=c11 -Wall -Werror -o "$tmp/t" "$tmp/t.c" $(pc --cflags --libs libalec) \
  || fail "cannot build against the installed header and libalec.pc"
LD_LIBRARY_PATH="$dest$libdir" "$tmp/t" >/dev/null || fail "program linked to libalec does not run"
LD_LIBRARY_PATH="$dest$libdir" "$dest$bindir/alec-decode" --version >/dev/null \
  || fail "installed alec-decode does not run"
echo "installcheck: header, libalec.pc, library and alec-decode: ok"

if [ -z "$collectd" ] || [ ! -f "$dest$plugindir/alec.so" ]; then
  echo "installcheck: no collectd or no installed alec.so: plugin check skipped"
  exit 0
fi
[ -f "$dest$datadir/alec.types.db" ] || fail "alec.types.db not installed in $dest$datadir"
cat >"$tmp/collectd.conf" <<C
TypesDB "/usr/share/collectd/types.db" "$dest$datadir/alec.types.db"
Interval 1
PluginDir "$dest$plugindir"
LoadPlugin alec
<Plugin alec>
  Listen "127.0.0.1" "25899"
</Plugin>
C
out=$(timeout 30 "$collectd" -T -C "$tmp/collectd.conf" 2>&1) || fail "collectd -T: $out"
case $out in *rror*) fail "collectd -T: $out" ;; esac
echo "installcheck: collectd -T loads the installed alec.so and types db: ok"
