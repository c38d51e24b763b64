//! A tiny per-thread PRNG (xorshift64*) for EMC insertion and `sample`.
//!
//! Owned by one PMD, so it needs no atomics; quality is ample for
//! probabilistic decisions, and a draw is three shifts and a multiply.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}
