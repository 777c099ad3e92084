//! Issue #9's operator controls through this crate's `call` and `ready`, on
//! embassy-time's mock driver (1 MHz ticks): slow calls, `force_open` /
//! `disable` / `reset`, broken-time backoff and a listener, to the tick.
//!
//! The mock driver is one global clock per test binary (this file is its own
//! binary, with its own driver), so every test takes [`time_lock`] first,
//! which also resets the driver to tick 0.

mod common;

use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use breaker_embassy::{
    CircuitBroken, Config, EmbassyClock, Error, Listener, Mode, Nanos, State, Transition,
};
use embassy_time::{Instant, Timer};

use common::{Task, advance, now, time_lock};

/// `d` in ticks of the mock driver (1 MHz).
fn ticks(d: Duration) -> u64 {
    embassy_time::Duration::try_from(d)
        .expect("fits in ticks")
        .as_ticks()
}

const US: Duration = Duration::from_micros(1);
const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Breaks on one failure at once; Broken 50 ms; a 100 ms ramp.
const CONFIG: Config = Config::new(0.5, Duration::from_millis(100))
    .min_calls(1)
    .passing_time(Duration::ZERO)
    .broken_time(Duration::from_millis(50))
    .recovery_time(Duration::from_millis(100));

type CircuitBreaker<L = breaker_embassy::NoListener> = breaker_embassy::CircuitBreaker<10, L>;

fn succeed<L: Listener>(b: &CircuitBreaker<L>) -> Result<u32, Error<&'static str>> {
    now(breaker_embassy::call(b, async { Ok(7) }))
}

fn fail<L: Listener>(b: &CircuitBreaker<L>) -> Result<u32, Error<&'static str>> {
    now(breaker_embassy::call(b, async { Err("no answer") }))
}

fn rejection(result: Result<u32, Error<&'static str>>) -> CircuitBroken {
    match result {
        Err(Error::Broken(b)) => b,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_slow_success_is_a_failure_measured_in_ticks() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG.min_calls(10).slow_call(100 * MS));

    // The peripheral's future moves the driver itself: 150 ms. The caller
    // gets its Ok; the breaker counts a failure.
    let slow = async {
        advance(150 * MS);
        Ok::<u32, &str>(7)
    };
    assert_eq!(now(breaker_embassy::call(&breaker, slow)), Ok(7));
    let m = breaker.metrics();
    assert_eq!((m.successes, m.failures, m.window_failures), (0, 1, 1));

    // Exactly 100 ms is in time; one tick more is not.
    for (took, successes, failures) in [(100 * MS, 1, 1), (100 * MS + US, 1, 2)] {
        let call = async move {
            advance(took);
            Ok::<u32, &str>(7)
        };
        assert_eq!(now(breaker_embassy::call(&breaker, call)), Ok(7));
        let m = breaker.metrics();
        assert_eq!((m.successes, m.failures), (successes, failures));
    }

    // A call that sleeps on an embassy timer while the driver moves.
    let mut waiting = Task::new(breaker_embassy::call(&breaker, async {
        Timer::after_millis(120).await;
        Ok::<u32, &str>(7)
    }));
    assert!(waiting.poll().is_pending());
    advance(120 * MS);
    assert_eq!(waiting.wakes(), 1);
    assert_eq!(waiting.poll(), Poll::Ready(Ok(7)));
    assert_eq!(breaker.metrics().failures, 3);

    // Through `call_with_timeout`, whose limit is not reached.
    let limit = embassy_time::Duration::from_millis(500);
    let slow = async {
        advance(150 * MS);
        Ok::<u32, &str>(7)
    };
    let reply = now(breaker_embassy::call_with_timeout(&breaker, limit, slow));
    assert_eq!(reply, Ok(7));
    let m = breaker.metrics();
    assert_eq!((m.successes, m.failures), (1, 4));
}

#[test]
fn force_open_holds_ready_until_reset_and_the_next_100_ms_check() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG);
    assert_eq!(succeed(&breaker), Ok(7));
    breaker.force_open();
    assert_eq!(
        (breaker.state(), breaker.mode()),
        (State::Broken, Mode::ForcedOpen)
    );

    let rejected = rejection(succeed(&breaker));
    assert_eq!(rejected.mode(), Mode::ForcedOpen);
    assert_eq!(rejected.state(), State::Broken);
    assert_eq!(rejected.retry_after(), Duration::ZERO);
    assert_eq!(breaker.retry_after(), Duration::ZERO);

    // No deadline: `ready` checks every 100 ms, to the tick.
    let mut ready = Task::new(breaker_embassy::ready(&breaker));
    assert!(ready.poll().is_pending());
    advance(100 * MS - US);
    assert_eq!(ready.wakes(), 0);
    advance(US);
    assert_eq!(ready.wakes(), 1);
    assert!(ready.poll().is_pending(), "still forced open at 100 ms");

    // Long past any broken time, still forced open.
    assert_eq!(rejection(fail(&breaker)).mode(), Mode::ForcedOpen);

    // Reset at 150 ms: the wait ends at its next check, 200 ms.
    advance(50 * MS);
    breaker.reset();
    assert_eq!(
        (breaker.state(), breaker.mode()),
        (State::Passing, Mode::Automatic)
    );
    assert!(ready.poll().is_pending());
    advance(50 * MS - US);
    assert_eq!(ready.wakes(), 1);
    advance(US);
    assert_eq!(ready.wakes(), 2);
    assert_eq!(ready.poll(), Poll::Ready(()));

    let m = breaker.metrics();
    assert_eq!((m.call_passing, m.call_broken, m.trips), (1, 2, 0));
    assert_eq!((m.window_calls, m.successes), (0, 1));
    assert_eq!(succeed(&breaker), Ok(7));
}

