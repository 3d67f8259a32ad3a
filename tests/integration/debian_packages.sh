#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian packages (debian/) on this machine: builds them with
# dpkg-buildpackage from a copy of the source tree (it writes ../*.deb),
# checks them with lintian (no error), installs them with dpkg -i, starts
# the stock /usr/sbin/collectd with a configuration that holds only the
# installed /etc/collectd/collectd.conf.d/alec.conf, one emitter file and
# its own logfile/csv directories, sends frames with the installed
# /usr/bin/alec-send, finds every value in csv, compiles a program against
# the installed libalec-dev with pkg-config, and purges the packages
# (also when the test fails).
#
# It installs into the machine, as root: contrib/check-all.sh runs it once
# after the two suites, not `make check'. Skips (77) when neither root nor
# allowed password-less sudo, without the build tools (contrib/install-deps.sh
# installs them), or when one of the packages or a hand-installed alec.so is
# already there (it would be purged or overwritten).
IT_LIMIT=${IT_LIMIT:-900}
. "$(dirname "$0")/lib.sh"

PKGS="collectd-alec libalec0 libalec-dev alec-tools"
COLLECTD_BIN=/usr/sbin/collectd
DP_INSTALLED=0

# dpkg -i needs root: as root, or through sudo without a password.
AS_ROOT=""
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null || it_skip "not root and no password-less sudo: dpkg -i needs root (run it as root, as CI does)"
  AS_ROOT="sudo -n"
fi
for c in dpkg-buildpackage dh lintian fakeroot dpkg pkg-config gcc; do
  command -v "$c" >/dev/null 2>&1 || it_skip "$c not found (contrib/install-deps.sh installs it)"
done
it_require_collectd
for p in $PKGS; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q -E 'installed|config-files'; then
    it_skip "package $p is already installed here; this test would purge it"
  fi
done
if [ -e /usr/lib/collectd/alec.so ] || [ -e /etc/collectd/collectd.conf.d/alec.conf ]; then
  it_skip "/usr/lib/collectd/alec.so or /etc/collectd/collectd.conf.d/alec.conf exists (make install?); this test would overwrite it"
fi

it_mktemp

# dpkg and apt hold one lock; another installation may be running: wait.
dp_dpkg() {
  local i out
  for i in $(seq 1 60); do
    if out=$($AS_ROOT env DEBIAN_FRONTEND=noninteractive dpkg "$@" 2>&1); then
      printf '%s\n' "$out" >>"$IT_TMP/dpkg.log"
      return 0
    fi
    printf '%s\n' "$out" >>"$IT_TMP/dpkg.log"
    printf '%s' "$out" | grep -q -i 'lock' || return 1
    sleep 2
  done
  return 1
}

dp_purge() {
  [ "$DP_INSTALLED" -eq 1 ] || return 0
  DP_INSTALLED=0
  # shellcheck disable=SC2086
  dp_dpkg --purge $PKGS || { it_say "FAIL: dpkg --purge failed:"; tail -n 20 "$IT_TMP/dpkg.log"; return 1; }
}
# The purge runs before lib.sh's cleanup, which needs the script's status.
trap 'dp_rc=$?; dp_purge || dp_rc=1; (exit $dp_rc); it__cleanup' EXIT

# ---- build, from a copy: the tracked and untracked (not ignored) files.
src=$IT_TMP/src
mkdir -p "$src"
if [ -e "$IT_SRCDIR/.git" ] && command -v git >/dev/null 2>&1; then
  (cd "$IT_SRCDIR" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$IT_SRCDIR" && tar -c --null -T - 2>/dev/null) | tar -x -C "$src" ||
    it_fail "cannot copy the source tree"
else
  (cd "$IT_SRCDIR" && tar -c --exclude='./build*' --exclude='./debian/tmp' .) | tar -x -C "$src" ||
    it_fail "cannot copy the source tree"
fi
# Files listed by git but deleted in the work tree make tar fail quietly.
[ -f "$src/debian/control" ] && [ -f "$src/configure.ac" ] || it_fail "the copy lacks debian/control or configure.ac"
t0=$(date +%s)
# nocheck: the two suites of contrib/check-all.sh ran the tests already.
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc 2>/dev/null || echo 2)" \
  nice dpkg-buildpackage -us -uc -b >"$IT_TMP/build.log" 2>&1); then
  tail -n 40 "$IT_TMP/build.log"
  it_fail "dpkg-buildpackage failed"
fi
it_ok "dpkg-buildpackage -us -uc -b: $(cd "$IT_TMP" && ls ./*.deb | sed 's|^\./||' | grep -v dbgsym | tr '\n' ' ')($(($(date +%s) - t0)) s)"
debs=""
for p in $PKGS; do
  f=$(ls "$IT_TMP/${p}_"*.deb 2>/dev/null | head -n 1)
  [ -n "$f" ] || it_fail "no package $p built"
  debs="$debs $f"
done

