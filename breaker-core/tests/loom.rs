//! Loom models of the breaker's atomic protocols.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p breaker-core --release --test loom`.
//! Each model is a handful of operations on a 2-bucket breaker, so loom can
//! explore every interleaving (up to the preemption bound) in seconds.
#![cfg(loom)]

use core::time::Duration;

use breaker_core::{CircuitBreaker, Clock, Config, MockClock, Nanos, OwnedPermit, State};
use loom::sync::Arc;
use loom::thread;

/// A `MockClock` shared between loom threads.
#[derive(Debug, Clone)]
struct Shared(Arc<MockClock>);

impl Clock for Shared {
    fn now(&self) -> Nanos {
        self.0.now()
    }
}

type Breaker = CircuitBreaker<Shared, 2>;
type Held = OwnedPermit<Arc<Breaker>, Shared, 2>;

const NS: Duration = Duration::from_nanos(1);
/// Broken lasts 100 ns, the ramp 8 ns.
const BROKEN: Duration = Duration::from_nanos(100);
const RECOVERY: Duration = Duration::from_nanos(8);

/// Window 1 µs (two 500 ns buckets), no grace period.
fn config(ratio: f32, min_calls: u32) -> Config {
    Config::new(ratio, Duration::from_micros(1))
        .broken_time(BROKEN)
        .recovery_time(RECOVERY)
        .passing_time(Duration::ZERO)
        .min_calls(min_calls)
}

fn breaker(config: Config) -> (Arc<MockClock>, Arc<Breaker>) {
    let clock = Arc::new(MockClock::new());
    let breaker = Arc::new(CircuitBreaker::with_buckets(config, Shared(clock.clone())));
    assert_eq!(breaker.state(), State::Passing);
    (clock, breaker)
}

fn acquire(b: &Arc<Breaker>) -> Held {
    CircuitBreaker::try_acquire_owned(b.clone()).expect("admitted")
}

/// Trips a fresh breaker with `min_calls` failures; returns the deadline.
fn trip(clock: &MockClock, b: &Arc<Breaker>, min_calls: u32) -> Duration {
    for _ in 0..min_calls {
        acquire(b).failure();
    }
    assert_eq!(b.state(), State::Broken);
    clock.elapsed() + BROKEN
}

/// Trips the breaker and moves the clock `into` the ramp (Recovering).
fn recovering(clock: &MockClock, b: &Arc<Breaker>, min_calls: u32, into: Duration) {
    let deadline = trip(clock, b, min_calls);
    clock.set(deadline + into);
    assert_eq!(b.state(), State::Recovering);
}

/// Two threads record the failure that trips the breaker: one transition.
#[test]
fn racing_trips_trip_once() {
    loom::model(|| {
        let (_clock, b) = breaker(config(0.5, 1));
        let (p, q) = (acquire(&b), acquire(&b));
        let t = thread::spawn(move || p.failure());
        q.failure();
        t.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.state, State::Broken);
        assert_eq!(m.trips, 1);
        // Either both were recorded before the trip, or the loser is late.
        assert_eq!(m.failures + m.late, 2);
        assert_eq!(m.successes + m.ignored, 0);
        if m.late == 0 {
            // Both were filed before either transition: one won the CAS.
            assert_eq!(m.failures, 2);
        }
    });
}

/// Two threads notice the broken deadline late: one Broken -> Recovering,
/// and Recovering starts at the deadline, not when it was noticed.
#[test]
fn racing_deadline_observers_agree_on_the_ramp_start() {
    loom::model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        let deadline = trip(&clock, &b, 1);
        clock.set(deadline + RECOVERY / 2);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.state());
        // p(1/2) = 0.41: not admitted, in Recovering.
        let rejected = CircuitBreaker::try_acquire_owned(b.clone()).unwrap_err();
        assert_eq!(rejected.state(), State::Recovering);
        assert_eq!(t.join().unwrap(), State::Recovering);
        // At deadline + recovery_time the ramp admits everything; had it
        // started when noticed (deadline + 4 ns), p would be 0.41 and the
        // credit 0.83: a rejection.
        clock.set(deadline + RECOVERY);
        let m = b.metrics();
        assert_eq!(
            (m.state, m.trips, m.call_recovering_failed),
            (State::Recovering, 1, 1)
        );
        let admitted = acquire(&b);
        assert_eq!(admitted.state(), State::Recovering);
        drop(admitted);
    });
}

