# SPDX-License-Identifier: MIT
# The README's second demo (contrib/demo-lorawan.sh) in its quick mode.
TESTS += tests/integration/demo_lorawan.sh
EXTRA_DIST += tests/integration/demo_lorawan.sh
CLEANFILES += -r demo-lorawan
