//! Issue #9's operator controls through this crate's `call`, `call_with`,
//! `call_with_timeout` and `ready`, on a `MockClock` moved by hand under both
//! executors: `force_open` / `disable` / `reset`, broken-time backoff, slow
//! calls and a listener, with exact numbers.

use std::pin::pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use breaker_async_std::{
    Config, Error, MockClock, Mode, Outcome, State, Transition, breaker_core, call, call_with,
    call_with_timeout, ready,
};
use smol::future::poll_once;

type Breaker<'a> = breaker_core::CircuitBreaker<&'a MockClock>;

const NS: Duration = Duration::from_nanos(1);
const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Breaks on one failure at once; Broken 5 s; a 1 s ramp.
const fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(Duration::from_secs(5))
        .recovery_time(SEC)
}

async fn succeed<L: breaker_async_std::Listener>(
    b: &breaker_core::CircuitBreaker<&MockClock, 10, L>,
) -> Result<u32, Error<&'static str>> {
    call(b, async { Ok(1) }).await
}

async fn fail<L: breaker_async_std::Listener>(
    b: &breaker_core::CircuitBreaker<&MockClock, 10, L>,
) -> Result<u32, Error<&'static str>> {
    call(b, async { Err("down") }).await
}

/// The rejection in `result`, or a panic.
fn rejection(result: Result<u32, Error<&'static str>>) -> breaker_async_std::CircuitBroken {
    match result {
        Err(Error::Broken(b)) => b,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[async_std::test]
async fn force_open_rejects_every_call_with_no_countdown() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    assert_eq!(succeed(&b).await, Ok(1));
    b.force_open();
    assert_eq!((b.state(), b.mode()), (State::Broken, Mode::ForcedOpen));

    // Rejected without polling the future, with no countdown.
    let polled = AtomicBool::new(false);
    let probe = call(&b, async {
        polled.store(true, Ordering::SeqCst);
        Ok::<u32, &str>(1)
    });
    let rejected = rejection(probe.await);
    assert!(!polled.load(Ordering::SeqCst));
    assert_eq!(rejected.state(), State::Broken);
    assert_eq!(rejected.mode(), Mode::ForcedOpen);
    assert_eq!(rejected.retry_after(), Duration::ZERO);
    assert_eq!(rejected.to_string(), "circuit broken: forced open");
    let timed = call_with_timeout(&b, SEC, async { Ok::<u32, &str>(1) }).await;
    assert_eq!(rejection(timed).mode(), Mode::ForcedOpen);

    // Time does not end it: no automatic transition while forced open.
    clock.advance(Duration::from_secs(3_600));
    assert_eq!(b.retry_after(), Duration::ZERO);
    assert_eq!(rejection(fail(&b).await).mode(), Mode::ForcedOpen);
    let m = b.metrics();
    assert_eq!((m.state, m.mode), (State::Broken, Mode::ForcedOpen));
    assert_eq!((m.window_calls, m.window_failures), (0, 0));
    assert_eq!((m.call_passing, m.call_broken), (1, 3));
    assert_eq!((m.successes, m.failures, m.trips), (1, 0, 0));
    assert_eq!(m.retry_after, Duration::ZERO);

    // Forcing it again changes nothing; a reset brings Passing back at once.
    b.force_open();
    assert_eq!(b.mode(), Mode::ForcedOpen);
    b.reset();
    assert_eq!((b.state(), b.mode()), (State::Passing, Mode::Automatic));
    assert_eq!(succeed(&b).await, Ok(1));
    assert_eq!(b.metrics().window_calls, 1);
}

#[test]
fn ready_waits_while_forced_open_and_completes_after_reset() {
    // No real timer is waited on: the 100 ms re-check cadence itself is
    // proven on a fake sleep in breaker-core's tests/controls.rs and on
    // tokio's paused clock; here, that this adapter's `ready` follows it.
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        b.force_open();
        let mut waiting = pin!(ready(&b));

        // Forced open has no deadline, however far the breaker's clock moves.
        clock.advance(Duration::from_secs(3_600));
        assert!(
            poll_once(waiting.as_mut()).await.is_none(),
            "ready() completed while forced open"
        );
        assert_eq!(b.state(), State::Broken);

        // After the reset a wait completes at once; so does one on a
        // disabled breaker.
        b.reset();
        assert!(
            poll_once(pin!(ready(&b))).await.is_some(),
            "ready() did not notice the reset"
        );
        b.disable();
        assert!(poll_once(pin!(ready(&b))).await.is_some());
        assert_eq!(b.metrics().call_count, 0, "ready() takes no admission");
    });
}

