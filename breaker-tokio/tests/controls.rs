//! Issue #9's operator controls through the tokio adapter, on tokio's paused
//! clock with exact timings: force_open / disable / reset with `ready()`,
//! broken-time backoff and jitter, slow calls, closure listeners, and the
//! ready-made `log` and `tracing` listeners.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_tokio::{
    CircuitBreaker, CircuitBroken, Clock, Config, Error, Listener, Mode, Nanos, State, TokioClock,
    Transition, call, call_with_timeout, ready,
};
use tokio::time::{Instant, advance, sleep, timeout};

// The ready-made listeners are this crate's re-exports when its features are
// on, and otherwise the core's own types: the dev-dependency on breaker-core
// turns on its `log` and `tracing` features, so these tests run in every
// `cargo test`, with or without `--all-features`.
#[cfg(not(feature = "log"))]
use breaker_core::LogListener;
#[cfg(not(feature = "tracing"))]
use breaker_core::TracingListener;
#[cfg(feature = "log")]
use breaker_tokio::LogListener;
#[cfg(feature = "tracing")]
use breaker_tokio::TracingListener;

use Mode::{Automatic as AUTO, Disabled, ForcedOpen};
use State::{Broken, Passing, Recovering};

const NS: Duration = Duration::from_nanos(1);
const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// Trips on its first failure: ratio 0.5 over a 10 s window, Broken 1 s, a
/// 1 s ramp, min_calls 1 and no grace period.
const fn eager() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .broken_time(Duration::from_secs(1))
        .recovery_time(Duration::from_secs(1))
        .passing_time(Duration::ZERO)
        .min_calls(1)
}

async fn fail<L: Listener>(b: &CircuitBreaker<10, L>) -> Result<(), Error<&'static str>> {
    call(b, async { Err("down") }).await
}

async fn succeed<L: Listener>(b: &CircuitBreaker<10, L>) -> Result<(), Error<&'static str>> {
    call(b, async { Ok(()) }).await
}

fn rejection(result: Result<(), Error<&'static str>>) -> CircuitBroken {
    match result {
        Err(Error::Broken(broken)) => broken,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// The breaker's clock now: tokio's paused clock.
fn now() -> Nanos {
    TokioClock::new().now()
}

fn plus(at: Nanos, d: Duration) -> Nanos {
    at.saturating_add(Nanos::from_duration(d))
}

/// Transitions heard by a [`recorder`]'s listener.
type Heard = Arc<Mutex<Vec<Transition>>>;

/// A closure listener that keeps every transition, and where to read them.
fn recorder() -> (Heard, impl Fn(Transition) + Send + Sync + 'static) {
    let heard = Heard::default();
    let sink = heard.clone();
    (heard, move |t: Transition| sink.lock().unwrap().push(t))
}

fn take(heard: &Heard) -> Vec<Transition> {
    std::mem::take(&mut *heard.lock().unwrap())
}

/// `d` rounded up to a whole millisecond: tokio's timers (and so `ready()`)
/// fire on a 1 ms grid, while the breaker's deadlines are exact to the ns.
fn ceil_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_nanos().div_ceil(1_000_000) as u64)
}

