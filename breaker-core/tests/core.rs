//! The public surface: construction and validation, `call`/`call_with`,
//! `call_async`, metrics, `static` use, size, and exact totals under threads.
// Under loom constructors are not `const`, so the `static`s below cannot be built.
#![cfg(not(loom))]

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::Arc;

use breaker_core::{
    CircuitBreaker, Clock, Config, ConfigError, DefaultClassifier, Error, MockClock, Nanos,
    Outcome, State, failure_if,
};

const S: Duration = Duration::from_secs(1);

const fn eager() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .broken_time(Duration::from_secs(5))
        .recovery_time(Duration::from_secs(4))
        .passing_time(Duration::ZERO)
        .min_calls(4)
}

static CLOCK: MockClock = MockClock::new();
static BREAKER: CircuitBreaker<&MockClock> = CircuitBreaker::new(eager(), &CLOCK);
static WIDE: CircuitBreaker<&MockClock, 60> = CircuitBreaker::with_buckets(eager(), &CLOCK);

#[test]
fn a_breaker_can_be_a_static() {
    assert_eq!(BREAKER.state(), State::Passing);
    assert_eq!(BREAKER.call(|| Ok::<_, ()>(5)), Ok(5));
    assert_eq!(WIDE.config().window, 10 * S);
    fn assert_sync<T: Sync + Send>(_: &T) {}
    assert_sync(&BREAKER);
}

#[test]
fn the_default_bucket_count_is_inferred() {
    // `new` lives on CircuitBreaker<C> (10 buckets), so no annotation is needed.
    let b = CircuitBreaker::new(eager(), MockClock::new());
    let _: &CircuitBreaker<MockClock, 10> = &b;
    let b = CircuitBreaker::try_new(eager(), MockClock::new()).unwrap();
    let _: &CircuitBreaker<MockClock> = &b;
}

#[test]
fn size_stays_within_the_budget() {
    struct ZeroSized;
    impl Clock for ZeroSized {
        fn now(&self) -> Nanos {
            Nanos::ZERO
        }
    }
    let zst = size_of::<CircuitBreaker<ZeroSized>>();
    let by_ref = size_of::<CircuitBreaker<&MockClock>>();
    assert!(zst <= 256, "{zst} bytes");
    assert!(by_ref <= 264, "{by_ref} bytes");
    // The 32-bit targets' layout (on a host, `--cfg breaker_32bit`): ten
    // 32-bit slots instead of 64-bit ones.
    if cfg!(breaker_32bit) {
        assert_eq!(zst, 216);
    }
}

#[test]
fn try_new_names_the_field_and_the_rule() {
    let cases = [
        (Config::new(f32::NAN, S), "error_ratio", "must not be NaN"),
        (
            Config::new(0.0, S),
            "error_ratio",
            "must be greater than 0 and at most 1",
        ),
        (
            Config::new(1.5, S),
            "error_ratio",
            "must be greater than 0 and at most 1",
        ),
        (
            Config::new(0.5, Duration::ZERO)
                .broken_time(S)
                .recovery_time(S),
            "window",
            "must be greater than zero",
        ),
        (
            Config::new(0.5, Duration::from_nanos(5)),
            "window",
            "must give every bucket at least one clock tick",
        ),
        (
            eager().broken_time(Duration::ZERO),
            "broken_time",
            "must be greater than zero",
        ),
        (
            eager().recovery_time(Duration::ZERO),
            "recovery_time",
            "must be greater than zero",
        ),
        (
            eager().passing_time(Duration::MAX),
            "passing_time",
            "must be at most 2^52 ns (about 52 days)",
        ),
        (eager().min_calls(0), "min_calls", "must be at least 1"),
        // The bound follows the window's slot width: 64-bit slots where the
        // target has 64-bit atomics, 32-bit ones elsewhere.
        if cfg!(breaker_32bit) {
            (eager().min_calls(2049), "min_calls", "must be at most 2^11")
        } else {
            (
                eager().min_calls((1 << 24) + 1),
                "min_calls",
                "must be at most 2^24",
            )
        },
    ];
    for (config, field, rule) in cases {
        let e = CircuitBreaker::try_new(config, MockClock::new()).unwrap_err();
        assert_eq!((e.field(), e.rule()), (field, rule));
        assert_eq!(
            e.to_string(),
            format!("invalid circuit breaker config: {field} {rule}")
        );
    }
    assert_eq!(
        CircuitBreaker::<_, 0>::try_with_buckets(eager(), MockClock::new()).unwrap_err(),
        ConfigError::BucketsOutOfRange
    );
}

