//! Configuration: the [`Config`] builder, its validation and [`ConfigError`].

use core::fmt;
use core::time::Duration;

use crate::clock::Nanos;

/// The longest duration any setting may have: 2^56 ns, about 833 days.
///
/// The breaker keeps the time a state was entered in 58 bits and measures
/// elapsed time modulo 2^58 ns, so every span it compares must stay well below
/// that. See the crate docs, "Limits".
pub const MAX_SPAN: Duration = Duration::from_nanos(1 << 56);

/// The most buckets a window may have. Larger counts would only cost memory and
/// time on every verdict without making the window meaningfully smoother.
pub const MAX_BUCKETS: usize = 1024;

/// The largest `min_calls`. A bucket holds up to 2^25 - 1 outcomes and halves
/// itself when full, so a window that has seen heavy traffic always holds at
/// least 2^24 calls: any `min_calls` up to this bound stays reachable.
pub const MAX_MIN_CALLS: u32 = 1 << 24;

/// How a circuit breaker decides. `Copy`, built with `const fn`s, validated
/// only when a breaker is built from it.
///
/// | field | default | valid |
/// |---|---|---|
/// | `error_ratio` | required | `0.0 < r <= 1.0`, not NaN |
/// | `window` | required | `> 0`, at least one clock tick per bucket |
/// | `broken_time` | `window` | `> 0` |
/// | `recovery_time` | `window` | `> 0` |
/// | `passing_time` | `window` | `>= 0` |
/// | `min_calls` | 10 | `1 ..= 2^24` |
///
/// Every duration must also be at most [`MAX_SPAN`] (about 833 days).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_core::Config;
///
/// // aiomisc: CircuitBreaker(error_ratio=0.2, response_time=20, broken_time=5)
/// const CONFIG: Config = Config::new(0.2, Duration::from_secs(20))
///     .broken_time(Duration::from_secs(5));
/// assert_eq!(CONFIG.recovery_time, Duration::from_secs(20));
/// assert_eq!(CONFIG.min_calls, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Config {
    /// Failures / recorded calls at or above which the breaker breaks.
    pub error_ratio: f32,
    /// Length of the sliding statistics window (aiomisc's `response_time`).
    pub window: Duration,
    /// How long the breaker stays Broken.
    pub broken_time: Duration,
    /// How long the Recovering ramp lasts.
    pub recovery_time: Duration,
    /// How long after entering Passing statistics are only collected.
    pub passing_time: Duration,
    /// Fewest recorded calls in the window for a verdict.
    pub min_calls: u32,
}

impl Config {
    /// A configuration that breaks when `error_ratio` of the calls recorded in
    /// the last `window` failed. `broken_time`, `recovery_time` and
    /// `passing_time` default to `window`, `min_calls` to 10.
    pub const fn new(error_ratio: f32, window: Duration) -> Config {
        Config {
            error_ratio,
            window,
            broken_time: window,
            recovery_time: window,
            passing_time: window,
            min_calls: 10,
        }
    }

    /// Sets how long the breaker stays Broken before it starts Recovering.
    #[must_use]
    pub const fn broken_time(mut self, d: Duration) -> Config {
        self.broken_time = d;
        self
    }

    /// Sets how long the Recovering ramp takes to admit every call.
    #[must_use]
    pub const fn recovery_time(mut self, d: Duration) -> Config {
        self.recovery_time = d;
        self
    }

    /// Sets how long after entering Passing the breaker only collects
    /// statistics and may not break. Zero allows breaking at once.
    #[must_use]
    pub const fn passing_time(mut self, d: Duration) -> Config {
        self.passing_time = d;
        self
    }

    /// Sets the fewest recorded calls in the window for a verdict.
    #[must_use]
    pub const fn min_calls(mut self, n: u32) -> Config {
        self.min_calls = n;
        self
    }