/// Admissions in Recovering under contention follow the credit counter:
/// four attempts at p = 0.41 admit exactly one call, whatever the order.
#[test]
fn contended_ramp_admissions_stay_within_the_bound() {
    loom::model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY / 2);
        let b2 = b.clone();
        let attempt = |b: &Arc<Breaker>| CircuitBreaker::try_acquire_owned(b.clone()).ok();
        let t = thread::spawn(move || [attempt(&b2), attempt(&b2)]);
        let mine = [attempt(&b), attempt(&b)];
        let theirs = t.join().unwrap();
        let admitted = mine.iter().chain(theirs.iter()).flatten().count();
        // sum of p = 4 * 0.414 = 1.66: within 1 of it, and the credit
        // counter makes it exactly floor(1.66).
        assert_eq!(admitted, 1);
        let m = b.metrics();
        assert_eq!((m.call_recovering_ok, m.call_recovering_failed), (1, 3));
        drop((mine, theirs));
    });
}

/// A permit dropped in Recovering gives its admission back while another
/// thread asks for one: the admissions add up the same in every order.
#[test]
fn a_dropped_recovering_permit_gives_back_while_another_acquires() {
    loom::model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY / 2);
        // Credit 0.41, 0.83, 1.24: the third attempt is admitted (0.24 left).
        let mut permit = None;
        for _ in 0..3 {
            permit = CircuitBreaker::try_acquire_owned(b.clone()).ok();
        }
        let permit = permit.expect("the third attempt is admitted");
        let t = thread::spawn(move || drop(permit));
        let racing = CircuitBreaker::try_acquire_owned(b.clone()).ok();
        t.join().unwrap();
        // Drop first: 1.24 + 0.41 admits, 0.66 left, +0.41 admits, 0.07 left.
        // Acquire first: 0.66 rejected, +1 = 1.66, +0.41 admits, 1.07 admits.
        let next = [
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
        ];
        let admitted = usize::from(racing.is_some()) + next.iter().flatten().count();
        assert_eq!(admitted, 2);
        let m = b.metrics();
        assert_eq!((m.ignored, m.call_recovering_ok), (1, 3));
        drop((racing, next));
    });
}

/// Admits two calls at the end of an empty ramp (p = 1, no verdict yet).
fn two_at_the_end_of_the_ramp(ratio: f32) -> (Arc<MockClock>, Arc<Breaker>, Held, Held) {
    let (clock, b) = breaker(config(ratio, 1));
    recovering(&clock, &b, 1, RECOVERY);
    let (p, q) = (acquire(&b), acquire(&b));
    (clock, b, p, q)
}

/// A success ends the ramp (Recovering -> Passing) while another outcome of
/// the ramp arrives: that outcome is recorded in the ramp or is late, never
/// in the new Passing window.
#[test]
fn a_late_outcome_never_lands_in_the_new_state() {
    loom::model(|| {
        let (_clock, b, p, q) = two_at_the_end_of_the_ramp(1.0);
        let t = thread::spawn(move || p.success());
        q.success();
        t.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.state, State::Passing);
        assert_eq!((m.window_calls, m.window_failures), (0, 0));
        assert_eq!((m.successes + m.late, m.failures), (2, 1));
        assert_eq!(m.trips, 1);
    });
}