// ---- force_open ---------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn forced_open_rejects_with_no_countdown_and_ready_waits_for_the_reset() {
    let b = Arc::new(breaker_tokio::new(eager()));
    assert_eq!(succeed(&b).await, Ok(()));
    b.force_open();
    for _ in 0..3 {
        let r = rejection(succeed(&b).await);
        assert_eq!(
            (r.state(), r.mode(), r.retry_after()),
            (Broken, ForcedOpen, Duration::ZERO)
        );
        assert_eq!(r.to_string(), "circuit broken: forced open");
        advance(100 * S).await; // no automatic transition, however long
    }
    assert_eq!(
        (b.state(), b.mode(), b.retry_after()),
        (Broken, ForcedOpen, Duration::ZERO)
    );
    let m = b.metrics();
    assert_eq!((m.call_passing, m.call_broken, m.trips), (1, 3, 0));

    // No deadline: `ready` does not complete while forced open.
    let start = Instant::now();
    assert!(timeout(10 * S, ready(&*b)).await.is_err());
    assert_eq!(start.elapsed(), 10 * S);

    // A waiter checks again every 100 ms: it wakes at its first check after
    // the reset.
    let start = Instant::now();
    let waiter = tokio::spawn({
        let b = b.clone();
        async move {
            ready(&*b).await;
            Instant::now()
        }
    });
    tokio::task::yield_now().await; // its first check: forced open, sleep 100 ms
    advance(30 * MS).await;
    assert!(!waiter.is_finished());
    b.reset();
    let reset_at = Instant::now();
    let woke = waiter.await.unwrap();
    assert_eq!(woke - start, 100 * MS);
    assert_eq!(woke - reset_at, 70 * MS, "within 100 ms of the reset");
    assert_eq!((b.state(), b.mode()), (Passing, AUTO));
    assert_eq!(succeed(&b).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn forcing_open_a_broken_breaker_stops_its_countdown() {
    let b = breaker_tokio::new(eager());
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.retry_after(), S);
    b.force_open();
    assert_eq!(b.retry_after(), Duration::ZERO);
    advance(10 * S).await;
    assert_eq!((b.state(), b.mode()), (Broken, ForcedOpen));
    assert_eq!(b.metrics().trips, 1, "forcing open is not a trip");
}

// ---- disable ------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn disabled_admits_and_counts_every_call_and_never_trips() {
    let (heard, listener) = recorder();
    let b = breaker_tokio::with_listener(eager(), listener);
    b.disable();
    b.disable(); // again: nothing changes, nobody is told
    for _ in 0..20 {
        assert_eq!(fail(&b).await, Err(Error::Inner("down")));
        advance(100 * MS).await;
    }
    let hanging = std::future::pending::<Result<(), &str>>();
    assert_eq!(
        call_with_timeout(&b, S, hanging).await,
        Err(Error::Timeout),
        "a timeout is admitted and counted too"
    );
    let m = b.metrics();
    assert_eq!((m.state, m.mode, m.trips), (Passing, Disabled, 0));
    assert_eq!(
        (m.window_calls, m.window_failures, m.error_ratio),
        (21, 21, 1.0)
    );
    assert_eq!(
        (m.call_count, m.call_passing, m.call_broken, m.failures),
        (21, 21, 0, 21)
    );
    assert_eq!(b.retry_after(), Duration::ZERO);
    let start = Instant::now();
    ready(&b).await;
    assert_eq!(start.elapsed(), Duration::ZERO, "disabled is Passing");

    let heard = take(&heard);
    assert_eq!(heard.len(), 1);
    let t = heard[0];
    assert_eq!(
        (t.from, t.to, t.from_mode, t.to_mode),
        (Passing, Passing, AUTO, Disabled)
    );

    b.reset();
    assert_eq!(b.metrics().window_calls, 0, "reset starts a fresh window");
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!((b.state(), b.mode()), (Broken, AUTO));
}

// ---- backoff ------------------------------------------------------------------

/// Waits out Broken with `ready()` (checking it takes exactly the broken
/// time) and then the whole ramp, and makes the probe call that decides.
async fn recover<L: Listener>(b: &CircuitBreaker<10, L>, healthy: bool) {
    let broken = b.retry_after();
    let start = Instant::now();
    ready(b).await;
    assert_eq!(start.elapsed(), broken);
    assert_eq!(b.state(), Recovering);
    advance(S).await; // the end of the ramp: every call admitted, the first decides
    if healthy {
        assert_eq!(succeed(b).await, Ok(()));
        assert_eq!(b.state(), Passing);
    } else {
        assert_eq!(fail(b).await, Err(Error::Inner("down")));
        assert_eq!(b.state(), Broken);
    }
}

