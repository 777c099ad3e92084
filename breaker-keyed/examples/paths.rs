//! Runs one path N times, for instruction counts under callgrind (a count
//! that does not depend on what else the machine is doing):
//!
//! ```text
//! cargo build --profile bench -p breaker-keyed --example paths
//! valgrind --tool=callgrind target/release/examples/paths keyed-10000 100000
//! ```
//!
//! Paths: `single` (one breaker's `call`), `keyed-10` and `keyed-10000` (a
//! lookup by `&str` plus `call`, walking 10 or 10,000 `String` keys, the
//! map's default hasher), `keyed-10-siphash` and `keyed-10000-siphash` (the
//! same with std's `RandomState`), `keyed-10000-u64` (`u64` keys, default
//! hasher), the bare maps of `benches/maps.rs` with 10,000 `u64` keys and
//! std's `RandomState`: `map-papaya`, `map-hashindex` (scc), `map-dashmap`,
//! and papaya and scc's `HashIndex` with 10,000 `String` keys and foldhash:
//! `map-papaya-str`, `map-hashindex-str`. Every
//! breaker reads `CoarseClock`. Running it with N and with 2N and
//! subtracting the totals gives the instructions of N calls without the
//! setup.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::Duration;

use breaker_clock::CoarseClock;
use breaker_core::{CircuitBreaker, Config};
use breaker_keyed::{DefaultHashBuilder, KeyedBreakers};

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(3600))
}

fn keyed<S: BuildHasher>(keys: usize, hasher: S, n: u64) {
    let keys: Vec<String> = (0..keys)
        .map(|i| format!("host-{}.internal:443", (i * 7919) % keys))
        .collect();
    let map = KeyedBreakers::<String, _>::builder(config(), CoarseClock)
        .capacity(keys.len())
        .hasher(hasher)
        .build()
        .expect("valid config");
    for key in &keys {
        let _ = map.call(key.as_str(), || Ok::<u64, u64>(1));
    }
    let mut i = 0;
    for _ in 0..n {
        let key = black_box(keys[i].as_str());
        let _ = black_box(map.call(key, || Ok::<u64, u64>(black_box(1))));
        i += 1;
        if i == keys.len() {
            i = 0;
        }
    }
    assert_eq!(map.stats().evictions, 0);
}

/// Keys the application numbered itself (an upstream's index): the least a
/// lookup can cost.
fn keyed_u64(keys: u64, n: u64) {
    let map = KeyedBreakers::<u64, _>::builder(config(), CoarseClock)
        .capacity(keys as usize)
        .build()
        .expect("valid config");
    for key in 0..keys {
        let _ = map.call(&key, || Ok::<u64, u64>(1));
    }
    for i in 0..n {
        let key = black_box((i * 7919) % keys);
        let _ = black_box(map.call(&key, || Ok::<u64, u64>(black_box(1))));
    }
    assert_eq!(map.stats().evictions, 0);
}

/// A bare candidate map holding `Arc`ed breakers: the map's own lookup
/// cost, for the choice of map. `papaya`, `hashindex` and `dashmap` with
/// `u64` keys and std's `RandomState` (the first runs of `benches/maps.rs`);
/// `papaya-str` and `hashindex-str` with `String` keys and the default
/// hasher, as `benches/maps.rs` measures them now.
fn bare_map(map: &str, keys: u64, n: u64) {
    use std::sync::Arc;
    let breaker = || Arc::new(CircuitBreaker::new(config(), CoarseClock));
    let key = |i: u64| black_box((i * 7919) % keys);
    let ok = || Ok::<u64, u64>(black_box(1));
    match map {
        "papaya" => {
            let map = papaya::HashMap::new();
            (0..keys).for_each(|k| {
                map.pin().insert(k, breaker());
            });
            for i in 0..n {
                let _ = black_box(map.pin().get(&key(i)).map(|b| b.call(ok)));
            }
        }
        "hashindex" => {
            let map = scc::HashIndex::new();
            (0..keys).for_each(|k| assert!(map.insert_sync(k, breaker()).is_ok()));
            for i in 0..n {
                let _ = black_box(map.peek_with(&key(i), |_, b| b.call(ok)));
            }
        }
        "dashmap" => {
            let map = dashmap::DashMap::new();
            (0..keys).for_each(|k| {
                map.insert(k, breaker());
            });
            for i in 0..n {
                let _ = black_box(map.get(&key(i)).map(|b| b.call(ok)));
            }
        }
        "papaya-str" => {
            let map = papaya::HashMap::with_hasher(DefaultHashBuilder::default());
            let keys = str_keys(keys);
            keys.iter().for_each(|k| {
                map.pin().insert(k.clone(), breaker());
            });
            for i in 0..n {
                let k = black_box(keys[(i % keys.len() as u64) as usize].as_str());
                let _ = black_box(map.pin().get(k).map(|b| b.call(ok)));
            }
        }
        "hashindex-str" => {
            let map = scc::HashIndex::with_hasher(DefaultHashBuilder::default());
            let keys = str_keys(keys);
            keys.iter()
                .for_each(|k| assert!(map.insert_sync(k.clone(), breaker()).is_ok()));
            for i in 0..n {
                let k = black_box(keys[(i % keys.len() as u64) as usize].as_str());
                let _ = black_box(map.peek_with(k, |_, b| b.call(ok)));
            }
        }
        other => panic!("unknown map {other}"),
    }
}

fn str_keys(keys: u64) -> Vec<String> {
    (0..keys)
        .map(|i| format!("host-{}.internal:443", (i * 7919) % keys))
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "keyed-10000".into());
    let n: u64 = args
        .next()
        .map(|n| n.parse().expect("N is a number"))
        .unwrap_or(1_000_000);
    match path.as_str() {
        "single" => {
            let breaker = CircuitBreaker::new(config(), CoarseClock);
            for _ in 0..n {
                let _ = black_box(black_box(&breaker).call(|| Ok::<u64, u64>(black_box(1))));
            }
        }
        "keyed-10" => keyed(10, DefaultHashBuilder::default(), n),
        "keyed-10000" => keyed(10_000, DefaultHashBuilder::default(), n),
        "keyed-10-siphash" => keyed(10, RandomState::new(), n),
        "keyed-10000-siphash" => keyed(10_000, RandomState::new(), n),
        "keyed-10000-u64" => keyed_u64(10_000, n),
        "map-papaya" => bare_map("papaya", 10_000, n),
        "map-hashindex" => bare_map("hashindex", 10_000, n),
        "map-dashmap" => bare_map("dashmap", 10_000, n),
        "map-papaya-str" => bare_map("papaya-str", 10_000, n),
        "map-hashindex-str" => bare_map("hashindex-str", 10_000, n),
        other => panic!("unknown path {other}"),
    }
}
