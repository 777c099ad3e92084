//! The dashboard in a real headless browser (Debian's `chromium`) against a
//! running server on loopback: after its script runs, the page shows each
//! breaker's name and state, and the new state after a forced transition;
//! and each group's members, keys shown as text whatever they hold.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use breaker_ops::{Health, Registry};
use support::{app, clock, group_with_stats, post, reporting, serve, silent, trip};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The page's DOM once its script has run: chromium loads it with a fresh
/// profile and dumps the DOM when its virtual-time budget is spent (the
/// page's first fetch and render happen well within it).
fn dump_dom(url: &str) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium \
         (apt-get install chromium; .ci/run does) to run the dashboard tests"
    );
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let profile = std::env::temp_dir().join(format!(
        "breaker-ops-dashboard-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let output = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Fails with the card's HTML unless it contains every one of `parts`.
fn shows(card: &str, parts: &[&str]) {
    for part in parts {
        assert!(card.contains(part), "missing {part:?} in:\n{card}");
    }
}

/// The `<section>` the dashboard draws for `name`.
fn card<'a>(dom: &'a str, name: &str) -> &'a str {
    let start = dom
        .find(&format!("<section class=\"breaker\" data-name=\"{name}\""))
        .unwrap_or_else(|| panic!("no card for {name} in:\n{dom}"));
    let end = dom[start..].find("</section>").unwrap();
    &dom[start..start + end]
}

/// The `<section>` the dashboard draws for the group member whose key shows
/// as `key_html` (its text as the DOM serializes it).
fn member<'a>(dom: &'a str, key_html: &str) -> &'a str {
    let key = dom
        .find(&format!("<span class=\"key\">{key_html}</span>"))
        .unwrap_or_else(|| panic!("no member {key_html} in:\n{dom}"));
    let start = dom[..key].rfind("<section class=\"member\"").unwrap();
    let end = dom[start..].find("</section>").unwrap();
    &dom[start..start + end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_each_breaker_and_follows_a_forced_transition() {
    let registry = Registry::new();
    let db = reporting(clock());
    let db_entry = registry.register("db", db.clone()).unwrap();
    db_entry.add_source("fleet", || Health::Up).unwrap();
    let cache_clock = clock();
    let cache = silent(cache_clock);
    let cache_entry = registry.register("cache", cache.clone()).unwrap();
    cache_entry
        .add_source("fleet", || Health::Down {
            since: SystemTime::UNIX_EPOCH,
            reason: "connection refused".into(),
        })
        .unwrap();
    trip(&cache);
    cache_clock.advance(Duration::from_secs(2));
    let addr = serve(app(&registry, true)).await;
    let url = format!("http://{addr}/ops/dashboard");

    let page = url.clone();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&page))
        .await
        .unwrap();
    shows(
        card(&dom, "db"),
        &[
            "data-state=\"passing\" data-mode=\"automatic\"",
            "<span class=\"name\">db</span>",
            "<span class=\"state passing\">passing</span>",
            "no transition yet",
            "<div data-source=\"fleet\">fleet<b>up</b></div>",
        ],
    );
    shows(
        card(&dom, "cache"),
        &[
            "<span class=\"name\">cache</span>",
            "<span class=\"state broken\">broken</span>",
            // Broken for 5 s, 2 s of it gone; a Broken window is empty.
            "retry after<b>3.0 s</b>",
            "window calls<b>0 / 0 failed</b>",
            "trips<b>1</b>",
            "not reported (no OpsListener)",
            "<div data-source=\"fleet\" title=\"connection refused\" class=\"down\">fleet<b>down</b></div>",
        ],
    );

    let reply = post(addr, "/ops/breakers/db/force-open").await;
    assert_eq!(reply.status, hyper::StatusCode::OK);
    let dom = tokio::task::spawn_blocking(move || dump_dom(&url))
        .await
        .unwrap();
    shows(
        card(&dom, "db"),
        &[
            "data-state=\"broken\" data-mode=\"forced_open\"",
            "<span class=\"state broken\">broken (forced open)</span>",
            "<li><time>0.0 s ago</time>passing → forced open</li>",
        ],
    );
}

