//! The Prometheus text, parsed back by an independent parser
//! (`prometheus-parse`) and checked family by family against each breaker's
//! own `metrics()`.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use breaker_core::Metrics;
use breaker_ops::{Health, PrometheusCollector, Registry};
use prometheus_parse::{Sample, Scrape, Value};
use support::{calls, clock, modes, results, scene, silent, states};

fn scrape(registry: &Registry, openmetrics: bool) -> (String, Scrape) {
    let mut metrics = prometheus_client::registry::Registry::default();
    metrics.register_collector(Box::new(PrometheusCollector::new(registry.clone())));
    let mut text = String::new();
    if openmetrics {
        prometheus_client::encoding::text::encode(&mut text, &metrics).unwrap();
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics).unwrap();
    }
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

/// The value of the one sample of `metric` with exactly these labels.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| {
            s.metric == metric
                && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
                && s.labels.len() == labels.len()
        })
        .collect();
    assert_eq!(matching.len(), 1, "{metric} {labels:?}: {matching:?}");
    match matching[0].value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{metric}: not a number: {other:?}"),
    }
}

fn check_families(scrape: &Scrape, metrics: &BTreeMap<&'static str, Metrics>) {
    for (&name, m) in metrics {
        let b = ("breaker", name);
        for (state, outcome, expected) in calls(m) {
            let labels = [b, ("state", state), ("outcome", outcome)];
            assert_eq!(
                value(scrape, "breaker_calls_total", &labels),
                expected as f64,
                "{labels:?}"
            );
        }
        let total: u64 = calls(m).iter().map(|c| c.2).sum();
        assert_eq!(total, m.call_count, "every attempt is in one series");
        for (result, expected) in results(m) {
            let labels = [b, ("result", result)];
            assert_eq!(
                value(scrape, "breaker_results_total", &labels),
                expected as f64,
                "{labels:?}"
            );
        }
        assert_eq!(value(scrape, "breaker_trips_total", &[b]), m.trips as f64);
        for (label, expected) in states(m) {
            assert_eq!(
                value(scrape, "breaker_state", &[b, ("state", label)]),
                expected
            );
        }
        for (label, expected) in modes(m) {
            assert_eq!(
                value(scrape, "breaker_mode", &[b, ("mode", label)]),
                expected
            );
        }
        assert_eq!(
            value(scrape, "breaker_window_calls", &[b]),
            m.window_calls as f64
        );
        assert_eq!(
            value(scrape, "breaker_window_failures", &[b]),
            m.window_failures as f64
        );
        let ratio: f64 = m.error_ratio.to_string().parse().unwrap();
        assert_eq!(value(scrape, "breaker_error_ratio", &[b]), ratio);
        assert_eq!(value(scrape, "breaker_error_ratio_threshold", &[b]), 0.5);
        assert_eq!(value(scrape, "breaker_min_calls", &[b]), 4.0);
        assert_eq!(value(scrape, "breaker_window_seconds", &[b]), 10.0);
        assert_eq!(
            value(scrape, "breaker_retry_after_seconds", &[b]),
            m.retry_after.as_secs_f64()
        );
    }
    // Time in state only for the breaker that reports its transitions:
    // Recovering began 5 s ago on its clock.
    assert_eq!(
        value(
            scrape,
            "breaker_time_in_state_seconds",
            &[("breaker", "db")]
        ),
        5.0
    );
    let others = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "breaker_time_in_state_seconds")
        .count();
    assert_eq!(others, 1);
}

#[test]
fn every_family_in_the_prometheus_text_format_matches_metrics() {
    let (registry, metrics) = scene();
    let (text, scrape) = scrape(&registry, false);
    check_families(&scrape, &metrics);
    // Counters and gauges are typed as such (the parser reads `# TYPE`).
    let typed = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap()
            .value
            .clone()
    };
    assert!(
        matches!(typed("breaker_calls_total"), Value::Counter(_)),
        "{text}"
    );
    assert!(matches!(typed("breaker_state"), Value::Gauge(_)), "{text}");
    // Every documented family is there, and nothing else.
    let mut families: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    families.dedup();
    assert_eq!(
        families,
        [
            "breaker_calls_total",
            "breaker_results_total",
            "breaker_trips_total",
            "breaker_state",
            "breaker_mode",
            "breaker_window_calls",
            "breaker_window_failures",
            "breaker_error_ratio",
            "breaker_error_ratio_threshold",
            "breaker_min_calls",
            "breaker_window_seconds",
            "breaker_retry_after_seconds",
            "breaker_time_in_state_seconds",
        ]
    );
    for family in &families {
        assert!(scrape.docs.contains_key(*family), "{family} has no HELP");
    }
}

