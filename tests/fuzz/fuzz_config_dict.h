/* SPDX-License-Identifier: MIT */
#ifndef ALEC_FUZZ_CONFIG_DICT_H
#define ALEC_FUZZ_CONFIG_DICT_H

/* Dictionaries of fuzz_config.c's input format, shared with the seed
 * generator (mkseeds.c) so that its seeds name the same options. Append
 * only: seeds index these tables directly. */

#define FREE_KEY 0xFF /* key byte announcing a free-form option name */

static const char *const keys[] = {
    "Listen", "ReceiveBufferSize", "QueueLength", "MaxEmitters", "EmitterTimeout",
    "UnknownEmitters", "NotifyPriority", "Fleet", "Profile", "Emitter", "Format", "Channels",
    "Scale", "Group", "Channel", "Host", "Source", "Threshold", "ExitThreshold",
    "FailureThreshold", "EnterCount", "ExitCount", "MinPeers", "EvaluationInterval",
    "SyncInterval", "MADFloor", "format", "CHANNEL", "SecurityLevel", "AuthFile", "RateLimit",
    "StateFile", "StateInterval", "ResyncRequests", "ResyncInterval", "Dashboard", "History",
    "HistoryInterval", "UnknownMaxChannels", "MaxNewIdentifiers", "MaxScoreValues",
    "UnknownScores", "ReceiverId", "AuthFileStrictModes", "TimestampTolerance",
    /* <Profile> rows of the LoRaWAN fallback, the <Emitter> file. */
    "Fallback", "TLV", "LossRecovery", "EmitterFile"};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const strs[] = {
    "single", "single-xxh32", "multi", "fixed", "accept", "reject", "P1", "p5", "P6", "off",
    "none", "127.0.0.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", "25830", "0x10", "0xFFFFFFFFFFFFFFFF",
    "18446744073709551616", "42", "-1", "gauge", "temperature", "if_octets", "counter", "unknown",
    "a/b", "a-b", "", "grp", "p", "host1", "Sign", "None", "Encrypt", "keys.txt", "state.alfs",
    "::", "localhost", "25831", "anomalous", "all", "127.1.2.3",
    "milesight-tlv", "hold", "estimate", "battery", "co2", "Multiply", "Add", "a\tb"};
#define NSTRS (sizeof strs / sizeof strs[0])

static const double nums[] = {0, 1, 2, 3, 64, 65, 255, 256, 65535, 65536, 1e6, 1e12, 1e300,
                              -1, 0.5, 0.001, 86400, 9007199254740992.0, 9007199254740993.0,
                              4294967295.0, 4294967296.0, 1073741824.0, 16777216.0};
#define NNUMS (sizeof nums / sizeof nums[0])

#endif
