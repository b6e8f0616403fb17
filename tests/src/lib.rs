//! Shared support for the test suites: pinned clock and randomness, the emulator connection,
//! API Gateway events as `cargo lambda` and API Gateway send them, log capture, and the
//! behavioural suite every store must pass.

pub mod contract;
pub mod events;
pub mod faults;
pub mod harness;
pub mod logs;
pub mod moto;

use std::sync::atomic::{AtomicU64, Ordering};

use appid::ports::{Clock, Random};

/// A clock that says what it is told.
#[derive(Debug)]
pub struct FixedClock(pub AtomicU64);

impl FixedClock {
    pub fn at(seconds: u64) -> Self {
        Self(AtomicU64::new(seconds))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Deterministic bytes (SplitMix64 over a counter): distinct values on every call, the same
/// sequence in every run.
#[derive(Debug, Default)]
pub struct SeededRandom(AtomicU64);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}
