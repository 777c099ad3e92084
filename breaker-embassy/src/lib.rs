#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod call;
mod clock;

pub use breaker_core;
pub use breaker_core::{
    CircuitBroken, Classify, Clock, Config, ConfigError, DefaultClassifier, Error, FailureIf,
    Metrics, Nanos, Outcome, OwnedPermit, Permit, State, failure_if,
};
pub use call::{call, call_with, call_with_timeout, ready};
pub use clock::EmbassyClock;

/// A circuit breaker on [`EmbassyClock`] with `N` window buckets (default 10).
///
/// Build it with [`new`] (a `const fn`, so it can be a `static`), [`try_new`],
/// [`with_buckets`] or [`try_with_buckets`]; call through it with [`call`],
/// [`call_with`] and [`call_with_timeout`]; wait for it with [`ready`]. Every
/// method of [`breaker_core::CircuitBreaker`] (`state`, `metrics`,
/// `try_acquire`, `retry_after`, the sync `call`) works on it too.
pub type CircuitBreaker<const N: usize = 10> = breaker_core::CircuitBreaker<EmbassyClock, N>;

/// A breaker on [`EmbassyClock`] with the default 10 buckets.
///
/// A `const fn` (an inherent `CircuitBreaker::new` cannot be added to a type
/// alias of another crate's type), so it can initialise a `static`.
///
/// # Panics
///
/// If `config` is invalid, with the [`ConfigError`] message naming the field
/// and the rule; in a `static` or `const`, that is a compile error. The window
/// must give each bucket at least one tick ([`Clock::RESOLUTION`]).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_embassy::{CircuitBreaker, Config, State};
///
/// static MODEM: CircuitBreaker = breaker_embassy::new(
///     Config::new(0.5, Duration::from_secs(10)).broken_time(Duration::from_secs(30)),
/// );
/// assert_eq!(MODEM.state(), State::Passing);
/// ```
pub const fn new(config: Config) -> CircuitBreaker {
    breaker_core::CircuitBreaker::new(config, EmbassyClock::new())
}

/// A breaker on [`EmbassyClock`] with the default 10 buckets, or the reason
/// `config` is invalid.
///
/// # Errors
///
/// [`ConfigError`] naming the first invalid field and the rule it broke.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_embassy::{Config, ConfigError};
///
/// let config = Config::new(1.5, Duration::from_secs(1));
/// assert_eq!(breaker_embassy::try_new(config).unwrap_err(), ConfigError::ErrorRatioOutOfRange);
/// ```
pub const fn try_new(config: Config) -> Result<CircuitBreaker, ConfigError> {
    breaker_core::CircuitBreaker::try_new(config, EmbassyClock::new())
}

/// A breaker on [`EmbassyClock`] whose window has `N` buckets (1 to
/// [`breaker_core::MAX_BUCKETS`]).
///
/// # Panics
///
/// As [`new`].
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_embassy::{CircuitBreaker, Config};
///
/// // Four buckets of 50 ms: less RAM, a coarser window.
/// static BUS: CircuitBreaker<4> =
///     breaker_embassy::with_buckets(Config::new(0.5, Duration::from_millis(200)));
/// assert_eq!(BUS.config().window, Duration::from_millis(200));
/// ```
pub const fn with_buckets<const N: usize>(config: Config) -> CircuitBreaker<N> {
    breaker_core::CircuitBreaker::with_buckets(config, EmbassyClock::new())
}

/// A breaker on [`EmbassyClock`] whose window has `N` buckets, or the reason
/// `config` is invalid.
///
/// # Errors
///
/// As [`try_new`].
pub const fn try_with_buckets<const N: usize>(
    config: Config,
) -> Result<CircuitBreaker<N>, ConfigError> {
    breaker_core::CircuitBreaker::try_with_buckets(config, EmbassyClock::new())
}

/// aiomisc's `cutout` decorator: `#[cutout(error_ratio = 0.2, window = "20s")]`
/// on a `fn` or `async fn` returning `Result` gives it its own `static`
/// breaker on this crate's clock. See [`breaker_macros`](https://docs.rs/breaker-macros)
/// for every argument.
pub use breaker_macros::embassy_cutout as cutout;

/// Support for `#[cutout]`: the paths its expansion names. Not public API.
#[doc(hidden)]
pub mod __cutout {
    pub use breaker_core;
    pub type Clock = crate::EmbassyClock;
    pub const CLOCK: Clock = crate::EmbassyClock::new();
}
