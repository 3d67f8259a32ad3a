// SPDX-License-Identifier: MIT
//! Stand-in for the `crc` 3.x API subset the reference codec uses (CRC-32
//! ISO-HDLC: `Crc::<u32>::new`, `checksum`, `digest`/`update`/`finalize`).
//! Debian ships crc 1.8, whose API differs; the codec only needs a CRC for
//! preload files and context save/load, never on a timed path, so a bitwise
//! implementation is enough.
#![no_std]

pub struct Algorithm<W> {
    pub poly_reflected: W,
    pub init: W,
    pub xorout: W,
}

pub const CRC_32_ISO_HDLC: Algorithm<u32> = Algorithm {
    poly_reflected: 0xEDB8_8320,
    init: 0xFFFF_FFFF,
    xorout: 0xFFFF_FFFF,
};

pub struct Crc<W: 'static> {
    pub algorithm: &'static Algorithm<W>,
}

pub struct Digest<'a, W: 'static> {
    crc: &'a Crc<W>,
    value: W,
}

impl Crc<u32> {
    pub const fn new(algorithm: &'static Algorithm<u32>) -> Self {
        Crc { algorithm }
    }

    fn update(&self, mut c: u32, bytes: &[u8]) -> u32 {
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ self.algorithm.poly_reflected } else { c >> 1 };
            }
        }
        c
    }

    pub fn checksum(&self, bytes: &[u8]) -> u32 {
        self.update(self.algorithm.init, bytes) ^ self.algorithm.xorout
    }

    pub fn digest(&self) -> Digest<'_, u32> {
        Digest { crc: self, value: self.algorithm.init }
    }
}

impl<'a> Digest<'a, u32> {
    pub fn update(&mut self, bytes: &[u8]) {
        self.value = self.crc.update(self.value, bytes);
    }

    pub fn finalize(self) -> u32 {
        self.value ^ self.crc.algorithm.xorout
    }
}
