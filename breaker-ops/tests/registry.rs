//! The registry: names, type erasure, the listener link and the transition
//! stream.

mod support;

use std::sync::Arc;
use std::time::Duration;

use breaker_core::{CircuitBreaker, MockClock, Mode, Nanos, State, Transition};
use breaker_ops::{Event, Health, Lagged, OpsListener, RegisterError, Registry};
use futures_util::StreamExt;
use support::{CONFIG, Reporting, clock, reporting, silent, trip};

#[test]
fn a_name_is_taken_once_and_nothing_is_replaced() {
    let registry = Registry::new();
    let first = silent(clock());
    registry.register("db", first.clone()).unwrap();
    let second = silent(clock());
    trip(&second);
    let err = registry.register("db", second).unwrap_err();
    assert_eq!(err, RegisterError::Duplicate("db".into()));
    assert_eq!(
        err.to_string(),
        "a breaker named \"db\" is registered already"
    );
    // The first one is still the one registered.
    assert_eq!(registry.get("db").unwrap().metrics().state, State::Passing);
    assert_eq!(registry.breakers().len(), 1);
}

#[test]
fn bad_names_are_refused_with_the_reason() {
    let registry = Registry::new();
    let err = registry.register("a/b", silent(clock())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid breaker name \"a/b\": use only ASCII letters, digits, '_', '-' and '.'"
    );
    let err = registry.register("events", silent(clock())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid breaker name \"events\": it is reserved"
    );
    assert!(registry.breakers().is_empty());
}

#[test]
fn any_breaker_type_is_read_back_type_erased_in_name_order() {
    static CLOCK: MockClock = MockClock::new();
    static STATIC: CircuitBreaker<&MockClock, 20> = CircuitBreaker::with_buckets(CONFIG, &CLOCK);
    let registry = Registry::new();
    registry.register("zeta", &STATIC).unwrap();
    let arc = reporting(clock());
    registry.register("alpha", arc.clone()).unwrap();
    let names: Vec<_> = registry
        .breakers()
        .iter()
        .map(|b| b.name().to_owned())
        .collect();
    assert_eq!(names, ["alpha", "zeta"]);

    let zeta = registry.get("zeta").unwrap();
    assert_eq!(zeta.config(), STATIC.config());
    assert!(!zeta.reports_transitions());
    assert!(registry.get("alpha").unwrap().reports_transitions());
    assert!(registry.get("beta").is_none());

    // The controls reach the breaker itself.
    zeta.force_open();
    assert_eq!(
        (STATIC.state(), STATIC.mode()),
        (State::Broken, Mode::ForcedOpen)
    );
    assert_eq!(zeta.mode(), Mode::ForcedOpen);
    zeta.disable();
    assert_eq!(
        (STATIC.state(), STATIC.mode()),
        (State::Passing, Mode::Disabled)
    );
    zeta.reset();
    assert_eq!(STATIC.mode(), Mode::Automatic);
    assert_eq!(zeta.metrics(), STATIC.metrics());
}

#[test]
fn cutout_breakers_register_by_their_name() {
    #[breaker_tokio::cutout(error_ratio = 0.5, window = "10s", name = FETCH_USER)]
    fn fetch_user(id: u32) -> Result<u32, &'static str> {
        Ok(id)
    }
    let registry = Registry::new();
    registry.register("fetch_user", &FETCH_USER).unwrap();
    assert_eq!(fetch_user(7).unwrap(), 7);
    let m = registry.get("fetch_user").unwrap().metrics();
    assert_eq!((m.call_count, m.successes), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn cutout_breakers_with_an_ops_listener_report_their_transitions() {
    #[breaker_tokio::cutout(
        error_ratio = 0.5,
        window = "10s",
        min_calls = 1,
        passing_time = "0s",
        name = FLAKY,
        listener = breaker_ops::OpsListener::new()
    )]
    async fn flaky() -> Result<(), &'static str> {
        Err("down")
    }
    let registry = Registry::new();
    let mut events = registry.transitions();
    let entry = registry.register("flaky", &FLAKY).unwrap();
    assert!(entry.reports_transitions());
    assert!(flaky().await.is_err());
    let event = events.next().await.unwrap().unwrap();
    assert_eq!(
        (&*event.breaker, event.transition.to),
        ("flaky", State::Broken)
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(entry.snapshot().time_in_state, Some(Duration::from_secs(3)));
}

