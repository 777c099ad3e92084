//! Every transition of SPEC §4, driven through this crate's `call` and
//! `call_with` with a `MockClock` moved by hand: exact times, exact counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use breaker_async_std::{Config, Error, MockClock, Outcome, State, breaker_core, failure_if};

type Breaker<'a> = breaker_core::CircuitBreaker<&'a MockClock>;

const NS: Duration = Duration::from_nanos(1);

/// Window 10 s in 1 s buckets, at least 4 calls, breaks at 50 %, Broken for
/// 5 s, a 10 s ramp, no grace period.
fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(4)
        .broken_time(Duration::from_secs(5))
        .recovery_time(Duration::from_secs(10))
        .passing_time(Duration::ZERO)
}

async fn succeed(b: &Breaker<'_>) -> Result<u32, Error<&'static str>> {
    breaker_async_std::call(b, async { Ok(1) }).await
}

async fn fail(b: &Breaker<'_>) -> Result<u32, Error<&'static str>> {
    breaker_async_std::call(b, async { Err("down") }).await
}

/// Trips a fresh breaker at the current clock reading with four failures.
async fn trip(b: &Breaker<'_>) {
    for _ in 0..4 {
        assert_eq!(fail(b).await, Err(Error::Inner("down")));
    }
    assert_eq!(b.state(), State::Broken);
}

fn rejected_in(result: Result<u32, Error<&'static str>>) -> State {
    match result {
        Err(Error::Broken(b)) => b.state(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[async_std::test]
async fn passing_breaks_on_the_failure_that_reaches_the_ratio() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    assert_eq!(succeed(&b).await, Ok(1));
    assert_eq!(succeed(&b).await, Ok(1));
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    // 3 calls < min_calls: no verdict yet.
    assert_eq!(b.state(), State::Passing);
    assert_eq!(b.metrics().window_calls, 3);
    // 2 of 4 = 50 % >= 50 %.
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.state(), State::Broken);
    let m = b.metrics();
    assert_eq!((m.trips, m.successes, m.failures), (1, 2, 2));
    assert_eq!(m.retry_after, Duration::from_secs(5));
}

#[async_std::test]
async fn broken_rejects_without_polling_the_future() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    trip(&b).await;
    clock.advance(Duration::from_secs(2));
    let polled = AtomicBool::new(false);
    let result = breaker_async_std::call(&b, async {
        polled.store(true, Ordering::SeqCst);
        Ok::<u32, &str>(1)
    })
    .await;
    let rejection = *result.unwrap_err().broken().expect("a rejection");
    assert_eq!(rejection.state(), State::Broken);
    assert_eq!(rejection.retry_after(), Duration::from_secs(3));
    assert!(!polled.load(Ordering::SeqCst));
    let m = b.metrics();
    assert_eq!((m.call_broken, m.call_count, m.successes), (1, 5, 0));
}

#[test]
fn broken_lasts_exactly_broken_time() {
    smol::block_on(async {
        let clock = MockClock::new();
        clock.set(Duration::from_secs(100));
        let b = Breaker::new(config(), &clock);
        trip(&b).await;
        clock.advance(Duration::from_secs(5) - NS);
        assert_eq!(b.state(), State::Broken);
        assert_eq!(b.retry_after(), NS);
        assert_eq!(rejected_in(succeed(&b).await), State::Broken);
        clock.advance(NS);
        assert_eq!(b.state(), State::Recovering);
        assert_eq!(b.retry_after(), Duration::ZERO);
        assert_eq!(b.metrics().trips, 1);
    });
}

#[async_std::test]
async fn recovering_starts_at_the_deadline_even_when_noticed_late() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    trip(&b).await;
    // Nobody looks until half way through the ramp (5 s + 5 s): p = 0.414, so
    // the credit reaches 1 on the third attempt. Had the ramp started when it
    // was noticed, p would be 0 and every attempt rejected.
    clock.advance(Duration::from_secs(10));
    assert_eq!(rejected_in(succeed(&b).await), State::Recovering);
    assert_eq!(rejected_in(succeed(&b).await), State::Recovering);
    assert_eq!(succeed(&b).await, Ok(1));
    let m = b.metrics();
    assert_eq!((m.call_recovering, m.call_recovering_ok), (3, 1));
    assert_eq!(m.call_recovering_failed, 2);
    assert_eq!(m.state, State::Recovering);
}

#[test]
fn the_ramp_admits_nothing_at_its_start() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        trip(&b).await;
        clock.advance(Duration::from_secs(5));
        for _ in 0..50 {
            let r = rejected_in(succeed(&b).await);
            assert_eq!(r, State::Recovering);
        }
        assert_eq!(b.metrics().call_recovering_failed, 50);
    });
}

