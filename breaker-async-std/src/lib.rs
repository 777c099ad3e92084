#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use core::future::Future;
use core::time::Duration;

use async_io::Timer;

pub use breaker_clock::CoarseClock;
pub use breaker_core;
#[doc(no_inline)]
pub use breaker_core::{
    Cause, CircuitBroken, Classify, Clock, Config, ConfigError, DefaultClassifier, Error,
    FailureIf, Listener, Metrics, MockClock, Mode, Nanos, NoListener, Outcome, OwnedPermit, Permit,
    State, StdClock, Transition, failure_if,
};

/// Logs every transition through the [`log`](https://docs.rs/log) facade:
/// `warn` on entering Broken (forced open included), `info` otherwise
/// (feature `log`). Give it to [`with_listener`].
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub use breaker_core::LogListener;

/// Emits every transition as a [`tracing`](https://docs.rs/tracing) event:
/// `WARN` on entering Broken (forced open included), `INFO` otherwise
/// (feature `tracing`). Give it to [`with_listener`].
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use breaker_core::TracingListener;

/// A circuit breaker on [`CoarseClock`] (the operating system's cheap coarse
/// monotonic clock, ticking every 10 ms at most on Linux; see the crate's
/// Clocks section), with `N`
/// window buckets (10 by default) and the [`Listener`] `L` told about every
/// transition ([`NoListener`], which costs nothing, by default).
///
/// This is [`breaker_core::CircuitBreaker`]; every method of it is available,
/// the operator controls ([`force_open`](breaker_core::CircuitBreaker::force_open),
/// [`disable`](breaker_core::CircuitBreaker::disable),
/// [`reset`](breaker_core::CircuitBreaker::reset)) included.
/// Build one with [`new`] or [`try_new`] (both `const`, so it can be a
/// `static`), [`with_listener`], or `CircuitBreaker::new(config, CoarseClock::new())`.
///
/// The async operations of this crate ([`call`], [`call_with`],
/// [`call_with_timeout`], [`ready`]) take any
/// [`breaker_core::CircuitBreaker<C, N, L>`](breaker_core::CircuitBreaker), so
/// tests can build the same breaker on a [`MockClock`] and move time by hand.
pub type CircuitBreaker<const N: usize = 10, L = NoListener> =
    breaker_core::CircuitBreaker<CoarseClock, N, L>;

/// A [`CircuitBreaker`] with the default 10 buckets, on [`CoarseClock`].
///
/// # Panics
///
/// If `config` is invalid, with the [`ConfigError`] message naming the field
/// and the rule; in a `static` or `const` that is a compile error. Use
/// [`try_new`] to handle it instead.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_async_std::{CircuitBreaker, Config, State};
///
/// // aiomisc: CircuitBreaker(error_ratio=0.2, response_time=20, broken_time=5)
/// static BREAKER: CircuitBreaker = breaker_async_std::new(
///     Config::new(0.2, Duration::from_secs(20)).broken_time(Duration::from_secs(5)),
/// );
/// assert_eq!(BREAKER.state(), State::Passing);
/// ```
pub const fn new(config: Config) -> CircuitBreaker {
    CircuitBreaker::new(config, CoarseClock::new())
}

/// A [`CircuitBreaker`] with the default 10 buckets, on [`CoarseClock`], or the
/// reason `config` is invalid.
///
/// # Errors
///
/// [`ConfigError`] naming the first invalid field and the rule it broke.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_async_std::Config;
///
/// let err = breaker_async_std::try_new(Config::new(1.5, Duration::from_secs(1))).unwrap_err();
/// assert!(err.to_string().contains("error_ratio"));
/// ```
pub const fn try_new(config: Config) -> Result<CircuitBreaker, ConfigError> {
    CircuitBreaker::try_new(config, CoarseClock::new())
}

/// A [`CircuitBreaker`] with `N` buckets (1 to 1024), on [`CoarseClock`].
///
/// # Panics
///
/// As [`new`].
pub const fn with_buckets<const N: usize>(config: Config) -> CircuitBreaker<N> {
    CircuitBreaker::<N>::with_buckets(config, CoarseClock::new())
}

/// A [`CircuitBreaker`] with `N` buckets, on [`CoarseClock`], or the reason
/// `config` is invalid.
///
/// # Errors
///
/// As [`try_new`].
pub const fn try_with_buckets<const N: usize>(
    config: Config,
) -> Result<CircuitBreaker<N>, ConfigError> {
    CircuitBreaker::<N>::try_with_buckets(config, CoarseClock::new())
}

