//! [`TokioClock`]: the breaker's clock on tokio's time.

use breaker_core::{Clock, Nanos, StdClock};

/// A [`Clock`] on [`tokio::time::Instant`].
///
/// It reads tokio's clock, not the operating system's directly, so a test
/// runtime with paused time (`#[tokio::test(start_paused = true)]`,
/// `tokio::time::pause`, `tokio::time::advance`, all with tokio's `test-util`
/// feature) moves the breaker's time too: Broken lasts exactly `broken_time`
/// of tokio time, and no test has to sleep. Outside a paused runtime tokio's clock is `std::time::Instant`.
///
/// Readings are nanoseconds since the origin shared with
/// [`StdClock`](breaker_core::StdClock) (see
/// [`StdClock::since_origin`](breaker_core::StdClock::since_origin)).
///
/// Zero-sized and `const`-constructible, so `static` breakers need no lazy
/// initialisation.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{CircuitBreaker, Config, TokioClock};
///
/// static BREAKER: CircuitBreaker =
///     CircuitBreaker::new(Config::new(0.2, Duration::from_secs(20)), TokioClock::new());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TokioClock;

impl TokioClock {
    /// The tokio clock.
    pub const fn new() -> TokioClock {
        TokioClock
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Nanos {
        StdClock::since_origin(tokio::time::Instant::now().into_std())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time() {
        let clock = TokioClock::new();
        let start = clock.now();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(
            clock.now().saturating_sub(start),
            Nanos::from_duration(Duration::from_millis(1500))
        );
    }

    #[test]
    fn is_zero_sized() {
        assert_eq!(core::mem::size_of::<TokioClock>(), 0);
    }
}
