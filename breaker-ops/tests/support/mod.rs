//! What the integration tests share: breakers with known histories on mock
//! clocks, and a real HTTP server and client on loopback.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use breaker_core::{CircuitBreaker, Config, Metrics, MockClock, Mode, NoListener, State};
use breaker_ops::{OpsListener, Registry};
use http_body_util::BodyExt;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A breaker that reports to its registry.
pub type Reporting = CircuitBreaker<&'static MockClock, 10, OpsListener>;
/// A breaker that does not.
pub type Silent = CircuitBreaker<&'static MockClock, 10, NoListener>;

pub const CONFIG: Config = Config::new(0.5, Duration::from_secs(10))
    .min_calls(4)
    .passing_time(Duration::ZERO)
    .broken_time(Duration::from_secs(5));

/// A clock of its own for each breaker, so tests never share time.
pub fn clock() -> &'static MockClock {
    Box::leak(Box::new(MockClock::new()))
}

pub fn reporting(clock: &'static MockClock) -> Arc<Reporting> {
    Arc::new(CircuitBreaker::with_listener(
        CONFIG,
        clock,
        OpsListener::new(),
    ))
}

pub fn silent(clock: &'static MockClock) -> Arc<Silent> {
    Arc::new(CircuitBreaker::with_listener(CONFIG, clock, NoListener))
}

/// Gives `breaker` a history in which every counter differs from the others
/// of its kind, ending Recovering, half way up the ramp.
pub fn busy_history(breaker: &Reporting, clock: &MockClock) {
    for _ in 0..3 {
        assert!(breaker.call(|| Ok::<_, ()>(())).is_ok());
    }
    drop(breaker.try_acquire().unwrap()); // ignored
    drop(breaker.try_acquire().unwrap()); // ignored
    let late = breaker.try_acquire().unwrap();
    for _ in 0..3 {
        let _ = breaker.call(|| Err::<(), _>("down"));
    }
    assert_eq!(
        breaker.metrics().trips,
        1,
        "the third failure trips the breaker"
    );
    late.success(); // admitted in Passing, arrives in Broken: late
    for _ in 0..2 {
        assert!(breaker.call(|| Ok::<_, ()>(())).is_err());
    }
    clock.advance(Duration::from_secs(5)); // Recovering begins
    assert!(breaker.call(|| Ok::<_, ()>(())).is_err());
    clock.advance(Duration::from_secs(5)); // half way up the ramp
    let mut admitted = 0;
    while admitted == 0 {
        if breaker.call(|| Ok::<_, ()>(())).is_ok() {
            admitted += 1;
        }
    }
}

/// Trips `breaker` (no other history).
pub fn trip<L: breaker_core::Listener>(breaker: &CircuitBreaker<&'static MockClock, 10, L>) {
    for _ in 0..4 {
        let _ = breaker.call(|| Err::<(), _>("down"));
    }
    assert_eq!(breaker.metrics().trips, 1);
}

/// Serves `app` on a free loopback port until the test ends.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The ops router nested at `/ops`, as an application would mount it.
pub fn app(registry: &Registry, controls: bool) -> axum::Router {
    let mut ops = breaker_ops::OpsRouter::new(registry.clone());
    if controls {
        ops = ops.enable_controls();
    }
    axum::Router::new().nest("/ops", ops.into_router())
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request over a real connection.
pub async fn request(method: Method, addr: SocketAddr, path: &str, accept: Option<&str>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let response = client
        .request(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(Method::GET, addr, path, None).await
}

pub async fn post(addr: SocketAddr, path: &str) -> Reply {
    request(Method::POST, addr, path, None).await
}

/// Three breakers: `db` with a full history ending Recovering (reports
/// transitions), `cache` Broken for 3 more seconds, `search` forced open.
pub fn scene() -> (Registry, BTreeMap<&'static str, Metrics>) {
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

/// The admission series an exporter must show: (state, outcome, count).
pub fn calls(m: &Metrics) -> [(&'static str, &'static str, u64); 4] {
    [
        ("passing", "admitted", m.call_passing),
        ("broken", "rejected", m.call_broken),
        ("recovering", "admitted", m.call_recovering_ok),
        ("recovering", "rejected", m.call_recovering_failed),
    ]
}

/// The outcome series an exporter must show: (result, count).
pub fn results(m: &Metrics) -> [(&'static str, u64); 4] {
    [
        ("success", m.successes),
        ("failure", m.failures),
        ("ignored", m.ignored),
        ("late", m.late),
    ]
}

/// The state set an exporter must show: (state, 1 or 0).
pub fn states(m: &Metrics) -> [(&'static str, f64); 3] {
    let is = |s: State| if m.state == s { 1.0 } else { 0.0 };
    [
        ("passing", is(State::Passing)),
        ("broken", is(State::Broken)),
        ("recovering", is(State::Recovering)),
    ]
}

/// The mode set an exporter must show: (mode, 1 or 0).
pub fn modes(m: &Metrics) -> [(&'static str, f64); 3] {
    let is = |mode: Mode| if m.mode == mode { 1.0 } else { 0.0 };
    [
        ("automatic", is(Mode::Automatic)),
        ("forced_open", is(Mode::ForcedOpen)),
        ("disabled", is(Mode::Disabled)),
    ]
}

/// What a keyed map of 1,000 keys reports of itself: every figure apart.
pub const MAP_STATS: breaker_ops::GroupStats = breaker_ops::GroupStats {
    keys: 412,
    capacity: 1_000,
    evictions: 3,
    overflow_lookups: 7,
    sweeps: 2,
};

/// Registers the group `name` of one silent breaker per key, and an
/// overflow breaker; returns the group and the breakers in key order.
pub fn group_of(
    registry: &Registry,
    name: &str,
    keys: &[&'static str],
) -> (breaker_ops::Group, Vec<Arc<Silent>>) {
    group_with_stats(registry, name, keys, None)
}

/// [`group_of`] whose source also reports `stats` as the group's own
/// figures (as a keyed map does), if any.
pub fn group_with_stats(
    registry: &Registry,
    name: &str,
    keys: &[&'static str],
    stats: Option<breaker_ops::GroupStats>,
) -> (breaker_ops::Group, Vec<Arc<Silent>>) {
    let members: Vec<(&'static str, Arc<Silent>)> =
        keys.iter().map(|&k| (k, silent(clock()))).collect();
    let breakers = members.iter().map(|(_, b)| b.clone()).collect();
    let overflow = silent(clock());
    let group = registry
        .register_group(name, move |list| {
            if let Some(stats) = stats {
                list.stats(stats);
            }
            list.overflow(&*overflow);
            for (key, breaker) in &members {
                list.add(key, &**breaker);
            }
        })
        .unwrap();
    (group, breakers)
}
