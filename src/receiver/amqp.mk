# SPDX-License-Identifier: MIT
# The AMQP transport of the receiver (src/receiver/amqp_transport.h): <AMQP> blocks
# consuming RabbitMQ queues of ChirpStack / TTS uplink events (one shard of
# a consistent-hash exchange each, docs/SCALING.md), acknowledged after
# collectd has the values; nsmsg.c is the uplink -> message step it shares
# with the MQTT transport.
libalec_receiver_la_SOURCES += \
	src/receiver/amqp_transport.c \
	src/receiver/amqp_transport.h \
	src/receiver/amqpconf.c \
	src/receiver/amqpconf.h \
	src/receiver/nsmsg.c \
	src/receiver/nsmsg.h
libalec_receiver_la_CFLAGS += $(RABBITMQ_CFLAGS)
libalec_receiver_la_LIBADD += $(RABBITMQ_LIBS)

if BUILD_PLUGIN
# The configuration tests compile the option parser and config.c directly.
tests_check_plugin_config_SOURCES += src/receiver/amqpconf.c
tests_check_security_SOURCES += src/receiver/amqpconf.c
tests_check_mqtt_config_SOURCES += src/receiver/amqpconf.c
endif

# The fleet of the AMQP tests and benchmark: ChirpStack "up" events of ALEC
# devices published to RabbitMQ; keyframe requests honoured.
check_PROGRAMS += tests/integration/amqppub
tests_integration_amqppub_SOURCES = tests/integration/amqppub.c
tests_integration_amqppub_CFLAGS = $(AM_CFLAGS) $(RABBITMQ_CFLAGS) $(SODIUM_CFLAGS)
tests_integration_amqppub_LDADD = libalec.la $(RABBITMQ_LIBS) $(SODIUM_LIBS) -lm

# Against a private RabbitMQ node (tests/integration/rabbitmq_lib.sh): one
# receiver (amqp_basic.sh); three receivers, a failover and a fourth shard
# (amqp_shards.sh). Skipped when rabbitmq-server is not installed.
AMQP_IT_TESTS = tests/integration/amqp_basic.sh tests/integration/amqp_shards.sh
TESTS += $(AMQP_IT_TESTS)
EXTRA_DIST += $(AMQP_IT_TESTS) tests/integration/rabbitmq_lib.sh

# Broker-free units: the uplink -> message step, <AMQP> checks, and the
# receiver's completion after the writers (what the consumer acknowledges on).
check_PROGRAMS += tests/check_amqp
TESTS += tests/check_amqp
tests_check_amqp_SOURCES = tests/check_amqp.c
tests_check_amqp_CPPFLAGS = $(AM_CPPFLAGS) $(RECEIVER_CPPFLAGS)
tests_check_amqp_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_amqp_LDADD = libalec_receiver.la libalec_fleet.la libalec.la $(SODIUM_LIBS) $(CHECK_LIBS) -lm -lpthread
