//! Every transition, timeout and wait of the embassy adapter, on embassy-time's
//! mock driver.
//!
//! The mock driver is one global clock per test binary, so every test that
//! touches it lives in this file, takes [`time_lock`] first (which also resets
//! the driver to tick 0) and builds its own breaker. Time only moves through
//! `MockDriver::advance`, so every deadline is checked to the tick (1 µs).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use breaker_embassy::{
    CircuitBreaker, Clock, Config, EmbassyClock, Error, Nanos, State, failure_if,
};
use embassy_time::Timer;

use common::{Task, advance, now, time_lock};

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

/// Breaks at once on two failures out of two; Broken 50 ms; a 100 ms ramp.
const CONFIG: Config = Config::new(0.5, Duration::from_millis(100))
    .min_calls(2)
    .passing_time(Duration::ZERO)
    .broken_time(Duration::from_millis(50))
    .recovery_time(Duration::from_millis(100));

async fn fail() -> Result<u32, &'static str> {
    Err("no answer")
}

async fn succeed() -> Result<u32, &'static str> {
    Ok(7)
}

fn trip(breaker: &CircuitBreaker) {
    for _ in 0..2 {
        assert_eq!(
            now(breaker_embassy::call(breaker, fail())),
            Err(Error::Inner("no answer"))
        );
    }
    assert_eq!(breaker.state(), State::Broken);
}

#[test]
fn the_clock_reads_driver_ticks_as_nanoseconds() {
    let _time = time_lock();
    assert_eq!(EmbassyClock::RESOLUTION, Nanos::from_nanos(1_000));
    assert_eq!(EmbassyClock::new().now(), Nanos::ZERO);
    advance(1_234 * US);
    assert_eq!(EmbassyClock.now(), Nanos::from_nanos(1_234_000));
    let breaker = breaker_embassy::new(CONFIG);
    assert_eq!(breaker.clock().now(), Nanos::from_nanos(1_234_000));
}

#[test]
fn a_static_breaker_goes_through_every_state() {
    static BREAKER: CircuitBreaker = breaker_embassy::new(CONFIG);
    let _time = time_lock();

    // Passing to Broken: two failures out of two.
    assert_eq!(BREAKER.state(), State::Passing);
    trip(&BREAKER);

    // Broken: rejected at once, the future is never polled.
    let polled = AtomicBool::new(false);
    let probe = async {
        polled.store(true, Ordering::SeqCst);
        Ok::<u32, &str>(1)
    };
    let rejected = now(breaker_embassy::call(&BREAKER, probe)).unwrap_err();
    let broken = *rejected.broken().expect("a rejection");
    assert_eq!(broken.state(), State::Broken);
    assert_eq!(broken.retry_after(), 50 * MS);
    assert!(!polled.load(Ordering::SeqCst));

    // `ready` sleeps until the broken deadline, to the tick.
    advance(20 * MS);
    assert_eq!(BREAKER.retry_after(), 30 * MS);
    let mut ready = Task::new(breaker_embassy::ready(&BREAKER));
    assert!(ready.poll().is_pending());
    advance(30 * MS - US);
    assert_eq!(ready.wakes(), 0);
    assert_eq!(BREAKER.state(), State::Broken);
    assert_eq!(BREAKER.retry_after(), US);
    advance(US);
    assert_eq!(ready.wakes(), 1);
    assert_eq!(ready.poll(), Poll::Ready(()));

    // Broken to Recovering at the deadline: at the start of the ramp no call
    // is sampled yet, but `ready` no longer waits.
    assert_eq!(BREAKER.state(), State::Recovering);
    assert_eq!(BREAKER.retry_after(), Duration::ZERO);
    let sampled_out = now(breaker_embassy::call(&BREAKER, succeed())).unwrap_err();
    assert_eq!(
        sampled_out.broken().map(|b| b.state()),
        Some(State::Recovering)
    );
    assert_eq!(
        sampled_out.broken().map(|b| b.retry_after()),
        Some(Duration::ZERO)
    );
    now(breaker_embassy::ready(&BREAKER));

    // Half way through the ramp, p = 2^0.5 - 1 = 0.414: the third attempt
    // brings the credit past one call.
    advance(50 * MS);
    assert!(now(breaker_embassy::call(&BREAKER, succeed())).is_err());
    assert!(now(breaker_embassy::call(&BREAKER, succeed())).is_err());
    let mut sampled = Task::new(breaker_embassy::call(&BREAKER, async {
        Timer::after_millis(60).await;
        Ok::<u32, &str>(3)
    }));
    assert!(sampled.poll().is_pending());
    assert_eq!(BREAKER.metrics().call_recovering_ok, 1);

    // Recovering to Passing: the ramp is over and the sampled call succeeds.
    advance(50 * MS);
    assert_eq!(BREAKER.state(), State::Recovering);
    advance(10 * MS);
    assert_eq!(sampled.wakes(), 1);
    assert_eq!(sampled.poll(), Poll::Ready(Ok(3)));
    assert_eq!(BREAKER.state(), State::Passing);

    let m = BREAKER.metrics();
    assert_eq!(
        (
            m.call_passing,
            m.call_broken,
            m.call_recovering_ok,
            m.call_recovering_failed
        ),
        (2, 1, 1, 3)
    );
    assert_eq!(
        (m.successes, m.failures, m.ignored, m.late, m.trips),
        (1, 2, 0, 0, 1)
    );
}

