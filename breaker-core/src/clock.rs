//! Time as the breaker sees it: the [`Clock`] trait, the [`Nanos`] tick type and
//! [`MockClock`] for deterministic tests.
//!
//! The breaker never asks the operating system for the time. It reads whatever
//! [`Clock`] it was built with, so the same state machine runs on a tokio
//! runtime, under an embassy executor and inside a unit test that moves time by
//! hand.

use core::fmt;
use core::time::Duration;

use crate::sync::AtomicU64;
use crate::sync::Ordering;

/// A point in time, or a span of time, counted in nanoseconds.
///
/// `Nanos` is a `u64`, so it fits in one atomic word and covers about 584 years.
/// Conversions from [`Duration`] saturate at [`Nanos::MAX`] rather than wrap.
/// Its `Debug` output reads like a `Duration` (`1.5s`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Nanos(u64);

impl Nanos {
    /// Zero nanoseconds.
    pub const ZERO: Nanos = Nanos(0);
    /// The largest representable value (about 584 years).
    pub const MAX: Nanos = Nanos(u64::MAX);

    /// `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Nanos {
        Nanos(n)
    }

    /// The number of nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Converts a [`Duration`], saturating at [`Nanos::MAX`].
    pub const fn from_duration(d: Duration) -> Nanos {
        let n = d.as_nanos();
        if n > u64::MAX as u128 {
            Nanos::MAX
        } else {
            Nanos(n as u64)
        }
    }

    /// Converts to a [`Duration`] (always exact).
    pub const fn to_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self - earlier`, or zero if `earlier` is later than `self`.
    ///
    /// This is how the breaker measures elapsed time: a clock that seems to go
    /// backwards reads as no time passing, never as a huge interval.
    pub const fn saturating_sub(self, earlier: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`Nanos::MAX`].
    pub const fn saturating_add(self, d: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(d.0))
    }
}

impl From<Duration> for Nanos {
    fn from(d: Duration) -> Nanos {
        Nanos::from_duration(d)
    }
}

impl From<Nanos> for Duration {
    fn from(n: Nanos) -> Duration {
        n.to_duration()
    }
}

impl fmt::Debug for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_duration(), f)
    }
}

/// A monotonic source of time for a circuit breaker.
///
/// `now` is read at most a few times per call, so it should be cheap (an atomic
/// load, a register read, a vDSO call).
///
/// Implementations MUST ensure that:
/// - `now` never fails and never panics;
/// - readings are nanoseconds since a fixed origin of the clock's choosing
///   (process start, boot, zero for a mock), and do not go backwards.
///
/// The breaker copes with clocks that break the second rule anyway: a reading
/// earlier than one it has already acted on counts as no time passing. It never
/// panics, never trips and never shortens a deadline because of it.
///
/// Implementations SHOULD set [`Clock::RESOLUTION`] to the length of one of their
/// ticks when that is coarser than a nanosecond; a breaker refuses a window whose
/// buckets would be shorter than one tick.
///
/// A coarse clock (one whose tick is milliseconds, read cheaply) SHOULD also
/// provide [`Clock::now_precise`], so that slow calls keep their precision.
pub trait Clock {
    /// The length of one tick of this clock.
    const RESOLUTION: Nanos = Nanos::from_nanos(1);

    /// The current time.
    fn now(&self) -> Nanos;

    /// A reading for timing one call against
    /// [`Config::slow_call`](crate::Config::slow_call), as precise as the
    /// clock can give. The breaker reads it only for calls it times (when
    /// `slow_call` is set), once at admission and once at the outcome, and
    /// only ever subtracts two such readings from each other: they may count
    /// from another origin than [`now`](Clock::now)'s.
    ///
    /// The default is `now()`, right for every clock whose tick is fine
    /// already. A coarse clock overrides it with a precise source, so that a
    /// 5 ms threshold means 5 ms and not "somewhere within a tick of it".
    #[inline]
    fn now_precise(&self) -> Nanos {
        self.now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    const RESOLUTION: Nanos = C::RESOLUTION;

    #[inline]
    fn now(&self) -> Nanos {
        (**self).now()
    }

    #[inline]
    fn now_precise(&self) -> Nanos {
        (**self).now_precise()
    }
}

/// A clock that only moves when told to: deterministic tests and simulations.
///
/// It starts at zero. It is `Sync` and `const`-constructible, so a test can keep
/// one in a `static` next to a `static` breaker, and `&MockClock` is itself a
/// [`Clock`], so a breaker can borrow a clock the test keeps advancing.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_core::{CircuitBreaker, Config, MockClock, State};
///
/// let clock = MockClock::new();
/// let config = Config::new(0.5, Duration::from_secs(10))
///     .min_calls(2)
///     .passing_time(Duration::ZERO);
/// let breaker = CircuitBreaker::new(config, &clock);
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// assert_eq!(breaker.state(), State::Broken);
/// clock.advance(Duration::from_secs(10));
/// assert_eq!(breaker.state(), State::Recovering);
/// ```
#[derive(Debug, Default)]
pub struct MockClock {
    now: AtomicU64,
}

