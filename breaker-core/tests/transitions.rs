//! Every SPEC §4 rule, with exact timing, driven by `MockClock`.

use core::time::Duration;

use breaker_core::{CircuitBreaker, CircuitBroken, Config, Error, MockClock, Outcome, State};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);
const NS: Duration = Duration::from_nanos(1);

type Breaker<'c> = CircuitBreaker<&'c MockClock>;

/// A breaker that may trip at once: ratio 0.5, window 10 s (1 s buckets),
/// broken 5 s, recovery 4 s, min_calls 4, no grace period.
fn eager() -> Config {
    Config::new(0.5, 10 * S)
        .broken_time(5 * S)
        .recovery_time(4 * S)
        .passing_time(Duration::ZERO)
        .min_calls(4)
}

fn succeed(b: &Breaker<'_>) -> Result<(), Error<()>> {
    b.call(|| Ok(()))
}

fn fail(b: &Breaker<'_>) -> Result<(), Error<()>> {
    b.call(|| Err(()))
}

fn rejection(r: Result<(), Error<()>>) -> CircuitBroken {
    match r {
        Err(Error::Broken(b)) => b,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Trips a fresh `eager()` breaker at the clock's current time.
fn trip(b: &Breaker<'_>) {
    for _ in 0..4 {
        let _ = fail(b);
    }
    assert_eq!(b.state(), State::Broken);
}

#[test]
fn starts_passing_and_admits_everything() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    assert_eq!(b.state(), State::Passing);
    for _ in 0..100 {
        assert_eq!(succeed(&b), Ok(()));
    }
    let m = b.metrics();
    assert_eq!((m.call_count, m.call_passing, m.successes), (100, 100, 100));
    assert_eq!(
        (m.window_calls, m.window_failures, m.error_ratio),
        (100, 0, 0.0)
    );
    assert_eq!(m.retry_after, Duration::ZERO);
}

#[test]
fn breaks_when_the_ratio_is_reached_with_min_calls() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    assert!(succeed(&b).is_ok());
    assert!(succeed(&b).is_ok());
    assert_eq!(fail(&b), Err(Error::Inner(())));
    // 1 failure in 3 calls: below min_calls and below the ratio.
    assert_eq!(b.state(), State::Passing);
    assert_eq!(fail(&b), Err(Error::Inner(())));
    // 2 of 4 = 0.5 >= 0.5 with 4 >= min_calls.
    assert_eq!(b.state(), State::Broken);
    let m = b.metrics();
    assert_eq!((m.trips, m.failures, m.successes), (1, 2, 2));
    // Entering Broken starts a fresh window.
    assert_eq!((m.window_calls, m.window_failures), (0, 0));
}

#[test]
fn min_calls_holds_back_a_verdict() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(5), &clock);
    for _ in 0..4 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), State::Passing, "4 failures < min_calls 5");
    let _ = fail(&b);
    assert_eq!(b.state(), State::Broken);
}

#[test]
fn below_the_ratio_keeps_passing() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(10), &clock);
    for i in 0..100 {
        let _ = if i % 5 == 0 { fail(&b) } else { succeed(&b) };
    }
    let m = b.metrics();
    assert_eq!(m.state, State::Passing);
    assert_eq!((m.window_calls, m.window_failures), (100, 20));
    assert_eq!(m.error_ratio, 0.2);
}

#[test]
fn a_success_never_trips_even_when_old_successes_leave() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    for _ in 0..4 {
        let _ = succeed(&b);
    }
    clock.set(5 * S);
    for _ in 0..3 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), State::Passing, "3 of 7 < 0.5");
    // The successes of bucket 0 leave the window at t = 10 s.
    clock.set(10 * S);
    assert_eq!(b.metrics().window_calls, 3);
    let _ = succeed(&b);
    assert_eq!(
        b.state(),
        State::Passing,
        "3 of 4 failed, but a success never trips"
    );
    let _ = fail(&b);
    assert_eq!(b.state(), State::Broken, "4 of 5 failed");
}

#[test]
fn passing_time_is_a_grace_period_from_entering_passing() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().passing_time(3 * S), &clock);
    assert_eq!(b.state(), State::Passing); // first use: Passing starts at t = 0
    for _ in 0..10 {
        let _ = fail(&b);
    }
    assert_eq!(
        b.state(),
        State::Passing,
        "statistics only, during the grace"
    );
    clock.set(3 * S - NS);
    let _ = fail(&b);
    assert_eq!(b.state(), State::Passing);
    clock.set(3 * S);
    let _ = fail(&b);
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.metrics().trips, 1);
}

