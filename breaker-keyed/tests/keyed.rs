//! The keyed map: breakers per key, the bound, the eviction rule and the
//! overflow breaker. Time is a `MockClock` throughout.

use std::time::Duration;

use breaker_core::{Config, Error, MockClock, Mode, State};
use breaker_keyed::{KeyedBreakers, Stats};

const BROKEN_TIME: Duration = Duration::from_secs(60);

/// Trips on the first failure, Broken for a minute, then a minute of
/// Recovering.
fn config() -> Config {
    config_with_ratio(0.5)
}

fn config_with_ratio(error_ratio: f32) -> Config {
    Config::new(error_ratio, Duration::from_secs(10))
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(BROKEN_TIME)
        .recovery_time(BROKEN_TIME)
}

fn map(clock: &MockClock, capacity: usize) -> KeyedBreakers<String, &MockClock> {
    KeyedBreakers::builder(config(), clock)
        .capacity(capacity)
        .build()
        .expect("valid config")
}

fn ok(map: &KeyedBreakers<String, &MockClock>, key: &str) {
    assert_eq!(map.call(key, || Ok::<_, ()>(())), Ok(()), "{key}");
}

fn fail(map: &KeyedBreakers<String, &MockClock>, key: &str) {
    assert_eq!(
        map.call(key, || Err::<(), _>("down")),
        Err(Error::Inner("down")),
        "{key}"
    );
}

#[test]
fn each_key_has_its_own_breaker_on_the_shared_clock() {
    let clock = MockClock::new();
    let hosts = map(&clock, 10);
    fail(&hosts, "a:80");
    ok(&hosts, "b:80");
    assert_eq!(hosts.get("a:80").state(), State::Broken);
    assert_eq!(hosts.get("b:80").state(), State::Passing);
    let rejected = hosts.call("a:80", || Ok::<_, ()>(())).unwrap_err();
    assert_eq!(rejected.broken().unwrap().retry_after(), BROKEN_TIME);
    ok(&hosts, "b:80");

    clock.advance(BROKEN_TIME);
    assert_eq!(hosts.get("a:80").state(), State::Recovering);
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts.get("b:80").metrics().successes, 2);
}

#[test]
fn a_flood_of_new_keys_stays_within_the_bound_and_leaves_a_broken_host_broken() {
    const CAPACITY: usize = 1_000;
    const KEYS: usize = 100_000;
    let clock = MockClock::new();
    let hosts = map(&clock, CAPACITY);
    fail(&hosts, "failing-host:443");
    // No handle is kept: a held handle would pin the breaker by itself.
    assert_eq!(hosts.get("failing-host:443").state(), State::Broken);

    // Fill the map, measuring what the first 1,000 keys cost in memory.
    let fill = allocation_counter::measure(|| {
        for i in 1..CAPACITY {
            ok(&hosts, &format!("host-{i}:443"));
        }
    });
    assert_eq!(hosts.len(), CAPACITY);

    let flood = allocation_counter::measure(|| {
        for i in CAPACITY..KEYS {
            let key = format!("host-{i}:443");
            ok(&hosts, &key);
            assert!(hosts.len() <= CAPACITY, "{} keys after {key}", hosts.len());
        }
    });

    // Memory: the 99,000 keys of the flood, at their peak, never held more
    // than the first 1,000 did, and left the map no bigger than it was.
    assert!(
        flood.bytes_max < fill.bytes_current as u64,
        "the flood peaked at {} bytes over a full map of {} bytes",
        flood.bytes_max,
        fill.bytes_current
    );
    assert!(flood.bytes_current <= fill.bytes_current / 10, "{flood:?}");

    // The Broken host kept its breaker: the same one, still Broken, with the
    // countdown it had.
    assert!(hosts.contains_key("failing-host:443"));
    let after = hosts.get("failing-host:443");
    assert_eq!(after.state(), State::Broken);
    assert_eq!(after.retry_after(), BROKEN_TIME);
    assert_eq!(after.metrics().trips, 1);
    let rejected = hosts
        .call("failing-host:443", || Ok::<_, ()>(()))
        .unwrap_err();
    assert!(rejected.is_broken());

    // Every key of the flood found room by evicting idle ones: none went to
    // the overflow breaker, and every key not in the map was evicted.
    let stats = hosts.stats();
    assert_eq!(stats.overflowed, 0);
    assert_eq!(stats.evictions + stats.len as u64, KEYS as u64, "{stats:?}");
    assert!(stats.len <= CAPACITY, "{stats:?}");
}

