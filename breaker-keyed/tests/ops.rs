//! The keys in a breaker-ops registry (feature `ops`): the Prometheus text
//! of a scrape, parsed back by an independent parser (`prometheus-parse`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use breaker_core::{Config, MockClock, State};
use breaker_keyed::KeyedBreakers;
use breaker_ops::{PrometheusCollector, Registry};
use prometheus_parse::{Sample, Scrape, Value};

type Hosts = KeyedBreakers<String, &'static MockClock>;

/// Two failures in a row trip a breaker; Broken for 5 s.
const CONFIG: Config = Config::new(0.5, Duration::from_secs(10))
    .min_calls(2)
    .passing_time(Duration::ZERO)
    .broken_time(Duration::from_secs(5));

fn hosts(capacity: usize) -> Arc<Hosts> {
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    Arc::new(
        KeyedBreakers::builder(CONFIG, clock)
            .capacity(capacity)
            .build()
            .unwrap(),
    )
}

fn trip(hosts: &Hosts, key: &str) {
    for _ in 0..2 {
        let _ = hosts.call(key, || Err::<(), _>("connection refused"));
    }
    assert_eq!(hosts.get(key).state(), State::Broken);
}

/// The OpenMetrics text a Prometheus server would get, and its parse.
fn scrape(registry: &Registry) -> (String, Scrape) {
    let mut metrics = prometheus_client::registry::Registry::default();
    metrics.register_collector(Box::new(PrometheusCollector::new(registry.clone())));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &metrics).unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

fn number(sample: &Sample) -> f64 {
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{}: not a number: {other:?}", sample.metric),
    }
}

/// The value of the one sample of `metric` with exactly these labels.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| {
            s.metric == metric
                && s.labels.len() == labels.len()
                && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
        })
        .collect();
    assert_eq!(matching.len(), 1, "{metric} {labels:?}: {matching:?}");
    number(matching[0])
}

/// The `key` labels of group `group`'s members whose `breaker_state` for
/// `state` is 1 (every member when `state` is `None`), as the parser read
/// them.
fn keys(scrape: &Scrape, group: &str, state: Option<&str>) -> BTreeSet<String> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == "breaker_state" && s.labels.get("breaker") == Some(group))
        .filter(|s| match state {
            Some(state) => s.labels.get("state") == Some(state) && number(s) == 1.0,
            None => s.labels.get("state") == Some("passing"),
        })
        .map(|s| s.labels.get("key").unwrap().to_owned())
        .collect()
}

#[test]
fn a_tripped_key_shows_with_its_key_and_state() {
    let hosts = hosts(100);
    let registry = Registry::new();
    let group = hosts.report_to(&registry, "upstreams").unwrap();
    assert_eq!(group.limit(), breaker_ops::DEFAULT_GROUP_LIMIT);
    trip(&hosts, "billing:8080");
    assert!(hosts.call("search:8080", || Ok::<_, ()>(())).is_ok());

    let (_, s) = scrape(&registry);
    let billing = [("breaker", "upstreams"), ("key", "billing:8080")];
    let search = [("breaker", "upstreams"), ("key", "search:8080")];
    let overflow = [("breaker", "upstreams"), ("key", "(overflow)")];
    let with = |base: &[(&'static str, &'static str); 2], more: &[(&'static str, &'static str)]| {
        let mut labels = base.to_vec();
        labels.extend_from_slice(more);
        labels
    };
    for (state, b, s_, o) in [
        ("passing", 0.0, 1.0, 1.0),
        ("broken", 1.0, 0.0, 0.0),
        ("recovering", 0.0, 0.0, 0.0),
    ] {
        let state = [("state", state)];
        assert_eq!(value(&s, "breaker_state", &with(&billing, &state)), b);
        assert_eq!(value(&s, "breaker_state", &with(&search, &state)), s_);
        assert_eq!(value(&s, "breaker_state", &with(&overflow, &state)), o);
    }
    assert_eq!(value(&s, "breaker_trips_total", &billing), 1.0);
    let failures = with(&billing, &[("result", "failure")]);
    assert_eq!(value(&s, "breaker_results_total", &failures), 2.0);
    let successes = with(&search, &[("result", "success")]);
    assert_eq!(value(&s, "breaker_results_total", &successes), 1.0);
    assert_eq!(value(&s, "breaker_retry_after_seconds", &billing), 5.0);
    assert_eq!(
        value(&s, "breaker_group_hidden", &[("breaker", "upstreams")]),
        0.0
    );
    assert_eq!(
        keys(&s, "upstreams", None),
        BTreeSet::from(["(overflow)", "billing:8080", "search:8080"].map(String::from))
    );
    // A member's series are those of a registered breaker, with `key`:
    // every family but the time in state (members have no OpsListener).
    let families: BTreeSet<&str> = s
        .samples
        .iter()
        .filter(|x| x.labels.get("key") == Some("billing:8080"))
        .map(|x| x.metric.as_str())
        .collect();
    assert_eq!(families.len(), 12, "{families:?}");
    assert!(!families.contains("breaker_time_in_state_seconds"));

    // The name is the registry's: taken once, by a breaker or a group.
    assert!(hosts.report_to(&registry, "upstreams").is_err());
    assert!(
        registry
            .register(
                "upstreams",
                Arc::new(breaker_core::CircuitBreaker::new(CONFIG, MockClock::new()))
            )
            .is_err()
    );
    assert!(hosts.report_to(&registry, "bad name").is_err());
}

