//! The peers, closed path, success: `failsafe` and `recloser` called
//! directly (one thread and two threads on one breaker), and
//! `tower-resilience-circuitbreaker`'s layer against breaker-tokio's, both
//! around the same trivial `service_fn` on a current-thread tokio runtime.
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

fn tower_layers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let mut group = c.benchmark_group("tower_layer_success");
    group.bench_function("inner service alone", |b| {
        b.iter_custom(|iters| drive(&rt, &mut service_fn(echo), iters))
    });
    group.bench_function("breaker-tokio", |b| {
        b.iter_custom(|iters| {
            // Built inside the runtime: tokio's clock is the runtime's.
            let breaker =
                rt.block_on(async { Arc::new(breaker_tokio::new(Config::new(0.5, WINDOW))) });
            let layer = breaker_tokio::tower::CircuitBreakerLayer::new(breaker);
            drive(&rt, &mut layer.layer(service_fn(echo)), iters)
        })
    });
    group.bench_function("tower-resilience-circuitbreaker", |b| {
        b.iter_custom(|iters| {
            let layer = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
                .failure_rate_threshold(0.5)
                .sliding_window_size(100)
                .build()
                .expect("a valid config");
            drive(&rt, &mut layer.layer(service_fn(echo)), iters)
        })
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
