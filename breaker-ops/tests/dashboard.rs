//! The dashboard in a real headless browser (Debian's `chromium`) against a
//! running server on loopback: after its script runs, the page shows each
//! breaker's name and state, and the new state after a forced transition.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use breaker_ops::{Health, Registry};
use support::{app, clock, post, reporting, serve, silent, trip};

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
