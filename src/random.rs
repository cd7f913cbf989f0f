//! Seeded randomness: every stream is a ChaCha8 generator keyed by the scenario
//! seed, a purpose and a stable key (a visitor id, a workgroup...), so draws never
//! depend on thread scheduling or on how many other visitors exist.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Distribution;

use crate::config::model::Dist;

pub type Rng = ChaCha8Rng;

/// FNV-1a: a fixed, documented hash, so seeds are stable across Rust versions.
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// FNV-1a of `bytes` from the standard offset basis (a fixed, portable hash).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a(bytes, 0xcbf2_9ce4_8422_2325)
}

/// SplitMix64 finaliser: spreads the bits of a hash into a good seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream for (seed, purpose, key, index).
pub fn stream(seed: u64, purpose: &str, key: &str, index: u64) -> Rng {
    Rng::seed_from_u64(stream_seed(seed, purpose, key, index))
}

fn stream_seed(seed: u64, purpose: &str, key: &str, index: u64) -> u64 {
    let mut h = fnv1a(&seed.to_le_bytes(), 0xcbf2_9ce4_8422_2325);
    h = fnv1a(purpose.as_bytes(), h);
    h = fnv1a(&[0xff], h);
    h = fnv1a(key.as_bytes(), h);
    h = fnv1a(&index.to_le_bytes(), h);
    mix(h)
}

/// The same stream as [`stream`], started on its first draw: most sessions
/// never draw, and a ChaCha state is over 300 bytes, which made it a third of
/// every open session.
#[derive(Debug)]
pub struct LazyStream {
    seed: u64,
    /// Whether `rng` is this stream's (started by a draw since the last `renew`).
    started: bool,
    /// A ChaCha state, kept through `renew` so that a reused session allocates none.
    rng: Option<Box<Rng>>,
}

impl LazyStream {
    pub fn new(seed: u64, purpose: &str, key: &str, index: u64) -> Self {
        LazyStream { seed: stream_seed(seed, purpose, key, index), started: false, rng: None }
    }

    pub fn get(&mut self) -> &mut Rng {
        let seed = self.seed;
        if !self.started {
            self.started = true;
            match &mut self.rng {
                Some(rng) => **rng = Rng::seed_from_u64(seed),
                None => self.rng = Some(Box::new(Rng::seed_from_u64(seed))),
            }
        }
        self.rng.as_mut().expect("started above")
    }

    /// Becomes `next` (not yet drawn from), keeping this stream's ChaCha state's memory.
    pub fn renew(&mut self, next: LazyStream) {
        self.seed = next.seed;
        self.started = false;
    }
}

/// A uniform draw in [0, 1).
pub fn unit(rng: &mut Rng) -> f64 {
    rng.random::<f64>()
}

/// An index drawn with the given non-negative weights (not all zero).
pub fn weighted(rng: &mut Rng, weights: impl Iterator<Item = f64> + Clone) -> usize {
    let total: f64 = weights.clone().sum();
    let mut x = unit(rng) * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if w > 0.0 {
            last = i;
            if x < w {
                return i;
            }
            x -= w;
        }
    }
    last
}

fn standard_normal(rng: &mut Rng) -> f64 {
    rand_distr::StandardNormal.sample(rng)
}

/// An exponential draw of mean 1 (ziggurat: no logarithm on the common path).
pub fn exp1(rng: &mut Rng) -> f64 {
    rand_distr::Exp1.sample(rng)
}

/// One draw from a distribution. Durations and counts are never negative:
/// normal draws are clamped at 0.
pub fn sample(dist: &Dist, rng: &mut Rng) -> f64 {
    match *dist {
        Dist::Const(x) => x,
        Dist::Uniform(a, b) => a + (b - a) * unit(rng),
        Dist::Exp { mean } => mean * exp1(rng),
        Dist::LogNormal { mean, sd } => {
            // Parameters of the underlying normal from the distribution's own mean and sd.
            let s2 = (1.0 + (sd * sd) / (mean * mean)).ln();
            let mu = mean.ln() - s2 / 2.0;
            (mu + s2.sqrt() * standard_normal(rng)).exp()
        }
        Dist::Normal { mean, sd } => (mean + sd * standard_normal(rng)).max(0.0),
        Dist::Weibull { shape, scale } => scale * (-(1.0 - unit(rng)).ln()).powf(1.0 / shape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(dist: &Dist, n: usize) -> f64 {
        let mut rng = stream(1, "test", "mean", 0);
        (0..n).map(|_| sample(dist, &mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn streams_are_keyed_and_reproducible() {
        let a: Vec<u64> = (0..3).map(|_| 0).scan(stream(7, "p", "v1", 0), |r, _| Some(r.random())).collect();
        let b: Vec<u64> = (0..3).map(|_| 0).scan(stream(7, "p", "v1", 0), |r, _| Some(r.random())).collect();
        let c: Vec<u64> = (0..3).map(|_| 0).scan(stream(7, "p", "v2", 0), |r, _| Some(r.random())).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_lazy_stream_draws_as_its_stream_and_a_renewed_one_as_a_new_one() {
        let draws = |s: &mut LazyStream| -> Vec<u64> { (0..3).map(|_| s.get().random()).collect() };
        let direct = |key| -> Vec<u64> { (0..3).scan(stream(7, "p", key, 2), |r, _| Some(r.random())).collect() };
        let mut lazy = LazyStream::new(7, "p", "v1", 2);
        assert_eq!(draws(&mut lazy), direct("v1"));
        // Renewed after drawing: the next stream from its start, in the same memory.
        lazy.renew(LazyStream::new(7, "p", "v2", 2));
        assert_eq!(draws(&mut lazy), direct("v2"));
        lazy.renew(LazyStream::new(7, "p", "v1", 2));
        assert_eq!(draws(&mut lazy), direct("v1"));
    }

    #[test]
    fn sample_means_match_the_distributions() {
        let n = 200_000;
        for (dist, mean) in [
            (Dist::Exp { mean: 8.0 }, 8.0),
            (Dist::LogNormal { mean: 20.0, sd: 10.0 }, 20.0),
            (Dist::Uniform(10.0, 200.0), 105.0),
            (Dist::Weibull { shape: 1.5, scale: 40.0 }, Dist::Weibull { shape: 1.5, scale: 40.0 }.mean()),
            (Dist::Normal { mean: 50.0, sd: 5.0 }, 50.0),
        ] {
            let m = mean_of(&dist, n);
            assert!((m - mean).abs() / mean < 0.01, "{dist:?}: {m} vs {mean}");
        }
        // Weibull(1.5, 40) has mean 40·Γ(1 + 1/1.5) = 36.11
        assert!((Dist::Weibull { shape: 1.5, scale: 40.0 }.mean() - 36.110).abs() < 0.01);
    }

    #[test]
    fn weighted_draws_follow_the_weights() {
        let mut rng = stream(3, "w", "", 0);
        let mut counts = [0usize; 3];
        for _ in 0..100_000 {
            counts[weighted(&mut rng, [0.6, 0.0, 0.4].into_iter())] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((counts[0] as f64 / 100_000.0 - 0.6).abs() < 0.01);
    }
}
