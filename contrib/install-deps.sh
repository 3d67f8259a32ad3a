#!/bin/sh
# Installs the Debian 12 packages collectd-alec needs to build, test and run
# its demo. Uses sudo only when not already root.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
      check libsubunit-dev libxxhash-dev libsodium-dev
      collectd-core collectd-dev collectd-utils
      libmicrohttpd-dev chromium fonts-dejavu-core
      clang valgrind procps iproute2 ca-certificates
      graphite-carbon python3-whisper influxdb influxdb-client curl
      libprotobuf-c1 libyajl2 libmicrohttpd12"
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
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
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing || status=$?
  [ "$added_policy" = yes ] && as_root rm -f "$policy"
  [ "$status" -eq 0 ] || exit "$status"
else
  echo "install-deps: all packages present"
fi
