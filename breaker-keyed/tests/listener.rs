//! The map's listener: each breaker's transitions, heard with its key, on
//! the thread that made them. Time is a `MockClock` throughout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::{Config, MockClock, Mode, Nanos, State, Transition};
use breaker_keyed::{Key, KeyedBreakers};

const BROKEN_TIME: Duration = Duration::from_secs(60);

/// Trips on the first failure; Broken for a minute, then Recovering.
const CONFIG: Config = Config::new(0.5, Duration::from_secs(10))
    .min_calls(1)
    .passing_time(Duration::ZERO)
    .broken_time(BROKEN_TIME)
    .recovery_time(BROKEN_TIME);

/// What the listener heard: the key (`None`: the overflow breaker) and the
/// transition, in order.
type Heard = Arc<Mutex<Vec<(Option<String>, Transition)>>>;

fn listening(clock: &MockClock, capacity: usize) -> (KeyedBreakers<String, &MockClock>, Heard) {
    let heard = Heard::default();
    let log = Arc::clone(&heard);
    let map = KeyedBreakers::builder(CONFIG, clock)
        .capacity(capacity)
        .listener(move |key: Key<'_, String>, t| {
            log.lock().unwrap().push((key.get().cloned(), t));
        })
        .build()
        .unwrap();
    (map, heard)
}

fn fail(map: &KeyedBreakers<String, &MockClock>, key: &str) {
    let _ = map.call(key, || Err::<(), _>("down"));
}

fn heard_of(heard: &Heard) -> Vec<(Option<String>, State, State, Nanos)> {
    let heard = heard.lock().unwrap();
    heard
        .iter()
        .map(|(key, t)| (key.clone(), t.from, t.to, t.at))
        .collect()
}

#[test]
fn tripping_a_key_is_heard_once_with_that_key_and_no_other_key_is() {
    let clock = MockClock::new();
    let (hosts, heard) = listening(&clock, 10);
    assert_eq!(hosts.call("b", || Ok::<_, ()>(())), Ok(()));
    clock.advance(Duration::from_secs(1));
    fail(&hosts, "a");

    assert_eq!(
        heard_of(&heard),
        [(
            Some("a".to_owned()),
            State::Passing,
            State::Broken,
            Nanos::from_duration(Duration::from_secs(1))
        )]
    );
    let t = heard.lock().unwrap()[0].1;
    assert_eq!(
        (t.from_mode, t.to_mode, t.broken_time),
        (Mode::Automatic, Mode::Automatic, BROKEN_TIME)
    );
    assert_eq!(hosts.get("b").state(), State::Passing);

    // Time moves "a" on (noticed by the next lookup), and nothing else.
    clock.advance(BROKEN_TIME);
    assert_eq!(hosts.get("a").state(), State::Recovering);
    assert_eq!(
        heard_of(&heard)[1..],
        [(
            Some("a".to_owned()),
            State::Broken,
            State::Recovering,
            Nanos::from_duration(Duration::from_secs(61))
        )]
    );
    assert!(hosts.get("a").listener().is_heard());
}

#[test]
fn the_overflow_breaker_is_heard_as_key_overflow() {
    let clock = MockClock::new();
    // Room for one key; once it is Broken, new keys share the overflow breaker.
    let (hosts, heard) = listening(&clock, 1);
    fail(&hosts, "a");
    fail(&hosts, "b");
    assert!(hosts.get("b").is_overflow());
    assert_eq!(
        heard_of(&heard),
        [
            (
                Some("a".to_owned()),
                State::Passing,
                State::Broken,
                Nanos::ZERO
            ),
            (None, State::Passing, State::Broken, Nanos::ZERO),
        ]
    );
    // The overflow breaker is told apart in a log line too.
    let line = |key: Key<'_, String>| format!("host {key}: {}", heard.lock().unwrap()[0].1);
    assert_eq!(
        line(Key::Overflow),
        "host (overflow): passing -> broken for 60s"
    );
    assert_eq!(
        line(Key::Of(&"a".to_owned())),
        "host a: passing -> broken for 60s"
    );
}

#[test]
fn operator_actions_on_a_key_are_heard_too() {
    let clock = MockClock::new();
    let (hosts, heard) = listening(&clock, 10);
    hosts.get("a").force_open();
    hosts.get("a").reset();
    let modes: Vec<(Option<String>, Mode, Mode)> = heard
        .lock()
        .unwrap()
        .iter()
        .map(|(key, t)| (key.clone(), t.from_mode, t.to_mode))
        .collect();
    assert_eq!(
        modes,
        [
            (Some("a".to_owned()), Mode::Automatic, Mode::ForcedOpen),
            (Some("a".to_owned()), Mode::ForcedOpen, Mode::Automatic),
        ]
    );
}

#[test]
fn without_a_listener_breakers_are_not_hooked() {
    let clock = MockClock::new();
    let hosts = KeyedBreakers::<String, _>::builder(CONFIG, &clock)
        .build()
        .unwrap();
    fail(&hosts, "a");
    assert_eq!(hosts.get("a").state(), State::Broken);
    assert!(!hosts.get("a").listener().is_heard());
    assert!(!hosts.overflow().listener().is_heard());
}
