//! Configuration: the [`Config`] builder, its validation and [`ConfigError`],
//! each rule in one place. Validation converts a `Config` to the integers a
//! breaker keeps, [`Params`], whose arithmetic lives in `params.rs`.

use core::fmt;
use core::time::Duration;

use crate::clock::Nanos;
use crate::params::{PPM, Params};
use crate::state::MAX_LEVEL;
use crate::sync::NARROW_SLOTS;

/// The longest duration any setting may have: 2^52 ns, about 52 days.
///
/// The breaker keeps the time a state was entered in 54 bits and measures
/// elapsed time modulo 2^54 ns, so every span it compares (a jittered broken
/// time is less than twice this) must stay well below that. See the crate
/// docs, "Limits".
pub const MAX_SPAN: Duration = Duration::from_nanos(1 << 52);

/// `broken_time_max` may be at most this many times `broken_time`: the backoff
/// level, kept in 4 bits of the state word, counts up to 15 doublings.
pub const MAX_BACKOFF: u32 = 1 << MAX_LEVEL;

/// The most buckets a window may have. Larger counts would only cost memory and
/// time on every verdict without making the window meaningfully smoother.
pub const MAX_BUCKETS: usize = 1024;

/// The largest `min_calls`: 2^24 where the target has native 64-bit atomics
/// (x86-64, AArch64...), 2^11 where it has not (thumbv6m, thumbv7m,
/// thumbv7em, riscv32imc, and a host built with `--cfg breaker_32bit`).
///
/// A bucket holds up to 2^25 - 1 outcomes of each kind (2^12 - 1 in the
/// 32-bit words of the small targets) and halves itself when full, so a
/// window that has seen heavy traffic always holds at least this many calls:
/// any `min_calls` up to this bound stays reachable.
pub const MAX_MIN_CALLS: u32 = crate::window::MAX_MIN_CALLS;

