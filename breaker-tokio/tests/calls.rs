//! The tokio call API under paused time: every transition with exact timings,
//! timeouts, `ready()` and cancellation.

use std::future::{Future, pending, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use breaker_tokio::{CircuitBreaker, Config, Error, State, call, call_with_timeout, ready};
use tokio::time::{Instant, advance, sleep};

const WINDOW: Duration = Duration::from_secs(4);
const BROKEN: Duration = Duration::from_secs(2);
const RECOVERY: Duration = Duration::from_secs(4);
const MS: Duration = Duration::from_millis(1);

/// error_ratio 0.5 over a 4 s window, Broken 2 s, a 4 s ramp, at least 4
/// calls for a verdict, and no grace period so a test can trip at once.
fn breaker() -> CircuitBreaker {
    breaker_tokio::new(
        Config::new(0.5, WINDOW)
            .broken_time(BROKEN)
            .recovery_time(RECOVERY)
            .passing_time(Duration::ZERO)
            .min_calls(4),
    )
}

async fn ok(b: &CircuitBreaker) -> Result<(), Error<&'static str>> {
    call(b, async { Ok(()) }).await
}

async fn fail(b: &CircuitBreaker) -> Result<(), Error<&'static str>> {
    call(b, async { Err("down") }).await
}

/// Trips `b` with 4 failures (ratio 1.0).
async fn trip(b: &CircuitBreaker) {
    for _ in 0..4 {
        assert_eq!(fail(b).await, Err(Error::Inner("down")));
    }
    assert_eq!(b.state(), State::Broken);
}

/// Polls `future` once: `Some(output)` if it completed, `None` if pending.
async fn poll_once<F: Future>(mut future: std::pin::Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn passing_breaks_when_the_ratio_is_reached() {
    let b = breaker();
    assert_eq!(ok(&b).await, Ok(()));
    assert_eq!(ok(&b).await, Ok(()));
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    // 1 failure in 3 calls: below min_calls and below the ratio.
    assert_eq!(b.state(), State::Passing);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    // 2 failures in 4 calls: 0.5 >= 0.5, Broken at once.
    assert_eq!(b.state(), State::Broken);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.trips), (2, 2, 1));
    assert_eq!(m.retry_after, BROKEN);

    // Rejected at once, without polling the callee.
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

#[tokio::test(start_paused = true)]
async fn passing_time_is_a_grace_period() {
    let b = breaker_tokio::new(
        Config::new(0.5, Duration::from_secs(10))
            .passing_time(Duration::from_secs(2))
            .min_calls(2),
    );
    fail(&b).await.unwrap_err();
    fail(&b).await.unwrap_err();
    advance(Duration::from_secs(2) - MS).await;
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), State::Passing, "still in the grace period");
    advance(MS).await;
    fail(&b).await.unwrap_err();
    assert_eq!(b.state(), State::Broken);
    assert_eq!(
        b.metrics().window_failures,
        0,
        "Broken starts a fresh window"
    );
}