#[test]
fn two_threads_flooding_new_keys_never_exceed_the_bound() {
    const CAPACITY: usize = 100;
    let clock = MockClock::new();
    let hosts = map(&clock, CAPACITY);
    fail(&hosts, "broken:1");
    std::thread::scope(|s| {
        for t in 0..2 {
            let hosts = &hosts;
            s.spawn(move || {
                for i in 0..20_000 {
                    ok(hosts, &format!("t{t}-{i}"));
                    assert!(hosts.len() <= CAPACITY);
                }
            });
        }
    });
    assert!(hosts.len() <= CAPACITY);
    assert_eq!(hosts.get("broken:1").state(), State::Broken);
    // Every call was counted by one breaker or another: those still in the
    // map, the evicted ones and the overflow breaker. The evictions and
    // overflows add up to the keys that did not stay.
    let stats = hosts.stats();
    assert_eq!(
        stats.evictions + stats.len as u64 + stats.overflowed,
        40_000 + 1,
        "{stats:?}"
    );
}

/// The key among `keys` that is in the map, all in the map but one.
fn survivors<'a>(hosts: &KeyedBreakers<String, &MockClock>, keys: &[&'a str]) -> Vec<&'a str> {
    keys.iter()
        .copied()
        .filter(|k| hosts.contains_key(*k))
        .collect()
}

#[test]
fn the_key_unused_since_the_last_sweep_is_evicted_first() {
    let clock = MockClock::new();
    let hosts = map(&clock, 4);
    let first = ["a", "b", "c", "d"];
    for key in first {
        ok(&hosts, key);
    }
    // Full: "e" sweeps. Every breaker was used since (created), so the first
    // pass only clears their bits and the second evicts one of them.
    ok(&hosts, "e");
    let left = survivors(&hosts, &first);
    assert_eq!(left.len(), 3, "{left:?}");
    assert_eq!(hosts.stats().evictions, 1);

    // Use two of the three survivors and "e"; the third stays idle.
    let (idle, used) = (left[0], [left[1], left[2], "e"]);
    for key in used {
        ok(&hosts, key);
    }
    ok(&hosts, "f");
    assert!(
        !hosts.contains_key(idle),
        "{idle} was idle and should have gone"
    );
    for key in used {
        assert!(hosts.contains_key(key), "{key} was used and should stay");
    }
    assert_eq!(hosts.len(), 4);
    assert_eq!(hosts.stats().evictions, 2);
}

#[test]
fn broken_and_recovering_breakers_are_never_evicted_new_keys_share_the_overflow_breaker() {
    let clock = MockClock::new();
    let hosts = map(&clock, 2);
    fail(&hosts, "a");
    fail(&hosts, "b");

    // Full of Broken breakers: new keys get the shared overflow breaker.
    let c = hosts.get("c");
    assert!(c.is_overflow());
    assert!(!hosts.contains_key("c"));
    assert_eq!(hosts.len(), 2);
    // They share it: "c" failing trips it for "d" too, and not for "a"'s
    // or "b"'s own breakers (already Broken, with their own countdown).
    fail(&hosts, "c");
    let rejected = hosts.call("d", || Ok::<_, ()>(())).unwrap_err();
    assert!(rejected.is_broken());
    assert_eq!(hosts.overflow().state(), State::Broken);
    assert_eq!(hosts.overflow().metrics().trips, 1);
    assert_eq!(
        hosts.stats(),
        Stats {
            len: 2,
            capacity: 2,
            // "c" swept and found nothing; "d" came within the same bucket
            // of time and went straight to overflow.
            sweeps: 1,
            evictions: 0,
            overflowed: 3,
            config_errors: 0,
        }
    );

    // Recovering is kept too.
    clock.advance(BROKEN_TIME);
    assert_eq!(hosts.get("a").state(), State::Recovering);
    assert!(hosts.get("e").is_overflow());
    assert!(hosts.contains_key("a") && hosts.contains_key("b"));

    // Once "a" has recovered to Passing and sat idle, a new key takes its slot.
    clock.advance(BROKEN_TIME);
    ok(&hosts, "a");
    assert_eq!(hosts.get("a").state(), State::Passing);
    let f = hosts.get("f");
    assert!(!f.is_overflow());
    assert!(!hosts.contains_key("a"));
    assert!(hosts.contains_key("b") && hosts.contains_key("f"));
}