#[test]
fn a_failure_while_recovering_breaks_again_and_ready_waits_anew() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG);
    trip(&breaker);
    let mut ready = Task::new(breaker_embassy::ready(&breaker));
    assert!(ready.poll().is_pending());

    // The timer fires at 50 ms, but before `ready` is polled again the ramp
    // has ended (150 ms) and its first call has failed: Broken until 200 ms.
    advance(150 * MS);
    assert_eq!(ready.wakes(), 1);
    assert_eq!(breaker.state(), State::Recovering);
    assert_eq!(
        now(breaker_embassy::call(&breaker, fail())),
        Err(Error::Inner("no answer"))
    );
    assert_eq!(breaker.state(), State::Broken);
    assert_eq!(breaker.metrics().trips, 2);
    assert_eq!(breaker.retry_after(), 50 * MS);

    assert!(ready.poll().is_pending());
    advance(50 * MS - US);
    assert_eq!(ready.wakes(), 1);
    advance(US);
    assert_eq!(ready.wakes(), 2);
    assert_eq!(ready.poll(), Poll::Ready(()));
    assert_eq!(breaker.state(), State::Recovering);
}

#[test]
fn a_timeout_is_a_failure_to_the_tick() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG);
    let limit = embassy_time::Duration::from_millis(10);

    for round in 1..=2 {
        let hung = core::future::pending::<Result<u32, &str>>();
        let mut call = Task::new(breaker_embassy::call_with_timeout(&breaker, limit, hung));
        assert!(call.poll().is_pending());
        advance(10 * MS - US);
        assert_eq!(call.wakes(), 0);
        assert_eq!(breaker.metrics().failures, round - 1);
        advance(US);
        assert_eq!(call.wakes(), 1);
        assert_eq!(call.poll(), Poll::Ready(Err(Error::Timeout)));
        assert_eq!(breaker.metrics().failures, round);
    }

    // Two timeouts out of two calls: Broken. A rejected call starts no timer
    // and never polls its future.
    assert_eq!(breaker.state(), State::Broken);
    assert_eq!(breaker.retry_after(), 50 * MS);
    let polled = AtomicBool::new(false);
    let probe = async {
        polled.store(true, Ordering::SeqCst);
        Ok::<u32, &str>(1)
    };
    let rejected = now(breaker_embassy::call_with_timeout(&breaker, limit, probe));
    assert!(rejected.is_err_and(|e| e.is_broken()));
    assert!(!polled.load(Ordering::SeqCst));
    let m = breaker.metrics();
    assert_eq!(
        (m.call_passing, m.call_broken, m.failures, m.trips),
        (2, 1, 2, 1)
    );
}