impl MockClock {
    /// A clock reading zero.
    #[cfg(not(loom))]
    pub const fn new() -> MockClock {
        MockClock {
            now: AtomicU64::new(0),
        }
    }

    /// A clock reading zero.
    #[cfg(loom)]
    pub fn new() -> MockClock {
        MockClock {
            now: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward by `d` (saturating).
    pub fn advance(&self, d: Duration) {
        let d = Nanos::from_duration(d).as_nanos();
        // Relaxed: the clock value is the only data; readers need no other
        // memory to be ordered with it.
        let _ = self
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(d))
            });
    }

    /// Sets the clock to `since_zero` after its zero point. Setting it earlier
    /// than it reads now simulates a clock that goes backwards.
    pub fn set(&self, since_zero: Duration) {
        self.now.store(
            Nanos::from_duration(since_zero).as_nanos(),
            Ordering::Relaxed,
        );
    }

    /// The current reading as a [`Duration`] since zero.
    pub fn elapsed(&self) -> Duration {
        self.now().to_duration()
    }
}

impl Clock for MockClock {
    #[inline]
    fn now(&self) -> Nanos {
        Nanos::from_nanos(self.now.load(Ordering::Relaxed))
    }
}

/// A [`Clock`] on [`std::time::Instant`] (feature `std`): monotonic wall time
/// for threads and for async runtimes without a clock of their own.
///
/// Zero-sized and `const`-constructible. All `StdClock`s (and clocks that
/// convert from `std::time::Instant` through [`StdClock::since_origin`]) share
/// one origin, taken at the first reading and placed up to an hour before it,
/// so instants created a little before that first reading (a tokio runtime's
/// paused clock, say) still read as positive times.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StdClock;

#[cfg(feature = "std")]
impl StdClock {
    /// A clock on `std::time::Instant`.
    pub const fn new() -> StdClock {
        StdClock
    }

    /// `instant` as [`Nanos`] since the shared origin (zero if earlier).
    pub fn since_origin(instant: std::time::Instant) -> Nanos {
        Nanos::from_duration(instant.saturating_duration_since(Self::origin()))
    }

    fn origin() -> std::time::Instant {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(|| {
            let now = std::time::Instant::now();
            [3600, 60, 1]
                .into_iter()
                .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
                .unwrap_or(now)
        })
    }
}

#[cfg(feature = "std")]
impl Clock for StdClock {
    fn now(&self) -> Nanos {
        Self::since_origin(std::time::Instant::now())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn nanos_round_trips_and_saturates() {
        let d = Duration::new(3, 500);
        assert_eq!(Duration::from(Nanos::from(d)), d);
        assert_eq!(Nanos::from(Duration::MAX), Nanos::MAX);
        assert_eq!(
            Nanos::from_nanos(5).saturating_sub(Nanos::from_nanos(9)),
            Nanos::ZERO
        );
        assert_eq!(Nanos::MAX.saturating_add(Nanos::from_nanos(1)), Nanos::MAX);
    }

    #[test]
    fn nanos_debug_reads_like_a_duration() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{:?}", Nanos::from_nanos(1_500_000_000)), "1.5s");
    }

    #[test]
    fn mock_clock_advances_sets_and_saturates() {
        static CLOCK: MockClock = MockClock::new();
        assert_eq!(CLOCK.now(), Nanos::ZERO);
        CLOCK.advance(Duration::from_millis(1500));
        assert_eq!(Clock::now(&&CLOCK), Nanos::from_nanos(1_500_000_000));
        CLOCK.set(Duration::from_secs(1));
        assert_eq!(CLOCK.elapsed(), Duration::from_secs(1));
        CLOCK.advance(Duration::MAX);
        assert_eq!(CLOCK.now(), Nanos::MAX);
    }

    #[cfg(feature = "std")]
    #[test]
    fn std_clock_is_monotonic_and_positive() {
        let a = StdClock::new().now();
        let b = StdClock.now();
        assert!(b >= a);
        let earlier = std::time::Instant::now() - Duration::from_millis(10);
        assert!(StdClock::since_origin(earlier) > Nanos::ZERO);
    }
}
