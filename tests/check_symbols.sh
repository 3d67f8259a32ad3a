#!/bin/sh
# SPDX-License-Identifier: MIT
# collectd loads plugins with dlopen(RTLD_NOW): every undefined symbol of
# alec.so must be exported by the collectd daemon or by one of the few
# libraries alec.so may link (libc, libm, libpthread, libxxhash,
# libmicrohttpd for the dashboard, as collectd's write_prometheus,
# libsodium for signed envelopes, as collectd's network plugin libgcrypt;
# libyajl and libmosquitto for LoRaWAN uplinks, as collectd's own mqtt plugin; in a
# sanitizer build also the sanitizer runtimes). A symbol from anywhere else
# makes `LoadPlugin alec` fail at startup although the link succeeded.
set -u
so="${ALEC_BUILDDIR:-.}/.libs/alec.so"
bin="${COLLECTD_BIN:-}"
if [ ! -f "$so" ]; then echo "SKIP: $so not built"; exit 77; fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then echo "SKIP: no collectd daemon (COLLECTD_BIN)"; exit 77; fi
for tool in nm readelf ldd; do
  command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM

allowed='^(libc|libm|libpthread|libxxhash|libmicrohttpd|libsodium|libyajl|libmosquitto|ld-linux[-a-z0-9_]*)\.so'
if readelf -d "$so" | grep -q 'NEEDED.*libasan'; then
  allowed='^(libc|libm|libpthread|libxxhash|libmicrohttpd|libsodium|libyajl|libmosquitto|libdl|librt|libgcc_s|libstdc\+\+|libasan|libubsan|ld-linux[-a-z0-9_]*)\.so'
fi
status=0
readelf -d "$so" | sed -n 's/.*NEEDED.*\[\(.*\)\].*/\1/p' > "$tmp/needed"
while read -r lib; do
  if ! echo "$lib" | grep -Eq "$allowed"; then
    echo "FAIL: alec.so links $lib (only libc, libm, libpthread, libxxhash, libmicrohttpd, libsodium, libyajl, libmosquitto are allowed)"
    status=1
  fi
done < "$tmp/needed"

# Symbols the daemon and the linked libraries define (version suffix dropped).
nm -D --defined-only "$bin" | awk '{print $NF}' | sed 's/@.*//' > "$tmp/defined"
ldd "$so" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
  nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//'
done >> "$tmp/defined"
sort -u "$tmp/defined" -o "$tmp/defined"
# Strong undefined symbols only: weak ones (w) may stay unresolved.
nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}' | sed 's/@.*//' | sort -u > "$tmp/undefined"
comm -23 "$tmp/undefined" "$tmp/defined" > "$tmp/missing"
n_undef=$(wc -l < "$tmp/undefined")
if [ -s "$tmp/missing" ]; then
  echo "FAIL: undefined in alec.so and exported by neither $bin nor its libraries:"
  sed 's/^/  /' "$tmp/missing"
  status=1
fi
exports=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | tr '\n' ' ')
[ $status -eq 0 ] && echo "alec.so: $n_undef undefined symbols, all resolvable; exports: $exports"
exit $status
