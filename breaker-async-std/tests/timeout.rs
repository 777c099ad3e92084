//! `call_with_timeout`: a timeout is a failure and `Error::Timeout`; a call
//! that finishes in time is recorded as usual. The breaker's time is a
//! `MockClock`; the deadlines are real `async_io::Timer`s of a few
//! milliseconds, and only outcomes are asserted, never durations.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use breaker_async_std::{Config, Error, MockClock, State, breaker_core};

type Breaker<'a> = breaker_core::CircuitBreaker<&'a MockClock>;

const SHORT: Duration = Duration::from_millis(5);
const LONG: Duration = Duration::from_secs(60);

const fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(2)
        .broken_time(Duration::from_secs(5))
        .passing_time(Duration::ZERO)
}

/// Sets its flag when dropped: shows the timed-out future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_std::test]
async fn a_timeout_is_a_failure_and_error_timeout() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let hung = async move {
        let _flag = flag;
        pending::<Result<u32, &str>>().await
    };
    let r = breaker_async_std::call_with_timeout(&b, SHORT, hung).await;
    assert_eq!(r, Err(Error::Timeout));
    assert!(dropped.load(Ordering::SeqCst), "the hung call is dropped");
    let m = b.metrics();
    assert_eq!((m.failures, m.window_failures, m.successes), (1, 1, 0));
    assert_eq!((m.ignored, m.call_passing), (0, 1));
}

#[test]
fn timeouts_trip_the_breaker() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        for _ in 0..2 {
            let r =
                breaker_async_std::call_with_timeout(&b, SHORT, pending::<Result<(), ()>>()).await;
            assert!(r.unwrap_err().is_timeout());
        }
        assert_eq!(b.state(), State::Broken);
        // Rejected at once, without waiting for the timer or polling the call.
        let polled = AtomicBool::new(false);
        let r = breaker_async_std::call_with_timeout(&b, LONG, async {
            polled.store(true, Ordering::SeqCst);
            Ok::<(), ()>(())
        })
        .await;
        assert_eq!(
            r.unwrap_err().broken().map(|r| r.state()),
            Some(State::Broken)
        );
        assert!(!polled.load(Ordering::SeqCst));
        assert_eq!(b.metrics().call_broken, 1);
    });
}

#[async_std::test]
async fn a_call_in_time_is_recorded_as_usual() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    let r = breaker_async_std::call_with_timeout(&b, LONG, async { Ok::<_, &str>(7) }).await;
    assert_eq!(r, Ok(7));
    let r =
        breaker_async_std::call_with_timeout(&b, LONG, async { Err::<u32, _>("refused") }).await;
    assert_eq!(r, Err(Error::Inner("refused")));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 1));
}

#[test]
fn a_call_that_yields_and_finishes_in_time_wins() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        let r = breaker_async_std::call_with_timeout(&b, LONG, async {
            smol::future::yield_now().await;
            Ok::<_, ()>("done")
        })
        .await;
        assert_eq!(r, Ok("done"));
        assert_eq!(b.metrics().successes, 1);
    });
}

#[async_std::test]
async fn a_ready_call_beats_a_zero_timeout() {
    let clock = MockClock::new();
    let b = Breaker::new(config(), &clock);
    let r =
        breaker_async_std::call_with_timeout(&b, Duration::ZERO, async { Ok::<_, ()>(1) }).await;
    assert_eq!(r, Ok(1));
    let r =
        breaker_async_std::call_with_timeout(&b, Duration::ZERO, pending::<Result<(), ()>>()).await;
    assert_eq!(r, Err(Error::Timeout));
}

#[test]
fn a_timeout_in_recovering_breaks_again() {
    smol::block_on(async {
        let clock = MockClock::new();
        let b = Breaker::new(config(), &clock);
        for _ in 0..2 {
            let _ = breaker_async_std::call(&b, async { Err::<(), _>(()) }).await;
        }
        // Past broken_time and the whole ramp: every call is admitted and the
        // first recorded outcome decides.
        clock.advance(Duration::from_secs(5 + 10));
        assert_eq!(b.state(), State::Recovering);
        let r = breaker_async_std::call_with_timeout(&b, SHORT, pending::<Result<(), ()>>()).await;
        assert_eq!(r, Err(Error::Timeout));
        assert_eq!(b.state(), State::Broken);
        assert_eq!(b.metrics().trips, 2);
    });
}

#[test]
fn timed_calls_on_a_sync_clock_can_be_spawned() {
    fn assert_send<F: std::future::Future + Send>(_: &F) {}
    static CLOCK: MockClock = MockClock::new();
    static BREAKER: Breaker<'static> = Breaker::new(config(), &CLOCK);
    let call = breaker_async_std::call_with_timeout(&BREAKER, SHORT, async { Ok::<(), ()>(()) });
    assert_send(&call);
    let ready = breaker_async_std::ready(&BREAKER);
    assert_send(&ready);
}
