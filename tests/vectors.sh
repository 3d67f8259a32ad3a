#!/bin/sh
# SPDX-License-Identifier: MIT
# Conformance of alec-decode / alec-encode with the reference ALEC
# implementation, through the command-line tools.
#
# Data: the reference's golden vectors in $ALEC_SHARED/vectors (when present)
# and, always, the frames extracted from them into tests/fixtures/vectors.tsv,
# so that the suite has coverage without the shared data.
#
# Both sources are first turned into one "vector list" (the fixture format,
# documented in tests/fixtures/README.md): groups of frames that one receiver
# (and one emitter) handle in order. Per group:
#   - alec-decode --strict --bits must reproduce the reference receiver's
#     decoded bits on every delivered frame (100% required);
#   - alec-decode --bits --flags (our default receiver) is compared too: it
#     must be 100% on streams without loss, replay or non-finite values; on
#     the hostile streams its differences are reported (docs/PROTOCOL.md,
#     deviations), and each must be a refused frame or carry the unreliable
#     flag: a silently different value fails the test;
#   - alec-encode --reference-compat fed with the reference's inputs (binary64
#     bits as 0x<16 hex digits) must reproduce frame_hex byte for byte, and
#     reject what the library contract rejects.
#
# Usage: tests/vectors.sh                     (the test, run by `make check`)
#        tests/vectors.sh --extract-fixtures FILE
#                                             (rewrite the fixture subset from
#                                              $ALEC_SHARED/vectors)
# POSIX sh + awk only, about 20 s. Exit 0 pass, 1 fail, 99 hard error (no
# skip: the fixtures always run).

set -u
LC_ALL=C
export LC_ALL

srcdir=${ALEC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${ALEC_BUILDDIR:-.}
shared=${ALEC_SHARED:-}
DEC=$builddir/src/tools/alec-decode
ENC=$builddir/src/tools/alec-encode
FIXTURES=$srcdir/tests/fixtures/vectors.tsv
TAB=$(printf '\t')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/alec-vectors.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# ---------------------------------------------------------------------------
# JSONL golden vectors -> vector list.
#   G <stream> <group> <format> <channels> <keyframe_interval> <opts>
#   F <frame_hex> <expected decode line> <encoder input line> <encoder expectation>
# "-" = none (decode: frame not delivered; encode: not an encoder check);
# expected decode "error:" = any line starting with "error:"; "*" = decoded
# but not compared; "usage" = the tool must exit 2; encoder expectation
# "=" = the frame_hex field, "reject" = the encoder must fail on this line
# (exit 1, nothing printed).
# opts: comma list; dflt=require|report (default receiver policy).
# ---------------------------------------------------------------------------
EXTRACT_AWK='
function jget(s, key,   i, r) {
  i = index(s, "\"" key "\":")
  if (i == 0) return "\001"
  r = substr(s, i + length(key) + 3)
  if (substr(r, 1, 1) == "\"") { r = substr(r, 2); return substr(r, 1, index(r, "\"") - 1) }
  match(r, /^[^,}\]]*/)
  return substr(r, 1, RLENGTH)
}
function hex2num(h,   i, v) {
  v = 0
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}
function addgroup(g, hdr) {
  if (!(g in seen)) { seen[g] = 1; order[++ng] = g; H[g] = hdr; cnt[g] = 0 }
}
function addline(g, l) { L[g, ++cnt[g]] = l }
function emit(g, f2, f3, f4, f5) { addline(g, "F\t" f2 "\t" f3 "\t" f4 "\t" f5) }