#[test]
fn ten_thousand_keys_export_the_limit_broken_first_and_count_the_rest() {
    let hosts = hosts(20_000);
    let registry = Registry::new();
    hosts.report_to(&registry, "hosts").unwrap();
    let key = |i: usize| format!("host-{i:05}");
    for i in 0..10_000 {
        assert!(hosts.call(&key(i), || Ok::<_, ()>(())).is_ok());
    }
    // Ten broken keys, spread over the key order (the last ones would not
    // make the cut by key order alone).
    let broken: BTreeSet<String> = (0..10).map(|i| key(i * 1_000 + 999)).collect();
    for k in &broken {
        trip(&hosts, k);
    }
    assert_eq!(hosts.len(), 10_000);

    let (text, s) = scrape(&registry);
    let exported = keys(&s, "hosts", None);
    // 100 keys and the overflow breaker.
    assert_eq!(exported.len(), 101);
    assert_eq!(keys(&s, "hosts", Some("broken")), broken);
    // Then the Passing ones in key order: the first 90.
    let mut expected: BTreeSet<String> = broken.clone();
    expected.extend((0..90).map(key));
    expected.insert("(overflow)".to_owned());
    assert_eq!(exported, expected);
    assert_eq!(
        value(&s, "breaker_group_hidden", &[("breaker", "hosts")]),
        9_900.0
    );
    // Bounded: 101 members' series, whatever the number of keys.
    let member_lines = text
        .lines()
        .filter(|l| l.contains("breaker=\"hosts\",key="))
        .count();
    assert_eq!(
        member_lines,
        101 * 23 - 101,
        "23 series per member, less the time in state"
    );

    // A limit of 5: the broken ones still come first.
    registry.group("hosts").unwrap().set_limit(5);
    let (_, s) = scrape(&registry);
    let mut first_five: BTreeSet<String> = broken.iter().take(5).cloned().collect();
    first_five.insert("(overflow)".to_owned());
    assert_eq!(keys(&s, "hosts", None), first_five);
    assert_eq!(
        value(&s, "breaker_group_hidden", &[("breaker", "hosts")]),
        9_995.0
    );
}