#[test]
#[should_panic(
    expected = "invalid circuit breaker config: error_ratio must be greater than 0 and at most 1"
)]
fn new_panics_with_the_same_message() {
    let _ = CircuitBreaker::new(Config::new(2.0, S), MockClock::new());
}

#[test]
fn config_reports_the_effective_values() {
    let b = CircuitBreaker::new(
        Config::new(0.2, 20 * S).broken_time(5 * S),
        MockClock::new(),
    );
    let c = b.config();
    assert_eq!(
        (
            c.error_ratio,
            c.window,
            c.broken_time,
            c.recovery_time,
            c.passing_time,
            c.min_calls
        ),
        (0.2, 20 * S, 5 * S, 20 * S, 20 * S, 10)
    );
}

#[test]
fn call_returns_the_callee_error_untouched() {
    #[derive(Debug, PartialEq)]
    struct Oops(u32);
    let b = CircuitBreaker::new(eager(), MockClock::new());
    assert_eq!(b.call(|| Err::<(), _>(Oops(7))), Err(Error::Inner(Oops(7))));
    assert_eq!(b.call(|| Ok::<_, Oops>("fine")), Ok("fine"));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 1));
}

#[test]
fn classifiers_decide_how_results_count() {
    let b = CircuitBreaker::new(eager(), MockClock::new());
    let server_fault = failure_if(|status: &u16| *status >= 500);
    assert_eq!(
        b.call_with(server_fault, || Err::<(), u16>(404)),
        Err(Error::Inner(404))
    );
    assert_eq!(
        b.call_with(server_fault, || Err::<(), u16>(503)),
        Err(Error::Inner(503))
    );
    assert_eq!(b.call_with(server_fault, || Ok::<_, u16>(())), Ok(()));
    let ignore_all = |_: &Result<(), u16>| Outcome::Ignored;
    assert_eq!(
        b.call_with(ignore_all, || Err::<(), u16>(500)),
        Err(Error::Inner(500))
    );
    assert_eq!(
        b.call_with(DefaultClassifier, || Err::<(), u16>(400)),
        Err(Error::Inner(400))
    );
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.ignored), (2, 2, 1));
}

#[test]
fn a_rejected_call_never_runs() {
    let b = CircuitBreaker::new(eager().min_calls(1), MockClock::new());
    let _ = b.call(|| Err::<(), ()>(()));
    let mut ran = false;
    let r = b.call(|| {
        ran = true;
        Ok::<(), ()>(())
    });
    assert!(!ran);
    let broken = r.unwrap_err();
    assert!(broken.is_broken());
    assert_eq!(broken.broken().unwrap().retry_after(), 5 * S);
}

