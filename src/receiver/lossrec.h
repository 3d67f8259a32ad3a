/* SPDX-License-Identifier: MIT */
#ifndef ALEC_RECEIVER_LOSSREC_H
#define ALEC_RECEIVER_LOSSREC_H

/* Loss recovery for fixed-frame emitters that fall back to their own exact
 * format (Milesight TLV, reference 1.3.10 Option C) and feed their encoder
 * integer registers: the receiver's mirror of the device's encoder.
 *
 * Without loss the decoder observes exactly what the encoder observed (the
 * register a decoded value rounds to, the TLV values), so both contexts are
 * bit-identical and every value is exact. A lost uplink is known from the
 * LoRaWAN fCnt at the next uplink; its observations are replayed as ghost
 * frames (estimates interpolated between the last value and the next one),
 * so sequence and context version advance exactly as the encoder's did.
 * What the estimates got wrong is an error E per channel in the predictor
 * (the EMA), which the receiver then removes: a decoded value is an integer
 * plus E, so its fraction gives E modulo 1 (corrected at once, leaving an
 * integer n), and after each exact observation (TLV) E = c n with c =
 * (1 - alpha)^m: the fraction of every later decoded value rules out the
 * candidates n it does not fit. One candidate left: E is known and
 * removed. The candidates span what the estimates can have got wrong if no
 * lost value changed by more than twice the largest change seen between
 * two received uplinks (at most -60..60; all of it when that assumption
 * fails or a second loss comes first). On the widest range an offset
 * beyond it could alias with a candidate (differ by a multiple of the
 * period of c n modulo 1); the exact observations after it would make
 * that error fractional, so the channel is checked against every alias up
 * to 1000 first. Only then are the channel's decoded values exact again (docs/PROTOCOL.md, "Deviations from
 * the reference"); before, they are estimates. Collectd-free, fleet-free:
 * it works on the emitter's alec_decoder. */

#include <stddef.h>
#include <stdint.h>

#include "alec/decoder.h"

/* LoRaWAN 1.0 MAX_FCNT_GAP: a larger jump is not a loss the network
 * server would have accepted; it is handled as a rejoin. */
#define ALEC_LR_MAX_GAP 16384u
/* An fCnt below this one, behind the last: the device rejoined (its first
 * uplinks after a join may be lost too). */
#define ALEC_LR_REJOIN_FCNT 64u
/* Channels of a Fallback profile (Milesight devices have up to 8). */
#define ALEC_LR_MAX_CHANNELS 16

enum alec_lr_status {
  ALEC_LR_EXACT = 0,    /* the register the device measured */
  ALEC_LR_ESTIMATE = 1, /* a lost uplink left an unknown integer offset */
  ALEC_LR_NONE = 2      /* non-finite: nothing to dispatch */
};

/* What an fCnt says about the uplink. */
enum alec_lr_fcnt {
  ALEC_LR_FCNT_NEXT = 0,      /* first, next or after *lost lost uplinks */
  ALEC_LR_FCNT_DUPLICATE = 1, /* same fCnt or a little behind: already seen */
  ALEC_LR_FCNT_RESET = 2      /* counter restarted (rejoin) or jumped beyond MAX_GAP */
};

typedef struct alec_lr {
  uint32_t fcnt;
  uint32_t pending; /* lost before uplinks that were not the encoder's (alarms) */
  uint8_t has_fcnt;
  uint8_t n;         /* channels */
  uint8_t has_last;  /* last[] holds the values of the latest uplink */
  uint64_t ghosts;   /* lost uplinks replayed into the decoder */
  uint64_t reanchored; /* channels that became exact again */
  double last[ALEC_LR_MAX_CHANNELS]; /* latest values (registers) */
  uint8_t st[ALEC_LR_MAX_CHANNELS];  /* per channel: exact, unknown E, E = c * n + eps */
  double c[ALEC_LR_MAX_CHANNELS];
  double eps[ALEC_LR_MAX_CHANNELS];         /* bound on the non-integer part */
  uint8_t last_exact[ALEC_LR_MAX_CHANNELS]; /* last[] is what the encoder last observed */
  uint8_t nmax[ALEC_LR_MAX_CHANNELS];       /* |n| bound of the current loss */
  double step[ALEC_LR_MAX_CHANNELS];        /* largest change between two uplinks seen */
  double rep[ALEC_LR_MAX_CHANNELS];         /* to observe for a Repeated: keeps E's form */
  uint8_t steps[ALEC_LR_MAX_CHANNELS];      /* changes seen (saturating) */
  uint64_t cand[ALEC_LR_MAX_CHANNELS][2];   /* n = bit - 60 still possible */
  /* Checks an alias passed as well, each at its own c (w x within t of
   * an integer): in the candidates' phase x is the difference of two n,
   * once one is identified the integer error D it leaves. */
  double vc[ALEC_LR_MAX_CHANNELS][4];
  float vt[ALEC_LR_MAX_CHANNELS][4];
  float vlast[ALEC_LR_MAX_CHANNELS]; /* c of the verification's latest check (1: none) */
  uint8_t passes[ALEC_LR_MAX_CHANNELS];
} alec_lr;

void alec_lr_init(alec_lr *s, unsigned channels);

/* Classifies an uplink's fCnt (32-bit, or a 16-bit counter that wrapped)
 * and remembers it. *lost: uplinks lost before it. */
int alec_lr_fcnt(alec_lr *s, uint32_t fcnt, uint32_t *lost);

/* Every channel's predictor error unknown (state restored without this
 * object, uplinks missed before the first one seen). */
void alec_lr_unknown(alec_lr *s);

/* The device restarted (rejoin): its encoder is fresh, so the decoder is
 * reset (context version 0, no sequence seen) and every channel waits for
 * its cold-start fallback. */
void alec_lr_restart(alec_lr *s, alec_decoder *dec);

/* Before a fallback frame of exact values is fed (by the caller, through
 * the fleet): replays `lost` ghost frames into dec (NULL: none yet) and
 * updates the channel states. Returns the number of ghosts replayed. */
uint32_t alec_lr_exact(alec_lr *s, alec_decoder *dec, uint32_t lost, const double *values);

/* An ALEC fixed frame: replays `lost` ghosts (estimated from the frame
 * itself), decodes the frame without changing the context and writes per
 * channel the value to observe (feed, for alec_fleet_feed_values), the
 * register to dispatch (out) and its status. Returns the channel count, or
 * a negative ALEC_E* decode error (then the ghosts stay, nothing else
 * changed). info (nullable) is the decoder's view of the frame. */
int alec_lr_decode(alec_lr *s, alec_decoder *dec, uint32_t lost, const uint8_t *frame, size_t len, double *feed,
                   double *out, uint8_t *status, alec_frame_info *info);

#endif
