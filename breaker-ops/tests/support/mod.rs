//! What the integration tests share: breakers with known histories on mock
//! clocks, and a real HTTP server and client on loopback.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use breaker_core::{CircuitBreaker, Config, MockClock, NoListener};
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
