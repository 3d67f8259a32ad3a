# SPDX-License-Identifier: MIT
# Packaging and alerting: man pages of the tools, the notification scripts
# and Prometheus rules installed beside the types database (Debian's
# collectd-alec package, debian/), the rules' unit tests (promtool) and the
# Prometheus + Alertmanager integration test. The Debian package test
# (tests/integration/debian_packages.sh) installs into the machine: it runs
# from contrib/check-all.sh, once, not from `make check'.

dist_man_MANS += docs/alec-send.1 docs/alec-decode.1 docs/alec-encode.1 docs/alec-replay.1

# NotificationExec programs of contrib/writers/notifications.conf.
dist_alecdata_SCRIPTS = contrib/writers/notify.sh contrib/writers/alertmanager-notify.sh

alecpromdir = $(alecdatadir)/prometheus
dist_alecprom_DATA = contrib/prometheus/alec.rules.yml

EXTRA_DIST += debian tests/integration/debian_packages.sh

# The rules' syntax and unit tests (promtool, Debian package prometheus).
TESTS += tests/prometheus_rules.sh
dist_check_SCRIPTS += tests/prometheus_rules.sh
EXTRA_DIST += contrib/prometheus

# collectd + write_prometheus, Prometheus with the rules and Alertmanager on
# loopback: the deviating emitter's alert fires and resolves, no other.
TESTS += tests/integration/prometheus_alerting.sh
EXTRA_DIST += tests/integration/prometheus_alerting.sh

# Notifications to a real Alertmanager through exec and
# contrib/writers/alertmanager-notify.sh.
TESTS += tests/integration/writers_alertmanager.sh
EXTRA_DIST += tests/integration/writers_alertmanager.sh tests/integration/alertmanager_lib.sh
