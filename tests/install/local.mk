# SPDX-License-Identifier: MIT
# `make install DESTDIR=$PWD/stage && make installcheck DESTDIR=$PWD/stage`
# (DESTDIR empty: the real installation) checks the installed tree.
EXTRA_DIST += tests/install/installcheck.sh
installcheck-local:
	$(SHELL) $(srcdir)/tests/install/installcheck.sh "$(DESTDIR)" "$(libdir)" \
	  "$(bindir)" "$(COLLECTD_PLUGINDIR)" "$(alecdatadir)" "$(CC)" "$(COLLECTD_BIN)"
