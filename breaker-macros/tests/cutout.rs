//! `#[cutout]` on plain functions, async functions and methods, with every
//! argument, driven by a mock clock.
//!
//! The macros name an adapter's `__cutout` module; each test here passes
//! `crate = <module>` to use a stand-in adapter whose clock reads a `static`
//! [`MockClock`] of its own, so tests can trip the generated breaker and move
//! time deterministically, and run in parallel without sharing a clock.

use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use breaker_core::{Config, Error, State};
use breaker_macros::{async_std_cutout, embassy_cutout, tokio_cutout};

/// A module shaped like an adapter's hidden `__cutout` module, with a clock
/// of its own.
macro_rules! fake_adapter {
    ($name:ident) => {
        mod $name {
            use breaker_core::{Clock, MockClock, Nanos};

            /// The time this adapter's breakers see.
            pub(crate) static MOCK: MockClock = MockClock::new();

            /// A zero-sized clock reading [`MOCK`], as a runtime's clock
            /// reads the runtime's time.
            #[derive(Debug)]
            pub(crate) struct TestClock;

            impl Clock for TestClock {
                fn now(&self) -> Nanos {
                    MOCK.now()
                }
            }

            /// What an adapter adds for `#[cutout]`.
            pub(crate) mod __cutout {
                pub(crate) use breaker_core;
                pub(crate) type Clock = super::TestClock;
                pub(crate) const CLOCK: Clock = super::TestClock;
            }
        }
    };
}

#[derive(Debug, PartialEq)]
enum FetchError {
    Connection,
    NotFound,
}

/// aiomisc's exception list: only connection errors count against the upstream.
fn is_connection_error(e: &FetchError) -> bool {
    matches!(e, FetchError::Connection)
}

/// Polls a future to completion; the futures here never wait on anything
/// external, so they only ever pend on [`YieldOnce`].
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Pends once, then completes: a stand-in for waiting on the network.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: core::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

fn assert_send<T: Send>(_: &T) {}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

// ---------------------------------------------------------------- sync fn

fake_adapter!(sync_clock);

static SYNC_BODY_RUNS: AtomicU32 = AtomicU32::new(0);

#[tokio_cutout(
    crate = sync_clock,
    error_ratio = 0.5,
    window = "10s",
    broken_time = "3s",
    recovery_time = "4s",
    passing_time = "1s",
    min_calls = 4,
    failure = is_connection_error,
    name = SYNC_BREAKER,
)]
fn sync_fetch(reply: Result<u32, FetchError>) -> Result<u32, FetchError> {
    SYNC_BODY_RUNS.fetch_add(1, Ordering::Relaxed);
    reply
}