/// [`ConfigError::MinCallsTooLarge`]'s rule and message, naming
/// [`MAX_MIN_CALLS`] for the target.
const MIN_CALLS_RULE: &str = if NARROW_SLOTS {
    "must be at most 2^11"
} else {
    "must be at most 2^24"
};
const MIN_CALLS_MESSAGE: &str = if NARROW_SLOTS {
    "invalid circuit breaker config: min_calls must be at most 2^11"
} else {
    "invalid circuit breaker config: min_calls must be at most 2^24"
};
const _: () = assert!(MAX_MIN_CALLS == if NARROW_SLOTS { 1 << 11 } else { 1 << 24 });

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
/// | `min_calls` | 10 | `1 ..= 2^24`; `1 ..= 2^11` on targets without 64-bit atomics ([`MAX_MIN_CALLS`]) |
/// | `broken_time_max` | none (no backoff) | `broken_time ..= broken_time * 2^15` |
/// | `jitter` | 0 | `0.0 <= f < 1.0` |
/// | `jitter_seed` | 0 | any |
/// | `slow_call` | none | `> 0` |
///
/// Every duration must also be at most [`MAX_SPAN`] (about 52 days).
/// `error_ratio` and `jitter` are kept to the nearest millionth, and
/// [`CircuitBreaker::config`](crate::CircuitBreaker::config) reports them so.
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
    /// The longest a backed-off Broken state may last; `None`: no backoff.
    pub broken_time_max: Option<Duration>,
    /// How far, as a fraction, each broken time is spread either way.
    pub jitter: f32,
    /// Picks this instance's spread; see [`jitter`](Config::jitter).
    pub jitter_seed: u32,
    /// A call that takes longer than this counts as a failure; `None`: off.
    pub slow_call: Option<Duration>,
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
            broken_time_max: None,
            jitter: 0.0,
            jitter_seed: 0,
            slow_call: None,
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

    /// Backs off: each trip that follows a Recovering without a healthy
    /// Passing in between doubles the broken time, up to `max`. A Passing is
    /// healthy once it has lasted `passing_time + window` (its grace, then a
    /// whole window in which it could have broken and did not); a trip from a
    /// healthy Passing starts again at `broken_time`.
    ///
    /// `max` must be at least `broken_time` and at most [`MAX_BACKOFF`]
    /// (32768) times it.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::Config;
    ///
    /// // Broken for 5 s, then 10 s, 20 s, 40 s, 60 s, 60 s, ... while the
    /// // dependency keeps failing its recovery.
    /// let config = Config::new(0.5, Duration::from_secs(10))
    ///     .broken_time(Duration::from_secs(5))
    ///     .broken_time_max(Duration::from_secs(60));
    /// # assert_eq!(config.broken_time_max, Some(Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub const fn broken_time_max(mut self, max: Duration) -> Config {
        self.broken_time_max = Some(max);
        self
    }

    /// Spreads every broken time (after backoff) uniformly over `± fraction`
    /// of itself, so that a fleet of instances does not probe a recovering
    /// dependency in lockstep. `0.0 <= fraction < 1.0`.
    ///
    /// The spread is deterministic: a hash of
    /// [`jitter_seed`](Config::jitter_seed) and the Broken state itself (its
    /// entry time on the breaker's clock, its epoch and backoff level). Every
    /// thread agrees on it, [`retry_after`](crate::CircuitBreaker::retry_after)
    /// tells it exactly, and a test on a `MockClock` sees the same numbers on
    /// every run. Instances trip at different nanoseconds, so they spread
    /// even with the same seed; give each its own seed to be sure.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::Config;
    ///
    /// // Broken for 4 s to 6 s.
    /// let config = Config::new(0.5, Duration::from_secs(10))
    ///     .broken_time(Duration::from_secs(5))
    ///     .jitter(0.2)
    ///     .jitter_seed(7); // e.g. this instance's number in the fleet
    /// # assert_eq!(config.jitter, 0.2);
    /// ```
    #[must_use]
    pub const fn jitter(mut self, fraction: f32) -> Config {
        self.jitter = fraction;
        self
    }

    /// Sets the seed of the [`jitter`](Config::jitter) spread.
    #[must_use]
    pub const fn jitter_seed(mut self, seed: u32) -> Config {
        self.jitter_seed = seed;
        self
    }

    /// Counts an admitted call that takes longer than `threshold` as a
    /// failure, even if it returned `Ok`. Its duration is measured on the
    /// breaker's clock from admission to outcome; the clock is read at
    /// admission only when this is set. Ignored outcomes stay ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, MockClock};
    ///
    /// let clock = MockClock::new();
    /// let breaker = CircuitBreaker::new(
    ///     Config::new(0.5, Duration::from_secs(10)).slow_call(Duration::from_millis(100)),
    ///     &clock,
    /// );
    /// let slow = breaker.call(|| {
    ///     clock.advance(Duration::from_millis(250)); // the call takes 250 ms
    ///     Ok::<_, ()>("late but fine")
    /// });
    /// assert_eq!(slow, Ok("late but fine")); // the caller still gets its answer
    /// assert_eq!(breaker.metrics().failures, 1); // the breaker counts it failed
    /// ```
    #[must_use]
    pub const fn slow_call(mut self, threshold: Duration) -> Config {
        self.slow_call = Some(threshold);
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
        let broken = Nanos::from_duration(self.broken_time).as_nanos();
        let broken_max = match self.broken_time_max {
            None => 0,
            Some(max) => {
                if max.as_nanos() < self.broken_time.as_nanos() {
                    return Err(ConfigError::BrokenTimeMaxShort);
                }
                if !span_ok(max) {
                    return Err(ConfigError::BrokenTimeMaxTooLong);
                }
                let max = Nanos::from_duration(max).as_nanos();
                if max > broken << MAX_LEVEL {
                    return Err(ConfigError::BrokenTimeMaxTooFar);
                }
                max
            }
        };
        let j = self.jitter;
        if j.is_nan() {
            return Err(ConfigError::JitterNan);
        }
        if !(j >= 0.0 && j < 1.0) {
            return Err(ConfigError::JitterOutOfRange);
        }
        let slow_call = match self.slow_call {
            None => 0,
            Some(d) if d.is_zero() => return Err(ConfigError::SlowCallZero),
            Some(d) if !span_ok(d) => return Err(ConfigError::SlowCallTooLong),
            Some(d) => Nanos::from_duration(d).as_nanos(),
        };
        let ratio_ppm = to_ppm(r);
        Ok(Params {
            ratio_ppm: if ratio_ppm == 0 { 1 } else { ratio_ppm },
            min_calls: self.min_calls,
            bucket,
            bucket_reciprocal: u64::MAX / bucket,
            broken,
            broken_max,
            recovery: Nanos::from_duration(self.recovery_time).as_nanos(),
            passing: Nanos::from_duration(self.passing_time).as_nanos(),
            window,
            jitter_ppm: {
                let ppm = to_ppm(j);
                // A spread of the whole broken time could make it zero.
                if ppm >= PPM { PPM - 1 } else { ppm }
            },
            jitter_seed: self.jitter_seed,
            slow_call,
        })
    }
}

