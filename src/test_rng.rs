//! A small deterministic generator for tests that damage or shuffle input: xorshift64,
//! so every run sees the same sequence from the same seed.

pub(crate) struct XorShift(u64);

impl XorShift {
    /// `seed` must not be 0 (xorshift stays at 0).
    pub(crate) fn new(seed: u64) -> XorShift {
        assert_ne!(seed, 0, "xorshift needs a non-zero seed");
        XorShift(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