#[test]
fn a_call_that_finishes_in_time_counts_as_its_result() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG);
    let limit = embassy_time::Duration::from_millis(10);

    let mut slow_ok = Task::new(breaker_embassy::call_with_timeout(&breaker, limit, async {
        Timer::after_millis(5).await;
        Ok::<u32, &str>(7)
    }));
    assert!(slow_ok.poll().is_pending());
    advance(5 * MS);
    assert_eq!(slow_ok.wakes(), 1);
    assert_eq!(slow_ok.poll(), Poll::Ready(Ok(7)));

    let inner = now(breaker_embassy::call_with_timeout(&breaker, limit, fail()));
    assert_eq!(inner, Err(Error::Inner("no answer")));

    // The timer of the finished calls is gone: nothing more is recorded.
    advance(20 * MS);
    let m = breaker.metrics();
    assert_eq!((m.successes, m.failures, m.ignored), (1, 1, 0));
    // One failure in two calls reaches the 0.5 ratio.
    assert_eq!((m.state, m.trips), (State::Broken, 1));
}

#[test]
fn cancelled_calls_are_ignored() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG);
    let limit = embassy_time::Duration::from_millis(10);

    // Dropped while waiting on its timeout: neither a failure nor a timeout.
    let hung = core::future::pending::<Result<u32, &str>>();
    let mut call = Task::new(breaker_embassy::call_with_timeout(&breaker, limit, hung));
    assert!(call.poll().is_pending());
    advance(5 * MS);
    drop(call);
    advance(10 * MS);
    let m = breaker.metrics();
    assert_eq!((m.successes, m.failures, m.ignored), (0, 0, 1));

    // In Recovering, a dropped call decides nothing and the ramp goes on.
    trip(&breaker);
    advance(150 * MS);
    let mut sampled = Task::new(breaker_embassy::call(
        &breaker,
        core::future::pending::<Result<u32, &str>>(),
    ));
    assert!(sampled.poll().is_pending());
    drop(sampled);
    assert_eq!(breaker.state(), State::Recovering);
    assert_eq!(breaker.metrics().ignored, 2);

    // Dropping `ready` changes nothing either.
    let mut ready = Task::new(breaker_embassy::ready(&breaker));
    assert_eq!(ready.poll(), Poll::Ready(()));
    drop(ready);
    assert_eq!(now(breaker_embassy::call(&breaker, succeed())), Ok(7));
    assert_eq!(breaker.state(), State::Passing);
}

#[test]
fn a_classifier_decides_what_counts() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG);
    let only_timeouts = failure_if(|e: &&str| *e == "timeout");
    for _ in 0..3 {
        let reply = now(breaker_embassy::call_with(&breaker, only_timeouts, fail()));
        assert_eq!(reply, Err(Error::Inner("no answer")));
    }
    assert_eq!(breaker.state(), State::Passing);
    assert_eq!(breaker.metrics().successes, 3);
    for _ in 0..2 {
        let _ = now(breaker_embassy::call_with(&breaker, only_timeouts, async {
            Err::<u32, _>("timeout")
        }));
    }
    // 2 failures of 5 calls is under the 0.5 ratio; a third trips it.
    assert_eq!(breaker.state(), State::Passing);
    let _ = now(breaker_embassy::call_with(&breaker, only_timeouts, async {
        Err::<u32, _>("timeout")
    }));
    assert_eq!(breaker.state(), State::Broken);
}

#[test]
fn constructors() {
    static SMALL: CircuitBreaker<4> = breaker_embassy::with_buckets(CONFIG);
    let _time = time_lock();
    assert_eq!(SMALL.state(), State::Passing);
    assert_eq!(
        breaker_embassy::try_new(CONFIG).map(|b| b.config()),
        Ok(CONFIG)
    );
    // 10 buckets of 0.5 µs: shorter than one 1 µs tick.
    let too_fine = Config::new(0.5, Duration::from_micros(5));
    assert!(breaker_embassy::try_new(too_fine).is_err());
    assert!(breaker_embassy::try_with_buckets::<5>(too_fine).is_ok());
    assert!(breaker_embassy::try_with_buckets::<0>(CONFIG).is_err());
    assert_eq!(size_of::<EmbassyClock>(), 0);
    // SPEC 7: a 10-bucket breaker on a zero-sized clock fits in 256 bytes.
    assert!(size_of::<CircuitBreaker>() <= 256);
}
