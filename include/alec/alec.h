/* SPDX-License-Identifier: MIT */
#ifndef ALEC_ALEC_H
#define ALEC_ALEC_H

/* Umbrella header of libalec. */

#include "alec/classifier.h"
#include "alec/context.h"
#include "alec/decoder.h"
#include "alec/encoder.h"
#include "alec/error.h"
#include "alec/frame.h"
#include "alec/wire.h"

#define ALEC_VERSION_STRING "0.1.0"

#endif