fn poll_once<F: Future>(f: core::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn call_async_admits_on_first_poll_and_records_on_completion() {
    let b = CircuitBreaker::new(eager(), MockClock::new());
    let fut = b.call_async(async { Err::<(), _>("down") });
    assert_eq!(
        b.metrics().call_count,
        0,
        "nothing happens before the first poll"
    );
    let mut fut = pin!(fut);
    assert_eq!(
        poll_once(fut.as_mut()),
        Poll::Ready(Err(Error::Inner("down")))
    );
    let m = b.metrics();
    assert_eq!((m.call_count, m.failures), (1, 1));
}

#[test]
fn dropping_call_async_midway_is_ignored() {
    let b = CircuitBreaker::new(eager(), MockClock::new());
    {
        let mut fut = pin!(b.call_async(core::future::pending::<Result<(), ()>>()));
        assert!(poll_once(fut.as_mut()).is_pending());
        assert_eq!(b.metrics().call_passing, 1);
    }
    let m = b.metrics();
    assert_eq!((m.ignored, m.successes, m.failures), (1, 0, 0));
}

#[test]
fn owned_permits_work_through_an_arc() {
    let b = Arc::new(CircuitBreaker::new(eager(), MockClock::new()));
    let permit = CircuitBreaker::try_acquire_owned(Arc::clone(&b)).unwrap();
    let handle = std::thread::spawn(move || permit.failure());
    handle.join().unwrap();
    assert_eq!(b.metrics().failures, 1);
}

#[test]
fn deferred_permits_are_counted_when_they_end() {
    let clock = MockClock::new();
    let b = Arc::new(CircuitBreaker::new(eager(), &clock));
    let ok = CircuitBreaker::try_acquire_owned_deferred(b.clone()).unwrap();
    let dropped = CircuitBreaker::try_acquire_owned_deferred(b.clone()).unwrap();
    let m = b.metrics();
    assert_eq!(
        (m.call_count, m.call_passing),
        (0, 0),
        "in flight, not counted"
    );
    ok.success();
    drop(dropped);
    let m = b.metrics();
    assert_eq!(
        (m.call_count, m.call_passing, m.successes, m.ignored),
        (2, 2, 1, 1)
    );
    // Three failures after the success trip it (3 of 4); a deferred attempt
    // while Broken is a rejection, counted at once like any other.
    for _ in 0..3 {
        let _ = b.call(|| Err::<(), _>(()));
    }
    assert_eq!(b.state(), State::Broken);
    assert!(CircuitBreaker::try_acquire_owned_deferred(b.clone()).is_err());
    let m = b.metrics();
    assert_eq!((m.call_count, m.call_passing, m.call_broken), (6, 5, 1));
}

#[test]
fn metrics_counters_keep_their_meanings() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    for _ in 0..4 {
        let _ = b.call(|| Err::<(), ()>(()));
    }
    for _ in 0..3 {
        let _ = b.call(|| Ok::<(), ()>(()));
    }
    clock.set(7 * S); // Recovering, p = 0.414: reject, reject, admit
    for _ in 0..3 {
        let _ = b.call(|| Ok::<(), ()>(()));
    }
    let m = b.metrics();
    assert_eq!(m.state, State::Recovering);
    assert_eq!(
        (
            m.call_count,
            m.call_passing,
            m.call_broken,
            m.call_recovering
        ),
        (10, 4, 3, 3)
    );
    assert_eq!((m.call_recovering_ok, m.call_recovering_failed), (1, 2));
    assert_eq!(
        (m.successes, m.failures, m.ignored, m.late, m.trips),
        (1, 4, 0, 0, 1)
    );
    assert_eq!(
        (m.window_calls, m.window_failures, m.error_ratio),
        (1, 0, 0.0)
    );
}

/// Two threads, one breaker, 1M calls each: no count is lost or doubled.
#[test]
fn two_threads_hammering_one_breaker_keep_exact_totals() {
    const PER_THREAD: u64 = if cfg!(miri) { 200 } else { 1_000_000 };
    let clock = MockClock::new();
    // Never trips: the ratio needs every call to fail.
    let b = CircuitBreaker::new(
        Config::new(1.0, 10 * S).passing_time(Duration::ZERO),
        &clock,
    );
    std::thread::scope(|scope| {
        for t in 0..2u64 {
            let b = &b;
            let clock = &clock;
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    if t == 0 && i % 1000 == 0 {
                        clock.advance(Duration::from_millis(7));
                    }
                    match i % 4 {
                        0 => drop(b.try_acquire().unwrap()),
                        1 => b.try_acquire().unwrap().failure(),
                        _ => b.try_acquire().unwrap().success(),
                    }
                }
            });
        }
    });
    let m = b.metrics();
    let n = 2 * PER_THREAD;
    assert_eq!(m.state, State::Passing);
    assert_eq!((m.call_count, m.call_passing), (n, n));
    assert_eq!((m.ignored, m.failures, m.successes), (n / 4, n / 4, n / 2));
    assert_eq!(m.late, 0);
}