/// A [`CircuitBreaker`] with the default 10 buckets, on [`CoarseClock`], that
/// tells `listener` about every [`Transition`]: a closure `Fn(Transition)`,
/// a `LogListener` or `TracingListener` (features `log` and `tracing`), or
/// any [`Listener`] of your own.
///
/// `const`, so it can initialise a `static` when the listener's type can be
/// named (a closure's cannot: use a closure for a local breaker).
///
/// # Panics
///
/// As [`new`].
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use breaker_async_std::{Config, State, Transition};
///
/// let heard = Mutex::new(Vec::new());
/// let breaker = breaker_async_std::with_listener(
///     Config::new(0.5, Duration::from_secs(10))
///         .min_calls(1)
///         .passing_time(Duration::ZERO)
///         .broken_time(Duration::from_secs(5)),
///     |t: Transition| heard.lock().unwrap().push(t.to_string()),
/// );
/// # smol::block_on(async {
/// let _ = breaker_async_std::call(&breaker, async { Err::<(), _>("refused") }).await;
/// # });
/// assert_eq!(breaker.state(), State::Broken);
/// breaker.reset();
/// assert_eq!(*heard.lock().unwrap(), ["passing -> broken for 5s", "broken -> passing"]);
/// ```
///
/// A `static` breaker with a listener type of your own:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use breaker_async_std::{CircuitBreaker, Config, Listener, State, Transition};
///
/// /// Counts entries into Broken, for a metrics gauge.
/// #[derive(Debug)]
/// struct Trips(AtomicU64);
///
/// impl Listener for Trips {
///     fn on_transition(&self, t: Transition) {
///         if t.to == State::Broken {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// static UPSTREAM: CircuitBreaker<10, Trips> = breaker_async_std::with_listener(
///     Config::new(0.2, Duration::from_secs(20)),
///     Trips(AtomicU64::new(0)),
/// );
///
/// // An operator forcing it open is not a trip, but the listener hears it.
/// UPSTREAM.force_open();
/// assert_eq!(UPSTREAM.metrics().trips, 0);
/// assert_eq!(UPSTREAM.listener().0.load(Ordering::Relaxed), 1);
/// ```
pub const fn with_listener<L: Listener>(config: Config, listener: L) -> CircuitBreaker<10, L> {
    CircuitBreaker::with_listener(config, CoarseClock::new(), listener)
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
    CircuitBreaker::try_with_listener(config, CoarseClock::new(), listener)
}

/// Awaits `future` if `breaker` admits it, and records its outcome: `Ok` is a
/// success, `Err` a failure.
///
/// Admission happens when the returned future is first polled, not when it is
/// created. A rejected call never polls `future`.
///
/// # Errors
///
/// [`Error::Broken`] when the breaker rejects the call (Broken, or Recovering
/// and this call is not in the admitted sample); [`Error::Inner`] with the
/// future's own error, untouched, when it fails.
///
/// # Cancel safety
///
/// Dropping the returned future before it completes records
/// [`Outcome::Ignored`]: nothing is counted against the dependency, and in
/// Recovering the admission goes back to the ramp, so the next caller gets it.
/// Dropping it while unwinding from a panic records a failure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_async_std::{CircuitBreaker, Config, Error};
///
/// static BREAKER: CircuitBreaker = breaker_async_std::new(Config::new(0.5, Duration::from_secs(10)));
///
/// # async_std::task::block_on(async {
/// let reply = breaker_async_std::call(&BREAKER, async { Ok::<_, std::io::Error>(42) }).await;
/// assert_eq!(reply.unwrap(), 42);
/// assert_eq!(BREAKER.metrics().successes, 1);
/// # });
/// ```
pub fn call<C, const N: usize, L, T, E, Fut>(
    breaker: &breaker_core::CircuitBreaker<C, N, L>,
    future: Fut,
) -> impl Future<Output = Result<T, Error<E>>>
where
    C: Clock,
    L: Listener,
    Fut: Future<Output = Result<T, E>>,
{
    // The core's runtime-neutral call future as is: a call needs no timer.
    breaker.call_async_with(DefaultClassifier, future)
}

/// [`call`] with a classifier deciding how the result counts (a
/// [`failure_if`] predicate over the error, or any
/// `Fn(&Result<T, E>) -> Outcome`). The caller still gets the future's result
/// as it was.
///
/// # Errors
///
/// As [`call`].
///
/// # Cancel safety
///
/// As [`call`].
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use breaker_async_std::{CircuitBreaker, Config, failure_if};
///
/// static BREAKER: CircuitBreaker = breaker_async_std::new(Config::new(0.5, Duration::from_secs(10)));
///
/// // A refused connection is the dependency's fault; bad input is ours.
/// let its_fault = failure_if(|e: &io::Error| e.kind() != io::ErrorKind::InvalidInput);
/// # smol::block_on(async {
/// let reply = breaker_async_std::call_with(&BREAKER, its_fault, async {
///     Err::<(), _>(io::Error::from(io::ErrorKind::InvalidInput))
/// })
/// .await;
/// assert!(reply.is_err());
/// assert_eq!(BREAKER.metrics().failures, 0);
/// # });
/// ```
pub fn call_with<C, const N: usize, L, T, E, K, Fut>(
    breaker: &breaker_core::CircuitBreaker<C, N, L>,
    classifier: K,
    future: Fut,
) -> impl Future<Output = Result<T, Error<E>>>
where
    C: Clock,
    L: Listener,
    K: Classify<T, E>,
    Fut: Future<Output = Result<T, E>>,
{
    breaker.call_async_with(classifier, future)
}

