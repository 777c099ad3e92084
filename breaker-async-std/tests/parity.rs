//! breaker-tokio's call tests (`breaker-tokio/tests/calls.rs`), scenario for
//! scenario, with the same configuration and the same expected numbers. Where
//! tokio's paused clock moves the breaker's time, a `MockClock` does here;
//! where tokio asserts virtual durations (async-io has no virtual time), this
//! file asserts outcomes only.

use std::future::pending;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use breaker_async_std::{
    Config, Error, MockClock, State, breaker_core, call, call_with_timeout, ready,
};
use smol::future::poll_once;

type Breaker<'a> = breaker_core::CircuitBreaker<&'a MockClock>;

const WINDOW: Duration = Duration::from_secs(4);
const BROKEN: Duration = Duration::from_secs(2);
const RECOVERY: Duration = Duration::from_secs(4);
const MS: Duration = Duration::from_millis(1);

const fn config() -> Config {
    Config::new(0.5, WINDOW)
        .broken_time(BROKEN)
        .recovery_time(RECOVERY)
        .passing_time(Duration::ZERO)
        .min_calls(4)
}

fn breaker(clock: &MockClock) -> Breaker<'_> {
    Breaker::new(config(), clock)
}

async fn ok(b: &Breaker<'_>) -> Result<(), Error<&'static str>> {
    call(b, async { Ok(()) }).await
}

async fn fail(b: &Breaker<'_>) -> Result<(), Error<&'static str>> {
    call(b, async { Err("down") }).await
}

async fn trip(b: &Breaker<'_>) {
    for _ in 0..4 {
        assert_eq!(fail(b).await, Err(Error::Inner("down")));
    }
    assert_eq!(b.state(), State::Broken);
}

#[async_std::test]
async fn passing_breaks_when_the_ratio_is_reached() {
    let clock = MockClock::new();
    let b = breaker(&clock);
    assert_eq!(ok(&b).await, Ok(()));
    assert_eq!(ok(&b).await, Ok(()));
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.state(), State::Passing);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.state(), State::Broken);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.trips), (2, 2, 1));
    assert_eq!(m.retry_after, BROKEN);

    let polled = AtomicUsize::new(0);
    let rejected = call(&b, async {
        polled.fetch_add(1, Ordering::Relaxed);
        Ok::<_, ()>(())
    })
    .await
    .unwrap_err();
    assert_eq!(polled.load(Ordering::Relaxed), 0);
    let broken = rejected.broken().copied().unwrap();
    assert_eq!(broken.state(), State::Broken);
    assert_eq!(broken.retry_after(), BROKEN);
    assert_eq!(b.metrics().call_broken, 1);
}

#[test]
fn passing_time_is_a_grace_period() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(
            Config::new(0.5, Duration::from_secs(10))
                .passing_time(Duration::from_secs(2))
                .min_calls(2),
            &clock,
        );
        fail(&b).await.unwrap_err();
        fail(&b).await.unwrap_err();
        clock.advance(Duration::from_secs(2) - MS);
        fail(&b).await.unwrap_err();
        assert_eq!(b.state(), State::Passing, "still in the grace period");
        clock.advance(MS);
        fail(&b).await.unwrap_err();
        assert_eq!(b.state(), State::Broken);
        assert_eq!(
            b.metrics().window_failures,
            0,
            "Broken starts a fresh window"
        );
    });
}

#[async_std::test]
async fn broken_lasts_exactly_broken_time() {
    let clock = MockClock::new();
    let b = breaker(&clock);
    trip(&b).await;
    clock.advance(BROKEN - MS);
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.retry_after(), MS);
    let rejected = ok(&b).await.unwrap_err();
    assert_eq!(rejected.broken().unwrap().retry_after(), MS);
    clock.advance(MS);
    assert_eq!(b.state(), State::Recovering);
    assert_eq!(b.retry_after(), Duration::ZERO);
}

