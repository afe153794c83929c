//! xorshift64*: the lambda tests' generated cases, the same sequence every run (a failure
//! repeats), without a dependency.

pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T: ?Sized>(&mut self, from: &[&'a T]) -> &'a T {
        from[self.below(from.len())]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// `n` pieces of `from`, concatenated.
    pub fn bytes(&mut self, from: &[&[u8]], n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| self.pick(from).to_vec()).collect()
    }

    /// Mostly from `good`, one time in `one_in` from `bad`.
    pub fn mostly<'a>(&mut self, good: &[&'a str], bad: &[&'a str], one_in: usize) -> &'a str {
        match self.below(one_in) {
            0 => self.pick(bad),
            _ => self.pick(good),
        }
    }
}
