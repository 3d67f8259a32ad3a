#!/bin/bash
# SPDX-License-Identifier: MIT
# mqtt_restart.sh with The Things Stack v3 uplinks: QoS 1, a persistent
# session and the StateFile lose nothing across a broker and a collectd
# restart for that dialect too (its redeliveries are recognised by the
# uplink's "as:up:" correlation id, not by a deduplicationId).
MQ_RESTART_DIALECT=tts exec bash "$(dirname "$0")/mqtt_restart.sh"
