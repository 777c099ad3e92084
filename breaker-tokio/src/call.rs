//! The async call API: [`call`], [`call_with`], [`call_with_timeout`] and
//! [`ready`].
//!
//! These are free functions taking the breaker by reference, not methods of an
//! extension trait: the core breaker already has inherent *sync* methods named
//! `call` and `call_with`, and an inherent method always wins over a trait
//! method of the same name, so `breaker.call(future)` could never reach an
//! extension trait. They work for a breaker on any [`Clock`], with any
//! [`Listener`]; only the timeouts and [`ready`]'s sleep use tokio's timer.

use core::future::Future;
use core::time::Duration;

use breaker_core::{Classify, Clock, DefaultClassifier, Error, Listener};

type CoreBreaker<C, const N: usize, L> = breaker_core::CircuitBreaker<C, N, L>;

/// Awaits `future` if `breaker` admits it, and records its outcome: `Ok` is a
/// success, `Err` a failure.
///
/// Admission happens when the returned future is first polled, not when
/// `call` is called. A rejected call never polls `future`.
///
/// # Errors
///
/// - [`Error::Broken`] without polling `future`, when the breaker is Broken
///   (or Recovering and this call is not in the sample let through); the
///   rejection says how long to wait ([`CircuitBroken::retry_after`]).
/// - [`Error::Inner`] with `future`'s own error, untouched.
///
/// [`CircuitBroken::retry_after`]: breaker_core::CircuitBroken::retry_after
///
/// # Cancel safety
///
/// Dropping the returned future before it completes records
/// [`Outcome::Ignored`](breaker_core::Outcome::Ignored): nothing is counted against the dependency, and in
/// Recovering the admission is given back to the ramp. `future` is dropped
/// with it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{Config, Error};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = breaker_tokio::new(Config::new(0.2, Duration::from_secs(20)));
/// let fetched = breaker_tokio::call(&breaker, async { Ok::<_, std::io::Error>("gist") }).await;
/// assert_eq!(fetched.unwrap(), "gist");
/// # }
/// ```
pub fn call<C, const N: usize, L, T, E, Fut>(
    breaker: &CoreBreaker<C, N, L>,
    future: Fut,
) -> impl Future<Output = Result<T, Error<E>>>
where
    C: Clock,
    L: Listener,
    Fut: Future<Output = Result<T, E>>,
{
    // The core's runtime-neutral call future, returned as is: no extra state
    // machine around it.
    breaker.call_async_with(DefaultClassifier, future)
}