#[test]
fn recovering_starts_at_the_deadline_even_when_noticed_later() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = breaker(&clock);
        trip(&b).await;
        clock.advance(BROKEN + Duration::from_secs(3));
        let admitted = (0..10)
            .filter(|_| b.try_acquire().map(|p| p.success()).is_ok())
            .count();
        // p = 2^(3/4) - 1 = 0.68 per attempt: 6.8 expected, the credit gives 6.
        assert_eq!(admitted, 6);
    });
}

#[async_std::test]
async fn recovering_ramp_admits_a_growing_share() {
    let clock = MockClock::new();
    let b = breaker(&clock);
    trip(&b).await;
    clock.advance(BROKEN);
    let rejected = ok(&b).await.unwrap_err();
    assert_eq!(rejected.broken().unwrap().state(), State::Recovering);
    assert_eq!(rejected.broken().unwrap().retry_after(), Duration::ZERO);

    clock.advance(RECOVERY / 2);
    let mut admitted = 0;
    for _ in 0..10 {
        match ok(&b).await {
            Ok(()) => admitted += 1,
            Err(e) => assert_eq!(e.broken().unwrap().state(), State::Recovering),
        }
    }
    assert_eq!(admitted, 4);
    let m = b.metrics();
    assert_eq!(m.state, State::Recovering);
    assert_eq!((m.call_recovering, m.call_recovering_ok), (11, 4));
    assert_eq!(m.window_calls, 4);
}

#[test]
fn recovering_passes_on_success_after_recovery_time() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = breaker(&clock);
        trip(&b).await;
        clock.advance(BROKEN + RECOVERY);
        assert_eq!(b.state(), State::Recovering);
        assert_eq!(ok(&b).await, Ok(()));
        assert_eq!(b.state(), State::Passing);
        assert_eq!(b.metrics().trips, 1);
    });
}

#[async_std::test]
async fn recovering_breaks_again_on_failures() {
    let clock = MockClock::new();
    let b = breaker(&clock);
    trip(&b).await;
    clock.advance(BROKEN + RECOVERY * 3 / 4);
    let mut failures = 0;
    while b.state() == State::Recovering {
        if let Err(Error::Inner(_)) = fail(&b).await {
            failures += 1;
        }
    }
    assert_eq!(failures, 4);
    let m = b.metrics();
    assert_eq!(
        (m.state, m.trips, m.retry_after),
        (State::Broken, 2, BROKEN)
    );

    clock.advance(BROKEN + RECOVERY);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.metrics().trips, 3);
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_timeout_is_a_failure() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = breaker(&clock);
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..4 {
            let guard = DropCounter(dropped.clone());
            let result = call_with_timeout(&b, Duration::from_millis(5), async move {
                let _guard = guard;
                pending::<Result<(), &str>>().await
            })
            .await;
            assert_eq!(result, Err(Error::Timeout));
        }
        assert_eq!(
            dropped.load(Ordering::Relaxed),
            4,
            "timed-out futures are dropped"
        );
        let m = b.metrics();
        assert_eq!((m.failures, m.trips, m.state), (4, 1, State::Broken));

        // A rejected call starts no timer: it completes at its first poll.
        let rejected = pin!(call_with_timeout(
            &b,
            Duration::from_secs(60),
            pending::<Result<(), ()>>()
        ));
        let rejected = poll_once(rejected).await.expect("completes at once");
        assert!(rejected.unwrap_err().is_broken());
    });
}

#[async_std::test]
async fn a_call_within_its_timeout_counts_as_usual() {
    let clock = MockClock::new();
    let b = breaker(&clock);
    let slow_ok = call_with_timeout(&b, Duration::from_secs(60), async {
        async_std::task::sleep(MS).await;
        Ok::<_, &str>(7)
    });
    assert_eq!(slow_ok.await, Ok(7));
    let fast_err = call_with_timeout(&b, Duration::from_secs(60), async {
        Err::<(), _>("refused")
    });
    assert_eq!(fast_err.await, Err(Error::Inner("refused")));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 1));
}

