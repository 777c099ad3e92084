//! Which concurrent map to keep breakers in: ns per keyed lookup plus one
//! Passing `call`, for each candidate map, on 1 and 2 threads, with 10 and
//! 10,000 keys. The map that wins is the one `KeyedBreakers` uses (see the
//! README's "Choosing the map" for the run and the reasons).
//!
//! Every candidate holds the same value, an `Arc` of a breaker on
//! `CoarseClock` (the std adapters' clock), keyed by `String`s like
//! `host-123.internal:443` looked up by `&str`, hashed with
//! `KeyedBreakers`' default hasher (foldhash, seeded per map). Each thread
//! walks the keys in a shuffled order, starting at its own offset.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use breaker_clock::CoarseClock;
use breaker_core::{CircuitBreaker, Config};
use breaker_keyed::DefaultHashBuilder as Hasher;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "support/walk.rs"]
mod walk;
use walk::{shuffled, two_threads};

type Breaker = Arc<CircuitBreaker<CoarseClock>>;

fn breaker() -> Breaker {
    Arc::new(CircuitBreaker::new(
        Config::new(0.5, Duration::from_secs(3600)),
        CoarseClock,
    ))
}

/// A map that can find a breaker by key, as each candidate does it.
trait Candidate: Sync {
    fn with_keys(keys: &[String]) -> Self;
    fn call(&self, key: &str) -> bool;
}

struct Papaya(papaya::HashMap<String, Breaker, Hasher>);
impl Candidate for Papaya {
    fn with_keys(keys: &[String]) -> Self {
        let map = papaya::HashMap::with_hasher(Hasher::default());
        keys.iter().for_each(|k| {
            map.pin().insert(k.clone(), breaker());
        });
        Papaya(map)
    }
    fn call(&self, key: &str) -> bool {
        let map = self.0.pin();
        let b = map.get(key).expect("key present");
        b.call(|| Ok::<u64, u64>(black_box(1))).is_ok()
    }
}

struct Dash(dashmap::DashMap<String, Breaker, Hasher>);
impl Candidate for Dash {
    fn with_keys(keys: &[String]) -> Self {
        let map = dashmap::DashMap::with_hasher(Hasher::default());
        keys.iter()
            .for_each(|k| drop(map.insert(k.clone(), breaker())));
        Dash(map)
    }
    fn call(&self, key: &str) -> bool {
        let b = self.0.get(key).expect("key present");
        b.call(|| Ok::<u64, u64>(black_box(1))).is_ok()
    }
}

struct SccMap(scc::HashMap<String, Breaker, Hasher>);
impl Candidate for SccMap {
    fn with_keys(keys: &[String]) -> Self {
        let map = scc::HashMap::with_hasher(Hasher::default());
        keys.iter()
            .for_each(|k| assert!(map.insert_sync(k.clone(), breaker()).is_ok()));
        SccMap(map)
    }
    fn call(&self, key: &str) -> bool {
        self.0
            .read_sync(key, |_, b| b.call(|| Ok::<u64, u64>(black_box(1))).is_ok())
            .expect("key present")
    }
}

struct SccIndex(scc::HashIndex<String, Breaker, Hasher>);
impl Candidate for SccIndex {
    fn with_keys(keys: &[String]) -> Self {
        let map = scc::HashIndex::with_hasher(Hasher::default());
        keys.iter()
            .for_each(|k| assert!(map.insert_sync(k.clone(), breaker()).is_ok()));
        SccIndex(map)
    }
    fn call(&self, key: &str) -> bool {
        self.0
            .peek_with(key, |_, b| b.call(|| Ok::<u64, u64>(black_box(1))).is_ok())
            .expect("key present")
    }
}

struct StdRwLock(RwLock<HashMap<String, Breaker, Hasher>>);
impl Candidate for StdRwLock {
    fn with_keys(keys: &[String]) -> Self {
        StdRwLock(RwLock::new(
            keys.iter().map(|k| (k.clone(), breaker())).collect(),
        ))
    }
    fn call(&self, key: &str) -> bool {
        let map = self.0.read().expect("not poisoned");
        let b = map.get(key).expect("key present");
        b.call(|| Ok::<u64, u64>(black_box(1))).is_ok()
    }
}

fn walk<M: Candidate>(map: &M, keys: &[String], start: usize, iters: u64) {
    let mut i = start;
    for _ in 0..iters {
        assert!(map.call(black_box(keys[i].as_str())));
        i += 1;
        if i == keys.len() {
            i = 0;
        }
    }
}

fn candidate<M: Candidate>(c: &mut Criterion, name: &str) {
    let mut group = c.benchmark_group(format!("map/{name}"));
    for n in [10, 10_000] {
        let keys = shuffled((0..n).map(|i| format!("host-{i}.internal:443")).collect());
        let map = M::with_keys(&keys);
        group.bench_function(format!("{n} keys/1 thread"), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                walk(&map, &keys, 0, iters);
                t.elapsed()
            })
        });
        group.bench_function(format!("{n} keys/2 threads"), |b| {
            b.iter_custom(|iters| {
                two_threads(iters, |thread, n| {
                    walk(&map, &keys, thread * keys.len() / 2, n)
                })
            })
        });
    }
    group.finish();
}

fn maps(c: &mut Criterion) {
    candidate::<Papaya>(c, "papaya");
    candidate::<Dash>(c, "dashmap");
    candidate::<SccMap>(c, "scc::HashMap");
    candidate::<SccIndex>(c, "scc::HashIndex");
    candidate::<StdRwLock>(c, "std RwLock<HashMap>");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    targets = maps
}
criterion_main!(benches);
