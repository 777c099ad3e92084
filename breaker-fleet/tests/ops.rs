//! A fleet breaker in a breaker-ops registry, against a real `redis-server`
//! and over real HTTP on loopback: its transitions (its own and the fleet's
//! advice) reach the registry's stream, and the fleet's status shows in the
//! JSON views and the Prometheus gauge, down while Redis is killed and up
//! again once it is back.
//!
//! Network effects are awaited by polling an observable condition with a
//! bound, never by sleeping for time to pass.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use breaker_core::{Cause, CircuitBreaker, Config, Listener, MockClock, State};
use breaker_fleet::{Fleet, FleetConfig, Status};
use breaker_ops::{Health, OpsListener, OpsRouter, Registry};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use redis_server::RedisServer;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Wide for a loaded CI machine; on loopback it takes about a millisecond.
const BOUND: Duration = Duration::from_secs(5);

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(Duration::from_secs(30))
}

async fn join(server: &RedisServer, instance: &str) -> Fleet {
    let fleet = Fleet::join(
        FleetConfig::new(server.url(), instance)
            .prefix("ops")
            .heartbeat(Duration::from_millis(200))
            .join_timeout(BOUND)
            .backoff(Duration::from_millis(20), Duration::from_millis(200)),
    )
    .await
    .unwrap();
    assert_eq!(fleet.status(), Status::Connected, "{instance} joined");
    fleet
}

fn fleet_breaker<L: Listener + Send + Sync + 'static>(
    fleet: &Fleet,
    listener: impl FnOnce(breaker_fleet::FleetListener) -> L,
) -> Arc<CircuitBreaker<&'static MockClock, 10, L>> {
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    fleet
        .breaker("db", |l| {
            CircuitBreaker::with_listener(config(), clock, listener(l))
        })
        .unwrap()
}

/// One failure trips a fresh window (`min_calls` 1).
fn trip<L: Listener>(breaker: &CircuitBreaker<&'static MockClock, 10, L>) {
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.state(), State::Broken);
}

/// Waits until `condition` holds, polling every 2 ms; fails after [`BOUND`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < BOUND, "not within {BOUND:?}: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn serve(registry: &Registry) -> SocketAddr {
    let app = axum::Router::new().nest("/ops", OpsRouter::new(registry.clone()).into_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn get(addr: SocketAddr, path: &str) -> String {
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let response = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The `sources` of breaker `db` in `GET /ops/breakers/db`, and the
/// `breaker_source_up` samples in `GET /ops/metrics`, parsed back.
async fn shown(addr: SocketAddr) -> (Value, Vec<(String, String, f64)>) {
    let view: Value = serde_json::from_str(&get(addr, "/ops/breakers/db").await).unwrap();
    let text = get(addr, "/ops/metrics").await;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let gauges = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "breaker_source_up")
        .map(|s| {
            let prometheus_parse::Value::Gauge(v) = s.value else {
                panic!("breaker_source_up is a gauge: {text}");
            };
            (
                s.labels["breaker"].to_owned(),
                s.labels["source"].to_owned(),
                v,
            )
        })
        .collect();
    (view["sources"].clone(), gauges)
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn a_fleet_breakers_transitions_reach_the_registrys_stream() {
    let server = RedisServer::start();
    let a = join(&server, "a").await;
    let b = join(&server, "b").await;
    let c = join(&server, "c").await;
    let registry = Registry::new();
    let mut events = registry.transitions();
    let db = fleet_breaker(&a, OpsListener::forwarding);
    let entry = registry.register("db", db.clone()).unwrap();
    assert!(entry.reports_transitions());
    let db_b = fleet_breaker(&b, |l| l);
    let db_c = fleet_breaker(&c, |l| l);
    eventually("three live instances", || a.live_instances() == 3).await;

    // The fleet's advice: b and c trip, a quorum of 3 (half, at least 2).
    trip(&db_b);
    trip(&db_c);
    eventually("a advised Broken", || db.state() == State::Broken).await;
    let advised = events.next().await.unwrap().unwrap();
    assert_eq!(&*advised.breaker, "db");
    let t = advised.transition;
    assert_eq!(
        (t.from, t.to, t.cause),
        (State::Passing, State::Broken, Cause::Advice)
    );
    assert_eq!(a.stats().advised, 1);

    // An operator's reset and the breaker's own trip: the registry hears
    // them, and the fleet still does (it publishes the trip).
    db.reset();
    trip(&db);
    let heard: Vec<_> = [
        events.next().await.unwrap().unwrap(),
        events.next().await.unwrap().unwrap(),
    ]
    .iter()
    .map(|e| (e.transition.from, e.transition.to, e.transition.cause))
    .collect();
    assert_eq!(
        heard,
        [
            (State::Broken, State::Passing, Cause::Operator),
            (State::Passing, State::Broken, Cause::Machine),
        ]
    );
    eventually("a's own trip published", || a.stats().published == 1).await;
    assert_eq!(entry.recent_transitions().len(), 3);
}

#[tokio::test]
async fn the_fleets_status_shows_in_the_json_views_and_the_gauge() {
    let mut server = RedisServer::start();
    let fleet = join(&server, "a").await;
    let registry = Registry::new();
    let db = fleet_breaker(&fleet, OpsListener::forwarding);
    fleet
        .report_to(&registry.register("db", db.clone()).unwrap())
        .unwrap();
    // A second report to the same breaker is refused, not doubled.
    assert!(fleet.report_to(&registry.get("db").unwrap()).is_err());
    let addr = serve(&registry).await;
    let up = || {
        (
            json!([{ "name": "fleet", "up": true }]),
            vec![("db".to_owned(), "fleet".to_owned(), 1.0)],
        )
    };
    assert_eq!(shown(addr).await, up());

    server.kill();
    eventually("Degraded", || {
        matches!(fleet.status(), Status::Degraded { .. })
    })
    .await;
    let Status::Degraded { since, .. } = fleet.status() else {
        unreachable!()
    };
    let (sources, gauges) = shown(addr).await;
    assert_eq!(sources[0]["name"], "fleet");
    assert_eq!(sources[0]["up"], false);
    assert_eq!(sources[0]["down_since"], unix_seconds(since));
    let reason = sources[0]["reason"].as_str().unwrap();
    assert!(!reason.is_empty(), "{sources}");
    assert_eq!(gauges, [("db".to_owned(), "fleet".to_owned(), 0.0)]);
    // Calls flow meanwhile, decided locally.
    assert_eq!(db.call(|| Ok::<_, ()>(7)), Ok(7));

    server.restart();
    eventually("Connected again", || fleet.status() == Status::Connected).await;
    assert_eq!(shown(addr).await, up());

    // Left: shown down, without keeping the fleet alive.
    fleet.leave().await;
    let entry = registry.get("db").unwrap();
    eventually("down once the fleet is gone", || {
        !entry.health()[0].1.is_up()
    })
    .await;
    let [(_, Health::Down { reason, .. })] = &entry.health()[..] else {
        panic!("one fleet source, down");
    };
    assert_eq!(reason, "the fleet was left or dropped");
}