#[test]
fn disable_admits_every_call_and_ready_completes_at_once() {
    let _time = time_lock();
    let breaker = breaker_embassy::new(CONFIG);
    breaker.disable();
    for _ in 0..4 {
        assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
        advance(10 * MS);
    }
    assert_eq!(succeed(&breaker), Ok(7));
    now(breaker_embassy::ready(&breaker));
    let m = breaker.metrics();
    assert_eq!(
        (m.state, m.mode, m.trips),
        (State::Passing, Mode::Disabled, 0)
    );
    assert_eq!((m.window_calls, m.window_failures), (5, 4));
    assert_eq!(m.call_passing, 5);

    breaker.reset();
    assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
    assert_eq!(breaker.state(), State::Broken);
}

#[test]
fn backoff_in_ticks_doubles_to_the_cap_and_resets_after_a_healthy_passing() {
    let _time = time_lock();
    // Window 10 s, Broken 1 s doubling up to 4 s, a 1 s ramp.
    let breaker = breaker_embassy::new(
        Config::new(0.5, 10 * SEC)
            .min_calls(1)
            .passing_time(Duration::ZERO)
            .broken_time(SEC)
            .broken_time_max(4 * SEC)
            .recovery_time(SEC),
    );
    let broken_ticks = |b: &CircuitBreaker| {
        assert_eq!(b.state(), State::Broken);
        ticks(b.retry_after())
    };

    // t = 0: the first trip.
    assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
    assert_eq!(broken_ticks(&breaker), 1_000_000);
    // t = 2 s: a failed recovery.
    advance(2 * SEC);
    assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
    assert_eq!(broken_ticks(&breaker), 2_000_000);
    assert_eq!(ticks(rejection(succeed(&breaker)).retry_after()), 2_000_000);
    // t = 5 s: recovered, then a quick relapse.
    advance(3 * SEC);
    assert_eq!(succeed(&breaker), Ok(7));
    assert_eq!(breaker.state(), State::Passing);
    assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
    assert_eq!(broken_ticks(&breaker), 4_000_000);

    // `ready` sleeps exactly the backed-off time.
    let mut ready = Task::new(breaker_embassy::ready(&breaker));
    assert!(ready.poll().is_pending());
    advance(4 * SEC - US);
    assert_eq!(ready.wakes(), 0);
    advance(US);
    assert_eq!(ready.wakes(), 1);
    assert_eq!(ready.poll(), Poll::Ready(()));
    assert_eq!(Instant::now().as_ticks(), 9_000_000);

    // t = 10 s: another failed recovery, capped.
    advance(SEC);
    assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
    assert_eq!(broken_ticks(&breaker), 4_000_000);
    // t = 15 s: recovered; healthy after passing_time + window = 10 s.
    advance(5 * SEC);
    assert_eq!(succeed(&breaker), Ok(7));
    advance(10 * SEC);
    assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
    assert_eq!(broken_ticks(&breaker), 1_000_000);
    assert_eq!(breaker.metrics().trips, 5);
}

#[test]
fn a_closure_listeners_at_is_the_embassy_instant_in_nanoseconds() {
    let _time = time_lock();
    let heard: Mutex<Vec<(Transition, Instant)>> = Mutex::new(Vec::new());
    let breaker = breaker_embassy::with_listener(CONFIG, |t: Transition| {
        heard.lock().unwrap().push((t, Instant::now()))
    });
    let drain = || std::mem::take(&mut *heard.lock().unwrap());

    // The first use at 1.234 ms starts Passing silently; the trip is heard.
    advance(1_234 * US);
    assert_eq!(fail(&breaker), Err(Error::Inner("no answer")));
    let trip = drain();
    assert_eq!(trip.len(), 1);
    let (t, at) = trip[0];
    assert_eq!(
        (t.from, t.to, t.broken_time),
        (State::Passing, State::Broken, 50 * MS)
    );
    assert_eq!(at.as_ticks(), 1_234);
    assert_eq!(t.at, Nanos::from_nanos(1_234_000));
    assert_eq!(t.at, EmbassyClock::since_origin(at));

    // Recovering is dated at the deadline, 51.234 ms, though noticed later.
    advance(70 * MS);
    assert_eq!(breaker.state(), State::Recovering);
    let (t, noticed) = drain()[0];
    assert_eq!((t.from, t.to), (State::Broken, State::Recovering));
    assert_eq!(
        t.at,
        EmbassyClock::since_origin(Instant::from_ticks(51_234))
    );
    assert_eq!(noticed.as_ticks(), 71_234);

    // Operator transitions are dated now.
    advance(5 * MS);
    breaker.force_open();
    breaker.force_open();
    advance(US);
    breaker.reset();
    let heard = drain();
    let seen: Vec<_> = heard
        .iter()
        .map(|(t, i)| {
            (
                t.to_string(),
                t.to_mode,
                t.at.as_nanos(),
                i.as_ticks() * 1_000,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "recovering -> forced open".to_string(),
                Mode::ForcedOpen,
                76_234_000,
                76_234_000
            ),
            (
                "forced open -> passing".to_string(),
                Mode::Automatic,
                76_235_000,
                76_235_000
            ),
        ]
    );
}
