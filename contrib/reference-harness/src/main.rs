// SPDX-License-Identifier: MIT
//! Timing harness for the Rust reference codec, driven by bench-codec.
//!
//! Our own code: it only calls the reference's public API (core crate for
//! legacy frames, its C API for fixed frames, as the golden vectors were
//! produced). One command per stdin line, one answer per stdout line, so
//! bench-codec can interleave its own repetitions with these:
//!
//!   decode single|multi|fixed CHANNELS FILE ITERS
//!       FILE: frames, each a little-endian u16 length then its bytes.
//!       Answer: ok VALUES CPU_NS HASH ERRORS
//!   encode fixed CHANNELS FILE ITERS
//!       FILE: rows of CHANNELS little-endian f64.
//!       Answer: ok BYTES CPU_NS HASH 0
//!
//! Every iteration starts from a fresh decoder/encoder, as bench-codec's do;
//! decoders are created outside the timed part.
//! CPU_NS is the process CPU time of all ITERS; HASH is FNV-1a 64 over the
//! decoded values' bit patterns (decode) or over every frame's length and
//! bytes (encode) of the first iteration, for the bit-for-bit check.

use std::io::{BufRead, Write};

use alec::{Context, Decoder, EncodedMessage, RawData};

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clk: i32, ts: *mut Timespec) -> i32;
}

const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;

fn cpu_ns() -> u64 {
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
}

fn load_frames(path: &str) -> std::io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    let mut out = Vec::new();
    let mut p = 0;
    while p + 2 <= data.len() {
        let n = u16::from_le_bytes([data[p], data[p + 1]]) as usize;
        p += 2;
        if p + n > data.len() {
            break;
        }
        out.push(data[p..p + n].to_vec());
        p += n;
    }
    Ok(out)
}

/// A fresh receiver of one kind, created outside the timed part.
enum Receiver {
    Legacy(Decoder, Context),
    Fixed(*mut alec_ffi::AlecDecoder),
}

impl Receiver {
    fn new(kind: &str) -> Self {
        if kind == "fixed" {
            Receiver::Fixed(alec_ffi::alec_decoder_new())
        } else {
            Receiver::Legacy(Decoder::new(), Context::new())
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Receiver::Fixed(d) = self {
            alec_ffi::alec_decoder_free(*d);
        }
    }
}

/// One run over every frame with a fresh receiver; returns (values,
/// errors), hashing when asked.
fn decode_run(rx: &mut Receiver, kind: &str, channels: usize, frames: &[Vec<u8>], mut h: Option<&mut Fnv>) -> (u64, u64) {
    let mut values = 0u64;
    let mut errors = 0u64;
    match (kind, rx) {
        ("single", Receiver::Legacy(dec, ctx)) => {
            for f in frames {
                match dec.decode_bytes(f, &ctx) {
                    Ok(d) => {
                        ctx.observe(&RawData::with_source(d.source_id, d.value, d.timestamp));
                        values += 1;
                        if let Some(h) = h.as_deref_mut() {
                            h.u64(d.value.to_bits());
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
        }
        ("multi", Receiver::Legacy(dec, ctx)) => {
            for f in frames {
                let r = EncodedMessage::from_bytes(f)
                    .ok_or(())
                    .and_then(|m| dec.decode_multi(&m, &ctx).map_err(|_| ()));
                match r {
                    Ok(pairs) => {
                        for (id, v) in pairs {
                            ctx.observe(&RawData::with_source(id as u32, v, 0));
                            values += 1;
                            if let Some(h) = h.as_deref_mut() {
                                h.u64(v.to_bits());
                            }
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
        }
        (_, Receiver::Fixed(dec)) => {
            let dec = *dec;
            let mut out = vec![0f64; channels.max(1)];
            for f in frames {
                let r = alec_ffi::alec_decode_multi_fixed(
                    dec,
                    f.as_ptr(),
                    f.len(),
                    out.as_mut_ptr(),
                    channels,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                );
                if r == alec_ffi::AlecResult::Ok {
                    values += channels as u64;
                    if let Some(h) = h.as_deref_mut() {
                        for v in &out[..channels] {
                            h.u64(v.to_bits());
                        }
                    }
                } else {
                    errors += 1;
                }
            }
        }
        _ => errors += frames.len() as u64,
    }
    (values, errors)
}

fn encode_run(channels: usize, rows: &[f64], mut h: Option<&mut Fnv>) -> u64 {
    let enc = alec_ffi::alec_encoder_new();
    let mut buf = [0u8; 512];
    let mut bytes = 0u64;
    for row in rows.chunks_exact(channels) {
        let mut n = 0usize;
        let r = alec_ffi::alec_encode_multi_fixed(enc, row.as_ptr(), channels, buf.as_mut_ptr(), buf.len(), &mut n);
        if r != alec_ffi::AlecResult::Ok {
            n = 0;
        }
        bytes += n as u64;
        if let Some(h) = h.as_deref_mut() {
            h.u64(n as u64);
            h.bytes(&buf[..n]);
        }
    }
    alec_ffi::alec_encoder_free(enc);
    bytes
}

fn command(line: &str) -> Result<String, String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    if w.len() != 5 {
        return Err("usage: decode|encode KIND CHANNELS FILE ITERS".into());
    }
    let channels: usize = w[2].parse().map_err(|_| "bad CHANNELS")?;
    let iters: u64 = w[4].parse().map_err(|_| "bad ITERS")?;
    let iters = iters.max(1);
    match (w[0], w[1]) {
        ("decode", kind @ ("single" | "multi" | "fixed")) => {
            if kind == "fixed" && channels == 0 {
                return Err("fixed needs CHANNELS".into());
            }
            let frames = load_frames(w[3]).map_err(|e| e.to_string())?;
            let mut h = Fnv::new();
            let (values, errors) = decode_run(&mut Receiver::new(kind), kind, channels, &frames, Some(&mut h));
            // Receivers are created and dropped outside the timed part, in
            // batches, as bench-codec does with its decoders.
            let mut dt = 0u64;
            let mut left = iters;
            while left > 0 {
                let b = left.min(512);
                let mut rxs: Vec<Receiver> = (0..b).map(|_| Receiver::new(kind)).collect();
                let t0 = cpu_ns();
                for rx in rxs.iter_mut() {
                    std::hint::black_box(decode_run(rx, kind, channels, std::hint::black_box(&frames), None));
                }
                dt += cpu_ns() - t0;
                drop(rxs);
                left -= b;
            }
            Ok(format!("ok {} {} {:016x} {}", values, dt, h.0, errors))
        }
        ("encode", "fixed") => {
            if channels == 0 {
                return Err("fixed needs CHANNELS".into());
            }
            let raw = std::fs::read(w[3]).map_err(|e| e.to_string())?;
            let rows: Vec<f64> = raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            let mut h = Fnv::new();
            let bytes = encode_run(channels, &rows, Some(&mut h));
            let t0 = cpu_ns();
            for _ in 0..iters {
                std::hint::black_box(encode_run(channels, std::hint::black_box(&rows), None));
            }
            let dt = cpu_ns() - t0;
            Ok(format!("ok {} {} {:016x} 0", bytes, dt, h.0))
        }
        _ => Err("unknown command".into()),
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match command(&line) {
            Ok(s) => s,
            Err(e) => format!("error {}", e),
        };
        if writeln!(out, "{}", answer).and_then(|_| out.flush()).is_err() {
            break;
        }
    }
}
