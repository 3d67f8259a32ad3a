/* SPDX-License-Identifier: MIT */
#ifndef ALEC_TOOLS_LORAWAN_SIM_H
#define ALEC_TOOLS_LORAWAN_SIM_H

/* A fleet of EM500-CO2-like LoRaWAN devices in virtual time, configured as
 * the reference's partner deployment: five channels in register units
 * (battery %, temperature 0.1 degC, humidity 0.5 %RH, CO2 ppm, pressure
 * 0.1 hPa), libalec's encoder in reference-compatible mode (byte-exact with
 * the reference), keyframe interval 30, and every frame over the payload
 * ceiling (11 bytes), every keyframe and the cold-start frame sent as the
 * Milesight TLV frame instead, the encoder having advanced all the same.
 * One uplink per device and period, each device at its own phase; fCnt per
 * uplink, lost ones included; random loss and one outage of every gateway.
 * Deterministic for a seed. Not part of libalec. */

#include <stddef.h>
#include <stdint.h>

#define ALEC_LWS_CHANNELS 5
#define ALEC_LWS_FPORT 85
#define ALEC_LWS_MAX_PAYLOAD 32

typedef struct alec_lws_config {
  unsigned devices;      /* 40 */
  double days;           /* 3 */
  double period;         /* s between uplinks of a device, 600 */
  double loss;           /* probability an uplink is lost, 0.02 */
  double outage_start;   /* s after the start, 36 h; < 0: none */
  double outage_length;  /* s, 90 min */
  double loss_until;     /* s after the start: no random loss later; < 0: never ends */
  unsigned ceiling;      /* 11 bytes */
  unsigned keyframe;     /* 30 */
  uint64_t seed;         /* 1 */
  double start;          /* unix time of the first period, 2026-12-01 */
  uint64_t first_deveui; /* 0x24E124136B000000 (Milesight's OUI range) */
  /* One device whose temperature departs from its peers (a sensor in the
   * sun, a failing heater): anomaly_temp registers added to it from
   * anomaly_start for anomaly_length s after the start; < 0 start: none. */
  unsigned anomaly_device;
  double anomaly_start, anomaly_length, anomaly_temp;
} alec_lws_config;

typedef struct alec_lws_uplink {
  unsigned device;
  uint64_t deveui;
  double time;
  uint32_t fcnt;
  uint8_t fport;
  int tlv;    /* the payload is the TLV fallback */
  int lost;   /* never reached a gateway */
  uint64_t index; /* uplink number of this device, from 0 */
  double truth[ALEC_LWS_CHANNELS]; /* the registers the device measured */
  uint8_t payload[ALEC_LWS_MAX_PAYLOAD];
  size_t len;
  float rssi, snr;
} alec_lws_uplink;

typedef struct alec_lws alec_lws;

void alec_lws_config_init(alec_lws_config *cfg);
/* 0, ALEC_EINVAL, ALEC_ENOMEM. */
int alec_lws_new(alec_lws **out, const alec_lws_config *cfg);
void alec_lws_free(alec_lws *s);
/* The next uplink in time order (lost ones too, marked): 1, or 0 at the end. */
int alec_lws_next(alec_lws *s, alec_lws_uplink *u);
/* A downlink to a device (0xFF: keyframe request), applied at its next
 * uplink as a Class A device receives it. */
void alec_lws_downlink(alec_lws *s, unsigned device, const uint8_t *msg, size_t len);
/* The device restarts before its next uplink: fresh encoder, fCnt 0 (a
 * rejoin). */
void alec_lws_reboot(alec_lws *s, unsigned device);
/* Milesight TLV payload of five registers; returns its length (18). */
size_t alec_lws_tlv_encode(const double *regs, uint8_t *out);

#endif
