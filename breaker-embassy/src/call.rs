//! Async calls through a breaker, timeouts and waiting for it to admit again.

use core::future::Future;

use breaker_core::{Classify, DefaultClassifier, Error, Listener};
use embassy_time::{Duration, Timer};

use crate::CircuitBreaker;
use crate::clock::EmbassyClock;

/// Awaits `future` if `breaker` admits it, and records its outcome (`Ok` is a
/// success, `Err` a failure).
///
/// Admission happens at the first poll; `future` is not polled at all when
/// the breaker rejects the call.
///
/// # Errors
///
/// [`Error::Broken`] when the breaker rejects the call; [`Error::Inner`] with
/// the future's own error, untouched, when it fails.
///
/// # Cancel safety
///
/// Dropping the returned future before it completes drops `future` and
/// records [`Outcome::Ignored`](breaker_core::Outcome::Ignored): nothing is counted against the dependency, and
/// in Recovering the admission goes back to the ramp.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_embassy::{CircuitBreaker, Config};
///
/// static SENSOR: CircuitBreaker = breaker_embassy::new(Config::new(0.5, Duration::from_secs(1)));
///
/// async fn read_sensor() -> Result<u16, ()> {
///     Ok(21)
/// }
///
/// embassy_futures::block_on(async {
///     assert_eq!(breaker_embassy::call(&SENSOR, read_sensor()).await, Ok(21));
/// });
/// ```
pub async fn call<T, E, Fut, const N: usize, L>(
    breaker: &CircuitBreaker<N, L>,
    future: Fut,
) -> Result<T, Error<E>>
where
    L: Listener,
    Fut: Future<Output = Result<T, E>>,
{
    breaker.call_async(future).await
}

/// [`call`] with a classifier deciding how the result counts (see
/// [`Classify`]). The caller still gets the future's result as it was.
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
/// use core::time::Duration;
/// use breaker_embassy::{failure_if, CircuitBreaker, Config, Error};
///
/// #[derive(Debug, PartialEq)]
/// enum BusError { Nack, LockedUp }
///
/// static BUS: CircuitBreaker = breaker_embassy::new(Config::new(0.5, Duration::from_secs(1)));
///
/// embassy_futures::block_on(async {
///     // A NACK is the addressed device's answer, not the bus failing.
///     let bus_fault = failure_if(|e: &BusError| *e == BusError::LockedUp);
///     let reply = breaker_embassy::call_with(&BUS, bus_fault, async { Err::<(), _>(BusError::Nack) }).await;
///     assert_eq!(reply, Err(Error::Inner(BusError::Nack)));
///     assert_eq!(BUS.metrics().successes, 1);
/// });
/// ```
pub async fn call_with<T, E, K, Fut, const N: usize, L>(
    breaker: &CircuitBreaker<N, L>,
    classifier: K,
    future: Fut,
) -> Result<T, Error<E>>
where
    L: Listener,
    K: Classify<T, E>,
    Fut: Future<Output = Result<T, E>>,
{
    breaker.call_async_with(classifier, future).await
}

/// [`call`] with a time limit: if `future` has not finished `timeout` after
/// admission, it is dropped, a [`Outcome::Failure`](breaker_core::Outcome::Failure) is recorded and the call
/// returns [`Error::Timeout`].
///
/// The timeout is an [`embassy_time::Duration`] (ticks of the linked time
/// driver), like [`embassy_time::with_timeout`]. From
/// a `core::time::Duration`, convert with `embassy_time::Duration::try_from`.
/// The timer starts at admission, the first poll.
///
/// # Errors
///
/// [`Error::Broken`] when the breaker rejects the call (`future` is never
/// polled and no timer is started); [`Error::Timeout`] when the time ran out;
/// [`Error::Inner`] with the future's own error when it failed in time.
///
/// # Cancel safety
///
/// As [`call`]: dropping the returned future early drops `future` and records
/// [`Outcome::Ignored`](breaker_core::Outcome::Ignored), never a failure.
///
/// # Examples
///
/// ```no_run
/// use core::time::Duration;
/// use breaker_embassy::{CircuitBreaker, Config, Error};
///
/// static MODEM: CircuitBreaker = breaker_embassy::new(Config::new(0.5, Duration::from_secs(10)));
///
/// async fn ping_modem() -> Result<(), ()> {
///     core::future::pending().await // this modem never answers
/// }
///
/// # async fn example() {
/// let limit = embassy_time::Duration::from_millis(250);
/// let reply = breaker_embassy::call_with_timeout(&MODEM, limit, ping_modem()).await;
/// assert_eq!(reply, Err(Error::Timeout));
/// assert_eq!(MODEM.metrics().failures, 1);
/// # }
/// ```
pub async fn call_with_timeout<T, E, Fut, const N: usize, L>(
    breaker: &CircuitBreaker<N, L>,
    timeout: Duration,
    future: Fut,
) -> Result<T, Error<E>>
where
    L: Listener,
    Fut: Future<Output = Result<T, E>>,
{
    let timer = || Timer::after(timeout);
    breaker
        .call_async_with_timer(DefaultClassifier, future, timer)
        .await
}

/// Completes when `breaker` is no longer Broken: at once if it is Passing or
/// Recovering, otherwise at the end of its current broken time, after any
/// backoff and jitter (a [`Timer`] to that deadline).
///
/// A breaker [forced open](breaker_core::CircuitBreaker::force_open) has no
/// deadline: `ready` then checks again every 100 ms, so it completes within
/// 100 ms of the operator's [`reset`](breaker_core::CircuitBreaker::reset).
/// A [disabled](breaker_core::CircuitBreaker::disable) breaker is Passing:
/// `ready` completes at once.
///
/// In Recovering a call may still be turned away (the ramp admits a growing
/// sample), so a caller retrying in a loop should still handle
/// [`Error::Broken`]. If the breaker breaks again while this waits, it waits
/// for the new deadline too.
///
/// # Cancel safety
///
/// Cancel safe: it holds no permit and changes no state, so dropping it at
/// any point has no effect on the breaker.
///
/// # Examples
///
/// ```no_run
/// use core::time::Duration;
/// use breaker_embassy::{CircuitBreaker, Config, Error};
///
/// static SENSOR: CircuitBreaker = breaker_embassy::new(Config::new(0.5, Duration::from_secs(1)));
///
/// async fn read_sensor() -> Result<u16, ()> {
///     Ok(21)
/// }
///
/// # async fn example() {
/// loop {
///     match breaker_embassy::call(&SENSOR, read_sensor()).await {
///         Ok(value) => break value,
///         Err(Error::Broken(_)) => breaker_embassy::ready(&SENSOR).await,
///         Err(_) => {} // a failed reading: try again
///     }
/// };
/// # }
/// ```
pub async fn ready<const N: usize, L: Listener>(breaker: &CircuitBreaker<N, L>) {
    // `retry_after` is measured from the breaker's reading of the clock, which
    // is no later than the timer's start, and the tick count is rounded up:
    // the wake-up is never early. Should it be anyway, `ready_with` waits again.
    let sleep = |wait: core::time::Duration| {
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        Timer::after_ticks(EmbassyClock::ticks_covering(nanos))
    };
    breaker.ready_with(sleep).await;
}