#[test]
fn passing_time_counts_from_first_use_not_from_construction() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().passing_time(3 * S), &clock);
    clock.set(100 * S);
    for _ in 0..10 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), State::Passing);
    clock.set(103 * S);
    let _ = fail(&b);
    assert_eq!(b.state(), State::Broken);
}

#[test]
fn broken_rejects_for_exactly_broken_time_and_records_nothing() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    clock.set(7 * S + 250 * MS);
    trip(&b);
    let r = rejection(succeed(&b));
    assert_eq!((r.state(), r.retry_after()), (State::Broken, 5 * S));
    clock.advance(5 * S - NS);
    let r = rejection(fail(&b));
    assert_eq!(r.retry_after(), NS);
    assert_eq!(b.metrics().retry_after, NS);
    let m = b.metrics();
    assert_eq!(
        (m.call_broken, m.failures, m.successes, m.window_calls),
        (2, 4, 0, 0)
    );
    clock.advance(NS);
    assert_eq!(b.state(), State::Recovering);
    assert_eq!(b.metrics().retry_after, Duration::ZERO);
}

#[test]
fn retry_after_saturates_and_counts_down() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    assert_eq!(b.retry_after(), 5 * S);
    clock.advance(2 * S);
    assert_eq!(b.retry_after(), 3 * S);
    clock.advance(10 * S);
    assert_eq!(b.retry_after(), Duration::ZERO);
}

#[test]
fn recovering_starts_at_the_deadline_even_when_noticed_late() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b); // Broken at 0, Recovering from 5 s
    // First look at 7 s: half the 4 s ramp has passed, p = 2^0.5 - 1 = 0.414.
    clock.set(7 * S);
    // Credit: 0.414, 0.828 (rejected), 1.243 (admitted, 0.243 left).
    let r = rejection(succeed(&b));
    assert_eq!(
        (r.state(), r.retry_after()),
        (State::Recovering, Duration::ZERO)
    );
    assert!(succeed(&b).is_err());
    assert_eq!(succeed(&b), Ok(()));
    // 0.657, 1.071 (admitted).
    assert!(succeed(&b).is_err());
    assert_eq!(succeed(&b), Ok(()));
    let m = b.metrics();
    assert_eq!(m.state, State::Recovering);
    assert_eq!(
        (
            m.call_recovering,
            m.call_recovering_ok,
            m.call_recovering_failed
        ),
        (5, 2, 3)
    );
    // The ramp ends 4 s after the deadline, at 9 s, not 4 s after 7 s.
    clock.set(9 * S - NS);
    assert_eq!(b.state(), State::Recovering);
    clock.set(9 * S);
    assert_eq!(b.state(), State::Passing);
}

#[test]
fn nothing_is_admitted_at_the_start_of_the_ramp() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    clock.set(5 * S); // p(0) = 0
    for _ in 0..1000 {
        assert!(b.try_acquire().is_err());
    }
    clock.set(5 * S + NS); // p = 2^(1/4e9) - 1: still far below one call
    for _ in 0..1000 {
        assert!(b.try_acquire().is_err());
    }
    let m = b.metrics();
    assert_eq!((m.call_recovering_failed, m.call_recovering_ok), (2000, 0));
}

#[test]
fn ramp_admissions_track_the_sum_of_p() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    let deadline = 5 * S;
    let recovery = 4 * S;
    let mut sum_p = 0.0f64;
    let mut admitted = 0u64;
    for step in 0..=400u32 {
        let e = recovery * step / 400;
        clock.set(deadline + e);
        let p = (2f64.powf(e.as_secs_f64() / recovery.as_secs_f64()) - 1.0).min(1.0);
        sum_p += p;
        match b.try_acquire() {
            Ok(permit) if permit.state() == State::Recovering => {
                admitted += 1;
                permit.success();
            }
            // At the end of the ramp the verdict turns it Passing.
            _ if b.state() != State::Recovering => break,
            _ => {}
        }
        assert!(
            (admitted as f64 - sum_p).abs() <= 1.0,
            "step {step}: admitted {admitted}, sum of p {sum_p}"
        );
    }
    assert_eq!(b.metrics().call_recovering_ok, admitted);
}

#[test]
fn recovering_to_passing_after_recovery_time_when_healthy() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    clock.set(8 * S); // 3 s into the 4 s ramp: p = 2^0.75 - 1 = 0.68
    let mut admitted = 0;
    for _ in 0..10 {
        if succeed(&b).is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 6);
    assert_eq!(
        b.state(),
        State::Recovering,
        "no verdict before recovery_time"
    );
    clock.set(9 * S - NS);
    assert_eq!(b.state(), State::Recovering);
    clock.set(9 * S);
    assert_eq!(b.state(), State::Passing);
    let m = b.metrics();
    assert_eq!((m.window_calls, m.trips, m.successes), (0, 1, 6));
}

