//! The peers, closed path, success: `failsafe` and `recloser` called
//! directly (one thread and two threads on one breaker), and
//! `tower-resilience-circuitbreaker`'s layer against breaker-tokio's (on an
//! `Arc` and on a `&'static` breaker), all around the same trivial
//! `service_fn` on a current-thread tokio runtime per thread, on one thread
//! and on two threads sharing the layer's breaker.
//!
//! Our own closed-path numbers are `passing_success_call` in the `hot_path`
//! bench of the same run.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker_benches::{WINDOW, two_threads};
use breaker_core::Config;
use criterion::{Criterion, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use tower::{Layer, Service, ServiceExt, service_fn};

fn failsafe_closed(c: &mut Criterion) {
    let mut group = c.benchmark_group("closed_success_call");
    group.bench_function("failsafe/1 thread", |b| {
        b.iter_custom(|iters| {
            let breaker = failsafe::Config::new().build();
            let start = Instant::now();
            for _ in 0..iters {
                let _ = black_box(black_box(&breaker).call(|| Ok::<u64, u64>(black_box(1))));
            }
            start.elapsed()
        })
    });
    group.bench_function("failsafe/2 threads", |b| {
        b.iter_custom(|iters| {
            let breaker = failsafe::Config::new().build();
            two_threads(&breaker, iters, |breaker, n| {
                for _ in 0..n {
                    let _ = black_box(black_box(breaker).call(|| Ok::<u64, u64>(black_box(1))));
                }
            })
        })
    });
    group.bench_function("recloser/1 thread", |b| {
        b.iter_custom(|iters| {
            let breaker = recloser::Recloser::default();
            let start = Instant::now();
            for _ in 0..iters {
                let _ = black_box(black_box(&breaker).call(|| Ok::<u64, u64>(black_box(1))));
            }
            start.elapsed()
        })
    });
    group.bench_function("recloser/2 threads", |b| {
        b.iter_custom(|iters| {
            let breaker = recloser::Recloser::default();
            two_threads(&breaker, iters, |breaker, n| {
                for _ in 0..n {
                    let _ = black_box(black_box(breaker).call(|| Ok::<u64, u64>(black_box(1))));
                }
            })
        })
    });
    group.finish();
}

/// `iters` requests through `service`, each `ready().await` then `call`,
/// inside one `block_on`.
fn drive<S>(rt: &tokio::runtime::Runtime, service: &mut S, iters: u64) -> Duration
where
    S: Service<u64, Response = u64>,
    S::Error: std::fmt::Debug,
{
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            let ready = service.ready().await.expect("services are always ready");
            let response = ready.call(black_box(i)).await;
            black_box(response.expect("the inner service never fails"));
        }
        start.elapsed()
    })
}

fn echo(request: u64) -> std::future::Ready<Result<u64, std::io::Error>> {
    std::future::ready(Ok(request))
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// [`drive`] on two threads at once, each with its own clone of `service`
/// (sharing whatever the clones share) on its own current-thread runtime, as
/// two worker threads of a server would.
fn drive_two<S>(service: &S, iters: u64) -> Duration
where
    S: Service<u64, Response = u64> + Clone + Sync,
    S::Error: std::fmt::Debug,
{
    two_threads(service, iters, |service, n| {
        drive(&current_thread(), &mut service.clone(), n);
    })
}

/// A fresh breaker for one sample, as a `&'static` (leaked: one breaker of
/// about 256 bytes per sample, a few hundred per run).
fn leaked_breaker() -> &'static breaker_tokio::CircuitBreaker {
    Box::leak(Box::new(breaker_tokio::new(Config::new(0.5, WINDOW))))
}

fn tower_layers(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("tower_layer_success");
    let ours = |breaker| breaker_tokio::tower::CircuitBreakerLayer::new(breaker);
    let arc = || Arc::new(breaker_tokio::new(Config::new(0.5, WINDOW)));
    let theirs = || {
        tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
            .failure_rate_threshold(0.5)
            .sliding_window_size(100)
            .build()
            .expect("a valid config")
    };
    group.bench_function("inner service alone/1 thread", |b| {
        b.iter_custom(|iters| drive(&rt, &mut service_fn(echo), iters))
    });
    group.bench_function("inner service alone/2 threads", |b| {
        b.iter_custom(|iters| drive_two(&service_fn(echo), iters))
    });
    group.bench_function("breaker-tokio, Arc/1 thread", |b| {
        b.iter_custom(|iters| drive(&rt, &mut ours(arc()).layer(service_fn(echo)), iters))
    });
    group.bench_function("breaker-tokio, Arc/2 threads", |b| {
        b.iter_custom(|iters| drive_two(&ours(arc()).layer(service_fn(echo)), iters))
    });
    group.bench_function("breaker-tokio, static/1 thread", |b| {
        b.iter_custom(|iters| {
            let layer = breaker_tokio::tower::CircuitBreakerLayer::new(leaked_breaker());
            drive(&rt, &mut layer.layer(service_fn(echo)), iters)
        })
    });
    group.bench_function("breaker-tokio, static/2 threads", |b| {
        b.iter_custom(|iters| {
            let layer = breaker_tokio::tower::CircuitBreakerLayer::new(leaked_breaker());
            drive_two(&layer.layer(service_fn(echo)), iters)
        })
    });
    group.bench_function("tower-resilience-circuitbreaker/1 thread", |b| {
        b.iter_custom(|iters| drive(&rt, &mut theirs().layer(service_fn(echo)), iters))
    });
    group.bench_function("tower-resilience-circuitbreaker/2 threads", |b| {
        b.iter_custom(|iters| drive_two(&theirs().layer(service_fn(echo)), iters))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = failsafe_closed, tower_layers
}
criterion_main!(benches);
