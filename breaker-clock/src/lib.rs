#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use breaker_core::{Clock, Nanos, StdClock};

/// The cheap, coarse monotonic clock of the std adapters (see the
/// [crate docs](crate) for its source and tick on each platform).
///
/// Zero-sized and `const`-constructible, so a `static` breaker needs no lazy
/// initialisation. Readings are nanoseconds since an origin of the operating
/// system's (boot, on Linux).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_clock::CoarseClock;
/// use breaker_core::{CircuitBreaker, Config};
///
/// static BREAKER: CircuitBreaker<CoarseClock> =
///     CircuitBreaker::new(Config::new(0.2, Duration::from_secs(20)), CoarseClock::new());
/// assert!(BREAKER.call(|| Ok::<_, ()>(())).is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CoarseClock;

impl CoarseClock {
    /// The coarse clock.
    pub const fn new() -> CoarseClock {
        CoarseClock
    }
}

/// Whether this platform's coarse source is monotonic with a known bound on
/// its tick; elsewhere the clock is `StdClock`.
const COARSE: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    windows
));

impl Clock for CoarseClock {
    /// The coarsest tick of the source: 16 ms for `GetTickCount64`, 10 ms for
    /// the kernels' coarse clocks (a jiffy, `1 / HZ`, with `HZ >= 100`),
    /// 1 ns for `StdClock`.
    const RESOLUTION: Nanos = Nanos::from_nanos(match () {
        _ if cfg!(windows) => 16_000_000,
        _ if COARSE => 10_000_000,
        _ => 1,
    });

    #[inline]
    fn now(&self) -> Nanos {
        if !COARSE {
            return StdClock.now();
        }
        use coarsetime::Instant;
        // `now_without_cache_update`: `now` would also store the reading in
        // a process-wide cache, a write every core would contend for.
        let since_origin =
            Instant::now_without_cache_update().duration_since(Instant::from_ticks(0));
        Nanos::from_nanos(since_origin.as_nanos())
    }

    /// `StdClock`'s reading: slow calls are timed to the nanosecond.
    #[inline]
    fn now_precise(&self) -> Nanos {
        StdClock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use breaker_core::{CircuitBreaker, Config, ConfigError};
    use std::time::Duration;

    #[test]
    fn is_zero_sized_and_const() {
        const CLOCK: CoarseClock = CoarseClock::new();
        assert_eq!(core::mem::size_of_val(&CLOCK), 0);
    }

    #[test]
    fn readings_never_go_backwards() {
        let clock = CoarseClock::new();
        let mut last = clock.now();
        let mut last_precise = clock.now_precise();
        for _ in 0..100_000 {
            let (now, precise) = (clock.now(), clock.now_precise());
            assert!(now >= last && precise >= last_precise);
            (last, last_precise) = (now, precise);
        }
    }

    #[test]
    fn a_window_needs_one_tick_per_bucket() {
        let tick = CoarseClock::RESOLUTION.to_duration();
        let fits = Config::new(0.5, tick * 10);
        assert!(CircuitBreaker::try_new(fits, CoarseClock).is_ok());
        let too_fine = Config::new(0.5, tick * 10 - Duration::from_nanos(1));
        let err = CircuitBreaker::try_new(too_fine, CoarseClock).unwrap_err();
        assert!(
            matches!(err, ConfigError::WindowTooShortForBuckets),
            "{err:?}"
        );
        assert!(err.to_string().contains("window"));
    }

    /// On Linux the clock is the kernel's coarse clock itself: a reading lies
    /// between two direct readings of `CLOCK_MONOTONIC_COARSE` (to the
    /// nanosecond coarsetime's fixed-point conversion may drop), and the
    /// stated tick is the documented 10 ms.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn reads_the_kernels_coarse_clock() {
        use rustix::time::{ClockId, clock_gettime};
        let kernel = || {
            let t = clock_gettime(ClockId::MonotonicCoarse);
            Nanos::from_nanos(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
        };
        for _ in 0..1_000 {
            let (before, now, after) = (kernel(), CoarseClock.now(), kernel());
            let slack = Nanos::from_nanos(1);
            assert!(
                before <= now.saturating_add(slack) && now <= after,
                "{now:?}"
            );
        }
        assert_eq!(CoarseClock::RESOLUTION, Nanos::from_nanos(10_000_000));
    }

    #[test]
    fn times_slow_calls_on_std_clock() {
        let before = StdClock.now();
        let precise = CoarseClock.now_precise();
        assert!(before <= precise && precise <= StdClock.now());
    }

    /// The stated tick bounds what the kernel says of its coarse clock.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn resolution_bounds_the_kernels_tick() {
        let res = rustix::time::clock_getres(rustix::time::ClockId::MonotonicCoarse);
        let tick = res.tv_sec as u64 * 1_000_000_000 + res.tv_nsec as u64;
        assert!(tick > 1, "a coarse clock: {tick} ns");
        assert!(
            Nanos::from_nanos(tick) <= CoarseClock::RESOLUTION,
            "{tick} ns"
        );
    }
}
