#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the timing harness for the Rust reference codec and runs
# bench-codec with the reference's figures beside libalec's.
#
#   contrib/bench-reference.sh [REFERENCE_CHECKOUT] [-- bench-codec args...]
#
# REFERENCE_CHECKOUT (or $ALEC_REFERENCE): a checkout of the reference
# (alec-codec 1.3.x, the crate `alec` at its top, `alec-ffi/` beside).
# $ALEC_REF_BUILD: build directory (default: build-reference/ here, kept out
# of git by .gitignore's /build*/); $BENCH_CODEC: the bench-codec binary
# (default: src/tools/bench-codec under the current directory, i.e. run this
# from a build tree).
#
# The build is offline: cargo reads Debian's crates (librust-thiserror-dev,
# librust-xxhash-rust-dev, librust-log-dev) from /usr/share/cargo/registry
# through a source replacement. The reference's own manifests are not used:
# ours name only what the timed paths need (its core and C-API crates, no
# dev-dependencies, no cbindgen build script) and a small stand-in for the
# crc 3.x API (Debian has 1.8), which only preload files and context
# save/load use. Nothing of the reference is copied: the manifests point at
# its sources where they are. Skips cleanly (exit 0) when the checkout or
# cargo is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ref=${ALEC_REFERENCE:-}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  [ -n "$1" ] && ref=$1
  shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift

skip() {
  echo "bench-reference: $*; skipped"
  exit 0
}
[ -n "$ref" ] || skip "no reference checkout given (argument or ALEC_REFERENCE)"
[ -f "$ref/src/lib.rs" ] && [ -f "$ref/alec-ffi/src/lib.rs" ] ||
  skip "$ref does not look like the reference checkout (src/lib.rs, alec-ffi/src/lib.rs)"
command -v cargo >/dev/null 2>&1 || skip "cargo not found"
registry=/usr/share/cargo/registry
for c in thiserror xxhash-rust log; do
  ls -d "$registry/$c"-[0-9]* >/dev/null 2>&1 ||
    skip "$registry has no $c (apt-get install librust-$c-dev)"
done
ref=$(cd "$ref" && pwd)
bdir=${ALEC_REF_BUILD:-$PWD/build-reference}
mkdir -p "$bdir/.cargo" "$bdir/alec" "$bdir/alec-ffi" "$bdir/crc/src" "$bdir/harness/src"
bdir=$(cd "$bdir" && pwd)

cat >"$bdir/.cargo/config.toml" <<EOT
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "$registry"

[net]
offline = true
EOT

cat >"$bdir/Cargo.toml" <<EOT
[workspace]
members = ["alec", "alec-ffi", "crc", "harness"]
resolver = "2"

[profile.release]
lto = true
codegen-units = 1
opt-level = 3
EOT

# The reference's release profile (LTO, one codegen unit, -O3) is kept
# above, so it is timed as its authors ship it.
cat >"$bdir/alec/Cargo.toml" <<EOT
[package]
name = "alec"
version = "1.3.10"
edition = "2021"
autobins = false
autoexamples = false
autotests = false
autobenches = false

[lib]
path = "$ref/src/lib.rs"

[dependencies]
thiserror = { version = "1.0", optional = true }
xxhash-rust = { version = "0.8", features = ["xxh64", "xxh32"] }
crc = { path = "../crc" }
log = { version = "0.4", optional = true }

[features]
default = ["std"]
std = ["thiserror"]
no_std = []
logging = ["log"]
EOT

cat >"$bdir/alec-ffi/Cargo.toml" <<EOT
[package]
name = "alec-ffi"
version = "1.3.10"
edition = "2021"
build = false
autobins = false
autoexamples = false
autotests = false
autobenches = false

[lib]
name = "alec_ffi"
path = "$ref/alec-ffi/src/lib.rs"
crate-type = ["rlib"]

[dependencies]
alec = { path = "../alec", default-features = false }
xxhash-rust = { version = "0.8", default-features = false, features = ["xxh64"] }
log = { version = "0.4", default-features = false }

[features]
default = ["decoder"]
decoder = ["std"]
std = ["alec/std"]
no_std = ["alec/no_std"]
# Declared so that its cfg()s are known; never enabled here.
zephyr = []
bare-metal = []
EOT

cat >"$bdir/crc/Cargo.toml" <<EOT
[package]
name = "crc"
version = "3.0.1"
edition = "2021"
license = "MIT"
EOT
cp "$here/reference-harness/crc-standin/src/lib.rs" "$bdir/crc/src/lib.rs"

cat >"$bdir/harness/Cargo.toml" <<EOT
[package]
name = "alec-ref-harness"
version = "0.1.0"
edition = "2021"
license = "MIT"

[dependencies]
alec = { path = "../alec" }
alec-ffi = { path = "../alec-ffi" }
EOT
cp "$here/reference-harness/src/main.rs" "$bdir/harness/src/main.rs"

echo "bench-reference: building the reference harness in $bdir"
(cd "$bdir" && nice cargo build --release --offline -q -p alec-ref-harness) ||
  skip "the reference harness did not build"
harness=$bdir/target/release/alec-ref-harness
[ -x "$harness" ] || skip "no harness binary"

bench=${BENCH_CODEC:-$PWD/src/tools/bench-codec}
[ -x "$bench" ] || skip "$bench not built (run make in a build tree first)"
ALEC_REF_HARNESS=$harness
export ALEC_REF_HARNESS
exec "$bench" "$@"
