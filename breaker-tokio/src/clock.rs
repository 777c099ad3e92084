//! [`TokioClock`]: the breaker's clock for tokio services and their tests.

use breaker_clock::CoarseClock;
use breaker_core::{Clock, Nanos};

/// The clock of [`CircuitBreaker`](crate::CircuitBreaker): cheap in a
/// service, exact in a test with paused time.
///
/// - **By default** it is [`CoarseClock`]: the operating system's coarse
///   monotonic clock (`CLOCK_MONOTONIC_COARSE` on Linux), about 3 ns per read
///   instead of the 20 to 40 ns of `Instant::now()`, ticking every 1 to
///   10 ms. A breaker's window needs milliseconds, not nanoseconds, and slow
///   calls are still timed to the nanosecond (on [`Clock::now_precise`]).
/// - **With the `test-util` feature** it reads tokio's clock
///   ([`tokio::time::Instant`]), so a runtime with paused time
///   (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) moves
///   the breaker's time too: Broken lasts exactly `broken_time` of tokio
///   time, and no test sleeps. Enable it where tests need it, in
///   `[dev-dependencies]`, as tokio's own `test-util`: a feature enabled there
///   reaches test builds only, never a release build of the service.
///
/// [`Clock::RESOLUTION`] is the coarse clock's tick (10 ms on Linux) in both
/// builds, so a configuration that passes in tests is accepted in
/// production too: give each bucket of the window at least that much.
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
    const RESOLUTION: Nanos = CoarseClock::RESOLUTION;

    #[inline]
    fn now(&self) -> Nanos {
        #[cfg(feature = "test-util")]
        return tokio_now();
        #[cfg(not(feature = "test-util"))]
        return CoarseClock.now();
    }

    #[inline]
    fn now_precise(&self) -> Nanos {
        #[cfg(feature = "test-util")]
        return tokio_now();
        #[cfg(not(feature = "test-util"))]
        return CoarseClock.now_precise();
    }
}

/// tokio's clock, paused or not, as nanoseconds since the origin shared with
/// [`StdClock`](breaker_core::StdClock).
#[cfg(feature = "test-util")]
fn tokio_now() -> Nanos {
    breaker_core::StdClock::since_origin(tokio::time::Instant::now().into_std())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time_under_test_util() {
        let clock = TokioClock::new();
        let (start, precise) = (clock.now(), clock.now_precise());
        tokio::time::advance(Duration::from_millis(1500)).await;
        let step = Nanos::from_duration(Duration::from_millis(1500));
        assert_eq!(clock.now().saturating_sub(start), step);
        assert_eq!(clock.now_precise().saturating_sub(precise), step);
    }

    #[test]
    fn is_zero_sized_with_the_coarse_clocks_tick() {
        assert_eq!(core::mem::size_of::<TokioClock>(), 0);
        assert_eq!(TokioClock::RESOLUTION, CoarseClock::RESOLUTION);
    }
}