/// A deadline that is already up, or never comes.
struct Deadline(bool);

impl Future for Deadline {
    type Output = ();
    fn poll(self: core::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_rejected_call_starts_no_timer() {
    let b = CircuitBreaker::new(eager().min_calls(1), MockClock::new());
    let _ = b.call(|| Err::<(), ()>(()));
    let started = core::cell::Cell::new(false);
    let call = b.call_async_with_timer(DefaultClassifier, async { Ok::<_, ()>(()) }, || {
        started.set(true);
        Deadline(false)
    });
    let mut fut = pin!(call);
    assert!(matches!(
        poll_once(fut.as_mut()),
        Poll::Ready(Err(Error::Broken(_)))
    ));
    assert!(!started.get());
}

#[test]
fn a_deadline_that_passes_first_is_a_failure_and_a_timeout() {
    let b = CircuitBreaker::new(eager(), MockClock::new());
    let hanging = core::future::pending::<Result<(), ()>>();
    let mut fut = pin!(b.call_async_with_timer(DefaultClassifier, hanging, || Deadline(true)));
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Err(Error::Timeout)));
    let m = b.metrics();
    assert_eq!((m.failures, m.ignored, m.call_passing), (1, 0, 1));
}

#[test]
fn a_ready_result_wins_over_an_expired_deadline() {
    let b = CircuitBreaker::new(eager(), MockClock::new());
    let quick = async { Ok::<_, ()>(3) };
    let mut fut = pin!(b.call_async_with_timer(DefaultClassifier, quick, || Deadline(true)));
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(3)));
    let quick = async { Ok::<_, ()>(4) };
    let mut fut = pin!(b.call_async_with_timer(DefaultClassifier, quick, || Deadline(false)));
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(4)));
    assert_eq!(b.metrics().successes, 2);
}

#[test]
fn ready_with_sleeps_exactly_until_the_deadline() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(1), &clock);
    let slept = std::cell::RefCell::new(Vec::new());
    // Passing: no sleep at all.
    {
        let mut fut = pin!(b.ready_with(|d| {
            slept.borrow_mut().push(d);
            core::future::ready(())
        }));
        assert_eq!(poll_once(fut.as_mut()), Poll::Ready(()));
    }
    assert!(slept.borrow().is_empty());
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(2 * S);
    // Broken with 3 s left: one sleep of 3 s, which the fake sleep "spends".
    let mut fut = pin!(b.ready_with(|d| {
        slept.borrow_mut().push(d);
        clock.advance(d);
        core::future::ready(())
    }));
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(()));
    assert_eq!(*slept.borrow(), [3 * S]);
    assert_eq!(b.state(), State::Recovering);
}

#[test]
fn ready_with_never_spins_on_a_clock_that_lags_the_timer() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(1), &clock);
    let _ = b.call(|| Err::<(), ()>(()));
    let slept = std::cell::RefCell::new(Vec::new());
    let mut fut = pin!(b.ready_with(|d| {
        slept.borrow_mut().push(d);
        // The timer fires, but the breaker's clock moves only 1 ns a check.
        clock.advance(Duration::from_nanos(1));
        core::future::ready(())
    }));
    clock.set(5 * S - Duration::from_nanos(3));
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(()));
    let ms = Duration::from_millis(1);
    assert_eq!(*slept.borrow(), [Duration::from_nanos(3), ms, ms]);
}
