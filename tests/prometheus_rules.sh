#!/bin/sh
# SPDX-License-Identifier: MIT
# contrib/prometheus/: promtool's syntax check of alec.rules.yml, the unit
# tests of alec.rules.test.yml, and the example prometheus.yml (pointed at
# the rules of this tree) and alertmanager.yml (amtool) are valid (Debian
# packages prometheus, prometheus-alertmanager). Skips (77) without promtool.
set -u
src=${ALEC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v promtool >/dev/null 2>&1 || { echo "prometheus_rules: SKIP: promtool not found (Debian package prometheus)"; exit 77; }
cd "$src/contrib/prometheus" || exit 1
promtool check rules alec.rules.yml || exit 1
promtool test rules alec.rules.test.yml || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prometheus_rules.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
sed "s|\"/usr/share/collectd-alec/prometheus/alec.rules.yml\"|\"$src/contrib/prometheus/alec.rules.yml\"|" \
  prometheus.yml >"$tmp/prometheus.yml" || exit 1
promtool check config "$tmp/prometheus.yml" || exit 1
if command -v amtool >/dev/null 2>&1; then
  amtool check-config alertmanager.yml || exit 1
else
  echo "prometheus_rules: amtool not found (Debian package prometheus-alertmanager): alertmanager.yml not checked"
fi