#[test]
fn sync_fn_every_argument() {
    let clock = &sync_clock::MOCK;
    assert_eq!(
        SYNC_BREAKER.config(),
        Config::new(0.5, Duration::from_secs(10))
            .broken_time(Duration::from_secs(3))
            .recovery_time(Duration::from_secs(4))
            .passing_time(Duration::from_secs(1))
            .min_calls(4)
    );

    // The caller gets its own error back inside `Error::Inner`.
    assert_eq!(sync_fetch(Ok(7)), Ok(7));
    for _ in 0..3 {
        assert_eq!(
            sync_fetch(Err(FetchError::Connection)),
            Err(Error::Inner(FetchError::Connection))
        );
    }
    // `failure`: an error the predicate rejects counts as a success.
    assert_eq!(
        sync_fetch(Err(FetchError::NotFound)),
        Err(Error::Inner(FetchError::NotFound))
    );
    let m = SYNC_BREAKER.metrics();
    assert_eq!((m.successes, m.failures), (2, 3));
    // `passing_time`: 3 of 5 failed (>= 0.5, >= min_calls) but the grace runs.
    clock.advance(millis(999));
    let _ = sync_fetch(Err(FetchError::Connection));
    assert_eq!(SYNC_BREAKER.state(), State::Passing);
    clock.advance(millis(1));
    let _ = sync_fetch(Err(FetchError::Connection));
    assert_eq!(SYNC_BREAKER.state(), State::Broken);
    assert_eq!(SYNC_BREAKER.metrics().trips, 1);

    // Broken: the body does not run; `broken_time` is what is left to wait.
    let runs = SYNC_BODY_RUNS.load(Ordering::Relaxed);
    let Err(Error::Broken(rejected)) = sync_fetch(Ok(1)) else {
        panic!("a broken breaker admitted a call");
    };
    assert_eq!(rejected.retry_after(), Duration::from_secs(3));
    assert_eq!(SYNC_BODY_RUNS.load(Ordering::Relaxed), runs);

    // `recovery_time`: nothing at the start of Recovering, everything at its end.
    clock.advance(Duration::from_secs(3));
    assert_eq!(SYNC_BREAKER.state(), State::Recovering);
    assert!(matches!(sync_fetch(Ok(1)), Err(Error::Broken(_))));
    clock.advance(Duration::from_secs(4));
    assert_eq!(sync_fetch(Ok(2)), Ok(2));
    assert_eq!(SYNC_BREAKER.state(), State::Passing);
    let m = SYNC_BREAKER.metrics();
    assert_eq!((m.call_broken, m.call_recovering_failed), (1, 1));
}

fake_adapter!(ratio_clock);

#[tokio_cutout(
    crate = ratio_clock,
    error_ratio = 0.5,
    window = "1s",
    passing_time = "0s",
    min_calls = 4,
    name = RATIO_BREAKER,
)]
fn ratio_fetch(fail: bool) -> Result<(), ()> {
    if fail { Err(()) } else { Ok(()) }
}

#[test]
fn error_ratio_min_calls_and_window() {
    let clock = &ratio_clock::MOCK;
    // `min_calls`: three failures in a row are no verdict yet.
    for _ in 0..3 {
        assert_eq!(ratio_fetch(true), Err(Error::Inner(())));
    }
    assert_eq!(RATIO_BREAKER.state(), State::Passing);
    // `window`: a window later those failures are gone.
    clock.advance(Duration::from_secs(1));
    assert_eq!(RATIO_BREAKER.metrics().window_calls, 0);
    // `error_ratio`: 1 of 3 failed stays, 2 of 4 (= 0.5) trips.
    let _ = ratio_fetch(false);
    let _ = ratio_fetch(false);
    let _ = ratio_fetch(true);
    assert_eq!(RATIO_BREAKER.state(), State::Passing);
    let _ = ratio_fetch(true);
    assert_eq!(RATIO_BREAKER.state(), State::Broken);
    // `broken_time` defaults to `window`.
    assert_eq!(RATIO_BREAKER.retry_after(), Duration::from_secs(1));
}

fake_adapter!(early_clock);

#[derive(Debug, PartialEq)]
enum ParseError {
    Empty,
    Zero,
    NotANumber,
}

impl From<core::num::ParseIntError> for ParseError {
    fn from(_: core::num::ParseIntError) -> ParseError {
        ParseError::NotANumber
    }
}

#[tokio_cutout(crate = early_clock, error_ratio = 1, window = "1m", name = PARSE_BREAKER)]
fn parse_positive(text: &str) -> Result<u32, ParseError> {
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let n: u32 = text.parse()?;
    if n == 0 {
        return Err(ParseError::Zero);
    }
    Ok(n)
}