kind == "malformed" {
  sc = jget($0, "scenario"); hex = jget($0, "frame_hex"); if (hex == "") hex = "0x"
  if ((i = index($0, "\"decode_bytes\":{")) > 0) {
    r = substr($0, i); r = substr(r, 1, index(r, "}"))
    e = (jget(r, "ok") == "true") ? jget(r, "source_id") " " jget(r, "value_bits") : "error:"
    g = sc " (single)"; addgroup(g, "G\t" stream "\t" g "\tsingle\t0\t50\tdflt=require")
    emit(g, hex, e, "-", "-")
  }
  if ((i = index($0, "\"decode_multi\":{")) > 0) {
    r = substr($0, i); r = substr(r, 1, index(r, "}"))
    if (jget(r, "ok") != "true") e = "error:"
    else if (index(r, "\"pairs\":[]") > 0) e = ""
    else e = "?"
    g = sc " (multi)"; addgroup(g, "G\t" stream "\t" g "\tmulti\t0\t50\tdflt=require")
    emit(g, hex, e, "-", "-")
  }
  if ((i = index($0, "\"decode_multi_fixed\":{")) > 0) {
    r = substr($0, i); ch = jget($0, "channel_count") + 0
    if (ch < 1 || ch > 64) e = "usage"
    else if (jget(r, "ok") != "true") e = "error:"
    else {
      v = substr(r, index(r, "\"values\":[") + 10); v = substr(v, 1, index(v, "]") - 1)
      n = split(v, A, ","); e = ""
      for (k = 1; k <= n; k++) e = e (k > 1 ? " " : "") sprintf("%.17g", A[k] + 0)
    }
    g = sc " (fixed)"; addgroup(g, "G\t" stream "\t" g "\tfixed\t" ch "\t50\tdflt=require,decimal")
    emit(g, hex, e, "-", "-")
  }
  next
}

{
  line = $0
  vi = index(line, "\"values\":[")
  rest = substr(line, vi + 10); ve = index(rest, "]")
  vals = substr(rest, 1, ve - 1); top = substr(line, 1, vi - 1) substr(rest, ve + 1)
  nv = (vals == "") ? 0 : split(vals, V, /\},\{/)
  sc = jget(top, "scenario"); hex = jget(top, "frame_hex")
  gated = (index(sc, "gated") > 0)
  if (kind == "fleet") g = "emitter " jget(top, "emitter"); else g = sc
  ch = (kind == "fixed") ? nv : 0
  kf = (index(sc, "no_keyframes") > 0) ? 0 : 50
  opts = "dflt=" dflt (gated ? ",noenc" : "")
  addgroup(g, "G\t" stream "\t" g "\t" (kind == "fleet" ? "single" : kind) "\t" ch "\t" kf "\t" opts)
  if (hex == "null" && gated) next
  if (kind == "fixed" && nv == 0) next

  # Expected decode line.
  if (hex == "null" || jget(top, "dropped") == "true") dexp = "-"
  else if (jget(top, "decode_error") != "\001") dexp = "error:"
  else if (kind == "multi") {
    dexp = ""; first = 1
    for (p = 1; p <= 4; p++)
      for (k = 1; k <= nv; k++) {
        if (jget(V[k], "in_frame") != "true") continue
        if (substr(jget(V[k], "priority"), 2, 1) + 0 != p) continue
        b = jget(V[k], "decoded_bits")
        dexp = dexp (first ? "" : " ") (jget(V[k], "name_id") % 256) ":" b; first = 0
        if (b == "null") dexp = "error:"
      }
    if (dexp ~ /error:/) dexp = "error:"
  } else if (kind == "fixed") {
    dexp = ""
    for (k = 1; k <= nv; k++) {
      b = jget(V[k], "decoded_bits")
      if (b == "null") { dexp = "error:"; break }
      dexp = dexp (k > 1 ? " " : "") b
    }
  } else {
    b = jget(V[1], "decoded_bits")
    dexp = (b == "null") ? "error:" : jget(V[1], "source_id") " " b
    # The reference FleetManager observes every frame as source 0 (spec
    # 4.9), so it fails where a correct receiver does not: such frames
    # are not compared (the decoder state still advances on them).
    if (kind == "fleet") { nfleet++; if (b == "null") { dexp = "*"; fleetfail++ } }
  }

  # Encoder input and expectation.
  if (gated) { ein = "-"; eexp = "-" }
  else {
    ts = jget(top, "timestamp_ms")
    if (ts == "\001" || ts == "null") ts = (hex == "null") ? 0 : sprintf("%.0f", hex2num(substr(hex, 7, 8)) * 1000)
    if (kind == "multi") ein = ts
    else if (kind == "fixed") ein = ""
    else ein = jget(V[1], "source_id") " 0x" jget(V[1], "input_bits") " " ts
    if (kind == "multi" || kind == "fixed")
      for (k = 1; k <= nv; k++) ein = ein ((k > 1 || kind == "multi") ? " " : "") "0x" jget(V[k], "input_bits")
    # The library takes at most 255 values per multi frame; the reference
    # writes a frame whose count byte has wrapped (hostile/multi300).
    eexp = (hex == "null" || (kind == "multi" && nv > 255)) ? "reject" : "="
  }
  emit(g, (hex == "null" ? "-" : hex), dexp, ein, eexp)
}

