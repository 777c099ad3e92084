//! `ready()`: at once when the breaker is not Broken, at the broken deadline
//! when it is.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use breaker_async_std::{Config, MockClock, State, breaker_core};

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(1)
        .broken_time(Duration::from_secs(5))
        .passing_time(Duration::ZERO)
}

/// Trips `b` with one failure. Checks the trip counter, not the state: on a
/// `CoarseClock` breaker Broken for 20 ms, a descheduled test thread could find
/// it Recovering already.
async fn trip<C: breaker_core::Clock>(b: &breaker_core::CircuitBreaker<C>) {
    let _ = breaker_async_std::call(b, async { Err::<(), _>("down") }).await;
    assert_eq!(b.metrics().trips, 1);
}

/// Whether `fut` completes at its first poll.
async fn completes_at_once(fut: impl Future<Output = ()>) -> bool {
    smol::future::poll_once(pin!(fut)).await.is_some()
}

#[async_std::test]
async fn ready_completes_at_once_when_passing() {
    let clock = MockClock::new();
    let b = breaker_core::CircuitBreaker::new(config(), &clock);
    assert!(completes_at_once(breaker_async_std::ready(&b)).await);
    assert_eq!(b.metrics().call_count, 0, "ready() takes no admission");
}

#[test]
fn ready_completes_at_once_when_recovering() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = breaker_core::CircuitBreaker::new(config(), &clock);
        trip(&b).await;
        clock.advance(Duration::from_secs(5));
        assert!(completes_at_once(breaker_async_std::ready(&b)).await);
        assert_eq!(b.state(), State::Recovering);
    });
}

#[async_std::test]
async fn ready_waits_while_broken() {
    let clock = MockClock::new();
    let b = breaker_core::CircuitBreaker::new(config(), &clock);
    trip(&b).await;
    assert_eq!(b.state(), State::Broken);
    assert!(!completes_at_once(breaker_async_std::ready(&b)).await);
    // 1 ns left: the first timer fires at once, but the frozen clock still
    // reads Broken. ready() must then wait on a new timer, not spin.
    clock.advance(Duration::from_secs(5) - Duration::from_nanos(1));
    assert!(!completes_at_once(breaker_async_std::ready(&b)).await);
}

#[test]
fn ready_rechecks_the_breakers_clock_when_its_timer_fires() {
    smol::block_on(async {
        // A 5 ms broken time, so the first real timer is 5 ms long.
        let clock = MockClock::new();
        let b = breaker_core::CircuitBreaker::new(
            config().broken_time(Duration::from_millis(5)),
            &clock,
        );
        trip(&b).await;
        let mut ready = pin!(breaker_async_std::ready(&b));
        assert!(smol::future::poll_once(ready.as_mut()).await.is_none());
        // The breaker's time moves on by hand; the pending timer then wakes
        // ready(), which finds the breaker Recovering.
        clock.advance(Duration::from_millis(5));
        ready.await;
        assert_eq!(b.state(), State::Recovering);
    });
}

#[async_std::test]
async fn ready_completes_after_the_deadline_on_std_clock() {
    static BREAKER: breaker_async_std::CircuitBreaker = breaker_async_std::new(
        Config::new(0.5, Duration::from_millis(100))
            .min_calls(1)
            .broken_time(Duration::from_millis(20))
            .passing_time(Duration::ZERO),
    );
    trip(&BREAKER).await;
    breaker_async_std::ready(&BREAKER).await;
    assert_ne!(BREAKER.state(), State::Broken);
    assert_eq!(BREAKER.retry_after(), Duration::ZERO);
}

#[test]
fn ready_completes_after_the_deadline_on_std_clock_under_smol() {
    smol::block_on(async {
        let b = breaker_async_std::try_new(
            Config::new(0.5, Duration::from_millis(100))
                .min_calls(1)
                .broken_time(Duration::from_millis(20))
                .passing_time(Duration::ZERO),
        )
        .expect("valid config");
        trip(&b).await;
        breaker_async_std::ready(&b).await;
        assert_eq!(b.state(), State::Recovering);
    });
}
