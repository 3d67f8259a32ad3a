# SPDX-License-Identifier: MIT
# The MQTT transport of the receiver (src/receiver/mqtt.h): <MQTT> blocks,
# ChirpStack v4 / TTS v3 uplinks through the network-server event parser
# (libalec_lorawan), keyframe requests as downlinks. Linked into the
# receiver, so every embedding (alec.so, the tests) gets libmosquitto and
# the event parser from it.
libalec_receiver_la_SOURCES += src/receiver/mqtt.c src/receiver/mqtt.h
libalec_receiver_la_CFLAGS += $(MOSQUITTO_CFLAGS)
libalec_receiver_la_LIBADD = libalec_lorawan.la $(MOSQUITTO_LIBS)
