//! ns per call: a keyed lookup plus `call` through `KeyedBreakers`, next to
//! one breaker's `call`, on 1 and 2 threads, with 10 and 10,000 keys.
//!
//! Every breaker reads `CoarseClock` (what `TokioClock` is in a service).
//! Keys are `String`s like `host-123.internal:443`, looked up by reference
//! (no allocation), hashed with the map's default hasher (foldhash, seeded
//! per map) or, in the rows that say so, std's SipHash; `u64` keys in the
//! rows that say so. Each
//! thread walks the keys in a shuffled order from its own starting point,
//! so consecutive calls hit different breakers, as requests to many hosts
//! would. Two threads: the time from the first thread's start to the last
//! one's end, divided by each thread's calls (as `benches/hot_path.rs`).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "support/walk.rs"]
mod walk;
use walk::{shuffled, two_threads};

use breaker_clock::CoarseClock;
use breaker_core::{CircuitBreaker, Config, State};
use breaker_keyed::{DefaultHashBuilder, KeyedBreakers};
use criterion::{Criterion, criterion_group, criterion_main};

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(3600))
}

/// `n` host keys in a shuffled order.
fn hosts(n: usize) -> Vec<String> {
    shuffled((0..n).map(|i| format!("host-{i}.internal:443")).collect())
}

/// Times `call` on each of `items` in turn, on 1 and 2 threads; thread `t`
/// starts at its own offset into `items`.
fn bench_walk<T: Sync>(c: &mut Criterion, name: &str, items: &[T], call: impl Fn(&T) + Sync) {
    let walk = |thread: usize, iters: u64| {
        let mut i = thread * items.len() / 2;
        for _ in 0..iters {
            call(black_box(&items[i]));
            i += 1;
            if i == items.len() {
                i = 0;
            }
        }
    };
    let mut group = c.benchmark_group(name);
    group.bench_function("1 thread", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            walk(0, iters);
            t.elapsed()
        })
    });
    group.bench_function("2 threads", |b| {
        b.iter_custom(|iters| two_threads(iters, walk))
    });
    group.finish();
}

fn single(c: &mut Criterion) {
    let breaker = CircuitBreaker::new(config(), CoarseClock);
    bench_walk(c, "keyed/single breaker call", &[()], |_| {
        assert!(breaker.call(|| Ok::<u64, u64>(black_box(1))).is_ok());
    });
    assert_eq!(breaker.state(), State::Passing);
}

/// The floor under any map: 10,000 breakers in a `Vec`, each call on the
/// next one of a shuffled walk by index (no hashing, no probe). What is
/// left is the breaker's `call` on a breaker that is not in the cache.
fn no_map(c: &mut Criterion) {
    let breakers: Vec<_> = (0..10_000)
        .map(|_| CircuitBreaker::new(config(), CoarseClock))
        .collect();
    let order = shuffled((0..breakers.len()).collect());
    bench_walk(c, "keyed/no map, 10000 breakers by index", &order, |&i| {
        assert!(breakers[i].call(|| Ok::<u64, u64>(black_box(1))).is_ok());
    });
}

fn keyed(c: &mut Criterion) {
    keyed_with(c, "", hosts, DefaultHashBuilder::default);
    // std's SipHash, the default before: what hashing the key costs.
    keyed_with(c, ", SipHash", hosts, RandomState::new);
    // Keys the application numbers itself.
    keyed_with(
        c,
        ", u64",
        |n| shuffled((0..n as u64).collect()),
        DefaultHashBuilder::default,
    );
}

fn keyed_with<K, S>(
    c: &mut Criterion,
    label: &str,
    make_keys: impl Fn(usize) -> Vec<K>,
    hasher: impl Fn() -> S,
) where
    K: std::hash::Hash + Eq + Clone + Sync + Send,
    S: BuildHasher + Sync,
{
    for n in [10, 10_000] {
        let keys = make_keys(n);
        let map = KeyedBreakers::<K, _>::builder(config(), CoarseClock)
            .capacity(n)
            .hasher(hasher())
            .build()
            .expect("valid config");
        for key in &keys {
            assert!(map.call(key, || Ok::<u64, u64>(1)).is_ok());
        }
        let name = format!("keyed/lookup + call, {n} keys{label}");
        bench_walk(c, &name, &keys, |key| {
            assert!(map.call(key, || Ok::<u64, u64>(black_box(1))).is_ok());
        });
        let stats = map.stats();
        assert_eq!((stats.len, stats.evictions, stats.overflowed), (n, 0, 0));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = single, no_map, keyed
}
criterion_main!(benches);