    /// Checks every field and converts it to the breaker's integer form.
    pub(crate) const fn validate(
        &self,
        buckets: usize,
        tick: Nanos,
    ) -> Result<Params, ConfigError> {
        if buckets == 0 || buckets > MAX_BUCKETS {
            return Err(ConfigError::BucketsOutOfRange);
        }
        let r = self.error_ratio;
        if r.is_nan() {
            return Err(ConfigError::ErrorRatioNan);
        }
        if !(r > 0.0 && r <= 1.0) {
            return Err(ConfigError::ErrorRatioOutOfRange);
        }
        if self.window.is_zero() {
            return Err(ConfigError::WindowZero);
        }
        if !span_ok(self.window) {
            return Err(ConfigError::WindowTooLong);
        }
        let window = Nanos::from_duration(self.window).as_nanos();
        let bucket = window / buckets as u64;
        if bucket == 0 || bucket < tick.as_nanos() {
            return Err(ConfigError::WindowTooShortForBuckets);
        }
        if self.broken_time.is_zero() {
            return Err(ConfigError::BrokenTimeZero);
        }
        if !span_ok(self.broken_time) {
            return Err(ConfigError::BrokenTimeTooLong);
        }
        if self.recovery_time.is_zero() {
            return Err(ConfigError::RecoveryTimeZero);
        }
        if !span_ok(self.recovery_time) {
            return Err(ConfigError::RecoveryTimeTooLong);
        }
        if !span_ok(self.passing_time) {
            return Err(ConfigError::PassingTimeTooLong);
        }
        if self.min_calls == 0 {
            return Err(ConfigError::MinCallsZero);
        }
        if self.min_calls > MAX_MIN_CALLS {
            return Err(ConfigError::MinCallsTooLarge);
        }
        Ok(Params {
            error_ratio: r,
            ratio_ppm: ratio_to_ppm(r),
            min_calls: self.min_calls,
            bucket,
            bucket_reciprocal: u64::MAX / bucket,
            broken: Nanos::from_duration(self.broken_time).as_nanos(),
            recovery: Nanos::from_duration(self.recovery_time).as_nanos(),
            passing: Nanos::from_duration(self.passing_time).as_nanos(),
            window,
        })
    }
}

const fn span_ok(d: Duration) -> bool {
    d.as_nanos() <= MAX_SPAN.as_nanos()
}

/// The ratio in parts per million, rounded to nearest and at least 1.
///
/// Rounding to a millionth drops the binary noise of `f32` (0.2f32 is
/// 0.200000003), so 2 failures in 10 calls meet a ratio of 0.2 as a reader of
/// the configuration expects. This is the only floating-point arithmetic in the
/// crate, and it runs once, when the breaker is built.
const fn ratio_to_ppm(r: f32) -> u32 {
    let ppm = (r as f64 * 1_000_000.0 + 0.5) as u32;
    if ppm == 0 { 1 } else { ppm }
}

/// The validated configuration in the integer form the state machine uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) error_ratio: f32,
    pub(crate) ratio_ppm: u32,
    pub(crate) min_calls: u32,
    /// Bucket width: `window / BUCKETS`, rounded down.
    pub(crate) bucket: u64,
    /// `floor((2^64 - 1) / bucket)`, so the bucket of a time is a multiply,
    /// not a division, on every recorded outcome.
    pub(crate) bucket_reciprocal: u64,
    pub(crate) broken: u64,
    pub(crate) recovery: u64,
    pub(crate) passing: u64,
    pub(crate) window: u64,
}

impl Params {
    /// The configuration these parameters came from (defaults made explicit).
    pub(crate) const fn config(&self) -> Config {
        Config {
            error_ratio: self.error_ratio,
            window: Duration::from_nanos(self.window),
            broken_time: Duration::from_nanos(self.broken),
            recovery_time: Duration::from_nanos(self.recovery),
            passing_time: Duration::from_nanos(self.passing),
            min_calls: self.min_calls,
        }
    }

    /// The bucket holding time `t`: `t / bucket`, by multiplying with the
    /// precomputed reciprocal. The estimate is at most 2 below the quotient
    /// (the reciprocal is rounded down twice), and never above it.
    pub(crate) const fn bucket_of(&self, t: u64) -> u64 {
        let mut q = ((t as u128 * self.bucket_reciprocal as u128) >> 64) as u64;
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

/// A configuration a breaker refused: which field, and which rule it broke.
///
/// `Display` gives the whole sentence, e.g. "invalid circuit breaker config:
/// error_ratio must be greater than 0 and at most 1".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// `error_ratio` is NaN.
    ErrorRatioNan,
    /// `error_ratio` is not in `(0, 1]`.
    ErrorRatioOutOfRange,
    /// `window` is zero.
    WindowZero,
    /// `window / BUCKETS` is shorter than one tick of the clock.
    WindowTooShortForBuckets,
    /// `window` is longer than [`MAX_SPAN`].
    WindowTooLong,
    /// `broken_time` is zero.
    BrokenTimeZero,
    /// `broken_time` is longer than [`MAX_SPAN`].
    BrokenTimeTooLong,
    /// `recovery_time` is zero.
    RecoveryTimeZero,
    /// `recovery_time` is longer than [`MAX_SPAN`].
    RecoveryTimeTooLong,
    /// `passing_time` is longer than [`MAX_SPAN`].
    PassingTimeTooLong,
    /// `min_calls` is zero.
    MinCallsZero,
    /// `min_calls` is larger than [`MAX_MIN_CALLS`].
    MinCallsTooLarge,
    /// The `BUCKETS` parameter is zero or larger than [`MAX_BUCKETS`].
    BucketsOutOfRange,
}

impl ConfigError {
    /// The name of the offending field, as written in [`Config`].
    pub const fn field(&self) -> &'static str {
        match self {
            ConfigError::ErrorRatioNan | ConfigError::ErrorRatioOutOfRange => "error_ratio",
            ConfigError::WindowZero
            | ConfigError::WindowTooShortForBuckets
            | ConfigError::WindowTooLong => "window",
            ConfigError::BrokenTimeZero | ConfigError::BrokenTimeTooLong => "broken_time",
            ConfigError::RecoveryTimeZero | ConfigError::RecoveryTimeTooLong => "recovery_time",
            ConfigError::PassingTimeTooLong => "passing_time",
            ConfigError::MinCallsZero | ConfigError::MinCallsTooLarge => "min_calls",
            ConfigError::BucketsOutOfRange => "BUCKETS",
        }
    }