#[test]
fn recovering_breaks_again_at_once_on_bad_outcomes() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(2), &clock);
    for _ in 0..2 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), State::Broken);
    clock.set(5 * S + 4 * S - 100 * MS); // p = 0.966
    assert!(rejection(fail(&b)).state() == State::Recovering); // credit 0.966
    assert_eq!(fail(&b), Err(Error::Inner(()))); // 1.93: admitted
    assert_eq!(b.state(), State::Recovering, "one call < min_calls 2");
    assert_eq!(fail(&b), Err(Error::Inner(())));
    assert_eq!(b.state(), State::Broken);
    let m = b.metrics();
    assert_eq!((m.trips, m.retry_after), (2, 5 * S));
    // The new Broken state runs from the moment of the verdict.
    clock.advance(5 * S);
    assert_eq!(b.state(), State::Recovering);
}

#[test]
fn the_end_of_the_ramp_breaks_when_the_ratio_is_reached() {
    let clock = MockClock::new();
    // min_calls is not needed for the end-of-ramp verdict.
    let b = CircuitBreaker::new(eager().min_calls(100), &clock);
    for _ in 0..100 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), State::Broken);
    clock.set(9 * S - MS); // p = 0.9991
    assert!(succeed(&b).is_err()); // credit 0.9991
    assert_eq!(succeed(&b), Ok(())); // 1.998
    assert_eq!(fail(&b), Err(Error::Inner(()))); // 1.997
    assert_eq!(
        b.state(),
        State::Recovering,
        "no verdict before recovery_time"
    );
    clock.set(9 * S);
    // 1 failure of 2 = 0.5 >= 0.5: Broken again.
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.metrics().trips, 2);
}

#[test]
fn a_ramp_with_no_recorded_call_waits_for_the_first_outcome() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    clock.set(20 * S); // far past the 9 s end of the ramp
    assert_eq!(b.state(), State::Recovering);
    let p1 = b
        .try_acquire()
        .expect("everything is admitted after the ramp");
    let p2 = b
        .try_acquire()
        .expect("everything is admitted after the ramp");
    assert_eq!(b.state(), State::Recovering);
    p1.failure();
    // The first recorded outcome decides: 1 of 1 failed.
    assert_eq!(b.state(), State::Broken);
    p2.success();
    assert_eq!(b.metrics().late, 1);
}

#[test]
fn the_first_outcome_after_the_ramp_can_also_close() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    clock.set(20 * S);
    assert!(succeed(&b).is_ok());
    assert_eq!(b.state(), State::Passing);
}

#[test]
fn entering_passing_restarts_the_grace_and_the_window() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().passing_time(2 * S), &clock);
    assert_eq!(b.state(), State::Passing); // Passing since 0 s
    clock.set(2 * S);
    trip(&b); // Broken at 2 s, Recovering 7 s .. 11 s
    clock.set(20 * S);
    assert!(succeed(&b).is_ok());
    assert_eq!(b.state(), State::Passing); // Passing since 20 s
    for _ in 0..10 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), State::Passing, "grace until 22 s");
    assert_eq!(
        b.metrics().window_calls,
        10,
        "the success of Recovering is not in it"
    );
    clock.set(22 * S);
    let _ = fail(&b);
    assert_eq!(b.state(), State::Broken);
}

#[test]
fn window_buckets_expire_one_by_one() {
    let clock = MockClock::new();
    // 10 s window, 1 s buckets; min_calls high so nothing trips.
    let b = CircuitBreaker::new(eager().min_calls(1000), &clock);
    clock.set(500 * MS);
    let _ = fail(&b); // bucket 0
    clock.set(3 * S + 999 * MS);
    let _ = succeed(&b); // bucket 3
    let _ = succeed(&b);
    clock.set(4 * S);
    let _ = fail(&b); // bucket 4
    let window = |t: Duration| {
        clock.set(t);
        let m = b.metrics();
        (m.window_calls, m.window_failures)
    };
    assert_eq!(window(10 * S - NS), (4, 2));
    assert_eq!(window(10 * S), (3, 1), "bucket 0 leaves at 10 s");
    assert_eq!(window(13 * S - NS), (3, 1));
    assert_eq!(window(13 * S), (1, 1), "bucket 3 leaves at 13 s");
    assert_eq!(window(14 * S - NS), (1, 1));
    assert_eq!(window(14 * S), (0, 0), "bucket 4 leaves at 14 s");
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (2, 2), "totals keep everything");
}