/// [`call`] with a classifier that decides how the result counts: a closure
/// `Fn(&Result<T, E>) -> Outcome`, [`failure_if`](breaker_core::failure_if)
/// over the error, or any [`Classify`]. The caller still gets the result as
/// `future` produced it.
///
/// # Errors
///
/// As [`call`]: [`Error::Inner`] carries `future`'s error whatever the
/// classifier made of it.
///
/// # Cancel safety
///
/// As [`call`]: dropping the returned future records [`Outcome::Ignored`](breaker_core::Outcome::Ignored).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{failure_if, Config};
///
/// #[derive(Debug)]
/// enum FetchError { NotFound, Server }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = breaker_tokio::new(Config::new(0.2, Duration::from_secs(20)));
/// // A 404 is the caller's problem, not the dependency's: count it as a success.
/// let server_fault = failure_if(|e: &FetchError| matches!(e, FetchError::Server));
/// let missing = breaker_tokio::call_with(&breaker, server_fault, async {
///     Err::<(), _>(FetchError::NotFound)
/// })
/// .await;
/// assert!(missing.is_err());
/// assert_eq!(breaker.metrics().failures, 0);
/// # }
/// ```
pub fn call_with<C, const N: usize, L, T, E, K, Fut>(
    breaker: &CoreBreaker<C, N, L>,
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

/// [`call`] with a deadline: if `future` has not finished `timeout` after the
/// call was admitted, it is dropped, a **failure** is recorded and the caller
/// gets [`Error::Timeout`]. This is how a hanging dependency trips the breaker
/// (aiomisc counts a slow call against the dependency in the same way).
///
/// The timer is tokio's ([`tokio::time::timeout`]) and starts at admission,
/// so a rejected call costs no timer.
///
/// # Errors
///
/// As [`call`], plus [`Error::Timeout`] when the deadline passes first.
///
/// # Panics
///
/// When polled outside a tokio runtime with the time driver enabled (as
/// [`tokio::time::timeout`] does).
///
/// # Cancel safety
///
/// Dropping the returned future before it completes records
/// [`Outcome::Ignored`](breaker_core::Outcome::Ignored) (the caller gave up, the dependency did not fail),
/// and in Recovering gives the admission back. Only the timeout itself counts
/// as a failure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{Config, Error};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let breaker = breaker_tokio::new(Config::new(0.2, Duration::from_secs(20)));
/// let hanging = std::future::pending::<Result<(), std::io::Error>>();
/// let result = breaker_tokio::call_with_timeout(&breaker, Duration::from_millis(250), hanging).await;
/// assert!(matches!(result, Err(Error::Timeout)));
/// assert_eq!(breaker.metrics().failures, 1);
/// # }
/// ```
pub async fn call_with_timeout<C, const N: usize, L, T, E, Fut>(
    breaker: &CoreBreaker<C, N, L>,
    timeout: Duration,
    future: Fut,
) -> Result<T, Error<E>>
where
    C: Clock,
    L: Listener,
    Fut: Future<Output = Result<T, E>>,
{
    let sleep = || tokio::time::sleep(timeout);
    breaker
        .call_async_with_timer(DefaultClassifier, future, sleep)
        .await
}

/// Completes when `breaker` is no longer Broken: at once if it is Passing or
/// Recovering, otherwise at the end of the current Broken period
/// (`broken_time`, after any backoff and jitter).
///
/// It sleeps on a tokio timer until the deadline the breaker reports
/// ([`retry_after`](breaker_core::CircuitBreaker::retry_after)), rounded up
/// to tokio's 1 ms timer resolution; there is no polling loop. It reads the
/// state again on waking, and sleeps again only if the breaker's clock is
/// behind tokio's timer (a clock that does not follow tokio time, such as a
/// `MockClock` nobody advances).
///
/// A breaker [forced open](breaker_core::CircuitBreaker::force_open) has no
/// deadline: `ready` then checks again every 100 ms, so it completes at most
/// 100 ms after the operator's [`reset`](breaker_core::CircuitBreaker::reset).
/// A [disabled](breaker_core::CircuitBreaker::disable) breaker is Passing:
/// `ready` completes at once.
///
/// In Recovering only a growing sample of calls is admitted, so a call made
/// after `ready` can still be rejected (with `retry_after` zero); `ready`
/// means "worth trying again", which is what aiomisc's callers wait for.
///
/// # Panics
///
/// When it has to sleep outside a tokio runtime with the time driver enabled.
///
/// # Cancel safety
///
/// Cancel safe: it only reads the breaker, so dropping it has no effect.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{Config, State};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let config = Config::new(0.5, Duration::from_secs(4))
///     .broken_time(Duration::from_secs(2))
///     .passing_time(Duration::ZERO)
///     .min_calls(1);
/// let breaker = breaker_tokio::new(config);
/// let _ = breaker_tokio::call(&breaker, async { Err::<(), _>("down") }).await;
/// assert_eq!(breaker.state(), State::Broken);
///
/// let start = tokio::time::Instant::now();
/// breaker_tokio::ready(&breaker).await;
/// assert_eq!(start.elapsed(), Duration::from_secs(2));
/// assert_eq!(breaker.state(), State::Recovering);
/// # }
/// ```
pub async fn ready<C, const N: usize, L>(breaker: &CoreBreaker<C, N, L>)
where
    C: Clock,
    L: Listener,
{
    breaker.ready_with(tokio::time::sleep).await;
}