#[test]
fn early_return_and_question_mark_in_a_sync_body() {
    assert_eq!(parse_positive(""), Err(Error::Inner(ParseError::Empty)));
    assert_eq!(
        parse_positive("x"),
        Err(Error::Inner(ParseError::NotANumber))
    );
    assert_eq!(parse_positive("0"), Err(Error::Inner(ParseError::Zero)));
    assert_eq!(parse_positive("12"), Ok(12));
    // Without `failure`, every `Err` is a failure.
    let m = PARSE_BREAKER.metrics();
    assert_eq!((m.successes, m.failures), (1, 3));
    // Defaults: `passing_time` is the window (no trip yet), `min_calls` 10.
    assert_eq!(PARSE_BREAKER.state(), State::Passing);
    assert_eq!(
        PARSE_BREAKER.config(),
        Config::new(1.0, Duration::from_secs(60))
    );
}

fake_adapter!(hidden_clock);

#[tokio_cutout(
    crate = hidden_clock,
    error_ratio = 1.0,
    window = "250us",
    passing_time = "0ns",
    min_calls = 1,
)]
fn always_down() -> Result<(), &'static str> {
    Err("down")
}

#[test]
fn without_name_the_static_is_hidden_but_still_one_per_function() {
    assert_eq!(always_down(), Err(Error::Inner("down")));
    let Err(Error::Broken(rejected)) = always_down() else {
        panic!("the breaker did not trip");
    };
    assert_eq!(rejected.retry_after(), Duration::from_micros(250));
    hidden_clock::MOCK.advance(Duration::from_micros(250));
    assert_eq!(rejected.state(), State::Broken);
}

fake_adapter!(generic_clock);

#[tokio_cutout(
    crate = generic_clock,
    error_ratio = 0.5,
    window = "10ns",
    failure = |e: &FetchError| *e == FetchError::Connection,
    name = FIRST_BREAKER,
)]
fn first<T: Clone>(items: &[T]) -> Result<T, FetchError> {
    items.first().cloned().ok_or(FetchError::NotFound)
}

#[test]
fn generic_fns_share_one_breaker_and_failure_takes_a_closure() {
    assert_eq!(first(&[1, 2]), Ok(1));
    assert_eq!(first(&["a"]), Ok("a"));
    assert_eq!(first::<u8>(&[]), Err(Error::Inner(FetchError::NotFound)));
    // `failure` as a closure: NotFound is not the upstream's fault.
    let m = FIRST_BREAKER.metrics();
    assert_eq!((m.successes, m.failures), (3, 0));
    assert_eq!(FIRST_BREAKER.config().window, Duration::from_nanos(10));
}

// ---------------------------------------------------------------- async fn

fake_adapter!(async_clock);

#[async_std_cutout(
    crate = async_clock,
    error_ratio = 0.5,
    window = "2m",
    broken_time = "30s",
    recovery_time = "1h",
    passing_time = "0s",
    min_calls = 2,
    failure = is_connection_error,
    name = ASYNC_BREAKER,
)]
async fn async_fetch(reply: Result<u32, FetchError>) -> Result<u32, FetchError> {
    if reply == Ok(0) {
        return Err(FetchError::NotFound);
    }
    YieldOnce(false).await;
    reply
}