/// The broken times the listener announced.
fn broken_times(heard: &Heard) -> Vec<Duration> {
    take(heard)
        .into_iter()
        .filter(|t| t.to == Broken)
        .map(|t| t.broken_time)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn failed_recoveries_double_the_broken_time_up_to_the_cap() {
    let (heard, listener) = recorder();
    let b = breaker_tokio::with_listener(eager().broken_time_max(4 * S), listener);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    let mut broken = vec![b.retry_after()];
    for _ in 0..3 {
        recover(&b, false).await;
        broken.push(b.retry_after());
        assert_eq!(rejection(succeed(&b).await).retry_after(), b.retry_after());
    }
    assert_eq!(broken, [S, 2 * S, 4 * S, 4 * S]);
    assert_eq!(broken_times(&heard), broken);

    // Through Recovering to Passing, healthy for passing_time (0) + window
    // (10 s): the next trip starts again at broken_time.
    recover(&b, true).await;
    advance(10 * S).await;
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.retry_after(), S);
    assert_eq!(broken_times(&heard), [S]);
}

#[tokio::test(start_paused = true)]
async fn a_relapse_before_passing_is_healthy_doubles_again() {
    let (heard, listener) = recorder();
    let b = breaker_tokio::with_listener(eager().broken_time_max(8 * S), listener);
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    recover(&b, false).await;
    assert_eq!(b.retry_after(), 2 * S);
    recover(&b, true).await;
    advance(10 * S - NS).await; // 1 ns short of healthy
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.retry_after(), 4 * S);
    assert_eq!(broken_times(&heard), [S, 2 * S, 4 * S]);
    // reset() forgets the level.
    b.reset();
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    assert_eq!(b.retry_after(), S);
}

// ---- jitter -------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn jitter_spreads_the_broken_time_deterministically_and_ready_wakes_at_its_end() {
    let config = eager().jitter(0.5).jitter_seed(7);
    let (heard, listener) = recorder();
    let a = breaker_tokio::with_listener(config, listener);
    let twin = breaker_tokio::new(config);
    advance(1234 * MS).await;
    assert_eq!(fail(&a).await, Err(Error::Inner("down")));
    assert_eq!(fail(&twin).await, Err(Error::Inner("down")));
    let broken = a.retry_after();
    assert!(
        (S / 2..=3 * S / 2).contains(&broken),
        "1 s +- 50%: {broken:?}"
    );
    assert_eq!(
        twin.retry_after(),
        broken,
        "built and driven identically: the same broken time"
    );
    assert_eq!(broken_times(&heard), [broken]);
    assert_eq!(rejection(succeed(&a).await).retry_after(), broken);

    // The countdown is exact.
    advance(100 * MS).await;
    assert_eq!(a.retry_after(), broken - 100 * MS);
    assert_eq!(a.metrics().retry_after, broken - 100 * MS);

    // `ready` wakes at the deadline, on tokio's 1 ms timer grid.
    let start = Instant::now();
    ready(&a).await;
    assert_eq!(start.elapsed(), ceil_ms(broken) - 100 * MS);
    assert_eq!((a.state(), twin.state()), (Recovering, Recovering));
}

#[tokio::test(start_paused = true)]
async fn jitter_seeds_keep_a_fleet_out_of_lockstep() {
    let fleet: Vec<CircuitBreaker> = (0..8)
        .map(|seed| breaker_tokio::new(eager().jitter(0.5).jitter_seed(seed)))
        .collect();
    for b in &fleet {
        assert_eq!(fail(b).await, Err(Error::Inner("down")));
    }
    let times: BTreeSet<Duration> = fleet.iter().map(|b| b.retry_after()).collect();
    assert!(times.len() >= 2, "{times:?}");
    assert!(times.iter().all(|d| (S / 2..=3 * S / 2).contains(d)));
    let plain = breaker_tokio::new(eager());
    assert_eq!(fail(&plain).await, Err(Error::Inner("down")));
    assert_eq!(plain.retry_after(), S, "no jitter: exact");
}