#[async_std::test]
async fn disable_admits_and_counts_every_call_but_never_trips() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    assert_eq!(succeed(&b).await, Ok(1));
    b.disable();
    assert_eq!((b.state(), b.mode()), (State::Passing, Mode::Disabled));

    for _ in 0..5 {
        assert_eq!(fail(&b).await, Err(Error::Inner("down")));
        clock.advance(100 * MS);
    }
    assert_eq!(succeed(&b).await, Ok(1));
    let timed = call_with_timeout(&b, SEC, async { Err::<u32, _>("down") }).await;
    assert_eq!(timed, Err(Error::Inner("down")));

    // A fresh window since `disable`: 7 calls, 6 failed; no verdict.
    let m = b.metrics();
    assert_eq!((m.state, m.mode), (State::Passing, Mode::Disabled));
    assert_eq!((m.window_calls, m.window_failures), (7, 6));
    assert_eq!(m.error_ratio, 6.0 / 7.0);
    assert_eq!((m.call_passing, m.call_broken), (8, 0));
    assert_eq!((m.successes, m.failures, m.trips), (2, 6, 0));
    assert_eq!(m.retry_after, Duration::ZERO);
    disable_is_idempotent(&b);

    // Back to the machine: a fresh window, and the next failure trips.
    b.reset();
    let m = b.metrics();
    assert_eq!(
        (m.mode, m.window_calls, m.window_failures),
        (Mode::Automatic, 0, 0)
    );
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.metrics().trips, 1);
}

fn disable_is_idempotent(b: &Breaker<'_>) {
    let before = b.metrics();
    b.disable();
    let after = b.metrics();
    assert_eq!(before, after, "a second disable() changed something");
}

#[test]
fn backoff_doubles_up_to_the_cap_and_a_healthy_passing_resets_it() {
    smol::block_on(async {
        // Window 10 s, Broken 1 s doubling up to 4 s, a 1 s ramp.
        let clock = MockClock::new();
        let b = Breaker::new(
            Config::new(0.5, Duration::from_secs(10))
                .min_calls(1)
                .passing_time(Duration::ZERO)
                .broken_time(SEC)
                .broken_time_max(4 * SEC)
                .recovery_time(SEC),
            &clock,
        );
        let broken_for = |b: &Breaker<'_>| {
            assert_eq!(b.state(), State::Broken);
            b.retry_after()
        };

        // t = 0: the first trip, 1 s.
        assert_eq!(fail(&b).await, Err(Error::Inner("down")));
        assert_eq!(broken_for(&b), SEC);
        assert_eq!(rejection(succeed(&b).await).retry_after(), SEC);

        // t = 2: the recovery (1 s to 2 s) fails: 2 s.
        clock.advance(2 * SEC);
        assert_eq!(b.state(), State::Recovering);
        assert_eq!(fail(&b).await, Err(Error::Inner("down")));
        assert_eq!(broken_for(&b), 2 * SEC);
        clock.advance(500 * MS);
        assert_eq!(rejection(succeed(&b).await).retry_after(), 1_500 * MS);

        // t = 5: recovered (4 s to 5 s), then a quick relapse: 4 s.
        clock.advance(2_500 * MS);
        assert_eq!(succeed(&b).await, Ok(1));
        assert_eq!(b.state(), State::Passing);
        assert_eq!(fail(&b).await, Err(Error::Inner("down")));
        assert_eq!(broken_for(&b), 4 * SEC);

        // t = 10: the recovery (9 s to 10 s) fails: capped at 4 s.
        clock.advance(5 * SEC);
        assert_eq!(fail(&b).await, Err(Error::Inner("down")));
        assert_eq!(broken_for(&b), 4 * SEC);

        // t = 15: recovered, and Passing lasts passing_time + window (10 s):
        // healthy, so the next trip is back at 1 s.
        clock.advance(5 * SEC);
        assert_eq!(succeed(&b).await, Ok(1));
        assert_eq!(b.state(), State::Passing);
        clock.advance(10 * SEC);
        assert_eq!(fail(&b).await, Err(Error::Inner("down")));
        assert_eq!(broken_for(&b), SEC);
        assert_eq!(b.metrics().trips, 5);

        // `ready` on the breaker's clock: at once after the deadline.
        clock.advance(SEC);
        assert!(poll_once(pin!(ready(&b))).await.is_some());
        assert_eq!(b.state(), State::Recovering);
    });
}