# ---- lintian: errors fail, warnings are listed.
# shellcheck disable=SC2086
lintian --fail-on error --tag-display-limit 0 "$IT_TMP"/*.changes >"$IT_TMP/lintian.log" 2>&1
lrc=$?
grep -v 'running with root privileges' "$IT_TMP/lintian.log" | sed 's/^/  lintian: /'
errors=$(grep -c '^E:' "$IT_TMP/lintian.log" || true)
warnings=$(grep -c '^W:' "$IT_TMP/lintian.log" || true)
if [ "$lrc" -ne 0 ] || [ "$errors" -ne 0 ]; then
  it_check_fail "lintian: $errors errors, $warnings warnings (status $lrc)"
else
  it_ok "lintian: 0 errors, $warnings warnings"
fi

# ---- install.
DP_INSTALLED=1
# shellcheck disable=SC2086
dp_dpkg -i $debs || { tail -n 30 "$IT_TMP/dpkg.log"; it_fail "dpkg -i failed"; }
for f in /usr/lib/collectd/alec.so /usr/share/collectd-alec/alec.types.db /etc/collectd/collectd.conf.d/alec.conf \
  /usr/bin/alec-send /usr/bin/alec-decode /usr/bin/alec-encode /usr/include/alec/alec.h; do
  [ -e "$f" ] || it_check_fail "$f not installed"
done
for m in collectd-alec.5 alec-send.1 alec-decode.1 alec-encode.1; do
  man -w "${m%.*}" >/dev/null 2>&1 || [ -e "/usr/share/man/man${m##*.}/$m.gz" ] || it_check_fail "man page $m not installed"
done
# The installed tools find libalec.so.0 (ldconfig ran in the trigger).
out=$(printf '7 22.5 0\n7 23.5 1000\n' | /usr/bin/alec-encode --format single | /usr/bin/alec-decode --format single 2>&1)
[ "$out" = "7 22.5
7 23.5" ] || it_check_fail "installed alec-encode | alec-decode: got [$out]"
it_ok "installed: $(dpkg-query -W -f='${Package} ${Version}, ' $PKGS)tools run"

# libalec-dev: <alec/alec.h> and pkg-config.
cat >"$IT_TMP/use.c" <<'EOF'
#include <alec/alec.h>
#include <stdio.h>
int main(void) {
  puts(alec_strerror(0));
  return 0;
}
EOF
# shellcheck disable=SC2046
if gcc -std=c11 -o "$IT_TMP/use" "$IT_TMP/use.c" $(pkg-config --cflags --libs libalec) >"$IT_TMP/cc.log" 2>&1 &&
  "$IT_TMP/use" >/dev/null; then
  it_ok "libalec-dev: a program built with \`pkg-config --cflags --libs libalec' runs"
else
  cat "$IT_TMP/cc.log"
  it_check_fail "libalec-dev: cannot build or run a program against the installed library"
fi

# ---- the stock collectd with the installed snippet and one emitter file.
port=$(it_free_port)
EMITTERS=3
STEPS=60
{
  printf '<Plugin alec>\n  Listen "127.0.0.1" "%s"\n' "$port"
  /usr/bin/alec-send --to "127.0.0.1:$port" --scenario spike --emitters "$EMITTERS" --print-config | sed 's/^/  /'
  printf '</Plugin>\n'
} >"$IT_TMP/emitters.conf" || it_fail "alec-send --print-config failed"
mkdir -p "$IT_CSV"
# No TypesDB here: the snippet's line must name the stock types.db too.
cat >"$IT_CONF" <<EOF
# Generated by tests/integration/debian_packages.sh
Hostname "it-receiver"
FQDNLookup false
BaseDir "$IT_TMP"
PIDFile "$IT_TMP/collectd.pid"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel "info"
  File "$IT_LOG"
  Timestamp true
  PrintSeverity true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$IT_CSV"
  StoreRates false
</Plugin>
Include "/etc/collectd/collectd.conf.d/alec.conf"
Include "$IT_TMP/emitters.conf"
EOF
it_start_alec "$port"
it_bg "$IT_TMP/send.out" /usr/bin/alec-send --to "127.0.0.1:$port" --scenario spike \
  --emitters "$EMITTERS" --steps "$STEPS" --rate 300 --format single
it_bg_wait "$IT_BG_PID" 60 || it_fail "alec-send did not finish in 60 s"
[ "$IT_STATUS" -eq 0 ] || { cat "$IT_TMP/send.out"; it_fail "alec-send failed ($IT_STATUS)"; }
for i in $(seq 0 $((EMITTERS - 1))); do
  h=$(printf 'alec-%016x' "$i")
  it_wait_rows "$h" alec gauge-ch0 "$STEPS" 20 ||
    it_check_fail "$h: $(it_csv_count "$h" alec gauge-ch0) values in csv, want $STEPS"
done
[ "$IT_FAILED" -eq 0 ] && it_ok "stock collectd + installed snippet: $EMITTERS emitters x $STEPS values in csv"
# Scores (alec.types.db) and statistics (derive, of the stock types.db):
# both files of the snippet's TypesDB line were read.
h0=$(printf 'alec-%016x' 0)
it_wait_for 10 it__rows_at_least it-receiver alec-fleet derive-frames 1 ||
  it_check_fail "no fleet statistics (type derive of the stock types.db) in csv"
it_wait_for 10 it__rows_at_least "$h0" alec alec_score-gauge-ch0 1 ||
  it_check_fail "no score of $h0 (type alec_score of alec.types.db) in csv"
it_log_has 'Dataset not found' && it_check_fail "collectd's log: $(grep -m 1 'Dataset not found' "$IT_LOG")"
it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"

# ---- purge: nothing of the packages stays behind.
dp_purge || it_check_fail "purge failed"
for f in /usr/lib/collectd/alec.so /etc/collectd/collectd.conf.d/alec.conf /usr/bin/alec-send /usr/include/alec; do
  [ ! -e "$f" ] || it_check_fail "$f still there after dpkg --purge"
done
[ "$IT_FAILED" -eq 0 ] && it_ok "purged: $PKGS"

[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