/// [`call`] with a deadline: if `future` has not finished `timeout` after
/// admission, it is dropped, a failure is recorded and the call returns
/// [`Error::Timeout`].
///
/// The deadline is an [`async_io::Timer`], so it runs on real time (the
/// breaker's clock only decides states). If the future and the timer are both
/// ready at the same poll, the future's result wins.
///
/// # Errors
///
/// As [`call`], plus [`Error::Timeout`] when the deadline passes first.
///
/// # Cancel safety
///
/// As [`call`]: dropping the returned future before it completes (before the
/// deadline, too) records [`Outcome::Ignored`] and, in Recovering, gives the
/// admission back. Only a deadline reached while the call is still being
/// awaited counts as a failure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_async_std::{CircuitBreaker, Config, Error};
///
/// static BREAKER: CircuitBreaker = breaker_async_std::new(Config::new(0.5, Duration::from_secs(10)));
///
/// # async_std::task::block_on(async {
/// let hung = std::future::pending::<Result<(), std::io::Error>>();
/// let reply = breaker_async_std::call_with_timeout(&BREAKER, Duration::from_millis(5), hung).await;
/// assert!(matches!(reply, Err(Error::Timeout)));
/// assert_eq!(BREAKER.metrics().failures, 1);
/// # });
/// ```
pub async fn call_with_timeout<C, const N: usize, L, T, E, Fut>(
    breaker: &breaker_core::CircuitBreaker<C, N, L>,
    timeout: Duration,
    future: Fut,
) -> Result<T, Error<E>>
where
    C: Clock,
    L: Listener,
    Fut: Future<Output = Result<T, E>>,
{
    // The core races the call against the timer, polling the call first, so
    // a call that finishes at the deadline wins.
    let timer = || async move {
        Timer::after(timeout).await;
    };
    breaker
        .call_async_with_timer(DefaultClassifier, future, timer)
        .await
}

/// Completes when `breaker` is no longer Broken, that is when a call could be
/// admitted again: at once if it is Passing or Recovering, otherwise at the
/// end of the current broken time (after any backoff and jitter).
///
/// It sleeps on an [`async_io::Timer`] until the deadline the breaker reports
/// in [`retry_after`](breaker_core::CircuitBreaker::retry_after), then reads
/// the state again: no polling loop, and it never completes early, whatever
/// the breaker's clock. On [`StdClock`] one timer is enough. If the breaker's
/// clock runs behind real time (a [`CoarseClock`] lags by up to one tick), it
/// checks again at most once a millisecond
/// after the first deadline (with a [`MockClock`] that nobody advances, it
/// waits for ever).
///
/// A breaker [forced open](breaker_core::CircuitBreaker::force_open) has no
/// deadline: `ready` then checks again every 100 ms (of timer time), so it
/// completes at most 100 ms after the operator's
/// [`reset`](breaker_core::CircuitBreaker::reset). A
/// [disabled](breaker_core::CircuitBreaker::disable) breaker is Passing, so
/// `ready` completes at once.
///
/// In Recovering only a growing share of calls is admitted, so a call made
/// after `ready` can still be rejected (with `retry_after` zero); `ready`
/// means "worth trying again".
///
/// # Cancel safety
///
/// Cancel-safe: it holds no admission and changes nothing in the breaker;
/// dropping it only drops its timer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_async_std::{CircuitBreaker, Config, State};
///
/// static BREAKER: CircuitBreaker = breaker_async_std::new(
///     Config::new(0.5, Duration::from_millis(100))
///         .min_calls(1)
///         .passing_time(Duration::ZERO)
///         .broken_time(Duration::from_millis(10)),
/// );
///
/// # smol::block_on(async {
/// let _ = breaker_async_std::call(&BREAKER, async { Err::<(), _>("down") }).await;
/// assert_eq!(BREAKER.metrics().trips, 1); // Broken for 10 ms
/// breaker_async_std::ready(&BREAKER).await;
/// assert_eq!(BREAKER.state(), State::Recovering);
/// # });
/// ```
pub async fn ready<C, const N: usize, L>(breaker: &breaker_core::CircuitBreaker<C, N, L>)
where
    C: Clock,
    L: Listener,
{
    // On `StdClock` the timer fires at or after the breaker's deadline, so
    // one sleep suffices; the core re-checks at most once a millisecond if the
    // breaker's clock lags the timer (a `CoarseClock` by up to a tick, a
    // `MockClock` for as long as nobody moves it).
    breaker
        .ready_with(|wait| async move {
            Timer::after(wait).await;
        })
        .await;
}

/// aiomisc's `cutout` decorator: `#[cutout(error_ratio = 0.2, window = "20s")]`
/// on a `fn` or `async fn` returning `Result` gives it its own `static`
/// breaker on this crate's clock. See [`breaker_macros`](https://docs.rs/breaker-macros)
/// for every argument.
pub use breaker_macros::async_std_cutout as cutout;

/// Support for `#[cutout]`: the paths its expansion names. Not public API.
#[doc(hidden)]
pub mod __cutout {
    pub use breaker_core;
    pub type Clock = crate::CoarseClock;
    pub const CLOCK: Clock = crate::CoarseClock::new();
}