// ---- slow calls -----------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_slow_success_is_ok_to_the_caller_and_a_failure_to_the_breaker() {
    let b = breaker_tokio::new(eager().min_calls(10).slow_call(100 * MS));
    let took = |d: Duration| {
        call(&b, async move {
            sleep(d).await;
            Ok::<_, &str>("answer")
        })
    };
    assert_eq!(took(100 * MS).await, Ok("answer"), "exactly the threshold");
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 0));
    assert_eq!(took(150 * MS).await, Ok("answer"));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 1));

    // The same rule with a timeout.
    let timed = |d: Duration| {
        call_with_timeout(&b, S, async move {
            sleep(d).await;
            Ok::<_, &str>("answer")
        })
    };
    assert_eq!(timed(100 * MS).await, Ok("answer"));
    assert_eq!(timed(150 * MS).await, Ok("answer"));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (2, 2));
    assert_eq!(timed(2 * S).await, Err(Error::Timeout));
    assert_eq!(b.metrics().failures, 3, "a timeout is one failure");

    // A slow error is one failure, not two.
    let slow_error = call(&b, async {
        sleep(150 * MS).await;
        Err::<(), _>("down")
    });
    assert_eq!(slow_error.await, Err(Error::Inner("down")));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (2, 4));
    assert_eq!((m.window_calls, m.window_failures), (6, 4));
    assert_eq!(m.state, Passing, "6 calls, below min_calls (10)");
}

#[tokio::test(start_paused = true)]
async fn slow_successes_trip_the_breaker() {
    let b = breaker_tokio::new(eager().min_calls(2).slow_call(100 * MS));
    for _ in 0..2 {
        let slow = call(&b, async {
            sleep(200 * MS).await;
            Ok::<_, &str>(())
        });
        assert_eq!(slow.await, Ok(()));
    }
    assert_eq!(b.state(), Broken);
    assert_eq!(b.retry_after(), S);
}

// ---- listener -------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_closure_listener_hears_every_transition_dated_on_the_paused_clock() {
    let heard = Mutex::new(Vec::new());
    let b = breaker_tokio::with_listener(eager(), |t: Transition| {
        heard.lock().unwrap().push(t);
    });
    advance(2 * S).await;
    assert_eq!(succeed(&b).await, Ok(()));
    assert!(
        heard.lock().unwrap().is_empty(),
        "the first use is no transition"
    );

    advance(500 * MS).await;
    let tripped = now();
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    // Noticed half a second late, Recovering is dated at Broken's deadline.
    advance(1500 * MS).await;
    assert_eq!(b.state(), Recovering);
    advance(S).await;
    let passed = now();
    assert_eq!(succeed(&b).await, Ok(()));
    advance(S).await;
    let forced = now();
    b.force_open();
    b.force_open();
    advance(S).await;
    let disabled = now();
    b.disable();
    advance(S).await;
    let reset = now();
    b.reset();
    b.reset(); // at the same instant: the new Passing begins 1 ns later

    let zero = Duration::ZERO;
    let heard = heard.into_inner().unwrap();
    let seen: Vec<_> = heard
        .iter()
        .map(|t| (t.from, t.to, t.from_mode, t.to_mode, t.at, t.broken_time))
        .collect();
    assert_eq!(
        seen,
        [
            (Passing, Broken, AUTO, AUTO, tripped, S),
            (Broken, Recovering, AUTO, AUTO, plus(tripped, S), zero),
            (Recovering, Passing, AUTO, AUTO, passed, zero),
            (Passing, Broken, AUTO, ForcedOpen, forced, zero),
            (Broken, Passing, ForcedOpen, Disabled, disabled, zero),
            (Passing, Passing, Disabled, AUTO, reset, zero),
            (Passing, Passing, AUTO, AUTO, plus(reset, NS), zero),
        ]
    );
    let said: Vec<String> = heard.iter().map(ToString::to_string).collect();
    assert_eq!(
        said,
        [
            "passing -> broken for 1s",
            "broken -> recovering",
            "recovering -> passing",
            "passing -> forced open",
            "forced open -> disabled",
            "disabled -> passing",
            "passing -> passing",
        ]
    );
}

// ---- LogListener ----------------------------------------------------------------

mod log_capture {
    use std::sync::{Mutex, Once};

    /// Every record logged in this test binary: (level, message).
    pub(crate) static LINES: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &log::Record<'_>) {
            let line = (record.level(), record.args().to_string());
            LINES.lock().unwrap().push(line);
        }

        fn flush(&self) {}
    }

    pub(crate) fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            log::set_logger(&Capture).expect("the only logger");
            log::set_max_level(log::LevelFilter::Info);
        });
    }

    /// The lines that name `breaker`, taken out.
    pub(crate) fn take(breaker: &str) -> Vec<(log::Level, String)> {
        let tag = format!("{breaker:?}");
        let mut lines = LINES.lock().unwrap();
        let (mine, others) = lines.drain(..).partition(|(_, line)| line.contains(&tag));
        *lines = others;
        mine
    }
}