#[test]
fn a_map_full_of_broken_keys_shows_as_full_and_counts_the_lookups_sent_to_overflow() {
    let hosts = hosts(3);
    let registry = Registry::new();
    hosts.report_to(&registry, "hosts").unwrap();
    let group = [("breaker", "hosts")];
    let (text, s) = scrape(&registry);
    assert_eq!(value(&s, "breaker_group_keys", &group), 0.0);
    assert_eq!(value(&s, "breaker_group_capacity", &group), 3.0);
    // The group's own series carry the group's name and nothing else.
    for line in text.lines().filter(|l| l.starts_with("breaker_group_")) {
        assert!(line.contains("{breaker=\"hosts\"} "), "{line}");
    }

    // Full of Broken keys: nothing may be evicted, so new keys share the
    // overflow breaker, every lookup of them counted.
    for k in ["a", "b", "c"] {
        trip(&hosts, k);
    }
    for k in ["d", "e", "d"] {
        assert!(hosts.call(k, || Ok::<_, ()>(())).is_ok());
    }
    assert!(!hosts.contains_key("d"));

    let (_, s) = scrape(&registry);
    assert_eq!(value(&s, "breaker_group_keys", &group), 3.0);
    assert_eq!(value(&s, "breaker_group_capacity", &group), 3.0);
    assert_eq!(
        value(&s, "breaker_group_overflow_lookups_total", &group),
        3.0
    );
    assert_eq!(value(&s, "breaker_group_evictions_total", &group), 0.0);
    // The first new key swept and found nothing to evict; the next ones
    // did not sweep again within the bucket's length (the clock stood).
    assert_eq!(value(&s, "breaker_group_sweeps_total", &group), 1.0);
    let overflow = [
        ("breaker", "hosts"),
        ("key", "(overflow)"),
        ("result", "success"),
    ];
    assert_eq!(value(&s, "breaker_results_total", &overflow), 3.0);
    assert_eq!(
        keys(&s, "hosts", None),
        BTreeSet::from(["(overflow)", "a", "b", "c"].map(String::from))
    );
}

#[test]
fn an_evicted_key_is_gone_from_the_next_scrape() {
    let hosts = hosts(2);
    let registry = Registry::new();
    hosts.report_to(&registry, "hosts").unwrap();
    for k in ["a", "b"] {
        assert!(hosts.call(k, || Ok::<_, ()>(())).is_ok());
    }
    let (_, s) = scrape(&registry);
    let before = BTreeSet::from(["(overflow)", "a", "b"].map(String::from));
    assert_eq!(keys(&s, "hosts", None), before);

    let group = [("breaker", "hosts")];
    assert_eq!(value(&s, "breaker_group_keys", &group), 2.0);
    assert_eq!(value(&s, "breaker_group_evictions_total", &group), 0.0);
    assert_eq!(value(&s, "breaker_group_sweeps_total", &group), 0.0);

    // The map is full: a new key evicts one of the idle Passing two.
    assert!(hosts.call("c", || Ok::<_, ()>(())).is_ok());
    assert_eq!(hosts.stats().evictions, 1);
    let kept: BTreeSet<String> = ["(overflow)", "a", "b", "c"]
        .into_iter()
        .filter(|k| *k == "(overflow)" || hosts.contains_key(*k))
        .map(String::from)
        .collect();
    assert_eq!(kept.len(), 3);
    let (_, s) = scrape(&registry);
    assert_eq!(keys(&s, "hosts", None), kept);
    assert_eq!(value(&s, "breaker_group_keys", &group), 2.0);
    assert_eq!(value(&s, "breaker_group_capacity", &group), 2.0);
    assert_eq!(value(&s, "breaker_group_evictions_total", &group), 1.0);
    assert_eq!(value(&s, "breaker_group_sweeps_total", &group), 1.0);
    assert_eq!(
        value(&s, "breaker_group_overflow_lookups_total", &group),
        0.0
    );
    assert_eq!(
        value(&s, "breaker_group_hidden", &[("breaker", "hosts")]),
        0.0
    );

    // An operator's removal too.
    hosts.remove("c");
    let (_, s) = scrape(&registry);
    assert!(!keys(&s, "hosts", None).contains("c"));
}

