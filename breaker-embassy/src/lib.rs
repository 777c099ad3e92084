#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod call;
mod clock;

pub use breaker_core;
pub use breaker_core::{
    Cause, CircuitBroken, Classify, Clock, Config, ConfigError, DefaultClassifier, Error,
    FailureIf, Listener, Metrics, Mode, Nanos, NoListener, Outcome, OwnedPermit, Permit, State,
    Transition, failure_if,
};

/// Logs every transition with [`defmt`](https://docs.rs/defmt): `warn` when
/// the breaker becomes Broken (forced open included), `info` otherwise, with
/// the name you give it (feature `defmt`). Give it to [`with_listener`].
///
/// # Examples
///
/// A `static` breaker whose transitions show up in the firmware's defmt log
/// (compiled, not run: defmt needs the firmware's global logger):
///
/// ```no_run
/// use core::time::Duration;
/// use breaker_embassy::{CircuitBreaker, Config, DefmtListener};
///
/// static MODEM: CircuitBreaker<10, DefmtListener> = breaker_embassy::with_listener(
///     Config::new(0.5, Duration::from_secs(10)).broken_time(Duration::from_secs(30)),
///     DefmtListener::new("modem"),
/// );
///
/// async fn ping_modem() -> Result<(), ()> {
///     Ok(())
/// }
///
/// # async fn task() {
/// // A trip sends a `warn` record naming "modem", with the `Transition`.
/// let _ = breaker_embassy::call(&MODEM, ping_modem()).await;
/// # }
/// ```
#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
pub use breaker_core::DefmtListener;
pub use call::{call, call_with, call_with_timeout, ready};
pub use clock::EmbassyClock;

/// A circuit breaker on [`EmbassyClock`] with `N` window buckets (default 10)
/// and the [`Listener`] `L` told about every transition ([`NoListener`],
/// which costs nothing, by default).
///
/// Build it with [`new`] (a `const fn`, so it can be a `static`), [`try_new`],
/// [`with_buckets`], [`try_with_buckets`] or [`with_listener`]; call through
/// it with [`call`], [`call_with`] and [`call_with_timeout`]; wait for it with
/// [`ready`]. Every method of [`breaker_core::CircuitBreaker`] (`state`,
/// `metrics`, `try_acquire`, `retry_after`, the sync `call`, the operator
/// controls `force_open`, `disable` and `reset`) works on it too.
pub type CircuitBreaker<const N: usize = 10, L = NoListener> =
    breaker_core::CircuitBreaker<EmbassyClock, N, L>;

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

/// A breaker on [`EmbassyClock`] with the default 10 buckets that tells
/// `listener` about every [`Transition`]: a `DefmtListener` (feature
/// `defmt`), a closure `Fn(Transition)`, or any [`Listener`] of your own.
///
/// A `const fn`, so it can initialise a `static` when the listener's type can
/// be named (a closure's type cannot: use closures for local breakers).
/// [`Transition::at`] is the time on [`EmbassyClock`]: nanoseconds since the
/// time driver's zero.
///
/// # Panics
///
/// As [`new`].
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use core::time::Duration;
/// use breaker_embassy::{CircuitBreaker, Config, Listener, State, Transition};
///
/// /// Counts how often the bus broke, for a status register.
/// #[derive(Debug)]
/// struct Trips(AtomicU32);
///
/// impl Listener for Trips {
///     fn on_transition(&self, t: Transition) {
///         if t.to == State::Broken {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// static BUS: CircuitBreaker<10, Trips> = breaker_embassy::with_listener(
///     Config::new(0.5, Duration::from_secs(1)).min_calls(1).passing_time(Duration::ZERO),
///     Trips(AtomicU32::new(0)),
/// );
///
/// embassy_futures::block_on(async {
///     let _ = breaker_embassy::call(&BUS, async { Err::<(), _>("locked up") }).await;
/// });
/// assert_eq!(BUS.state(), State::Broken);
/// assert_eq!(BUS.listener().0.load(Ordering::Relaxed), 1);
/// ```
pub const fn with_listener<L: Listener>(config: Config, listener: L) -> CircuitBreaker<10, L> {
    breaker_core::CircuitBreaker::with_listener(config, EmbassyClock::new(), listener)
}

/// [`with_listener`], or the reason `config` is invalid.
///
/// # Errors
///
/// As [`try_new`]. The listener is not dropped then (a `const fn` cannot drop
/// a generic value): it is forgotten.
pub const fn try_with_listener<L: Listener>(
    config: Config,
    listener: L,
) -> Result<CircuitBreaker<10, L>, ConfigError> {
    breaker_core::CircuitBreaker::try_with_listener(config, EmbassyClock::new(), listener)
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
