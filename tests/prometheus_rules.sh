#!/bin/sh
# SPDX-License-Identifier: MIT
# contrib/prometheus/alec.rules.yml: promtool's syntax check and the unit
# tests of contrib/prometheus/alec.rules.test.yml (Debian package
# prometheus). Skips (77) without promtool.
set -u
src=${ALEC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
command -v promtool >/dev/null 2>&1 || { echo "prometheus_rules: SKIP: promtool not found (Debian package prometheus)"; exit 77; }
cd "$src/contrib/prometheus" || exit 1
promtool check rules alec.rules.yml || exit 1
promtool test rules alec.rules.test.yml || exit 1