END {
  if (kind == "fleet")
    printf "%s: the reference FleetManager failed on %d of %d frames; those are not compared\n", stream, fleetfail, nfleet > "/dev/stderr"
  for (i = 1; i <= ng; i++) {
    g = order[i]; print H[g]
    for (k = 1; k <= cnt[g]; k++) print L[g, k]
  }
}'

# stream-file kind default-receiver-policy
STREAMS='s1_single_hvac_24h single require
s1b_single_gated_hvac_24h single require
s2_multi_adaptive_hvac_24h multi require
s3_fixed_hvac_24h fixed require
s4_fleet fleet require
s5_hostile_single single report
s5_hostile_multi multi report
s5_hostile_fixed fixed report
s5_decoder_malformed malformed require'

extract_shared() { # out-file; 0 when at least one stream could be read
  : >"$1"
  while read -r name kind dflt; do
    f=$shared/vectors/$name.jsonl
    if [ ! -r "$f" ]; then
      echo "vectors: $f missing" >&2
      continue
    fi
    awk -v stream="$name" -v kind="$kind" -v dflt="$dflt" "$EXTRACT_AWK" "$f" >>"$1" || exit 99
  done <<EOF
$STREAMS
EOF
  [ -s "$1" ]
}

# Fixture subset: per group a prefix long enough to cover what the group is
# about (the first keyframe at frame 50, the lost frames, the non-finite
# values), so that decoding state stays exactly the reference's.
FIXTURE_AWK='
BEGIN { FS = "\t" }
$1 == "G" {
  stream = $2; grp = $3; kept = 0
  if (stream == "s1_single_hvac_24h") max = 30
  else if (stream == "s2_multi_adaptive_hvac_24h") max = 20
  else if (stream == "s3_fixed_hvac_24h") max = 200
  else if (stream == "s4_fleet") max = (grp == "emitter 0" || grp == "emitter 5") ? 8 : 0
  else if (grp ~ /packet_loss_kf50|fixed1\/nan_then_ramp_across_keyframe/) max = 52
  else if (grp ~ /packet_loss_no_keyframes/) max = 22
  else if (grp ~ /u8_overflow/) max = 2
  else if (grp ~ /delta_boundary/ && stream == "s5_hostile_multi") max = 0
  else if (grp ~ /long_constant|alternating|slow_drift|ramp_1e8|nan_then_ramp/) max = 4
  else max = 1000
  if (max > 0) print
  next
}
$1 == "F" { if (kept < max) { print; kept++ } }'

# ---------------------------------------------------------------------------
# Run a vector list through the tools; appends to $tmp/results:
#   stream check required ok total refused flagged
# ---------------------------------------------------------------------------
SPLIT_AWK='
BEGIN { FS = "\t"; n = 0 }
$1 == "G" {
  if (n) { close(base ".dec"); close(base ".dexp"); close(base ".enc"); close(base ".eexp") }
  n++; base = dir "/g" n
  printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", n, $2, $4, $5, $6, $7, $3 > (dir "/groups")
  next
}
$1 == "F" {
  if ($3 != "-") { print $2 > (base ".dec"); print $3 > (base ".dexp") }
  if ($4 != "-") { print $4 > (base ".enc"); print ($5 == "=" ? $2 : $5) > (base ".eexp") }
}'