#[async_std::test]
async fn reset_ends_the_backoff() {
    let clock = MockClock::new();
    let b = Breaker::new(config().broken_time(SEC).broken_time_max(4 * SEC), &clock);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    clock.advance(2 * SEC);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.retry_after(), 2 * SEC);
    b.reset();
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.retry_after(), SEC);
}

#[async_std::test]
async fn jitter_spreads_the_broken_time_and_retry_after_tells_it() {
    let clock = MockClock::new();
    let b = Breaker::new(
        config().broken_time(10 * SEC).jitter(0.2).jitter_seed(7),
        &clock,
    );
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    let broken = b.retry_after();
    assert!((8 * SEC..=12 * SEC).contains(&broken), "{broken:?}");
    assert_eq!(rejection(succeed(&b).await).retry_after(), broken);
    // The deadline is exactly where retry_after said.
    clock.advance(broken - NS);
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.retry_after(), NS);
    clock.advance(NS);
    assert_eq!(b.state(), State::Recovering);
}

#[test]
fn a_slow_success_counts_as_a_failure_but_the_caller_gets_it() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config().min_calls(10).slow_call(100 * MS), &clock);
        let taking = |d: Duration| {
            let clock = &clock;
            async move {
                clock.advance(d);
                Ok::<u32, &str>(7)
            }
        };

        // 150 ms: Ok for the caller, a failure for the breaker.
        assert_eq!(call(&b, taking(150 * MS)).await, Ok(7));
        let m = b.metrics();
        assert_eq!((m.successes, m.failures, m.window_failures), (0, 1, 1));

        // Exactly the threshold is not slow.
        assert_eq!(call(&b, taking(100 * MS)).await, Ok(7));
        assert_eq!(call(&b, taking(100 * MS + NS)).await, Ok(7));
        let m = b.metrics();
        assert_eq!((m.successes, m.failures), (1, 2));

        // Through `call_with_timeout` (its real timer is far away) too.
        assert_eq!(call_with_timeout(&b, SEC, taking(150 * MS)).await, Ok(7));
        assert_eq!(b.metrics().failures, 3);

        // A classifier's Ignored stays ignored; a slow failure is one failure.
        let ignore = |_: &Result<u32, &str>| Outcome::Ignored;
        assert_eq!(call_with(&b, ignore, taking(150 * MS)).await, Ok(7));
        let slow_err = async {
            clock.advance(150 * MS);
            Err::<u32, _>("down")
        };
        assert_eq!(call(&b, slow_err).await, Err(Error::Inner("down")));
        let m = b.metrics();
        assert_eq!((m.successes, m.failures, m.ignored), (1, 4, 1));
        assert_eq!((m.window_calls, m.window_failures), (5, 4));
    });
}

#[async_std::test]
async fn slow_calls_trip_the_breaker() {
    let clock = MockClock::new();
    let b = Breaker::new(config().min_calls(2).slow_call(100 * MS), &clock);
    for _ in 0..2 {
        let slow = async {
            clock.advance(150 * MS);
            Ok::<u32, &str>(7)
        };
        assert_eq!(call(&b, slow).await, Ok(7));
    }
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.metrics().trips, 1);
}

