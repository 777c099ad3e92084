//! What exporting costs: a call through a breaker built with `OpsListener`
//! against one with no listener (the call path; should be the same), and a
//! Prometheus scrape of 1, 10 and 100 registered breakers (the read path).
//!
//! `cargo bench -p breaker-ops --bench scrape`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use breaker_core::{CircuitBreaker, Config, MockClock, NoListener};
use breaker_ops::{OpsListener, PrometheusCollector, Registry};
use criterion::{Criterion, criterion_group, criterion_main};

const CONFIG: Config = Config::new(0.5, Duration::from_secs(10));

fn calls(c: &mut Criterion) {
    static CLOCK: MockClock = MockClock::new();
    let registry = Registry::new();
    let plain: Arc<CircuitBreaker<&MockClock, 10, NoListener>> =
        Arc::new(CircuitBreaker::with_listener(CONFIG, &CLOCK, NoListener));
    let reporting: Arc<CircuitBreaker<&MockClock, 10, OpsListener>> = Arc::new(
        CircuitBreaker::with_listener(CONFIG, &CLOCK, OpsListener::new()),
    );
    registry.register("plain", plain.clone()).unwrap();
    registry.register("reporting", reporting.clone()).unwrap();
    let mut group = c.benchmark_group("passing success");
    group.bench_function("NoListener, registered", |b| {
        b.iter(|| black_box(plain.call(|| Ok::<_, ()>(black_box(1)))))
    });
    group.bench_function("OpsListener, registered", |b| {
        b.iter(|| black_box(reporting.call(|| Ok::<_, ()>(black_box(1)))))
    });
    group.finish();
}

fn scrape(c: &mut Criterion) {
    static CLOCK: MockClock = MockClock::new();
    let mut group = c.benchmark_group("prometheus scrape");
    for n in [1, 10, 100] {
        let registry = Registry::new();
        for i in 0..n {
            let breaker = Arc::new(CircuitBreaker::<_, 10, _>::with_listener(
                CONFIG,
                &CLOCK,
                OpsListener::new(),
            ));
            let _ = breaker.call(|| Ok::<_, ()>(()));
            registry.register(&format!("breaker-{i}"), breaker).unwrap();
        }
        let mut metrics = prometheus_client::registry::Registry::default();
        metrics.register_collector(Box::new(PrometheusCollector::new(registry)));
        let mut text = String::new();
        group.bench_function(format!("{n} breakers"), |b| {
            b.iter(|| {
                text.clear();
                prometheus_client::encoding::text::encode(&mut text, &metrics).unwrap();
                black_box(text.len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = calls, scrape
}
criterion_main!(benches);