#[test]
fn a_full_map_of_broken_breakers_is_swept_once_per_bucket_not_once_per_new_key() {
    let clock = MockClock::new();
    let hosts = map(&clock, 100);
    for i in 0..100 {
        fail(&hosts, &format!("down-{i}"));
    }
    for i in 0..10_000 {
        assert!(hosts.get(&*format!("new-{i}")).is_overflow());
    }
    let stats = hosts.stats();
    assert_eq!(
        (stats.sweeps, stats.overflowed, stats.len),
        (1, 10_000, 100)
    );
    // A bucket (1 s) later, new keys sweep again (and still find nothing).
    clock.advance(Duration::from_millis(999));
    assert!(hosts.get("late").is_overflow());
    assert_eq!(hosts.stats().sweeps, 1);
    clock.advance(Duration::from_millis(1));
    assert!(hosts.get("later").is_overflow());
    assert_eq!(hosts.stats().sweeps, 2);
}

#[test]
fn a_breaker_with_a_call_in_flight_or_under_an_operator_is_not_evicted() {
    let clock = MockClock::new();
    let hosts = map(&clock, 3);
    let permit = hosts.try_acquire("in-flight").expect("passing");
    hosts.get("forced").force_open();
    hosts.get("disabled").disable();
    assert_eq!(hosts.get("disabled").mode(), Mode::Disabled);

    assert!(hosts.get("new").is_overflow());
    assert_eq!(hosts.stats().evictions, 0);

    // The call ends: its breaker is idle Passing again, and goes, once a
    // bucket of time (window / 10 = 1 s) has passed since the fruitless sweep.
    permit.success();
    assert!(
        hosts.get("new").is_overflow(),
        "no new sweep within the bucket"
    );
    clock.advance(Duration::from_secs(1));
    assert!(!hosts.get("new").is_overflow());
    assert!(!hosts.contains_key("in-flight"));
    assert!(hosts.contains_key("forced") && hosts.contains_key("disabled"));
}

#[test]
fn per_key_configs_and_invalid_ones() {
    let clock = MockClock::new();
    let hosts = KeyedBreakers::<String, _>::builder(config(), &clock)
        .config_for(|key: &String| match key.as_str() {
            "tolerant" => config_with_ratio(1.0).min_calls(3),
            "invalid" => config_with_ratio(7.0),
            _ => config(),
        })
        .build()
        .unwrap();
    fail(&hosts, "tolerant");
    assert_eq!(hosts.get("tolerant").state(), State::Passing);
    assert_eq!(hosts.get("tolerant").config().min_calls, 3);
    // An invalid per-key config is counted, and the key gets the base one.
    assert_eq!(hosts.get("invalid").config(), hosts.config());
    assert_eq!(hosts.stats().config_errors, 1);
    fail(&hosts, "invalid");
    assert_eq!(hosts.get("invalid").state(), State::Broken);
}

#[test]
fn an_invalid_base_config_is_an_error_and_capacity_zero_is_all_overflow() {
    let clock = MockClock::new();
    let err = KeyedBreakers::<String, _>::builder(config_with_ratio(0.0), &clock)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("error_ratio"), "{err}");

    let hosts = map(&clock, 0);
    assert!(hosts.get("a").is_overflow());
    assert_eq!(hosts.len(), 0);
}

#[test]
fn remove_and_for_each() {
    let clock = MockClock::new();
    let hosts = map(&clock, 2);
    fail(&hosts, "a");
    ok(&hosts, "b");
    let mut seen: Vec<(String, State)> = Vec::new();
    hosts.for_each(|key, breaker| seen.push((key.clone(), breaker.state())));
    seen.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        seen,
        [("a".into(), State::Broken), ("b".into(), State::Passing)]
    );

    // An operator removes the Broken host: its next call starts fresh.
    assert_eq!(hosts.remove("a").map(|b| b.state()), Some(State::Broken));
    assert_eq!(hosts.remove("a").map(|b| b.state()), None);
    ok(&hosts, "a");
    ok(&hosts, "c");
    assert_eq!(hosts.len(), 2);
}