#[test]
fn async_fn_every_argument() {
    let clock = &async_clock::MOCK;
    assert_eq!(
        ASYNC_BREAKER.config(),
        Config::new(0.5, Duration::from_secs(120))
            .broken_time(Duration::from_secs(30))
            .recovery_time(Duration::from_secs(3600))
            .passing_time(Duration::ZERO)
            .min_calls(2)
    );
    // The call future is `Send` when the body is.
    let future = async_fetch(Ok(3));
    assert_send(&future);
    assert_eq!(block_on(future), Ok(3));
    // An early `return` leaves the body, not the breaker's bookkeeping.
    assert_eq!(
        block_on(async_fetch(Ok(0))),
        Err(Error::Inner(FetchError::NotFound))
    );
    assert_eq!(ASYNC_BREAKER.metrics().successes, 2);

    // Cancelled after admission: Ignored, nothing counted against the upstream.
    {
        let mut pending = pin!(async_fetch(Err(FetchError::Connection)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pending.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(ASYNC_BREAKER.metrics().ignored, 1);

    for _ in 0..2 {
        assert_eq!(
            block_on(async_fetch(Err(FetchError::Connection))),
            Err(Error::Inner(FetchError::Connection))
        );
    }
    assert_eq!(ASYNC_BREAKER.state(), State::Broken);
    let Err(Error::Broken(rejected)) = block_on(async_fetch(Ok(1))) else {
        panic!("a broken breaker admitted a call");
    };
    assert_eq!(rejected.retry_after(), Duration::from_secs(30));

    clock.advance(Duration::from_secs(30));
    assert!(matches!(
        block_on(async_fetch(Ok(1))),
        Err(Error::Broken(_))
    ));
    clock.advance(Duration::from_secs(3600));
    assert_eq!(block_on(async_fetch(Ok(5))), Ok(5));
    assert_eq!(ASYNC_BREAKER.state(), State::Passing);
}

// ---------------------------------------------------------------- methods

fake_adapter!(method_clock);

#[derive(Debug)]
struct Client {
    up: bool,
    sent: Vec<u32>,
}

impl Client {
    #[embassy_cutout(
        crate = method_clock,
        error_ratio = 0.6,
        window = "500ms",
        broken_time = "100ms",
        passing_time = "0s",
        min_calls = 2,
        name = Self::GET_BREAKER,
    )]
    fn get(&self, key: u32) -> Result<u32, FetchError> {
        if !self.up {
            return Err(FetchError::Connection);
        }
        Ok(key * 2)
    }

    #[tokio_cutout(
        crate = method_clock,
        error_ratio = 0.25,
        window = "1s",
        recovery_time = "2s",
        passing_time = "0s",
        min_calls = 1,
        failure = is_connection_error,
        name = Self::SEND_BREAKER,
    )]
    async fn send(&mut self, value: u32) -> Result<usize, FetchError> {
        YieldOnce(false).await;
        if !self.up {
            return Err(FetchError::Connection);
        }
        self.sent.push(value);
        Ok(self.sent.len())
    }

    #[tokio_cutout(crate = method_clock, error_ratio = 1, window = "1s")]
    fn label(&self, names: &[&'static str]) -> Result<&'static str, FetchError> {
        names
            .get(self.sent.len())
            .copied()
            .ok_or(FetchError::NotFound)
    }

    #[tokio_cutout(crate = method_clock, error_ratio = 1, window = "1s")]
    async fn last(&self, prefix: &str) -> Result<&u32, FetchError> {
        YieldOnce(false).await;
        self.sent
            .last()
            .filter(|_| !prefix.is_empty())
            .ok_or(FetchError::NotFound)
    }

    #[tokio_cutout(crate = method_clock, error_ratio = 1, window = "1s", min_calls = 1)]
    fn ping(self) -> Result<Client, FetchError> {
        Ok(self)
    }
}

#[test]
fn methods_get_one_breaker_each_shared_by_every_instance() {
    let clock = &method_clock::MOCK;
    let mut up = Client {
        up: true,
        sent: Vec::new(),
    };
    let down = Client {
        up: false,
        sent: Vec::new(),
    };
    assert_eq!(up.get(4), Ok(8));
    assert_eq!(down.get(4), Err(Error::Inner(FetchError::Connection)));
    assert_eq!(down.get(4), Err(Error::Inner(FetchError::Connection)));
    // 2 of 3 failed: `get`'s breaker is Broken, for every client.
    assert_eq!(Client::GET_BREAKER.state(), State::Broken);
    assert!(matches!(up.get(1), Err(Error::Broken(_))));
    assert_eq!(Client::GET_BREAKER.retry_after(), millis(100));

    // `send` has a breaker of its own, and `&mut self` bodies still mutate.
    let future = up.send(1);
    assert_send(&future);
    assert_eq!(block_on(future), Ok(1));
    assert_eq!(block_on(up.send(2)), Ok(2));
    assert_eq!(up.sent, [1, 2]);
    assert_eq!(Client::SEND_BREAKER.metrics().successes, 2);
    assert_eq!(
        Client::SEND_BREAKER.config().recovery_time,
        Duration::from_secs(2)
    );

    // Borrowed arguments and results, in sync and async methods.
    assert_eq!(up.label(&["a", "b", "c"]), Ok("c"));
    assert_eq!(block_on(up.last("x")), Ok(&2));
    assert_eq!(
        block_on(up.last("")),
        Err(Error::Inner(FetchError::NotFound))
    );

    // A by-value receiver, with a hidden static.
    let up = up.ping().unwrap();
    assert_eq!(up.sent.len(), 2);

    clock.advance(millis(100));
    assert_eq!(Client::GET_BREAKER.state(), State::Recovering);
    // The associated const always points at the same static.
    assert!(core::ptr::eq(Client::GET_BREAKER, Client::GET_BREAKER));
}

fake_adapter!(controls_clock);

#[tokio_cutout(
    crate = controls_clock,
    error_ratio = 0.5,
    window = "10s",
    broken_time = "1s",
    recovery_time = "1s",
    passing_time = "0s",
    min_calls = 1,
    broken_time_max = "4s",
    jitter = 0.25,
    slow_call = "100ms",
    name = CONTROLS_BREAKER,
)]
fn takes(d: Duration) -> Result<&'static str, ()> {
    controls_clock::MOCK.advance(d);
    Ok("done")
}