#[async_std::test]
async fn recovering_becomes_passing_at_the_end_of_the_ramp() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    trip(&b).await;
    clock.advance(Duration::from_secs(10));
    let _ = succeed(&b).await;
    let _ = succeed(&b).await;
    assert_eq!(succeed(&b).await, Ok(1));
    clock.advance(Duration::from_secs(5) - NS);
    assert_eq!(b.state(), State::Recovering);
    clock.advance(NS);
    // 1 success of 1 recorded: below the ratio.
    assert_eq!(b.state(), State::Passing);
    let m = b.metrics();
    assert_eq!((m.window_calls, m.trips), (0, 1));
    assert_eq!(succeed(&b).await, Ok(1));
}

#[async_std::test]
async fn recovering_becomes_broken_at_the_end_of_the_ramp() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    trip(&b).await;
    clock.advance(Duration::from_secs(10));
    let _ = fail(&b).await;
    let _ = fail(&b).await;
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    // One failure is below min_calls: no early trip.
    assert_eq!(b.state(), State::Recovering);
    clock.advance(Duration::from_secs(5));
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.metrics().trips, 2);
    // Broken began at the end of the ramp: a full broken_time is left.
    assert_eq!(b.retry_after(), Duration::from_secs(5));
}

#[test]
fn recovering_breaks_at_once_when_the_window_is_bad_enough() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        trip(&b).await;
        // 9 s into the ramp p = 0.87: most attempts are admitted.
        clock.advance(Duration::from_secs(5 + 9));
        let mut admitted_failures = 0;
        while admitted_failures < 4 {
            assert_eq!(b.state(), State::Recovering);
            match fail(&b).await {
                Err(Error::Inner(_)) => admitted_failures += 1,
                Err(Error::Broken(r)) => assert_eq!(r.state(), State::Recovering),
                other => panic!("{other:?}"),
            }
        }
        // The fourth failure reached min_calls at 100 %: Broken before the
        // ramp ended.
        assert_eq!(b.state(), State::Broken);
        assert_eq!(b.metrics().trips, 2);
        assert_eq!(b.retry_after(), Duration::from_secs(5));
    });
}

#[async_std::test]
async fn a_finished_ramp_with_no_call_admits_all_and_decides_on_the_first() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    trip(&b).await;
    clock.advance(Duration::from_secs(5 + 30));
    assert_eq!(b.state(), State::Recovering);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.state(), State::Broken);

    clock.advance(Duration::from_secs(5 + 30));
    assert_eq!(b.state(), State::Recovering);
    assert_eq!(succeed(&b).await, Ok(1));
    assert_eq!(b.state(), State::Passing);
    assert_eq!(b.metrics().trips, 2);
}

#[test]
fn passing_time_is_a_grace_period_from_first_use() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config().passing_time(Duration::from_secs(5)), &clock);
        // Construction reads no clock: the grace period starts at first use.
        clock.advance(Duration::from_secs(100));
        for _ in 0..4 {
            let _ = fail(&b).await;
        }
        clock.advance(Duration::from_secs(5) - NS);
        let _ = fail(&b).await;
        assert_eq!(b.state(), State::Passing);
        assert_eq!(b.metrics().window_failures, 5);
        clock.advance(NS);
        let _ = fail(&b).await;
        assert_eq!(b.state(), State::Broken);
    });
}

