//! The runtime form of a [`Config`]: [`Params`], the integers a breaker keeps,
//! and the arithmetic its call paths do with them (the bucket of a time, the
//! error-ratio verdict, backoff, jitter, how long advice and health last).
//!
//! Kept apart from `config.rs`, the user-facing builder with its validation
//! and errors: the code here is linked by the paths every call takes, so on a
//! 32-bit MCU it counts toward the breaker's flash and runs in its hot paths,
//! while validation runs once, at compile time for a `static` breaker. Keep
//! what a call computes here, and what can be settled once in `validate`.
//!
//! [`Config`]: crate::Config

use crate::div::{div_rem, mul_high};
use crate::state::BACKWARDS;

/// One, in parts per million.
pub(crate) const PPM: u32 = 1_000_000;

/// `(n / PPM, n % PPM)` by [`div_rem`]: `PPM` is 2^6 * 15625, and the
/// second factor fits its 16-bit divisor.
const fn per_million(n: u64) -> (u64, u64) {
    let (quotient, remainder) = div_rem(n >> 6, 15_625);
    (quotient, (remainder << 6) | (n & 63))
}

/// A 64-bit mixing function (the finalizer of Vigna's splitmix64): every
/// input bit changes about half of the output bits. Out of line on 32-bit
/// targets, where its two 64-bit multiplies are long and `jittered` uses it
/// twice.
#[cfg_attr(any(not(target_pointer_width = "64"), breaker_32bit), inline(never))]
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The validated configuration in the integer form the state machine uses.
/// Kept small: it is most of what a breaker adds to its atomics, and a
/// 10-bucket breaker fits in 256 bytes.
///
/// It is 80 bytes without padding (eight `u64`, four `u32`) on 64-bit hosts
/// and on the 32-bit targets alike. The breaker is exactly 256 bytes on the
/// hosts and 216 on the targets without 64-bit atomics (whose window slots
/// are 32-bit): a value precomputed here for the call paths has to replace a
/// field, not add one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) ratio_ppm: u32,
    pub(crate) min_calls: u32,
    /// Bucket width: `window / BUCKETS`, rounded down.
    pub(crate) bucket: u64,
    /// `floor((2^64 - 1) / bucket)`, so the bucket of a time is a multiply,
    /// not a division, on every recorded outcome.
    pub(crate) bucket_reciprocal: u64,
    pub(crate) broken: u64,
    /// The backoff cap; 0 when there is no backoff.
    pub(crate) broken_max: u64,
    pub(crate) recovery: u64,
    pub(crate) passing: u64,
    pub(crate) window: u64,
    /// Below [`PPM`], so a jittered broken time stays above zero.
    pub(crate) jitter_ppm: u32,
    pub(crate) jitter_seed: u32,
    /// The slow-call threshold; 0 when calls are not timed.
    pub(crate) slow_call: u64,
}

impl Params {
    /// How long a Broken state at backoff `level` lasts before jitter:
    /// `broken * 2^level`, capped at `broken_max`.
    pub(crate) const fn backed_off(&self, level: u32) -> u64 {
        let doubled = self.broken << level;
        if self.broken_max != 0 && doubled > self.broken_max {
            self.broken_max
        } else {
            doubled
        }
    }

    /// The backoff level after `level`: one more, until the cap is reached.
    pub(crate) const fn next_level(&self, level: u32) -> u32 {
        if self.backed_off(level) < self.broken_max {
            level + 1
        } else {
            level
        }
    }

    /// `base` spread uniformly over `± jitter` of itself, by a hash of the
    /// seed and `key` (the Broken state's word). Stays in `1 ..= 2 base - 1`.
    ///
    /// Out of line: the hot path only tests `jitter_ppm` for zero.
    #[inline(never)]
    pub(crate) const fn jittered(&self, base: u64, key: u64) -> u64 {
        if self.jitter_ppm == 0 {
            return base;
        }
        // `floor(base * ppm / PPM)` without 128-bit division; below `base`,
        // as `jitter_ppm < PPM`.
        let ppm = self.jitter_ppm as u64;
        let (whole, part) = per_million(base);
        let spread = whole * ppm + per_million(part * ppm).0;
        let hash = mix(key ^ mix(self.jitter_seed as u64));
        let offset = mul_high(hash, 2 * spread + 1);
        base - spread + offset
    }

    /// The longest an advised Broken state lasts: the breaker's own longest
    /// broken time before jitter (below 2^53 ns, as every setting is).
    pub(crate) const fn longest_advice(&self) -> u64 {
        if self.broken_max > self.broken {
            self.broken_max
        } else {
            self.broken
        }
    }

    /// How long a Passing state must last to be healthy (see
    /// [`Config::broken_time_max`](crate::Config::broken_time_max)), kept
    /// below what an elapsed time can say.
    pub(crate) const fn healthy(&self) -> u64 {
        let t = self.passing + self.window;
        if t >= BACKWARDS { BACKWARDS - 1 } else { t }
    }