#[test]
fn odd_keys_export_safely_and_bounded() {
    let hosts = hosts(100);
    let registry = Registry::new();
    hosts.report_to(&registry, "hosts").unwrap();
    let long = |end: &str| format!("héllo \"wörld\" \\ {}{end}", "ü".repeat(200));
    let odd = [
        long("1"),
        long("2"),
        "tab\there\nnewline \u{1b}[31m".to_owned(),
        "日本語:443".to_owned(),
        String::new(),
    ];
    for k in &odd {
        trip(&hosts, k);
    }

    let (text, s) = scrape(&registry);
    let broken = keys(&s, "hosts", Some("broken"));
    assert_eq!(broken.len(), odd.len(), "{broken:?}");
    // The parser hands label values back as written, escapes and all.
    let escaped = |label: &str| label.replace('\\', "\\\\").replace('"', "\\\"");
    assert!(broken.contains(&escaped("tab\u{FFFD}here\u{FFFD}newline \u{FFFD}[31m")));
    assert!(broken.contains("日本語:443"));
    assert!(broken.contains(""));
    // The long keys: cut on a character boundary, with `…` and a hash that
    // tells them apart; at most 128 bytes.
    let prefix = escaped(&long("")[..108]);
    let long_labels: Vec<&String> = broken.iter().filter(|k| k.starts_with(&prefix)).collect();
    assert_eq!(long_labels.len(), 2, "{broken:?}");
    for label in long_labels {
        let (_, hash) = label.rsplit_once('…').unwrap();
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
        let unescaped = label.replace("\\\"", "\"").replace("\\\\", "\\");
        assert!(unescaped.len() <= 128, "{}", unescaped.len());
    }
    // No raw control character reaches the text.
    assert!(!text.contains('\t') && !text.contains('\u{1b}'));
}

/// The next event of a transition stream, without a runtime: the stream is
/// a broadcast channel, ready or empty.
fn next_event(
    stream: &mut breaker_ops::Transitions,
) -> Option<Result<breaker_ops::Event, breaker_ops::Lagged>> {
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    match futures_core::Stream::poll_next(Pin::new(stream), &mut cx) {
        Poll::Ready(item) => item,
        Poll::Pending => None,
    }
}

#[test]
fn a_keyed_breakers_transitions_reach_the_registrys_stream_with_group_and_key() {
    let hosts = hosts(1);
    // A key made before `report_to` is reported as well as those after.
    assert_eq!(hosts.call("early:443", || Ok::<_, ()>(())), Ok(()));
    let registry = Registry::new();
    let mut stream = registry.transitions();
    hosts.report_to(&registry, "hosts").unwrap();

    trip(&hosts, "early:443");
    let event = next_event(&mut stream).expect("one event").expect("no lag");
    assert_eq!(&*event.breaker, "hosts");
    assert_eq!(event.key.as_deref(), Some("early:443"));
    assert_eq!(
        (event.transition.from, event.transition.to),
        (State::Passing, State::Broken)
    );
    assert!(
        next_event(&mut stream).is_none(),
        "one transition, one event"
    );

    // The map is full of a Broken breaker: a new key shares the overflow one.
    trip(&hosts, "late:443");
    let event = next_event(&mut stream).expect("one event").expect("no lag");
    assert_eq!(&*event.breaker, "hosts");
    assert_eq!(event.key.as_deref(), Some(breaker_ops::OVERFLOW_KEY));
    assert_eq!(
        (event.transition.from, event.transition.to),
        (State::Passing, State::Broken)
    );

    // A long key is bounded as the exported key label is.
    let long = "x".repeat(1000);
    let roomy = self::hosts(10);
    roomy.report_to(&registry, "roomy").unwrap();
    roomy.get(long.as_str()).force_open();
    let event = next_event(&mut stream).expect("one event").expect("no lag");
    let key = event.key.expect("a key");
    assert_eq!(key.len(), 128);
    assert!(key.starts_with(&"x".repeat(109)));

    assert_eq!(
        roomy.report_to(&Registry::new(), "again").unwrap_err(),
        breaker_ops::RegisterError::ListenerTaken {
            name: "again".to_owned(),
            registered_as: "roomy".to_owned(),
        },
        "a map reports its transitions to one registry"
    );
}

/// Two `report_to` calls on one map at once: one wins, and the other
/// registers nothing in its registry.
#[test]
fn of_two_racing_report_tos_the_loser_registers_nothing() {
    let hosts = hosts(10);
    let registries = [Registry::new(), Registry::new()];
    let results: Vec<bool> = std::thread::scope(|s| {
        let racers: Vec<_> = registries
            .iter()
            .map(|registry| s.spawn(|| hosts.report_to(registry, "hosts").is_ok()))
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
    for (registry, won) in registries.iter().zip(results) {
        assert_eq!(registry.group("hosts").is_some(), won);
    }
}
