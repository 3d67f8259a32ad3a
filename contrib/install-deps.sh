#!/bin/sh
# Installs the Debian 12 packages collectd-alec needs to build, test and run
# its demo. Uses sudo only when not already root. Quiet when it succeeds.
set -eu
PKGS="build-essential make autoconf automake libtool pkg-config
      check libsubunit-dev libxxhash-dev libsodium-dev
      collectd-core collectd-dev collectd-utils
      libmicrohttpd-dev chromium fonts-dejavu-core
      clang libclang-rt-14-dev valgrind procps iproute2 ca-certificates
      graphite-carbon python3-whisper influxdb influxdb-client curl
      libprotobuf-c1 libyajl2 libyajl-dev libmicrohttpd12
      mosquitto mosquitto-clients libmosquitto-dev
      debhelper dpkg-dev fakeroot lintian prometheus prometheus-alertmanager
      rabbitmq-server librabbitmq-dev amqp-tools
      libpcap-dev"
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
need_root() {
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: not root and no sudo: run it as root (su -c ./contrib/install-deps.sh)" >&2
    exit 1
  fi
}
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  need_root
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  # Packages like influxdb, graphite-carbon and collectd-core would start
  # their system services (listening on every interface); the tests start
  # their own instances on loopback, so forbid service starts during the
  # install unless the machine already has a policy.
  policy=/usr/sbin/policy-rc.d
  added_policy=no
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    added_policy=yes
  fi
  status=0
  log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1 || status=$?
  [ "$added_policy" = yes ] && as_root rm -f "$policy"
  if [ "$status" -ne 0 ]; then
    cat "$log" >&2
    echo "install-deps: apt-get install failed:$missing" >&2
    exit "$status"
  fi
  rm -f "$log"
fi