    /// The rule the field broke.
    pub const fn rule(&self) -> &'static str {
        match self {
            ConfigError::ErrorRatioNan => "must not be NaN",
            ConfigError::ErrorRatioOutOfRange => "must be greater than 0 and at most 1",
            ConfigError::WindowZero
            | ConfigError::BrokenTimeZero
            | ConfigError::RecoveryTimeZero => "must be greater than zero",
            ConfigError::WindowTooShortForBuckets => {
                "must give every bucket at least one clock tick"
            }
            ConfigError::WindowTooLong
            | ConfigError::BrokenTimeTooLong
            | ConfigError::RecoveryTimeTooLong
            | ConfigError::PassingTimeTooLong => "must be at most 2^56 ns (about 833 days)",
            ConfigError::MinCallsZero => "must be at least 1",
            ConfigError::MinCallsTooLarge => "must be at most 2^24",
            ConfigError::BucketsOutOfRange => "must be between 1 and 1024",
        }
    }

    /// The whole message, as `Display` prints it and as `CircuitBreaker::new`
    /// panics with.
    pub const fn message(&self) -> &'static str {
        match self {
            ConfigError::ErrorRatioNan => {
                "invalid circuit breaker config: error_ratio must not be NaN"
            }
            ConfigError::ErrorRatioOutOfRange => {
                "invalid circuit breaker config: error_ratio must be greater than 0 and at most 1"
            }
            ConfigError::WindowZero => {
                "invalid circuit breaker config: window must be greater than zero"
            }
            ConfigError::WindowTooShortForBuckets => {
                "invalid circuit breaker config: window must give every bucket at least one clock tick"
            }
            ConfigError::WindowTooLong => {
                "invalid circuit breaker config: window must be at most 2^56 ns (about 833 days)"
            }
            ConfigError::BrokenTimeZero => {
                "invalid circuit breaker config: broken_time must be greater than zero"
            }
            ConfigError::BrokenTimeTooLong => {
                "invalid circuit breaker config: broken_time must be at most 2^56 ns (about 833 days)"
            }
            ConfigError::RecoveryTimeZero => {
                "invalid circuit breaker config: recovery_time must be greater than zero"
            }
            ConfigError::RecoveryTimeTooLong => {
                "invalid circuit breaker config: recovery_time must be at most 2^56 ns (about 833 days)"
            }
            ConfigError::PassingTimeTooLong => {
                "invalid circuit breaker config: passing_time must be at most 2^56 ns (about 833 days)"
            }
            ConfigError::MinCallsZero => {
                "invalid circuit breaker config: min_calls must be at least 1"
            }
            ConfigError::MinCallsTooLarge => {
                "invalid circuit breaker config: min_calls must be at most 2^24"
            }
            ConfigError::BucketsOutOfRange => {
                "invalid circuit breaker config: BUCKETS must be between 1 and 1024"
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.message())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn check(c: Config) -> Result<Params, ConfigError> {
        c.validate(10, Nanos::from_nanos(1))
    }

    #[test]
    fn defaults_follow_the_window() {
        let c = Config::new(0.5, 20 * S);
        assert_eq!(
            (c.broken_time, c.recovery_time, c.passing_time, c.min_calls),
            (20 * S, 20 * S, 20 * S, 10)
        );
        let p = check(c).unwrap();
        assert_eq!(p.bucket, 2_000_000_000);
        assert_eq!(p.config(), c);
    }

    #[test]
    fn every_rule_names_its_field() {
        let ok = Config::new(0.5, S);
        let cases = [
            (
                Config::new(f32::NAN, S),
                ConfigError::ErrorRatioNan,
                "error_ratio",
            ),
            (
                Config::new(0.0, S),
                ConfigError::ErrorRatioOutOfRange,
                "error_ratio",
            ),
            (
                Config::new(-0.1, S),
                ConfigError::ErrorRatioOutOfRange,
                "error_ratio",
            ),
            (
                Config::new(1.01, S),
                ConfigError::ErrorRatioOutOfRange,
                "error_ratio",
            ),
            (
                Config::new(f32::INFINITY, S),
                ConfigError::ErrorRatioOutOfRange,
                "error_ratio",
            ),
            (
                Config::new(0.5, Duration::ZERO)
                    .broken_time(S)
                    .recovery_time(S),
                ConfigError::WindowZero,
                "window",
            ),
            (
                Config::new(0.5, Duration::from_nanos(9)),
                ConfigError::WindowTooShortForBuckets,
                "window",
            ),
            (
                Config::new(0.5, MAX_SPAN + S),
                ConfigError::WindowTooLong,
                "window",
            ),
            (
                ok.broken_time(Duration::ZERO),
                ConfigError::BrokenTimeZero,
                "broken_time",
            ),
            (
                ok.broken_time(Duration::MAX),
                ConfigError::BrokenTimeTooLong,
                "broken_time",
            ),
            (
                ok.recovery_time(Duration::ZERO),
                ConfigError::RecoveryTimeZero,
                "recovery_time",
            ),
            (
                ok.recovery_time(MAX_SPAN + S),
                ConfigError::RecoveryTimeTooLong,
                "recovery_time",
            ),
            (
                ok.passing_time(MAX_SPAN + S),
                ConfigError::PassingTimeTooLong,
                "passing_time",
            ),
            (ok.min_calls(0), ConfigError::MinCallsZero, "min_calls"),
            (
                ok.min_calls(MAX_MIN_CALLS + 1),
                ConfigError::MinCallsTooLarge,
                "min_calls",
            ),
        ];
        for (config, error, field) in cases {
            assert_eq!(check(config).unwrap_err(), error, "{config:?}");
            assert_eq!(error.field(), field);
            assert!(error.message().contains(field));
            assert!(error.message().ends_with(error.rule()));
        }
        assert_eq!(
            ok.validate(0, Nanos::from_nanos(1)).unwrap_err(),
            ConfigError::BucketsOutOfRange
        );
        assert_eq!(
            ok.validate(1025, Nanos::from_nanos(1)).unwrap_err(),
            ConfigError::BucketsOutOfRange
        );
    }

    #[test]
    fn boundaries_are_accepted() {
        assert!(check(Config::new(1.0, S)).is_ok());
        assert!(check(Config::new(f32::MIN_POSITIVE, S)).is_ok());
        assert!(check(Config::new(0.5, Duration::from_nanos(10))).is_ok());
        assert!(check(Config::new(0.5, MAX_SPAN)).is_ok());
        assert!(check(Config::new(0.5, S).passing_time(Duration::ZERO)).is_ok());
        assert!(check(Config::new(0.5, S).min_calls(1)).is_ok());
        assert!(check(Config::new(0.5, S).min_calls(MAX_MIN_CALLS)).is_ok());
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
            (1 << 56) / 3,
        ] {
            let p = Params {
                bucket,
                bucket_reciprocal: u64::MAX / bucket,
                ..check(Config::new(0.5, S)).unwrap()
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
    fn coarse_clock_ticks_limit_bucket_width() {
        let c = Config::new(0.5, Duration::from_micros(100));
        assert!(c.validate(10, Nanos::from_nanos(10_000)).is_ok());
        assert_eq!(
            c.validate(10, Nanos::from_nanos(10_001)).unwrap_err(),
            ConfigError::WindowTooShortForBuckets
        );
    }

    #[test]
    fn ratio_is_compared_exactly_in_millionths() {
        let p = check(Config::new(0.2, S)).unwrap();
        assert_eq!(p.ratio_ppm, 200_000);
        assert!(p.ratio_reached(2, 10));
        assert!(!p.ratio_reached(1, 10));
        assert!(!p.ratio_reached(199_999, 1_000_000));
        let third = check(Config::new(1.0 / 3.0, S)).unwrap();
        assert!(third.ratio_reached(1, 3));
        let tiny = check(Config::new(1e-9, S)).unwrap();
        assert_eq!(tiny.ratio_ppm, 1);
        assert!(!tiny.ratio_reached(0, 10));
        let max = MAX_BUCKETS as u64 * (1 << 25);
        assert!(p.ratio_reached(max, max));
    }
}