# Compares expected with got; rc = the tool's exit status. Prints
# "ok total refused flagged". mode dec|enc|dflt; in dflt mode (our default
# receiver, run with --flags) a frame that differs from the reference is
# "refused" (error line) or "flagged" when every differing value carries the
# unreliable flag u; anything else is silently wrong and counts in neither.
COMPARE_AWK='
function show(i, e, g) {
  if (shown++ < 3)
    printf "%s frame %d:\n  expected [%s]\n  got      [%s]\n", label, i, substr(e, 1, 300), substr(g, 1, 300) > "/dev/stderr"
}
BEGIN {
  n = 0; while ((getline l < expf) > 0) E[++n] = l
  m = 0; while ((getline l < gotf) > 0) G[++m] = l
  ok = 0; refused = 0; flagged = 0; total = n; shown = 0
  for (i = 1; i <= n; i++) {
    e = E[i]
    if (e == "*") { total--; continue }
    if (e == "usage") {
      if (rc == 2) ok++; else why = "exit " rc " instead of a usage error (2)"
      continue
    }
    if (e == "reject") {
      total = i
      if (rc == 1 && m == i - 1) ok++
      else why = "exit " rc " with " m " lines; expected a rejection of input line " i
      break
    }
    g = (i <= m) ? G[i] : "<missing>"
    if (mode != "enc" && rc != 0) g = "<exit " rc ">"
    fl = ""
    if (mode == "dflt" && (t = index(g, "\t")) > 0) { fl = substr(g, t + 1); g = substr(g, 1, t - 1) }
    if (e == "error:") good = (substr(g, 1, 6) == "error:")
    else if (e == "?") good = (i <= m && substr(g, 1, 6) != "error:")
    else good = (g == e)
    if (good) { ok++; continue }
    if (mode == "dflt" && substr(g, 1, 6) == "error:" && e != "error:") { refused++; continue }
    if (mode == "dflt" && e != "error:" && e != "?") {
      ne = split(e, EV, " "); ng = split(g, GV, " "); nf = split(fl, FV, " ")
      # single lines are "<source_id> <value>": one flag token for two tokens
      per = (fmt ~ /^single/) ? 2 : 1
      explained = (ne == ng && nf * per == ng)
      for (k = 1; explained && k <= ne; k++)
        if (EV[k] != GV[k] && (per == 2 && k == 1 || index(FV[int((k + per - 1) / per)], "u") == 0))
          explained = 0
      if (explained) { flagged++; continue }
    }
    show(i, e, g (fl != "" ? "\t" fl : ""))
  }
  if (mode == "enc" && E[total] != "reject" && rc != 0) {
    why = "exit " rc; ok = 0
  }
  if (why != "") printf "%s: %s\n", label, why > "/dev/stderr"
  print ok, total, refused, flagged
}'

result() { # stream check required ok total refused flagged
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$tmp/results"
}

run_list() { # list-file stream-name-prefix tag
  dir=$tmp/run.$3
  rm -rf "$dir"
  mkdir -p "$dir" || exit 99
  awk -v dir="$dir" "$SPLIT_AWK" "$1" || exit 99
  [ -s "$dir/groups" ] || return 0
  while IFS="$TAB" read -r n stream fmt ch kf opts grp; do
    stream=$2$stream
    base=$dir/g$n
    chopt=
    [ "$ch" != 0 ] && chopt="--channels $ch"
    bits=--bits
    case ",$opts," in *,decimal,*) bits= ;; esac
    req=1
    case ",$opts," in *,dflt=report,*) req=0 ;; esac
    if [ -f "$base.dec" ]; then
      # shellcheck disable=SC2086
      "$DEC" --format "$fmt" $chopt $bits --strict "$base.dec" >"$base.sout" 2>"$base.serr"
      rc=$?
      r=$(awk -v expf="$base.dexp" -v gotf="$base.sout" -v rc="$rc" -v mode=dec \
        -v label="$stream [$grp] --strict" "$COMPARE_AWK") || exit 99
      result "$stream" "decode --strict" 1 $r
      # shellcheck disable=SC2086
      "$DEC" --format "$fmt" $chopt $bits --flags "$base.dec" >"$base.dout" 2>"$base.derr"
      rc=$?
      r=$(awk -v expf="$base.dexp" -v gotf="$base.dout" -v rc="$rc" -v mode=dflt -v fmt="$fmt" \
        -v label="$stream [$grp] default receiver" "$COMPARE_AWK") || exit 99
      result "$stream" "decode, default receiver" $req $r
    fi
    if [ -f "$base.enc" ]; then
      # Fixed: the channel count comes from the input lines, so that a line
      # of 65 values reaches the library (which must reject it).
      chopt=
      [ "$ch" -ge 1 ] && [ "$ch" -le 64 ] && chopt="--channels $ch"
      # shellcheck disable=SC2086
      "$ENC" --format "$fmt" $chopt --keyframe-interval "$kf" --reference-compat "$base.enc" \
        >"$base.eout" 2>"$base.eerr"
      rc=$?
      r=$(awk -v expf="$base.eexp" -v gotf="$base.eout" -v rc="$rc" -v mode=enc \
        -v label="$stream [$grp] encode" "$COMPARE_AWK") || exit 99
      result "$stream" "encode --reference-compat" 1 $r
    fi
  done <"$dir/groups"
}

