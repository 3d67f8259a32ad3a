#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's two commands on a fresh Debian 12: debootstraps a minimal
# bookworm (variant minbase, plus git and ca-certificates, as a new user
# has it) into a directory, clones this repository's HEAD into it (a clean
# clone: uncommitted changes are not part of the check), mounts /proc,
# /sys, /dev, /dev/pts and /dev/shm, runs inside the chroot
#
#   ./contrib/install-deps.sh && ./contrib/demo.sh
#   ./contrib/install-deps.sh && ./contrib/check-all.sh
#
# unmounts, and reports each command's status and duration and the test
# totals of check-all. Not part of CI's default run: it downloads about a
# gigabyte from the mirror and runs both test suites (tens of minutes).
#
# usage: contrib/fresh-root-check.sh [--keep] [--mirror URL] [--only-demo] [DIR]
#   DIR        the root to create (default: a new /var/tmp/alec-fresh-root.XXXXXX);
#              it must not exist or be empty
#   --keep     keep the root afterwards (default: removed when every mount is gone)
#   --mirror   Debian mirror (default $DEBIAN_MIRROR or http://deb.debian.org/debian)
#   --only-demo  run the first command only
# Logs: DIR.logs/ (debootstrap.log, demo.log, check.log, report.txt).
# Needs root (debootstrap, chroot, mount); installs debootstrap with apt-get
# when it is missing. Exit status 0 when both commands succeeded.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
keep=0
only_demo=0
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --only-demo) only_demo=1 ;;
    --mirror) shift; mirror=${1:?--mirror needs a URL} ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fresh-root-check: unknown option $1" >&2; exit 2 ;;
    *) root=$1 ;;
  esac
  shift
done
say() { printf 'fresh-root-check: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mount): run it as root"
git -C "$top" rev-parse --verify -q HEAD >/dev/null || die "$top is not a git checkout with a commit"
if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    die "cannot install debootstrap (apt-get install debootstrap)"
fi
if [ -z "$root" ]; then
  root=$(mktemp -d /var/tmp/alec-fresh-root.XXXXXX)
elif [ -e "$root" ] && [ -n "$(ls -A "$root" 2>/dev/null)" ]; then
  die "$root exists and is not empty"
fi
mkdir -p "$root"
root=$(cd "$root" && pwd)
[ "$root" != / ] || die "refusing to use / as the root"
logs=$root.logs
mkdir -p "$logs"
report=$logs/report.txt
: >"$report"
note() { say "$*"; printf '%s\n' "$*" >>"$report"; }

# Mounts, undone in reverse order on every exit; the root is removed only
# when none of them is left.
mounts=""
do_mount() {
  target=$1
  shift
  mount "$@" "$target" && mounts="$target $mounts"
}
cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  for m in $mounts; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "cannot unmount $m"
  done
  if grep -q " $root/" /proc/mounts 2>/dev/null; then
    say "mounts left under $root: not removing it"
  elif [ "$keep" -eq 0 ]; then
    rm -rf "$root"
  else
    say "root kept in $root"
  fi
  say "logs in $logs"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now() { date +%s; }
t_all=$(now)
note "root $root, mirror $mirror, commit $(git -C "$top" rev-parse --short HEAD)"

t=$(now)
debootstrap --variant=minbase --include=git,ca-certificates bookworm "$root" "$mirror" \
  >"$logs/debootstrap.log" 2>&1 || { tail -n 20 "$logs/debootstrap.log"; die "debootstrap failed"; }
note "debootstrap (minbase + git, ca-certificates): $(($(now) - t)) s, $(du -sm "$root" | cut -f1) MB"

# The same suites as a stock bookworm installation.
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap copies /etc/hostname but writes no /etc/hosts; the Debian
# installer and the cloud images write this one. Without it the machine's
# own name does not resolve, which no installed Debian has (RabbitMQ's node
# start then waits for name lookups).
h=$(cat "$root/etc/hostname" 2>/dev/null || hostname)
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' "${h:-debian}" >"$root/etc/hosts"
git clone -q --no-hardlinks "$top" "$root/root/collectd-alec" || die "git clone failed"

do_mount "$root/proc" -t proc proc
do_mount "$root/sys" -t sysfs sysfs || say "note: no sysfs in the root"
do_mount "$root/dev" --bind /dev
do_mount "$root/dev/pts" -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts
do_mount "$root/dev/shm" -t tmpfs -o mode=1777 shm

# Runs one of the README's commands in the chroot as a new user's shell
# would: login environment of root, the checkout in root's home directory
# (mode 0700, so exec's user nobody cannot enter it) as working directory.
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb /bin/sh -c "cd /root/collectd-alec && $1"
}
status=0
run() {
  name=$1 cmd=$2
  t=$(now)
  if in_root "$cmd" >"$logs/$name.log" 2>&1; then
    note "$name: \`$cmd' succeeded in $(($(now) - t)) s"
  else
    rc=$?
    status=1
    note "$name: \`$cmd' FAILED (status $rc) after $(($(now) - t)) s; last lines of $logs/$name.log:"
    tail -n 30 "$logs/$name.log" | sed 's/^/    /' | tee -a "$report"
  fi
}
run demo "./contrib/install-deps.sh && ./contrib/demo.sh"
if [ "$only_demo" -eq 0 ]; then
  run check "./contrib/install-deps.sh && ./contrib/check-all.sh"
  summary=$(grep -E '^check-all: ' "$logs/check.log" | tail -n 1 || true)
  note "${summary:-check-all printed no summary}"
  skipped=$(grep -E '^(SKIP|XFAIL|ERROR|FAIL):' "$logs/check.log" || true)
  [ -z "$skipped" ] || { note "tests not passed:"; printf '%s\n' "$skipped" | sed 's/^/    /' | tee -a "$report"; }
fi
note "total: $(($(now) - t_all)) s"
exit "$status"
