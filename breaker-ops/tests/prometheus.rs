//! The Prometheus text, parsed back by an independent parser
//! (`prometheus-parse`) and checked family by family against each breaker's
//! own `metrics()`.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use breaker_core::{Metrics, Mode, State};
use breaker_ops::{PrometheusCollector, Registry};
use prometheus_parse::{Sample, Scrape, Value};
use support::{busy_history, clock, reporting, silent, trip};

/// Three breakers: `db` with a full history ending Recovering (reports
/// transitions), `cache` Broken for 3 more seconds, `search` forced open.
fn scene() -> (Registry, BTreeMap<&'static str, Metrics>) {
    let registry = Registry::new();
    let db_clock = clock();
    let db = reporting(db_clock);
    registry.register("db", db.clone()).unwrap();
    busy_history(&db, db_clock);

    let cache_clock = clock();
    let cache = silent(cache_clock);
    registry.register("cache", cache.clone()).unwrap();
    trip(&cache);
    cache_clock.advance(Duration::from_secs(2));

    let search = silent(clock());
    registry.register("search", search.clone()).unwrap();
    search.force_open();

    let metrics = BTreeMap::from([
        ("db", db.metrics()),
        ("cache", cache.metrics()),
        ("search", search.metrics()),
    ]);
    // The history is what the families are checked against: make sure it
    // is not trivial, and that counters of one family differ.
    let db_m = metrics["db"];
    assert_eq!(db_m.state, State::Recovering);
    assert_eq!(
        (db_m.successes, db_m.failures, db_m.ignored, db_m.late),
        (4, 3, 2, 1)
    );
    assert_eq!((db_m.call_passing, db_m.call_broken), (9, 2));
    assert!(db_m.call_recovering_ok == 1 && db_m.call_recovering_failed >= 2);
    assert_eq!(metrics["cache"].retry_after, Duration::from_secs(3));
    assert_eq!(metrics["search"].mode, Mode::ForcedOpen);
    (registry, metrics)
}

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

fn state_label(state: State) -> &'static str {
    match state {
        State::Passing => "passing",
        State::Broken => "broken",
        State::Recovering => "recovering",
    }
}

fn check_families(scrape: &Scrape, metrics: &BTreeMap<&'static str, Metrics>) {
    for (&name, m) in metrics {
        let b = ("breaker", name);
        let calls = [
            ("passing", "admitted", m.call_passing),
            ("broken", "rejected", m.call_broken),
            ("recovering", "admitted", m.call_recovering_ok),
            ("recovering", "rejected", m.call_recovering_failed),
        ];
        for (state, outcome, expected) in calls {
            let labels = [b, ("state", state), ("outcome", outcome)];
            assert_eq!(
                value(scrape, "breaker_calls_total", &labels),
                expected as f64,
                "{labels:?}"
            );
        }
        let total: u64 = calls.iter().map(|c| c.2).sum();
        assert_eq!(total, m.call_count, "every attempt is in one series");
        for (result, expected) in [
            ("success", m.successes),
            ("failure", m.failures),
            ("ignored", m.ignored),
            ("late", m.late),
        ] {
            let labels = [b, ("result", result)];
            assert_eq!(
                value(scrape, "breaker_results_total", &labels),
                expected as f64,
                "{labels:?}"
            );
        }
        assert_eq!(value(scrape, "breaker_trips_total", &[b]), m.trips as f64);
        for state in [State::Passing, State::Broken, State::Recovering] {
            let expected = if m.state == state { 1.0 } else { 0.0 };
            let labels = [b, ("state", state_label(state))];
            assert_eq!(
                value(scrape, "breaker_state", &labels),
                expected,
                "{labels:?}"
            );
        }
        for (mode, label) in [
            (Mode::Automatic, "automatic"),
            (Mode::ForcedOpen, "forced_open"),
            (Mode::Disabled, "disabled"),
        ] {
            let expected = if m.mode == mode { 1.0 } else { 0.0 };
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