/// A key from outside, as a keyed map would take it from a request. Were
/// it parsed as HTML, its handler would rename the page (an `alert` would
/// hang headless chromium instead of failing the test).
const HOSTILE: &str = "<img src=x onerror=\"document.title='injected'\">";
/// How the DOM serializes it as text.
const HOSTILE_TEXT: &str = "&lt;img src=x onerror=\"document.title='injected'\"&gt;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_groups_members_and_keys_as_text() {
    let registry = Registry::new();
    let keys = [
        "api.example:443",
        "cdn.example:443",
        HOSTILE,
        "x.example:443",
        "y.example:443",
    ];
    let (group, hosts) = group_with_stats(&registry, "upstreams", &keys, Some(support::MAP_STATS));
    // Two real transitions, as a member's listener hears them, reported
    // with their keys (one hostile) in this order.
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    let heard_one = breaker_core::CircuitBreaker::<_, 10, _>::with_listener(
        support::CONFIG,
        clock(),
        move |t: breaker_core::Transition| log.lock().unwrap().push(t),
    );
    trip(&heard_one);
    heard_one.reset();
    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard.len(), 2, "{heard:?}");
    group.report_transition(Some(&"api.example:443"), heard[0]);
    group.report_transition(Some(&HOSTILE), heard[1]);
    trip(&hosts[0]);
    for outcome in [Ok(()), Ok(()), Ok(()), Err("down")] {
        let _ = hosts[1].call(|| outcome);
    }
    // The broken host first, then the passing ones in key order ('<' sorts
    // before letters): x and y are over the limit.
    group.set_limit(3);
    let addr = serve(app(&registry, true)).await;
    let url = format!("http://{addr}/ops/dashboard");

    let dom = tokio::task::spawn_blocking(move || dump_dom(&url))
        .await
        .unwrap();
    let section = dom
        .find("<section class=\"group\" data-name=\"upstreams\"><h2>upstreams</h2>")
        .unwrap_or_else(|| panic!("no section for the group in:\n{dom}"));
    assert!(
        !dom.contains("No breaker is registered yet"),
        "a group is something to show:\n{dom}"
    );
    shows(
        member(&dom, "api.example:443"),
        &[
            "data-state=\"broken\" data-mode=\"automatic\"",
            "<span class=\"state broken\">broken</span>",
            "retry after<b>5.0 s</b>",
            "window calls<b>0 / 0 failed</b>",
            "trips<b>1</b>",
            // Members have no OpsListener: no time in state.
            "in state<b>—</b>",
        ],
    );
    shows(
        member(&dom, "cdn.example:443"),
        &[
            "data-state=\"passing\" data-mode=\"automatic\"",
            "<span class=\"state passing\">passing</span>",
            "window calls<b>1 / 4 failed</b>",
            "error ratio 25.0% (breaks at 50.0%, min 4 calls)",
            "trips<b>0</b>",
        ],
    );
    // The hostile key is text: escaped in the serialized DOM, and no element
    // was made of it.
    shows(
        member(&dom, HOSTILE_TEXT),
        &["<span class=\"state passing\">passing</span>"],
    );
    assert!(!dom.contains("<img"), "a key became an element:\n{dom}");
    assert!(dom.contains("<title>Circuit breakers</title>"), "{dom}");
    shows(
        member(&dom, "(overflow)"),
        &[
            "<span class=\"tag\" title=\"the breaker new keys share while the group's map is full\">overflow</span>",
        ],
    );
    for over_the_limit in ["x.example:443", "y.example:443"] {
        assert!(!dom.contains(over_the_limit), "{over_the_limit} is shown");
    }
    shows(
        &dom[section..],
        &[
            "<h2>upstreams</h2><div class=\"stats\" title=\"2 sweeps of the full map for idle keys\">412 of 1,000 keys · 3 evicted · 7 overflowed</div>",
            "<div class=\"label more\">2 more keys not shown</div>",
        ],
    );
    // The group's recent transitions, newest first, keys as text.
    let transitions = dom[section..]
        .find("<ol class=\"transitions\">")
        .map(|at| &dom[section + at..])
        .unwrap_or_else(|| panic!("no transitions in the group's section:\n{dom}"));
    let transitions = &transitions[..transitions.find("</ol>").unwrap()];
    assert_eq!(
        transitions,
        format!(
            "<ol class=\"transitions\">\
             <li><span class=\"who\">{HOSTILE_TEXT}</span>broken → passing</li>\
             <li><span class=\"who\">api.example:443</span>passing → broken for 5.0 s</li>"
        )
    );
    // In export order: the overflow breaker, then those needing attention.
    let at = |key: &str| {
        dom.find(&format!("<span class=\"key\">{key}</span>"))
            .unwrap()
    };
    assert!(at("(overflow)") < at("api.example:443"));
    assert!(at("api.example:443") < at(HOSTILE_TEXT));
    assert!(at(HOSTILE_TEXT) < at("cdn.example:443"));
}