const fn span_ok(d: Duration) -> bool {
    d.as_nanos() <= MAX_SPAN.as_nanos()
}

/// A fraction in parts per million, rounded to nearest.
///
/// Rounding to a millionth drops the binary noise of `f32` (0.2f32 is
/// 0.200000003), so 2 failures in 10 calls meet a ratio of 0.2 as a reader of
/// the configuration expects. With [`from_ppm`], this is the only
/// floating-point arithmetic in the crate, and it runs when a breaker is built
/// (and `from_ppm` when its configuration is read back).
const fn to_ppm(fraction: f32) -> u32 {
    (fraction as f64 * PPM as f64 + 0.5) as u32
}

/// The `f32` nearest to `ppm` millionths: the same `f32` as a decimal literal
/// with up to six places (0.2, 0.05), as both sides are exact and the
/// division is correctly rounded.
const fn from_ppm(ppm: u32) -> f32 {
    ppm as f32 / PPM as f32
}

/// A duration kept as nanoseconds, 0 meaning "not set".
const fn optional(ns: u64) -> Option<Duration> {
    if ns == 0 {
        None
    } else {
        Some(Duration::from_nanos(ns))
    }
}

/// The way back from the runtime form: the configuration a breaker reports,
/// with the same conversions as [`Config::validate`], in reverse.
impl Params {
    /// The configuration these parameters came from (defaults made explicit).
    pub(crate) const fn config(&self) -> Config {
        Config {
            error_ratio: from_ppm(self.ratio_ppm),
            window: Duration::from_nanos(self.window),
            broken_time: Duration::from_nanos(self.broken),
            recovery_time: Duration::from_nanos(self.recovery),
            passing_time: Duration::from_nanos(self.passing),
            min_calls: self.min_calls,
            broken_time_max: optional(self.broken_max),
            jitter: from_ppm(self.jitter_ppm),
            jitter_seed: self.jitter_seed,
            slow_call: optional(self.slow_call),
        }
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
    /// `broken_time_max` is shorter than `broken_time`.
    BrokenTimeMaxShort,
    /// `broken_time_max` is longer than [`MAX_SPAN`].
    BrokenTimeMaxTooLong,
    /// `broken_time_max` is more than [`MAX_BACKOFF`] times `broken_time`.
    BrokenTimeMaxTooFar,
    /// `jitter` is NaN.
    JitterNan,
    /// `jitter` is not in `[0, 1)`.
    JitterOutOfRange,
    /// `slow_call` is zero.
    SlowCallZero,
    /// `slow_call` is longer than [`MAX_SPAN`].
    SlowCallTooLong,
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
            ConfigError::BrokenTimeMaxShort
            | ConfigError::BrokenTimeMaxTooLong
            | ConfigError::BrokenTimeMaxTooFar => "broken_time_max",
            ConfigError::JitterNan | ConfigError::JitterOutOfRange => "jitter",
            ConfigError::SlowCallZero | ConfigError::SlowCallTooLong => "slow_call",
            ConfigError::BucketsOutOfRange => "BUCKETS",
        }
    }

    /// The rule the field broke.
    pub const fn rule(&self) -> &'static str {
        match self {
            ConfigError::ErrorRatioNan | ConfigError::JitterNan => "must not be NaN",
            ConfigError::ErrorRatioOutOfRange => "must be greater than 0 and at most 1",
            ConfigError::WindowZero
            | ConfigError::BrokenTimeZero
            | ConfigError::RecoveryTimeZero
            | ConfigError::SlowCallZero => "must be greater than zero",
            ConfigError::WindowTooShortForBuckets => {
                "must give every bucket at least one clock tick"
            }
            ConfigError::WindowTooLong
            | ConfigError::BrokenTimeTooLong
            | ConfigError::RecoveryTimeTooLong
            | ConfigError::PassingTimeTooLong
            | ConfigError::BrokenTimeMaxTooLong
            | ConfigError::SlowCallTooLong => "must be at most 2^52 ns (about 52 days)",
            ConfigError::MinCallsZero => "must be at least 1",
            ConfigError::MinCallsTooLarge => MIN_CALLS_RULE,
            ConfigError::BucketsOutOfRange => "must be between 1 and 1024",
            ConfigError::BrokenTimeMaxShort => "must be at least broken_time",
            ConfigError::BrokenTimeMaxTooFar => "must be at most 32768 times broken_time",
            ConfigError::JitterOutOfRange => "must be at least 0 and less than 1",
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
                "invalid circuit breaker config: window must be at most 2^52 ns (about 52 days)"
            }
            ConfigError::BrokenTimeZero => {
                "invalid circuit breaker config: broken_time must be greater than zero"
            }
            ConfigError::BrokenTimeTooLong => {
                "invalid circuit breaker config: broken_time must be at most 2^52 ns (about 52 days)"
            }
            ConfigError::RecoveryTimeZero => {
                "invalid circuit breaker config: recovery_time must be greater than zero"
            }
            ConfigError::RecoveryTimeTooLong => {
                "invalid circuit breaker config: recovery_time must be at most 2^52 ns (about 52 days)"
            }
            ConfigError::PassingTimeTooLong => {
                "invalid circuit breaker config: passing_time must be at most 2^52 ns (about 52 days)"
            }
            ConfigError::MinCallsZero => {
                "invalid circuit breaker config: min_calls must be at least 1"
            }
            ConfigError::MinCallsTooLarge => MIN_CALLS_MESSAGE,
            ConfigError::BucketsOutOfRange => {
                "invalid circuit breaker config: BUCKETS must be between 1 and 1024"
            }
            ConfigError::BrokenTimeMaxShort => {
                "invalid circuit breaker config: broken_time_max must be at least broken_time"
            }
            ConfigError::BrokenTimeMaxTooLong => {
                "invalid circuit breaker config: broken_time_max must be at most 2^52 ns (about 52 days)"
            }
            ConfigError::BrokenTimeMaxTooFar => {
                "invalid circuit breaker config: broken_time_max must be at most 32768 times broken_time"
            }
            ConfigError::JitterNan => "invalid circuit breaker config: jitter must not be NaN",
            ConfigError::JitterOutOfRange => {
                "invalid circuit breaker config: jitter must be at least 0 and less than 1"
            }
            ConfigError::SlowCallZero => {
                "invalid circuit breaker config: slow_call must be greater than zero"
            }
            ConfigError::SlowCallTooLong => {
                "invalid circuit breaker config: slow_call must be at most 2^52 ns (about 52 days)"
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
            (
                ok.broken_time_max(S - Duration::from_nanos(1)),
                ConfigError::BrokenTimeMaxShort,
                "broken_time_max",
            ),
            (
                ok.broken_time(MAX_SPAN).broken_time_max(MAX_SPAN + S),
                ConfigError::BrokenTimeMaxTooLong,
                "broken_time_max",
            ),
            (
                ok.broken_time_max(S * MAX_BACKOFF + Duration::from_nanos(1)),
                ConfigError::BrokenTimeMaxTooFar,
                "broken_time_max",
            ),
            (ok.jitter(f32::NAN), ConfigError::JitterNan, "jitter"),
            (ok.jitter(1.0), ConfigError::JitterOutOfRange, "jitter"),
            (ok.jitter(-0.01), ConfigError::JitterOutOfRange, "jitter"),
            (
                ok.slow_call(Duration::ZERO),
                ConfigError::SlowCallZero,
                "slow_call",
            ),
            (
                ok.slow_call(MAX_SPAN + S),
                ConfigError::SlowCallTooLong,
                "slow_call",
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
        assert!(check(Config::new(0.5, S).broken_time_max(S)).is_ok());
        assert!(check(Config::new(0.5, S).broken_time_max(S * MAX_BACKOFF)).is_ok());
        assert!(check(Config::new(0.5, S).jitter(0.999_999_9)).is_ok());
        assert!(check(Config::new(0.5, S).slow_call(MAX_SPAN)).is_ok());
    }

    #[test]
    fn config_reads_back_in_millionths() {
        let c = Config::new(0.2, S)
            .jitter(0.05)
            .jitter_seed(3)
            .broken_time_max(4 * S)
            .slow_call(S / 2);
        assert_eq!(check(c).unwrap().config(), c);
        let fine = check(Config::new(0.123_456_7, S)).unwrap().config();
        assert_eq!(fine.error_ratio, 0.123_457);
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
}