#[async_std::test]
async fn a_success_never_trips() {
    let clock = MockClock::new();
    let b = Breaker::new(config().passing_time(Duration::from_secs(5)), &clock);
    for _ in 0..4 {
        let _ = fail(&b).await;
    }
    clock.advance(Duration::from_secs(5));
    assert_eq!(succeed(&b).await, Ok(1));
    assert_eq!(b.state(), State::Passing);
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Broken);
}

#[async_std::test]
async fn failures_leave_the_window_after_window() {
    // Still in the window at 10 s - 1 ns (bucket 9 of 0..=9).
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    for _ in 0..3 {
        let _ = fail(&b).await;
    }
    clock.advance(Duration::from_secs(10) - NS);
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Broken);

    // Gone at 10 s.
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    for _ in 0..3 {
        let _ = fail(&b).await;
    }
    clock.advance(Duration::from_secs(10));
    let _ = fail(&b).await;
    assert_eq!(b.state(), State::Passing);
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures, m.failures), (1, 1, 4));
}

#[async_std::test]
async fn classifiers_decide_what_counts() {
    let clock = MockClock::new();
    let b = Breaker::new(config().min_calls(1), &clock);
    let client_fault = failure_if(|e: &u16| *e >= 500);
    let r = breaker_async_std::call_with(&b, client_fault, async { Err::<(), u16>(404) }).await;
    // The caller gets its error back untouched; the breaker saw a success.
    assert_eq!(r, Err(Error::Inner(404)));
    assert_eq!(b.metrics().successes, 1);
    let ignore = |_: &Result<(), u16>| Outcome::Ignored;
    let r = breaker_async_std::call_with(&b, ignore, async { Err::<(), u16>(503) }).await;
    assert_eq!(r, Err(Error::Inner(503)));
    let m = b.metrics();
    assert_eq!((m.ignored, m.failures, m.state), (1, 0, State::Passing));
    let r = breaker_async_std::call_with(&b, client_fault, async { Err::<(), u16>(503) }).await;
    assert_eq!(r, Err(Error::Inner(503)));
    assert_eq!(b.state(), State::Broken);
}

#[test]
fn a_full_cycle_counts_every_call_once() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        for _ in 0..4 {
            let _ = succeed(&b).await;
        }
        trip(&b).await; // 4 of 8: 50 %
        for _ in 0..3 {
            let _ = succeed(&b).await; // rejected
        }
        clock.advance(Duration::from_secs(5 + 10));
        assert_eq!(succeed(&b).await, Ok(1)); // ramp over: admitted, Passing
        assert_eq!(b.state(), State::Passing);
        let m = b.metrics();
        assert_eq!(m.call_count, 12);
        assert_eq!(
            (m.call_passing, m.call_broken, m.call_recovering_ok),
            (8, 3, 1)
        );
        assert_eq!((m.successes, m.failures, m.ignored, m.late), (5, 4, 0, 0));
        assert_eq!(m.trips, 1);
    });
}

#[test]
fn an_outcome_from_an_ended_state_is_late() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        let (tx, rx) = smol::channel::bounded::<Result<u32, &'static str>>(1);
        let mut slow = Box::pin(breaker_async_std::call(&b, async move {
            rx.recv().await.expect("sender alive")
        }));
        // Admitted in Passing at the first poll, then left waiting.
        assert!(smol::future::poll_once(slow.as_mut()).await.is_none());
        trip(&b).await;
        tx.send(Err("down")).await.expect("receiver alive");
        assert_eq!(slow.await, Err(Error::Inner("down")));
        let m = b.metrics();
        assert_eq!((m.late, m.failures, m.call_passing), (1, 4, 5));
    });
}