#[test]
fn one_listener_reports_to_one_registry() {
    let breaker = reporting(clock());
    Registry::new().register("db", breaker.clone()).unwrap();
    assert_eq!(breaker.listener().registered_name(), Some("db"));
    let err = Registry::new().register("other", breaker).unwrap_err();
    assert_eq!(
        err,
        RegisterError::ListenerTaken {
            name: "other".into(),
            registered_as: "db".into()
        }
    );
}

#[test]
fn time_in_state_counts_from_the_states_start_on_the_breakers_clock() {
    let clock = clock();
    let registry = Registry::new();
    let breaker = reporting(clock);
    clock.advance(Duration::from_secs(2));
    let entry = registry.register("db", breaker.clone()).unwrap();
    // Unused before registration: Passing began when it was registered.
    clock.advance(Duration::from_secs(3));
    assert_eq!(entry.snapshot().time_in_state, Some(Duration::from_secs(3)));
    trip(&breaker);
    clock.advance(Duration::from_secs(1));
    assert_eq!(entry.snapshot().time_in_state, Some(Duration::from_secs(1)));
    // Broken ends at its deadline, not when it is noticed: Recovering began
    // 5 s after the trip.
    clock.advance(Duration::from_secs(7));
    let snapshot = entry.snapshot();
    assert_eq!(snapshot.metrics.state, State::Recovering);
    assert_eq!(snapshot.time_in_state, Some(Duration::from_secs(3)));

    let quiet = registry.register("quiet", silent(clock)).unwrap();
    assert_eq!(quiet.snapshot().time_in_state, None);
}

#[tokio::test]
async fn the_stream_carries_each_transition_as_the_listener_heard_it() {
    let clock = clock();
    let registry = Registry::new();
    let mut events = registry.transitions();
    let db: Arc<Reporting> = reporting(clock);
    registry.register("db", db.clone()).unwrap();
    // A breaker without the listener is exported but not heard.
    let quiet = silent(clock);
    registry.register("quiet", quiet.clone()).unwrap();
    trip(&quiet);

    trip(&db);
    clock.advance(Duration::from_secs(5));
    assert_eq!(db.state(), State::Recovering);
    clock.advance(Duration::from_secs(1));
    db.force_open();

    let expected = [
        (
            State::Passing,
            State::Broken,
            Mode::Automatic,
            Mode::Automatic,
            0,
            5,
        ),
        (
            State::Broken,
            State::Recovering,
            Mode::Automatic,
            Mode::Automatic,
            5,
            0,
        ),
        (
            State::Recovering,
            State::Broken,
            Mode::Automatic,
            Mode::ForcedOpen,
            6,
            0,
        ),
    ];
    for (from, to, from_mode, to_mode, at, broken) in expected {
        let event: Event = events.next().await.unwrap().unwrap();
        assert_eq!(&*event.breaker, "db");
        let t: Transition = event.transition;
        assert_eq!(
            (t.from, t.to, t.from_mode, t.to_mode, t.at, t.broken_time),
            (
                from,
                to,
                from_mode,
                to_mode,
                Nanos::from_duration(Duration::from_secs(at)),
                Duration::from_secs(broken)
            )
        );
    }
}

#[tokio::test]
async fn a_slow_reader_is_told_how_many_it_missed_and_memory_stays_bounded() {
    let registry = Registry::with_event_capacity(2);
    let mut events = registry.transitions();
    let db = reporting(clock());
    registry.register("db", db.clone()).unwrap();
    for _ in 0..5 {
        db.force_open();
        db.reset();
    }
    // 10 transitions into a buffer of 2: the reader missed 8, then reads the
    // last two (force_open, reset).
    assert_eq!(events.next().await.unwrap(), Err(Lagged { missed: 8 }));
    let modes: Vec<Mode> = [events.next().await, events.next().await]
        .into_iter()
        .map(|e| e.unwrap().unwrap().transition.to_mode)
        .collect();
    assert_eq!(modes, [Mode::ForcedOpen, Mode::Automatic]);
    assert_eq!(
        Lagged { missed: 8 }.to_string(),
        "transition stream lagged: 8 transitions missed"
    );
}

