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
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
else
  echo "install-deps: all packages present"
fi