/// Bucket roll-over racing a record: one thread moves the clock into the
/// next bucket and records there (rolling out an old bucket) while another
/// records: nothing lost, nothing counted twice.
#[test]
fn bucket_rollover_racing_a_record_loses_nothing() {
    loom::model(|| {
        let (clock, b) = breaker(config(0.5, 100));
        // Bucket 0 (slot 0) holds an old success; bucket 1 (slot 1) is now.
        acquire(&b).success();
        clock.set(Duration::from_nanos(500));
        let (p, q) = (acquire(&b), acquire(&b));
        let c2 = clock.clone();
        let t = thread::spawn(move || {
            c2.advance(500 * NS); // bucket 2: slot 0 rolls, bucket 0 leaves
            p.failure();
        });
        q.success();
        t.join().unwrap();
        let m = b.metrics();
        assert_eq!((m.successes, m.failures, m.late), (2, 1, 0));
        // The window at bucket 2 is buckets 1 and 2: both new outcomes.
        assert_eq!((m.window_calls, m.window_failures), (2, 1));
    });
}

/// The Recovering verdict raced by a success and a failure: exactly one of
/// Passing / Broken, entered once.
#[test]
fn the_ramp_verdict_is_taken_once() {
    loom::model(|| {
        let (_clock, b, p, q) = two_at_the_end_of_the_ramp(0.5);
        let t = thread::spawn(move || p.success());
        q.failure();
        t.join().unwrap();
        let m = b.metrics();
        // The trip before the ramp recorded one failure.
        assert_eq!(m.successes + m.failures + m.late, 3);
        match m.state {
            // The success decided before the failure was recorded; the
            // failure is late, or was filed in the ramp's window too late to
            // change a verdict already taken.
            State::Passing => {
                assert_eq!((m.trips, m.successes, m.failures + m.late), (1, 1, 2));
                assert_eq!(m.window_calls, 0);
            }
            // The failure decided (alone or with the success: 1/2 >= 0.5).
            State::Broken => assert_eq!((m.trips, m.failures), (2, 2)),
            State::Recovering => panic!("the verdict was not taken: {m:?}"),
        }
    });
}

/// A synchronous `call` (its Passing admission counted by its outcome)
/// racing a trip: every admission is still counted exactly once.
#[test]
fn a_sync_call_racing_a_trip_is_counted_once() {
    loom::model(|| {
        let (_clock, b) = breaker(config(0.5, 1));
        let p = acquire(&b);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.call(|| Ok::<_, ()>(())).is_ok());
        p.failure();
        let admitted = t.join().unwrap();
        let m = b.metrics();
        assert_eq!((m.state, m.trips), (State::Broken, 1));
        assert_eq!(m.call_passing, 1 + u64::from(admitted));
        assert_eq!(m.call_broken, u64::from(!admitted));
        assert_eq!(m.successes + m.failures + m.late, m.call_passing);
    });
}

/// An attempt that loaded its state word in one Recovering period and adds
/// its share to the ramp credit after the breaker has moved on to a later
/// Recovering period must not wipe that period's credit.
#[test]
fn a_stale_ramp_attempt_keeps_a_later_ramps_credit() {
    loom::model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY);
        // The end of an empty ramp admits everything, without a verdict.
        let p = acquire(&b);
        let b2 = b.clone();
        let t = thread::spawn(move || drop(CircuitBreaker::try_acquire_owned(b2)));
        // The ramp fails: Broken again, then a new ramp, half way up.
        p.failure();
        assert_eq!(b.state(), State::Broken);
        clock.advance(BROKEN + RECOVERY / 2);
        // p = 0.41 twice: credit 0.83, nothing admitted yet.
        let first = [
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
        ];
        t.join().unwrap();
        // A third 0.41 makes the credit 1.24 (or more, if the other thread's
        // attempt landed in this ramp and gave its admission back).
        let last = CircuitBreaker::try_acquire_owned(b.clone());
        assert!(
            last.is_ok() || first.iter().any(Option::is_some),
            "the new ramp's credit was lost: {:?}",
            b.metrics()
        );
    });
}