#[test]
fn ready_completes_at_once_unless_broken_and_at_the_deadline_when_broken() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = breaker(&clock);
        assert!(
            poll_once(pin!(ready(&b))).await.is_some(),
            "Passing: at once"
        );
        trip(&b).await;
        assert!(poll_once(pin!(ready(&b))).await.is_none(), "Broken: waits");
        clock.advance(BROKEN);
        assert!(
            poll_once(pin!(ready(&b))).await.is_some(),
            "Recovering: at once"
        );
    });
}

#[async_std::test]
async fn many_waiters_wake_together() {
    // async-io timers run on real time: a breaker on the default (real) clock, Broken for 20 ms.
    let b = Arc::new(breaker_async_std::new(
        Config::new(0.5, Duration::from_millis(100))
            .broken_time(Duration::from_millis(20))
            .passing_time(Duration::ZERO)
            .min_calls(4),
    ));
    for _ in 0..4 {
        let _ = call(&*b, async { Err::<(), _>("down") }).await;
    }
    // The trip counter, not the state: 20 ms may pass on a loaded machine.
    assert_eq!(b.metrics().trips, 1);
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let b = b.clone();
            async_std::task::spawn(async move {
                ready(&*b).await;
                b.state()
            })
        })
        .collect();
    for waiter in waiters {
        assert_eq!(waiter.await, State::Recovering);
    }
}

#[async_std::test]
async fn a_dropped_call_gives_its_admission_back() {
    let (kept_clock, dropped_clock) = (MockClock::new(), MockClock::new());
    let (kept, dropped) = (breaker(&kept_clock), breaker(&dropped_clock));
    for b in [&kept, &dropped] {
        trip(b).await;
    }
    kept_clock.advance(BROKEN + RECOVERY / 2);
    dropped_clock.advance(BROKEN + RECOVERY / 2);

    let mut rejections = 0;
    let admitted = loop {
        let mut fut = Box::pin(call(&dropped, pending::<Result<(), ()>>()));
        match poll_once(fut.as_mut()).await {
            None => break fut,
            Some(Err(Error::Broken(_))) => rejections += 1,
            Some(other) => panic!("unexpected {other:?}"),
        }
    };
    for _ in 0..=rejections {
        let _ = ok(&kept).await;
    }
    assert_eq!(kept.metrics().call_recovering_ok, 1);
    assert_eq!(dropped.metrics().call_recovering_ok, 1);

    drop(admitted);
    let m = dropped.metrics();
    assert_eq!(
        (m.ignored, m.successes, m.failures),
        (1, 0, 4),
        "4 from the trip"
    );
    assert_eq!(m.window_calls, 0);

    assert!(ok(&dropped).await.is_ok(), "the admission came back");
    assert!(ok(&kept).await.is_err(), "no admission to spare");
}

#[test]
fn a_call_dropped_before_its_first_poll_was_never_admitted() {
    let clock = MockClock::new();
    let b = breaker(&clock);
    drop(call(&b, async { Ok::<_, ()>(()) }));
    assert_eq!(b.metrics().call_count, 0);
}

#[async_std::test]
async fn cancelling_a_timed_call_is_ignored_not_a_failure() {
    let clock = MockClock::new();
    let b = breaker(&clock);
    let cancelled = async_std::future::timeout(
        Duration::from_millis(5),
        call_with_timeout(&b, Duration::from_secs(60), pending::<Result<(), ()>>()),
    )
    .await;
    assert!(cancelled.is_err(), "the outer timeout fired first");
    let m = b.metrics();
    assert_eq!((m.ignored, m.failures), (1, 0));
}

#[test]
fn the_full_cycle_through_the_async_io_api() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = breaker(&clock);
        trip(&b).await;
        clock.advance(BROKEN);
        ready(&b).await;
        assert_eq!(b.state(), State::Recovering);
        clock.advance(RECOVERY);
        assert_eq!(ok(&b).await, Ok(()));
        assert_eq!(b.state(), State::Passing);
        let m = b.metrics();
        assert_eq!((m.trips, m.call_passing, m.call_recovering_ok), (1, 4, 1));
    });
}