# ---------------------------------------------------------------------------
if [ "${1:-}" = "--extract-fixtures" ]; then
  out=${2:?usage: $0 --extract-fixtures FILE}
  [ -n "$shared" ] && [ -d "$shared/vectors" ] || { echo "ALEC_SHARED/vectors not found" >&2; exit 2; }
  extract_shared "$tmp/list" || exit 1
  {
    echo "# Extracted by tests/vectors.sh --extract-fixtures from the reference's golden"
    echo "# vectors (alec 1.3.10, commit 20b0aa7; ../shared/vectors/*.jsonl)."
    echo "# Format: tests/fixtures/README.md."
    awk "$FIXTURE_AWK" "$tmp/list"
  } >"$out"
  echo "wrote $(grep -c '^F' "$out") frames in $(grep -c '^G' "$out") groups to $out"
  exit 0
fi

for t in "$DEC" "$ENC"; do
  [ -x "$t" ] || { echo "vectors: $t not built" >&2; exit 99; }
done
: >"$tmp/results"

if [ -n "$shared" ] && [ -d "$shared/vectors" ]; then
  if extract_shared "$tmp/shared.list"; then
    run_list "$tmp/shared.list" "" shared
  else
    echo "vectors: no golden vector stream could be read in $shared/vectors"
  fi
else
  echo "vectors: ALEC_SHARED/vectors not found; golden vectors skipped, fixtures only"
fi
if [ -r "$FIXTURES" ]; then
  run_list "$FIXTURES" "fixtures/" fixtures
else
  echo "vectors: $FIXTURES missing" >&2
  exit 99
fi

# Per stream and check: "stream (check): N/M frames match". Required: 100%
# for --strict and the encoder; for the default receiver 100% on streams
# without loss, replay or non-finite values, and everywhere no silently wrong
# value (a difference is either refused or flagged unreliable).
awk -F "$TAB" '
{
  k = $1 " (" $2 ")"
  if (!(k in tot)) { order[++n] = k; req[k] = $3 }
  ok[k] += $4; tot[k] += $5; ref[k] += $6; flg[k] += $7
}
END {
  fail = 0
  for (i = 1; i <= n; i++) {
    k = order[i]
    note = ""
    silent = tot[k] - ok[k] - ref[k] - flg[k]
    if (ok[k] != tot[k]) {
      if (index(k, "default receiver") == 0)
        note = "  FAIL"
      else {
        note = sprintf("; %d refused, %d flagged unreliable, %d silently different", ref[k], flg[k], silent)
        if (req[k]) note = note "  FAIL: this stream has no loss, replay or non-finite value"
        else if (silent > 0) note = note "  FAIL"
        else note = note " (documented deviations, docs/PROTOCOL.md)"
      }
      if (note ~ /FAIL/) fail = 1
    }
    printf "%s: %d/%d frames match%s\n", k, ok[k], tot[k], note
  }
  exit fail
}' "$tmp/results"
