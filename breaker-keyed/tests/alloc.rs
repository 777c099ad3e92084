//! Allocations per call for a key already in the map: exactly zero.
//!
//! `allocation-counter` counts the allocations of the measuring thread; each
//! check runs a path 1,000 times and asserts the exact count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use allocation_counter::measure;
use breaker_core::{Config, MockClock, State};
use breaker_keyed::KeyedBreakers;

const CALLS: usize = 1_000;

fn allocations(mut f: impl FnMut()) -> u64 {
    measure(|| {
        for _ in 0..CALLS {
            f();
        }
    })
    .count_total
}

#[test]
fn calls_for_existing_keys_do_not_allocate() {
    let clock = MockClock::new();
    let hosts = KeyedBreakers::<String, _>::builder(config(), &clock)
        .capacity(100)
        .build()
        .unwrap();
    check(&hosts);
}

/// A map with a listener: its breakers are hooked, and a call that makes no
/// transition does not touch the hook.
#[test]
fn calls_for_existing_keys_of_a_listening_map_do_not_allocate() {
    let clock = MockClock::new();
    let heard = AtomicUsize::new(0);
    let heard: &'static AtomicUsize = Box::leak(Box::new(heard));
    let hosts = KeyedBreakers::<String, _>::builder(config(), &clock)
        .capacity(100)
        .listener(|_, _| {
            heard.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    check(&hosts);
    assert_eq!(heard.load(Ordering::Relaxed), 1, "broken:443 tripped once");
}

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(1)
        .passing_time(Duration::ZERO)
}

fn check(hosts: &KeyedBreakers<String, &MockClock>) {
    let keys: Vec<String> = (0..10).map(|i| format!("host-{i}:443")).collect();
    for key in &keys {
        assert_eq!(hosts.call(key.as_str(), || Ok::<_, ()>(())), Ok(()));
    }
    let _ = hosts.call("broken:443", || Err::<(), _>(()));
    assert_eq!(hosts.get("broken:443").state(), State::Broken);

    let mut i = 0;
    let mut next = || {
        i = (i + 1) % keys.len();
        keys[i].as_str()
    };
    assert_eq!(
        allocations(|| assert_eq!(hosts.call(next(), || Ok::<_, ()>(1)), Ok(1))),
        0,
        "call, success"
    );
    assert_eq!(
        allocations(|| assert!(hosts.call("broken:443", || Ok::<_, ()>(1)).is_err())),
        0,
        "call, rejection"
    );
    assert_eq!(
        allocations(|| hosts.try_acquire(next()).expect("passing").success()),
        0,
        "try_acquire + success"
    );
    assert_eq!(
        allocations(|| assert_eq!(hosts.get(next()).state(), State::Passing)),
        0,
        "get"
    );

    // The control: a new key does allocate (its breaker, its key), so the
    // counter sees this thread.
    let mut n = 0;
    assert!(
        allocations(|| {
            n += 1;
            let _ = hosts.call(&*format!("new-{n}"), || Ok::<_, ()>(()));
        }) > 0
    );
}
