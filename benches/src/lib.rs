#![doc = include_str!("../README.md")]

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use breaker_core::{CircuitBreaker, Clock, Config, MAX_MIN_CALLS, MockClock, Nanos, StdClock};

/// The window of every scenario: long enough that no bucket rolls over while
/// a sample runs on a real clock.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// The Recovering ramp of the Recovering scenario (also its Broken time).
pub const RECOVERY: Duration = Duration::from_secs(3600);

/// The hardware floor of a circuit breaker's admission: one atomic load (the
/// state) and one shared `fetch_add` (a counter) per call, on one cache line
/// like a breaker's own words. Nothing cheaper can both decide and count.
#[derive(Debug, Default)]
pub struct Floor {
    state: AtomicU64,
    count: AtomicU64,
}

impl Floor {
    /// A floor in the "admit" state.
    pub const fn new() -> Floor {
        Floor {
            state: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// One call: load the state and, if it admits, count the call.
    #[inline]
    pub fn call(&self) -> bool {
        if self.state.load(Ordering::SeqCst) == 0 {
            self.count.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// Calls counted so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// A clock that can be moved forward, so a scenario can put a breaker in a
/// state that takes time to reach.
pub trait Jump: Clock {
    /// Moves the clock forward by `d`.
    fn jump(&self, d: Duration);
}

impl Jump for MockClock {
    fn jump(&self, d: Duration) {
        self.advance(d);
    }
}

/// [`StdClock`] plus an offset that only [`Jump::jump`] changes: real time
/// that can skip ahead, for the Recovering scenario on a real clock. Its
/// reading costs `StdClock`'s plus one relaxed load and an add.
#[derive(Debug, Default)]
pub struct JumpStdClock {
    offset: AtomicU64,
}

impl JumpStdClock {
    /// `StdClock` with no offset yet.
    pub const fn new() -> JumpStdClock {
        JumpStdClock {
            offset: AtomicU64::new(0),
        }
    }
}

impl Clock for JumpStdClock {
    fn now(&self) -> Nanos {
        let offset = Nanos::from_nanos(self.offset.load(Ordering::Relaxed));
        StdClock.now().saturating_add(offset)
    }
}

impl Jump for JumpStdClock {
    fn jump(&self, d: Duration) {
        self.offset
            .fetch_add(Nanos::from_duration(d).as_nanos(), Ordering::Relaxed);
    }
}

/// A breaker in Passing whose calls succeed; it has admitted one call.
pub fn passing<C: Clock>(clock: C) -> CircuitBreaker<C> {
    let breaker = CircuitBreaker::new(Config::new(0.5, WINDOW), clock);
    let _ = breaker.call(|| Ok::<(), ()>(()));
    breaker
}

/// A breaker in Passing that never trips however many calls fail: the error
/// ratio is 1.0 and the window already holds successes, so failures alone can
/// never make up all of it. Every failure still runs the full trip verdict
/// (no grace period, a tally of the window).
///
/// The 64 seeded successes survive the bucket's overflow halving six times,
/// which is over 10^8 failures in one bucket: more than any sample makes.
pub fn never_trips<C: Clock>(clock: C) -> CircuitBreaker<C> {
    let config = Config::new(1.0, WINDOW)
        .min_calls(MAX_MIN_CALLS)
        .passing_time(Duration::ZERO);
    let breaker = CircuitBreaker::new(config, clock);
    for _ in 0..64 {
        let _ = breaker.call(|| Ok::<(), ()>(()));
    }
    breaker
}

/// A breaker tripped by one failure, Broken for an hour.
pub fn broken<C: Clock>(clock: C) -> CircuitBreaker<C> {
    let config = Config::new(0.5, WINDOW)
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(RECOVERY);
    let breaker = CircuitBreaker::new(config, clock);
    let _ = breaker.call(|| Err::<(), ()>(()));
    breaker
}

/// A breaker halfway through its Recovering ramp (an hour long), where it
/// admits `2^0.5 - 1`, about 41 %, of the calls. With a [`MockClock`] time
/// stays there; on a real clock it moves about 0.1 % of the ramp per sample.
pub fn recovering<C: Jump>(clock: C) -> CircuitBreaker<C> {
    let config = Config::new(0.5, WINDOW)
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(RECOVERY)
        .recovery_time(RECOVERY);
    let breaker = CircuitBreaker::new(config, clock);
    let _ = breaker.call(|| Err::<(), ()>(()));
    breaker.clock().jump(RECOVERY + RECOVERY / 2);
    breaker
}

/// Runs `work(shared, iters)` on two threads at once and returns the time from
/// the first thread's start to the last thread's end: the time each thread
/// took for `iters` calls while the other hammered the same `shared`. Both
/// threads are spawned and waiting before either starts the clock.
pub fn two_threads<S, W>(shared: &S, iters: u64, work: W) -> Duration
where
    S: Sync + ?Sized,
    W: Fn(&S, u64) + Sync,
{
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
        let run = || {
            barrier.wait();
            let start = Instant::now();
            work(shared, iters);
            (start, Instant::now())
        };
        let other = scope.spawn(run);
        let mine = run();
        vec![mine, other.join().expect("benchmark thread panicked")]
    });
    let start = spans.iter().map(|s| s.0).min().expect("two spans");
    let end = spans.iter().map(|s| s.1).max().expect("two spans");
    end - start
}

#[cfg(test)]
mod tests {
    use super::*;
    use breaker_core::State;

    #[test]
    fn scenarios_are_in_their_states() {
        assert_eq!(passing(MockClock::new()).state(), State::Passing);
        assert_eq!(never_trips(MockClock::new()).state(), State::Passing);
        assert_eq!(broken(MockClock::new()).state(), State::Broken);
        assert_eq!(broken(StdClock).state(), State::Broken);
        assert_eq!(recovering(MockClock::new()).state(), State::Recovering);
        assert_eq!(recovering(JumpStdClock::new()).state(), State::Recovering);
    }

    #[test]
    fn recovering_admits_the_ramp_share() {
        let breaker = recovering(MockClock::new());
        let admitted = (0..10_000)
            .filter(|_| breaker.call(|| Ok::<(), ()>(())).is_ok())
            .count();
        // 2^0.5 - 1 = 0.41421...; the credit counter stays within one call.
        assert!((4141..=4143).contains(&admitted), "{admitted}");
        assert_eq!(breaker.state(), State::Recovering);
    }

    #[test]
    fn floor_and_two_threads_count_every_call() {
        let floor = Floor::new();
        let _ = two_threads(&floor, 10_000, |f, n| {
            for _ in 0..n {
                assert!(f.call());
            }
        });
        assert_eq!(floor.count(), 20_000);
    }
}
