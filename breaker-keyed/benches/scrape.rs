//! What a Prometheus scrape of a keyed map costs (feature `ops`): 100, 1,000
//! and 10,000 keys, the group's default limit of 100 exported. Every key is
//! read and its label formatted at each scrape; only the kept ones are
//! written.
//!
//! `cargo bench -p breaker-keyed --features ops --bench scrape`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use breaker_core::{Config, MockClock};
use breaker_keyed::KeyedBreakers;
use breaker_ops::{PrometheusCollector, Registry};
use criterion::{Criterion, criterion_group, criterion_main};

fn scrape(c: &mut Criterion) {
    static CLOCK: MockClock = MockClock::new();
    let config = Config::new(0.5, Duration::from_secs(10));
    let mut group = c.benchmark_group("prometheus scrape of a keyed map");
    for n in [100, 1_000, 10_000] {
        let hosts = Arc::new(
            KeyedBreakers::<String, _>::builder(config, &CLOCK)
                .capacity(n)
                .build()
                .unwrap(),
        );
        for i in 0..n {
            let _ = hosts.call(&format!("host-{i}.internal:443"), || Ok::<_, ()>(()));
        }
        let registry = Registry::new();
        hosts.report_to(&registry, "hosts").unwrap();
        let mut metrics = prometheus_client::registry::Registry::default();
        metrics.register_collector(Box::new(PrometheusCollector::new(registry)));
        let mut text = String::new();
        group.bench_function(format!("{n} keys"), |b| {
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
    targets = scrape
}
criterion_main!(benches);