static LOGGED: CircuitBreaker<10, LogListener> =
    breaker_tokio::with_listener(eager(), LogListener::new("upstream-log"));

#[tokio::test(start_paused = true)]
async fn the_log_listener_warns_on_trips_and_informs_otherwise() {
    log_capture::install();
    assert_eq!(LOGGED.listener().name(), "upstream-log");
    assert_eq!(fail(&LOGGED).await, Err(Error::Inner("down")));
    advance(2 * S).await;
    assert_eq!(succeed(&LOGGED).await, Ok(()));
    LOGGED.force_open();
    LOGGED.reset();
    use log::Level::{Info, Warn};
    let line = |level, t: &str| (level, format!("circuit breaker \"upstream-log\": {t}"));
    assert_eq!(
        log_capture::take("upstream-log"),
        [
            line(Warn, "passing -> broken for 1s"),
            line(Info, "broken -> recovering"),
            line(Info, "recovering -> passing"),
            line(Warn, "passing -> forced open"),
            line(Info, "forced open -> passing"),
        ]
    );
}

// ---- TracingListener --------------------------------------------------------------

mod tracing_capture {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span;

    /// An event: its level and its fields, rendered.
    pub(crate) type Event = (tracing::Level, BTreeMap<String, String>);

    /// A subscriber that keeps every event and has no spans.
    #[derive(Clone, Default)]
    pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<Event>>>);

    struct Fields(BTreeMap<String, String>);

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().into(), value.into());
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.insert(field.name().into(), format!("{value:?}"));
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
            span::Id::from_u64(1)
        }

        fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

        fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Fields(BTreeMap::new());
            event.record(&mut fields);
            let level = *event.metadata().level();
            self.0.lock().unwrap().push((level, fields.0));
        }

        fn enter(&self, _: &span::Id) {}

        fn exit(&self, _: &span::Id) {}
    }
}

#[tokio::test(start_paused = true)]
async fn the_tracing_listener_emits_warn_on_trips_and_info_otherwise() {
    let capture = tracing_capture::Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let b = breaker_tokio::with_listener(eager(), TracingListener::new("upstream-tracing"));
    assert_eq!(succeed(&b).await, Ok(()));
    let tripped = now();
    assert_eq!(fail(&b).await, Err(Error::Inner("down")));
    advance(S).await;
    assert_eq!(b.state(), Recovering);
    advance(100 * MS).await;
    let forced = now();
    b.force_open();

    // The event for a transition: its level, [from, to, from_mode, to_mode,
    // cause], its date and its broken time in ms.
    let event =
        |level: tracing::Level, [from, to, from_mode, to_mode, cause]: [&str; 5], at, ms: u64| {
            let fields = [
                ("message", "circuit breaker transition".to_string()),
                ("breaker", "upstream-tracing".into()),
                ("from", from.into()),
                ("to", to.into()),
                ("from_mode", from_mode.into()),
                ("to_mode", to_mode.into()),
                ("at_ns", Nanos::as_nanos(at).to_string()),
                ("broken_ms", ms.to_string()),
                ("cause", cause.into()),
            ];
            let fields = fields.into_iter().map(|(k, v)| (k.to_string(), v));
            (level, fields.collect())
        };
    let (warn, info) = (tracing::Level::WARN, tracing::Level::INFO);
    let events: Vec<tracing_capture::Event> = capture.0.lock().unwrap().clone();
    let (auto, forced_open) = ("automatic", "forced open");
    let recovering = plus(tripped, S);
    assert_eq!(
        events,
        [
            event(
                warn,
                ["passing", "broken", auto, auto, "machine"],
                tripped,
                1000
            ),
            event(
                info,
                ["broken", "recovering", auto, auto, "machine"],
                recovering,
                0
            ),
            event(
                warn,
                ["recovering", "broken", auto, forced_open, "operator"],
                forced,
                0
            ),
        ]
    );
}
