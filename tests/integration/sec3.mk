# SPDX-License-Identifier: MIT
# Hardening, round two (docs/SECURITY.md): amplification by unknown emitters,
# replays across restarts and key re-adds, peer poisoning, hostile state and
# key files, clamped timestamps. Real collectd, loopback only.
SEC3_IT_TESTS = \
	tests/integration/sec_amplify.sh \
	tests/integration/sec_replay.sh \
	tests/integration/sec_poison.sh \
	tests/integration/sec_files.sh \
	tests/integration/sec_time.sh \
	tests/integration/sec_snapshot.sh
TESTS += $(SEC3_IT_TESTS)
EXTRA_DIST += $(SEC3_IT_TESTS)