#[async_std::test]
async fn a_closure_listener_hears_every_transition_once() {
    let clock = MockClock::new();
    let heard: Mutex<Vec<Transition>> = Mutex::new(Vec::new());
    let b = breaker_core::CircuitBreaker::<_, 10, _>::with_listener(
        config(),
        &clock,
        |t: Transition| heard.lock().unwrap().push(t),
    );
    let drain = || std::mem::take(&mut *heard.lock().unwrap());
    type Seen = (State, State, Mode, Mode, u64, Duration);
    let seen = |ts: &[Transition]| -> Vec<Seen> {
        ts.iter()
            .map(|t| {
                (
                    t.from,
                    t.to,
                    t.from_mode,
                    t.to_mode,
                    t.at.as_nanos(),
                    t.broken_time,
                )
            })
            .collect()
    };
    let s = |n: u64| n * 1_000_000_000;
    use Mode::{Automatic, Disabled, ForcedOpen};
    use State::{Broken, Passing, Recovering};

    // The lazy start at the first use is not a transition.
    clock.advance(SEC);
    assert_eq!(succeed(&b).await, Ok(1));
    assert!(drain().is_empty());

    // A trip at 1 s; Recovering dated at the deadline (6 s) though noticed at
    // 8 s; Passing on the first outcome after the ramp.
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    clock.advance(7 * SEC);
    assert_eq!(b.state(), Recovering);
    assert_eq!(succeed(&b).await, Ok(1));
    let ts = drain();
    assert_eq!(
        seen(&ts),
        [
            (Passing, Broken, Automatic, Automatic, s(1), 5 * SEC),
            (
                Broken,
                Recovering,
                Automatic,
                Automatic,
                s(6),
                Duration::ZERO
            ),
            (
                Recovering,
                Passing,
                Automatic,
                Automatic,
                s(8),
                Duration::ZERO
            ),
        ]
    );
    let text: Vec<String> = ts.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "passing -> broken for 5s",
            "broken -> recovering",
            "recovering -> passing"
        ]
    );

    // Operator transitions; repeats are silent. A reset right after
    // force_open is dated 1 ns later (entry times strictly increase).
    clock.advance(SEC);
    b.force_open();
    b.force_open();
    b.reset();
    clock.advance(SEC);
    b.disable();
    b.disable();
    clock.advance(SEC);
    b.reset();
    b.reset();
    let ts = drain();
    assert_eq!(
        seen(&ts),
        [
            (Passing, Broken, Automatic, ForcedOpen, s(9), Duration::ZERO),
            (
                Broken,
                Passing,
                ForcedOpen,
                Automatic,
                s(9) + 1,
                Duration::ZERO
            ),
            (Passing, Passing, Automatic, Disabled, s(10), Duration::ZERO),
            (Passing, Passing, Disabled, Automatic, s(11), Duration::ZERO),
            (
                Passing,
                Passing,
                Automatic,
                Automatic,
                s(11) + 1,
                Duration::ZERO
            ),
        ]
    );
    let text: Vec<String> = ts.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "passing -> forced open",
            "forced open -> passing",
            "passing -> disabled",
            "disabled -> passing",
            "passing -> passing"
        ]
    );
    // Trips count only the machine's Broken.
    assert_eq!(b.metrics().trips, 1);
}

#[test]
fn the_adapter_constructors_take_a_listener() {
    use std::sync::atomic::AtomicU32;

    #[derive(Debug)]
    struct Count(AtomicU32);

    impl breaker_async_std::Listener for Count {
        fn on_transition(&self, _: Transition) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    static COUNTED: breaker_async_std::CircuitBreaker<10, Count> =
        breaker_async_std::with_listener(config(), Count(AtomicU32::new(0)));
    COUNTED.force_open();
    COUNTED.reset();
    assert_eq!(COUNTED.listener().0.load(Ordering::SeqCst), 2);

    let invalid = breaker_async_std::try_with_listener(
        Config::new(0.5, Duration::ZERO),
        Count(AtomicU32::new(0)),
    );
    assert!(invalid.unwrap_err().to_string().contains("window"));

    // The adapter's calls and `ready` take a breaker with a listener.
    smol::block_on(async {
        let reply = call(&COUNTED, async { Ok::<_, &str>(1) }).await;
        assert_eq!(reply, Ok(1));
        ready(&COUNTED).await;
    });
}
