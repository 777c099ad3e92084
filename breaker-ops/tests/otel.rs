//! The OpenTelemetry instruments, read back through the SDK's in-memory
//! exporter and checked against each breaker's own `metrics()`.

mod support;

use std::time::SystemTime;

use breaker_ops::Health;
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use support::{calls, modes, results, scene, states};

/// One exported data point: (instrument, unit, sorted attributes, value).
type Point = (String, String, Vec<(String, String)>, f64);

/// Registers the instruments for `registry` with an in-memory exporter and
/// collects once: every data point.
fn collect(registry: &breaker_ops::Registry) -> Vec<Point> {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let _instruments = breaker_ops::register_instruments(&provider.meter("test"), registry.clone());
    provider.force_flush().unwrap();
    let points = points(&exporter.get_finished_metrics().unwrap());
    provider.shutdown().unwrap();
    points
}

/// Every exported data point.
fn points(metrics: &[ResourceMetrics]) -> Vec<Point> {
    let mut out = Vec::new();
    let attrs = |kvs: &mut dyn Iterator<Item = &KeyValue>| {
        let mut v: Vec<(String, String)> = kvs
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        v.sort();
        v
    };
    let last = metrics.last().expect("one export");
    for scope in last.scope_metrics() {
        for metric in scope.metrics() {
            let (name, unit) = (metric.name().to_owned(), metric.unit().to_owned());
            let mut push = |a, v| out.push((name.clone(), unit.clone(), a, v));
            match metric.data() {
                AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                    assert!(sum.is_monotonic(), "{name}");
                    for p in sum.data_points() {
                        push(attrs(&mut p.attributes()), p.value() as f64);
                    }
                }
                AggregatedMetrics::I64(MetricData::Gauge(g)) => {
                    for p in g.data_points() {
                        push(attrs(&mut p.attributes()), p.value() as f64);
                    }
                }
                AggregatedMetrics::F64(MetricData::Gauge(g)) => {
                    for p in g.data_points() {
                        push(attrs(&mut p.attributes()), p.value());
                    }
                }
                _ => panic!("{name}: an unexpected kind of data"),
            }
        }
    }
    out
}

fn find(points: &[Point], name: &str, attributes: &[(&str, &str)]) -> (String, f64) {
    let mut wanted: Vec<(String, String)> = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    wanted.sort();
    let found: Vec<_> = points
        .iter()
        .filter(|p| p.0 == name && p.2 == wanted)
        .collect();
    assert_eq!(found.len(), 1, "{name} {attributes:?} in {points:#?}");
    (found[0].1.clone(), found[0].3)
}

#[test]
fn observable_instruments_report_each_breakers_snapshot() {
    let (registry, metrics) = scene();
    let cache = registry.get("cache").unwrap();
    cache.add_source("fleet", || Health::Up).unwrap();
    cache
        .add_source("replica", || Health::Down {
            since: SystemTime::UNIX_EPOCH,
            reason: "unreachable".into(),
        })
        .unwrap();

    let points = collect(&registry);

    for (&name, m) in &metrics {
        let b = ("breaker.name", name);
        for (state, outcome, expected) in calls(m) {
            let attributes = [b, ("breaker.state", state), ("breaker.outcome", outcome)];
            assert_eq!(
                find(&points, "breaker.calls", &attributes),
                ("{call}".into(), expected as f64)
            );
        }
        for (result, expected) in results(m) {
            let attributes = [b, ("breaker.result", result)];
            assert_eq!(
                find(&points, "breaker.results", &attributes).1,
                expected as f64
            );
        }
        assert_eq!(find(&points, "breaker.trips", &[b]).1, m.trips as f64);
        for (label, expected) in states(m) {
            assert_eq!(
                find(&points, "breaker.state", &[b, ("breaker.state", label)]).1,
                expected
            );
        }
        for (label, expected) in modes(m) {
            assert_eq!(
                find(&points, "breaker.mode", &[b, ("breaker.mode", label)]).1,
                expected
            );
        }
        assert_eq!(
            find(&points, "breaker.window.calls", &[b]).1,
            m.window_calls as f64
        );
        assert_eq!(
            find(&points, "breaker.window.failures", &[b]).1,
            m.window_failures as f64
        );
        assert_eq!(find(&points, "breaker.error_ratio.threshold", &[b]).1, 0.5);
        assert_eq!(find(&points, "breaker.min_calls", &[b]).1, 4.0);
        assert_eq!(find(&points, "breaker.window", &[b]), ("s".into(), 10.0));
        assert_eq!(
            find(&points, "breaker.retry_after", &[b]),
            ("s".into(), m.retry_after.as_secs_f64())
        );
    }
    assert_eq!(
        find(&points, "breaker.retry_after", &[("breaker.name", "cache")]).1,
        3.0
    );
    assert_eq!(
        find(&points, "breaker.error_ratio", &[("breaker.name", "cache")]).1,
        0.0
    );
    assert_eq!(
        find(&points, "breaker.time_in_state", &[("breaker.name", "db")]).1,
        5.0
    );
    assert!(
        !points
            .iter()
            .any(|p| p.0 == "breaker.time_in_state" && p.2[0].1 == "cache")
    );
    for (source, up) in [("fleet", 1.0), ("replica", 0.0)] {
        let attributes = [("breaker.name", "cache"), ("breaker.source", source)];
        assert_eq!(find(&points, "breaker.source.up", &attributes).1, up);
    }
    let sources = points.iter().filter(|p| p.0 == "breaker.source.up").count();
    assert_eq!(sources, 2, "only the breaker with sources has series");
}

#[test]
fn a_groups_members_carry_their_key_up_to_the_limit() {
    let registry = breaker_ops::Registry::new();
    let (group, breakers) = support::group_of(&registry, "shards", &["a", "b", "c"]);
    support::trip(&breakers[1]);
    group.set_limit(2);
    // A group that reports figures of its own, as a keyed map does.
    support::group_with_stats(&registry, "hosts", &[], Some(support::MAP_STATS));

    let points = collect(&registry);

    let member = |key| [("breaker.name", "shards"), ("breaker.key", key)];
    // The broken one first, then "a" in key order; "c" is over the limit.
    for (key, broken) in [("(overflow)", 0.0), ("a", 0.0), ("b", 1.0)] {
        let [b, k] = member(key);
        let attributes = [b, k, ("breaker.state", "broken")];
        assert_eq!(find(&points, "breaker.state", &attributes).1, broken);
    }
    assert_eq!(find(&points, "breaker.trips", &member("b")).1, 1.0);
    assert_eq!(find(&points, "breaker.retry_after", &member("b")).1, 5.0);
    assert!(
        !points
            .iter()
            .any(|p| p.2.contains(&("breaker.key".into(), "c".into())))
    );
    assert_eq!(
        find(
            &points,
            "breaker.group.hidden",
            &[("breaker.name", "shards")]
        )
        .1,
        1.0
    );

    let hosts = [("breaker.name", "hosts")];
    for (name, unit, value) in [
        ("breaker.group.keys", "", 412.0),
        ("breaker.group.capacity", "", 1_000.0),
        ("breaker.group.evictions", "{key}", 3.0),
        ("breaker.group.overflow_lookups", "{lookup}", 7.0),
        ("breaker.group.sweeps", "{sweep}", 2.0),
    ] {
        assert_eq!(find(&points, name, &hosts), (unit.to_owned(), value));
        // A group that reports none exports none.
        let shards = ("breaker.name".to_owned(), "shards".to_owned());
        assert!(!points.iter().any(|p| p.0 == name && p.2.contains(&shards)));
    }
}