#[tokio::test(start_paused = true)]
async fn broken_lasts_exactly_broken_time() {
    let b = breaker();
    trip(&b).await;
    advance(BROKEN - MS).await;
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.retry_after(), MS);
    let rejected = ok(&b).await.unwrap_err();
    assert_eq!(rejected.broken().unwrap().retry_after(), MS);
    advance(MS).await;
    assert_eq!(b.state(), State::Recovering);
    assert_eq!(b.retry_after(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn recovering_starts_at_the_deadline_even_when_noticed_later() {
    let b = breaker();
    trip(&b).await;
    // Nobody looks until 3 s after the deadline: the ramp is 3/4 done, not 0.
    advance(BROKEN + Duration::from_secs(3)).await;
    let admitted = (0..10)
        .filter(|_| b.try_acquire().map(|p| p.success()).is_ok())
        .count();
    // p = 2^(3/4) - 1 = 0.68 per attempt: 6.8 expected, the credit gives 6.
    assert_eq!(admitted, 6);
}

#[tokio::test(start_paused = true)]
async fn recovering_ramp_admits_a_growing_share() {
    let b = breaker();
    trip(&b).await;
    advance(BROKEN).await;

    // At the start of the ramp p = 0: nothing is admitted.
    let rejected = ok(&b).await.unwrap_err();
    assert_eq!(rejected.broken().unwrap().state(), State::Recovering);
    assert_eq!(rejected.broken().unwrap().retry_after(), Duration::ZERO);

    // Half way, p = 2^(1/2) - 1 = 0.414: 10 attempts admit 4.
    advance(RECOVERY / 2).await;
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

#[tokio::test(start_paused = true)]
async fn recovering_passes_on_success_after_recovery_time() {
    let b = breaker();
    trip(&b).await;
    advance(BROKEN + RECOVERY).await;
    // The ramp is over but nothing was recorded: still Recovering, all admitted.
    assert_eq!(b.state(), State::Recovering);
    assert_eq!(ok(&b).await, Ok(()));
    assert_eq!(b.state(), State::Passing);
    assert_eq!(b.metrics().trips, 1);
}

#[tokio::test(start_paused = true)]
async fn recovering_breaks_again_on_failures() {
    let b = breaker();
    trip(&b).await;
    advance(BROKEN + RECOVERY * 3 / 4).await;
    // Mid-ramp: failures of admitted calls break it again as soon as the
    // window holds min_calls calls at the ratio.
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

    // At the end of a ramp, the first recorded failure decides: Broken.
    advance(BROKEN + RECOVERY).await;
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.metrics().trips, 3);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_a_failure() {
    let b = breaker();
    let dropped = Arc::new(AtomicUsize::new(0));
    for _ in 0..4 {
        let start = Instant::now();
        let guard = DropCounter(dropped.clone());
        let result = call_with_timeout(&b, Duration::from_millis(250), async move {
            let _guard = guard;
            sleep(Duration::from_secs(1)).await;
            Ok::<_, &str>(())
        })
        .await;
        assert_eq!(result, Err(Error::Timeout));
        assert_eq!(start.elapsed(), Duration::from_millis(250));
    }
    assert_eq!(
        dropped.load(Ordering::Relaxed),
        4,
        "timed-out futures are dropped"
    );
    let m = b.metrics();
    assert_eq!((m.failures, m.trips, m.state), (4, 1, State::Broken));

    // A rejected call starts no timer and returns at once.
    let start = Instant::now();
    let rejected = call_with_timeout(&b, Duration::from_secs(1), pending::<Result<(), ()>>()).await;
    assert!(rejected.unwrap_err().is_broken());
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_call_within_its_timeout_counts_as_usual() {
    let b = breaker();
    let slow_ok = call_with_timeout(&b, Duration::from_millis(250), async {
        sleep(Duration::from_millis(249)).await;
        Ok::<_, &str>(7)
    });
    assert_eq!(slow_ok.await, Ok(7));
    let fast_err = call_with_timeout(&b, Duration::from_millis(250), async {
        Err::<(), _>("refused")
    });
    assert_eq!(fast_err.await, Err(Error::Inner("refused")));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn ready_wakes_exactly_at_the_deadline() {
    let b = breaker();

    // Passing: ready at once.
    let start = Instant::now();
    ready(&b).await;
    assert_eq!(start.elapsed(), Duration::ZERO);

    trip(&b).await;
    advance(Duration::from_millis(500)).await;
    let start = Instant::now();
    let polls = AtomicUsize::new(0);
    let mut waiting = pin!(ready(&b));
    poll_fn(|cx| {
        polls.fetch_add(1, Ordering::Relaxed);
        waiting.as_mut().poll(cx)
    })
    .await;
    assert_eq!(start.elapsed(), BROKEN - Duration::from_millis(500));
    assert_eq!(b.state(), State::Recovering);
    // One poll to start the timer, one when it fires: no polling loop.
    assert_eq!(polls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn many_waiters_wake_together() {
    let b = Arc::new(breaker());
    trip(&b).await;
    let start = Instant::now();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let b = b.clone();
            tokio::spawn(async move {
                ready(&b).await;
                Instant::now()
            })
        })
        .collect();
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap() - start, BROKEN);
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_gives_its_admission_back() {
    // Two breakers in the same place half way through the ramp: one call is
    // admitted in each. Completing it uses the admission up; dropping it
    // gives it back, so the next attempt is admitted too.
    let (kept, dropped) = (breaker(), breaker());
    for b in [&kept, &dropped] {
        trip(b).await;
    }
    advance(BROKEN + RECOVERY / 2).await;

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

#[tokio::test(start_paused = true)]
async fn a_call_dropped_before_its_first_poll_was_never_admitted() {
    let b = breaker();
    drop(call(&b, async { Ok::<_, ()>(()) }));
    assert_eq!(b.metrics().call_count, 0);
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_timed_call_is_ignored_not_a_failure() {
    let b = breaker();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        call_with_timeout(&b, Duration::from_secs(1), pending::<Result<(), ()>>()),
    )
    .await;
    assert!(cancelled.is_err(), "the outer timeout fired first");
    let m = b.metrics();
    assert_eq!((m.ignored, m.failures), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn the_full_cycle_through_the_tokio_api() {
    let b = breaker();
    let t0 = Instant::now();
    trip(&b).await;
    ready(&b).await;
    assert_eq!(t0.elapsed(), BROKEN);
    assert_eq!(b.state(), State::Recovering);
    sleep(RECOVERY).await;
    assert_eq!(ok(&b).await, Ok(()));
    assert_eq!(b.state(), State::Passing);
    let m = b.metrics();
    assert_eq!((m.trips, m.call_passing, m.call_recovering_ok), (1, 4, 1));
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}