    /// The bucket holding time `t`: `t / bucket`, by multiplying with the
    /// precomputed reciprocal. The estimate is at most 2 below the quotient
    /// (the reciprocal is rounded down twice), and never above it.
    pub(crate) const fn bucket_of(&self, t: u64) -> u64 {
        let mut q = mul_high(t, self.bucket_reciprocal);
        while t - q * self.bucket >= self.bucket {
            q += 1;
        }
        q
    }

    /// Whether `failures` of `calls` meet the error ratio (`calls > 0`).
    pub(crate) const fn ratio_reached(&self, failures: u64, calls: u64) -> bool {
        // Both sides stay far below u64::MAX: calls <= MAX_BUCKETS * 2^25.
        failures * 1_000_000 >= self.ratio_ppm as u64 * calls
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use core::time::Duration;

    use super::*;
    use crate::clock::Nanos;
    use crate::config::{Config, MAX_BUCKETS};

    const S: Duration = Duration::from_secs(1);

    /// What `config` validates to with 10 buckets on a 1 ns clock.
    fn params(config: Config) -> Params {
        config.validate(10, Nanos::from_nanos(1)).unwrap()
    }

    #[test]
    fn per_million_is_division_by_a_million() {
        for n in [
            0,
            1,
            63,
            64,
            999_999,
            1_000_000,
            1_000_001,
            123_456_789_012,
            u64::MAX,
        ] {
            assert_eq!(per_million(n), (n / 1_000_000, n % 1_000_000), "{n}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = params(
            Config::new(0.5, S)
                .broken_time(5 * S)
                .broken_time_max(60 * S),
        );
        let levels: [u32; 6] = core::array::from_fn(|l| l as u32);
        assert_eq!(
            levels.map(|l| p.backed_off(l) / 1_000_000_000),
            [5, 10, 20, 40, 60, 60]
        );
        assert_eq!(levels.map(|l| p.next_level(l)), [1, 2, 3, 4, 4, 5]);
        let none = params(Config::new(0.5, S));
        assert_eq!((none.backed_off(0), none.next_level(0)), (1_000_000_000, 0));
    }

    #[test]
    fn jitter_stays_within_its_spread_and_is_deterministic() {
        let p = params(Config::new(0.5, S).jitter(0.25).jitter_seed(9));
        let (mut low, mut high) = (u64::MAX, 0);
        for key in 0..10_000u64 {
            let d = p.jittered(1_000_000, key);
            assert!((750_000..=1_250_000).contains(&d), "{d}");
            assert_eq!(d, p.jittered(1_000_000, key));
            (low, high) = (low.min(d), high.max(d));
        }
        assert!(low < 760_000 && high > 1_240_000, "{low} {high}");
        let other_seed = params(Config::new(0.5, S).jitter(0.25).jitter_seed(10));
        assert_ne!(p.jittered(1_000_000, 1), other_seed.jittered(1_000_000, 1));
        let widest = params(Config::new(0.5, S).jitter(0.999_999_9));
        assert_eq!(widest.jitter_ppm, PPM - 1);
        assert!((0..1000).all(|key| (1..=3).contains(&widest.jittered(2, key))));
    }

    #[test]
    fn bucket_of_is_exact_division() {
        for bucket in [
            1,
            2,
            3,
            7,
            10,
            999_999_937,
            1_000_000_000,
            1 << 40,
            (1 << 52) / 3,
        ] {
            let p = Params {
                bucket,
                bucket_reciprocal: u64::MAX / bucket,
                ..params(Config::new(0.5, S))
            };
            for t in [
                0,
                1,
                bucket - 1,
                bucket,
                bucket + 1,
                12_345_678_901,
                u64::MAX / 2,
                u64::MAX - 1,
                u64::MAX,
            ] {
                assert_eq!(p.bucket_of(t), t / bucket, "t={t} bucket={bucket}");
            }
            for k in 0..1000u64 {
                let t = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                assert_eq!(p.bucket_of(t), t / bucket, "t={t} bucket={bucket}");
            }
        }
    }

    #[test]
    fn ratio_is_compared_exactly_in_millionths() {
        let p = params(Config::new(0.2, S));
        assert_eq!(p.ratio_ppm, 200_000);
        assert!(p.ratio_reached(2, 10));
        assert!(!p.ratio_reached(1, 10));
        assert!(!p.ratio_reached(199_999, 1_000_000));
        let third = params(Config::new(1.0 / 3.0, S));
        assert!(third.ratio_reached(1, 3));
        let tiny = params(Config::new(1e-9, S));
        assert_eq!(tiny.ratio_ppm, 1);
        assert!(!tiny.ratio_reached(0, 10));
        let max = MAX_BUCKETS as u64 * (1 << 25);
        assert!(p.ratio_reached(max, max));
    }
}