#[test]
fn the_openmetrics_text_carries_the_same_figures() {
    let (registry, metrics) = scene();
    let (text, scrape) = scrape(&registry, true);
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE breaker_calls counter\n"), "{text}");
    assert!(
        text.contains("# UNIT breaker_retry_after_seconds seconds\n"),
        "{text}"
    );
    check_families(&scrape, &metrics);
}

#[test]
fn breakers_registered_after_the_collector_are_exported() {
    let registry = Registry::new();
    let (_, empty) = scrape(&registry, false);
    assert!(empty.samples.is_empty());
    registry.register("late", silent(clock())).unwrap();
    let (_, scrape) = scrape(&registry, false);
    assert_eq!(
        value(
            &scrape,
            "breaker_state",
            &[("breaker", "late"), ("state", "passing")]
        ),
        1.0
    );
}

#[test]
fn each_source_is_a_gauge_per_breaker_and_source_that_follows_its_health() {
    let (registry, metrics) = scene();
    let up = Arc::new(AtomicBool::new(true));
    let health = {
        let up = Arc::clone(&up);
        move || {
            if up.load(Ordering::Relaxed) {
                Health::Up
            } else {
                Health::Down {
                    since: SystemTime::UNIX_EPOCH,
                    reason: "connection refused".into(),
                }
            }
        }
    };
    let cache = registry.get("cache").unwrap();
    cache.add_source("fleet", health.clone()).unwrap();
    registry
        .get("search")
        .unwrap()
        .add_source("fleet", health)
        .unwrap();

    for (openmetrics, expected) in [(false, 1.0), (true, 1.0)] {
        let (text, scrape) = scrape(&registry, openmetrics);
        check_families(&scrape, &metrics);
        for breaker in ["cache", "search"] {
            let labels = [("breaker", breaker), ("source", "fleet")];
            assert_eq!(value(&scrape, "breaker_source_up", &labels), expected);
        }
        assert!(text.contains("# TYPE breaker_source_up gauge\n"), "{text}");
        assert!(scrape.docs.contains_key("breaker_source_up"));
        // `db` has no source, so no series.
        let series = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "breaker_source_up")
            .count();
        assert_eq!(series, 2);
    }

    up.store(false, Ordering::Relaxed);
    let (_, scrape) = scrape(&registry, false);
    for breaker in ["cache", "search"] {
        let labels = [("breaker", breaker), ("source", "fleet")];
        assert_eq!(value(&scrape, "breaker_source_up", &labels), 0.0);
    }
}

#[test]
fn a_groups_members_carry_their_key_label_up_to_the_limit() {
    let registry = Registry::new();
    let (group, breakers) = support::group_of(&registry, "shards", &["a", "b", "c"]);
    support::trip(&breakers[1]);
    group.set_limit(2);
    // A group that reports figures of its own, as a keyed map does.
    support::group_with_stats(&registry, "hosts", &[], Some(support::MAP_STATS));

    let (_, scrape) = scrape(&registry, true);

    // The broken one first, then "a" in key order; "c" is over the limit.
    for (key, broken) in [("(overflow)", 0.0), ("a", 0.0), ("b", 1.0)] {
        let labels = [("breaker", "shards"), ("key", key), ("state", "broken")];
        assert_eq!(value(&scrape, "breaker_state", &labels), broken);
    }
    let b = [("breaker", "shards"), ("key", "b")];
    assert_eq!(value(&scrape, "breaker_trips_total", &b), 1.0);
    assert!(
        !scrape
            .samples
            .iter()
            .any(|s| s.labels.get("key") == Some("c"))
    );
    let shards = [("breaker", "shards")];
    let hosts = [("breaker", "hosts")];
    assert_eq!(value(&scrape, "breaker_group_hidden", &shards), 1.0);
    assert_eq!(value(&scrape, "breaker_group_hidden", &hosts), 0.0);
    for (metric, figure) in [
        ("breaker_group_keys", 412.0),
        ("breaker_group_capacity", 1_000.0),
        ("breaker_group_evictions_total", 3.0),
        ("breaker_group_overflow_lookups_total", 7.0),
        ("breaker_group_sweeps_total", 2.0),
    ] {
        assert_eq!(value(&scrape, metric, &hosts), figure);
        // A group that reports none exports none.
        assert!(
            !scrape
                .samples
                .iter()
                .any(|s| s.metric == metric && s.labels.get("breaker") == Some("shards"))
        );
    }
}