#[test]
fn an_unregistered_ops_listener_drops_what_it_hears() {
    let breaker: Reporting = CircuitBreaker::with_listener(CONFIG, clock(), OpsListener::new());
    trip(&breaker);
    assert_eq!(breaker.listener().registered_name(), None);
}

#[test]
fn each_breaker_keeps_its_ten_latest_transitions() {
    let clock = clock();
    let registry = Registry::new();
    let db = reporting(clock);
    let entry = registry.register("db", db.clone()).unwrap();
    for _ in 0..6 {
        clock.advance(Duration::from_secs(1));
        db.force_open();
        clock.advance(Duration::from_secs(1));
        db.reset();
    }
    let recent = entry.recent_transitions();
    let seen: Vec<(Mode, Duration)> = recent.iter().map(|(t, ago)| (t.to_mode, *ago)).collect();
    let expected: Vec<(Mode, Duration)> = (0..10u64)
        .map(|i| {
            let mode = if i % 2 == 0 {
                Mode::ForcedOpen
            } else {
                Mode::Automatic
            };
            (mode, Duration::from_secs(9 - i))
        })
        .collect();
    assert_eq!(seen, expected);
    assert!(
        registry
            .register("quiet", silent(clock))
            .unwrap()
            .recent_transitions()
            .is_empty()
    );
}

#[tokio::test]
async fn a_forwarding_listener_reports_to_the_registry_and_passes_each_transition_on() {
    let clock = clock();
    let registry = Registry::new();
    let mut events = registry.transitions();
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let next = {
        let heard = Arc::clone(&heard);
        move |t: Transition| heard.lock().unwrap().push((t.from, t.to))
    };
    let db = Arc::new(CircuitBreaker::with_listener(
        CONFIG,
        clock,
        OpsListener::forwarding(next),
    ));
    let entry = registry.register("db", db.clone()).unwrap();
    assert!(entry.reports_transitions());

    trip(&db);
    clock.advance(Duration::from_secs(5));
    assert_eq!(db.state(), State::Recovering);

    let expected = [
        (State::Passing, State::Broken),
        (State::Broken, State::Recovering),
    ];
    assert_eq!(*heard.lock().unwrap(), expected);
    for (from, to) in expected {
        let event = events.next().await.unwrap().unwrap();
        assert_eq!(
            (&*event.breaker, event.transition.from, event.transition.to),
            ("db", from, to)
        );
    }
    assert_eq!(entry.snapshot().time_in_state, Some(Duration::ZERO));
    assert_eq!(entry.recent_transitions().len(), 2);
}

#[test]
fn sources_are_named_once_per_breaker_and_read_when_asked() {
    let registry = Registry::new();
    let entry = registry.register("db", silent(clock())).unwrap();
    assert_eq!(entry.health(), []);
    entry.add_source("fleet", || Health::Up).unwrap();
    let down = Health::Down {
        since: std::time::SystemTime::UNIX_EPOCH,
        reason: "connection refused".into(),
    };
    let reported = down.clone();
    entry
        .add_source("replica", move || reported.clone())
        .unwrap();
    // Attached through one handle, seen through the registry's.
    assert_eq!(
        registry.get("db").unwrap().health(),
        [("fleet", Health::Up), ("replica", down)]
    );

    let refused = |source: &str, reason: &'static str| RegisterError::Source {
        breaker: "db".into(),
        source: source.into(),
        reason,
    };
    assert_eq!(
        entry.add_source("fleet", || Health::Up),
        Err(refused(
            "fleet",
            "this breaker has a source of that name already"
        ))
    );
    assert_eq!(
        entry.add_source("a b", || Health::Up),
        Err(refused(
            "a b",
            "use only ASCII letters, digits, '_', '-' and '.'"
        ))
    );
    for name in ["s3", "s4", "s5", "s6", "s7", "s8"] {
        entry.add_source(name, || Health::Up).unwrap();
    }
    assert_eq!(
        entry.add_source("s9", || Health::Up),
        Err(refused("s9", "a breaker has at most 8 sources"))
    );
    assert_eq!(entry.health().len(), 8);
    assert_eq!(
        refused("s9", "a breaker has at most 8 sources").to_string(),
        "cannot attach source \"s9\" to breaker \"db\": a breaker has at most 8 sources"
    );
}
