//! Cancel safety: a call future dropped before it completes is `Ignored`, and
//! in Recovering its admission goes back to the ramp.

use std::future::pending;
use std::pin::pin;
use std::time::Duration;

use breaker_async_std::{Config, Error, MockClock, State, breaker_core};

type Breaker<'a> = breaker_core::CircuitBreaker<&'a MockClock>;

const fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(4)
        .broken_time(Duration::from_secs(5))
        .recovery_time(Duration::from_secs(10))
        .passing_time(Duration::ZERO)
}

async fn succeed(b: &Breaker<'_>) -> Result<(), Error<()>> {
    breaker_async_std::call(b, async { Ok(()) }).await
}

/// Trips the breaker, then moves to half way through the ramp (p = 0.414 per
/// attempt) and spends two rejected attempts, so the credit is 0.83 and the
/// next attempt is admitted.
async fn half_way_through_the_ramp(clock: &MockClock, b: &Breaker<'_>) {
    for _ in 0..4 {
        let _ = breaker_async_std::call(b, async { Err::<(), ()>(()) }).await;
    }
    assert_eq!(b.state(), State::Broken);
    clock.advance(Duration::from_secs(5 + 5));
    assert!(succeed(b).await.unwrap_err().is_broken());
    assert!(succeed(b).await.unwrap_err().is_broken());
}

#[async_std::test]
async fn a_dropped_call_in_recovering_gives_its_admission_back() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    half_way_through_the_ramp(&clock, &b).await;
    {
        let mut call = pin!(breaker_async_std::call(&b, pending::<Result<(), ()>>()));
        // The third attempt is admitted at the first poll, then cancelled.
        assert!(smol::future::poll_once(call.as_mut()).await.is_none());
        assert_eq!(b.metrics().call_recovering_ok, 1);
    }
    let m = b.metrics();
    // The four failures are the ones that tripped the breaker.
    assert_eq!((m.ignored, m.failures, m.successes), (1, 4, 0));
    // Credit 0.24 + 1 given back + 0.41: admitted. Without the give-back it
    // would be 0.66, a rejection.
    assert_eq!(succeed(&b).await, Ok(()));
    let m = b.metrics();
    assert_eq!((m.call_recovering_ok, m.call_recovering_failed), (2, 2));
    assert_eq!(m.state, State::Recovering);
}

#[test]
fn a_dropped_timed_call_in_recovering_gives_its_admission_back() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        half_way_through_the_ramp(&clock, &b).await;
        {
            let call = breaker_async_std::call_with_timeout(
                &b,
                Duration::from_secs(60),
                pending::<Result<(), ()>>(),
            );
            let mut call = pin!(call);
            assert!(smol::future::poll_once(call.as_mut()).await.is_none());
        }
        let m = b.metrics();
        assert_eq!((m.ignored, m.failures), (1, 4));
        assert_eq!(succeed(&b).await, Ok(()));
    });
}

#[test]
fn a_call_cancelled_by_a_race_is_ignored() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        let slow = breaker_async_std::call(&b, pending::<Result<(), ()>>());
        // The other branch wins; the call is dropped mid-flight.
        let winner = smol::future::or(async { Some(slow.await) }, async { None }).await;
        assert_eq!(winner, None);
        let m = b.metrics();
        assert_eq!((m.call_passing, m.ignored, m.window_calls), (1, 1, 0));
        assert_eq!(m.state, State::Passing);
    });
}

#[async_std::test]
async fn a_call_never_polled_takes_no_admission() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    drop(breaker_async_std::call(&b, async { Ok::<(), ()>(()) }));
    drop(breaker_async_std::call_with_timeout(
        &b,
        Duration::from_secs(1),
        async { Ok::<(), ()>(()) },
    ));
    let m = b.metrics();
    assert_eq!((m.call_count, m.ignored), (0, 0));
}

#[async_std::test]
async fn a_cancelled_async_std_task_is_ignored() {
    static CLOCK: MockClock = MockClock::new();
    static BREAKER: breaker_core::CircuitBreaker<&MockClock> =
        breaker_core::CircuitBreaker::new(config(), &CLOCK);
    let (tx, rx) = async_std::channel::bounded::<()>(1);
    let task = async_std::task::spawn(async move {
        breaker_async_std::call(&BREAKER, async move {
            // Tells the test it was admitted, then hangs.
            tx.send(()).await.expect("test alive");
            pending::<Result<(), ()>>().await
        })
        .await
    });
    rx.recv().await.expect("the call was admitted");
    assert_eq!(task.cancel().await, None);
    let m = BREAKER.metrics();
    assert_eq!((m.call_passing, m.ignored, m.failures), (1, 1, 0));
}