#[test]
fn backoff_jitter_and_slow_call_arguments() {
    assert_eq!(
        CONTROLS_BREAKER.config(),
        Config::new(0.5, Duration::from_secs(10))
            .broken_time(Duration::from_secs(1))
            .recovery_time(Duration::from_secs(1))
            .passing_time(Duration::ZERO)
            .min_calls(1)
            .broken_time_max(Duration::from_secs(4))
            .jitter(0.25)
            .slow_call(millis(100))
    );
    assert_eq!(takes(millis(100)), Ok("done"), "at the threshold: not slow");
    assert_eq!(CONTROLS_BREAKER.state(), State::Passing);
    assert_eq!(
        takes(millis(101)),
        Ok("done"),
        "the caller still gets its answer"
    );
    assert_eq!(CONTROLS_BREAKER.state(), State::Broken, "1 slow call of 2");
    let broken = CONTROLS_BREAKER.retry_after();
    assert!(
        (millis(750)..=millis(1250)).contains(&broken),
        "1 s +- 25%: {broken:?}"
    );
}

/// A listener with a `const` constructor, as `listener = ...` needs; counts
/// the trips it hears.
#[derive(Debug)]
struct Trips(AtomicU32);

impl Trips {
    const fn new(start: u32) -> Trips {
        Trips(AtomicU32::new(start))
    }
}

impl breaker_core::Listener for Trips {
    fn on_transition(&self, transition: breaker_core::Transition) {
        if transition.to == State::Broken {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fake_adapter!(listening);

#[tokio_cutout(
    crate = listening,
    error_ratio = 0.5,
    window = "1s",
    min_calls = 1,
    passing_time = "0s",
    name = LISTENED,
    listener = Trips::new(10)
)]
fn listened(fail: bool) -> Result<(), ()> {
    if fail { Err(()) } else { Ok(()) }
}

#[test]
fn the_listener_argument_hears_the_breakers_transitions() {
    // The static's type names the listener, so it is reachable as itself.
    let trips: &Trips = LISTENED.listener();
    assert_eq!(trips.0.load(Ordering::Relaxed), 10);
    assert_eq!(listened(false), Ok(()));
    assert_eq!(listened(true), Err(Error::Inner(())));
    assert_eq!(LISTENED.state(), State::Broken);
    assert_eq!(trips.0.load(Ordering::Relaxed), 11);
}