#[test]
fn a_window_not_divisible_by_buckets_rounds_the_bucket_down() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(
        Config::new(0.5, Duration::from_nanos(1_000)).min_calls(1000),
        &clock,
    );
    let _ = fail(&b); // bucket 0 of width 100 ns
    clock.set(Duration::from_nanos(999));
    assert_eq!(b.metrics().window_calls, 1);
    clock.set(Duration::from_nanos(1_000));
    assert_eq!(b.metrics().window_calls, 0);
}

#[test]
fn late_outcomes_are_counted_apart() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    let slow_success = b.try_acquire().unwrap();
    let slow_failure = b.try_acquire().unwrap();
    let slow_ignore = b.try_acquire().unwrap();
    trip(&b);
    slow_success.success();
    slow_failure.failure();
    drop(slow_ignore);
    let m = b.metrics();
    assert_eq!((m.late, m.successes, m.failures, m.ignored), (3, 0, 4, 0));
    assert_eq!(m.window_calls, 0, "nothing landed in Broken's window");
    assert_eq!(m.call_passing, 7);
}

#[test]
fn a_permit_from_recovering_is_late_in_the_next_state() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    clock.set(20 * S);
    let held = b.try_acquire().unwrap();
    assert!(succeed(&b).is_ok()); // verdict: Passing
    assert_eq!(b.state(), State::Passing);
    held.failure();
    let m = b.metrics();
    assert_eq!((m.late, m.window_calls, m.state), (1, 0, State::Passing));
}

#[test]
fn a_dropped_permit_in_recovering_gives_its_admission_back() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    trip(&b);
    clock.set(7 * S); // p = 0.414
    assert!(b.try_acquire().is_err()); // 0.414
    assert!(b.try_acquire().is_err()); // 0.828
    let permit = b.try_acquire().expect("1.243"); // 0.243 left
    assert!(b.try_acquire().is_err()); // 0.657
    drop(permit); // 1.657
    let again = b.try_acquire().expect("the admission came back"); // 2.071 -> 1.071
    let third = b.try_acquire().expect("still credit"); // 1.485 -> 0.485
    assert!(b.try_acquire().is_err()); // 0.899
    again.success();
    third.success();
    let m = b.metrics();
    assert_eq!((m.ignored, m.successes, m.call_recovering_ok), (1, 2, 3));
}

#[test]
fn dropping_a_permit_in_passing_is_ignored() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    drop(b.try_acquire().unwrap());
    b.try_acquire().unwrap().record(Outcome::Ignored);
    let m = b.metrics();
    assert_eq!((m.ignored, m.window_calls, m.call_passing), (2, 0, 2));
}

#[test]
fn a_clock_that_goes_backwards_is_no_time_passing() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().passing_time(2 * S), &clock);
    clock.set(100 * S);
    assert_eq!(b.state(), State::Passing);
    clock.set(50 * S); // backwards, before Passing began
    for _ in 0..10 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), State::Passing, "no grace time has passed");
    clock.set(102 * S);
    let _ = fail(&b);
    assert_eq!(b.state(), State::Broken);
    // Backwards while Broken: the deadline does not move closer.
    clock.set(101 * S);
    assert_eq!(b.retry_after(), 5 * S);
    clock.set(106 * S);
    assert_eq!(b.retry_after(), S);
    clock.set(107 * S);
    assert_eq!(b.state(), State::Recovering);
    clock.set(Duration::ZERO);
    assert_eq!(b.state(), State::Recovering);
    assert!(b.try_acquire().is_err(), "p(0) = 0 while time stands still");
}

#[test]
fn times_near_the_end_of_the_clock_work() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    let start = Duration::from_nanos(u64::MAX) - 60 * S;
    clock.set(start);
    trip(&b);
    clock.set(start + 5 * S);
    assert_eq!(b.state(), State::Recovering);
    clock.set(start + 20 * S);
    assert!(succeed(&b).is_ok());
    assert_eq!(b.state(), State::Passing);
    clock.set(Duration::MAX);
    assert_eq!(b.state(), State::Passing);
}

#[test]
fn every_transition_is_counted_once_over_many_cycles() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    for cycle in 1..=40u64 {
        trip(&b);
        assert_eq!(b.metrics().trips, cycle);
        clock.advance(20 * S);
        assert!(succeed(&b).is_ok());
        assert_eq!(b.state(), State::Passing);
    }
}
