//! A real HTTP round trip on loopback: a client, a proxy whose handler calls
//! an upstream through a breaker, and an upstream that fails, then heals.
//!
//! The proxy's breaker runs on a `MockClock` the test advances, so breaker
//! time is exact and nothing sleeps; the sockets are real (127.0.0.1,
//! OS-assigned ports). The HTTP client is hyper-util's legacy client over
//! HTTP/1: axum already depends on hyper, so it adds no second HTTP stack.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use breaker_tokio::axum::Rejection;
use breaker_tokio::{Config, Error, MockClock, State};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// The seed's breaker: aiomisc's `error_ratio=0.2, response_time=20,
/// broken_time=5` (no grace period, so the test can trip it at once).
const CONFIG: Config = Config::new(0.2, Duration::from_secs(20))
    .broken_time(Duration::from_secs(5))
    .passing_time(Duration::ZERO);

static CLOCK: MockClock = MockClock::new();
static BREAKER: breaker_core::CircuitBreaker<&MockClock> =
    breaker_core::CircuitBreaker::new(CONFIG, &CLOCK);

#[derive(Default)]
struct Upstream {
    failing: AtomicBool,
    hits: AtomicU64,
}

async fn upstream(Extract(up): Extract<Arc<Upstream>>) -> Response {
    up.hits.fetch_add(1, Ordering::SeqCst);
    if up.failing.load(Ordering::SeqCst) {
        (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response()
    } else {
        (StatusCode::OK, "gists").into_response()
    }
}

#[derive(Clone)]
struct Proxy {
    client: HttpClient,
    upstream: Uri,
}

async fn fetch(proxy: &Proxy) -> Result<Bytes, StatusCode> {
    let response = proxy
        .client
        .get(proxy.upstream.clone())
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if response.status().is_server_error() {
        return Err(response.status());
    }
    let body = response.into_body().collect().await;
    Ok(body.map_err(|_| StatusCode::BAD_GATEWAY)?.to_bytes())
}

async fn proxy(Extract(proxy): Extract<Proxy>) -> Response {
    match breaker_tokio::call(&BREAKER, fetch(&proxy)).await {
        Ok(body) => (StatusCode::OK, body).into_response(),
        // 503 with Retry-After in whole seconds (breaker-tokio's `axum` feature).
        Err(Error::Broken(broken)) => Rejection::from(broken).into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/gists")
}

/// GET `uri`: the status and the `Retry-After` header, if any.
async fn get_once(client: &HttpClient, uri: &str) -> (StatusCode, Option<String>) {
    let response = client.get(uri.parse().unwrap()).await.unwrap();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let status = response.status();
    let _ = response.into_body().collect().await.unwrap();
    (status, retry_after)
}

#[tokio::test]
async fn a_failing_upstream_breaks_the_proxy_then_heals() {
    let up = Arc::new(Upstream::default());
    let up_uri = serve(
        Router::new()
            .route("/gists", get(upstream))
            .with_state(up.clone()),
    )
    .await;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let proxy_uri = serve(Router::new().route("/gists", get(proxy)).with_state(Proxy {
        client: client.clone(),
        upstream: up_uri.parse().unwrap(),
    }))
    .await;

    // Healthy: the proxy passes the upstream's answer through.
    assert_eq!(get_once(&client, &proxy_uri).await, (StatusCode::OK, None));

    // The upstream fails every request. 9 failures in 10 calls: Broken
    // (0.9 >= 0.2, with the 10 calls min_calls asks for).
    up.failing.store(true, Ordering::SeqCst);
    for _ in 0..9 {
        let (status, _) = get_once(&client, &proxy_uri).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
    }
    assert_eq!(BREAKER.state(), State::Broken);
    assert_eq!(up.hits.load(Ordering::SeqCst), 10);

    // Broken: fast 503s with Retry-After, and the upstream is left alone.
    for _ in 0..5 {
        let answer = get_once(&client, &proxy_uri).await;
        assert_eq!(answer, (StatusCode::SERVICE_UNAVAILABLE, Some("5".into())));
    }
    CLOCK.advance(Duration::from_millis(2500));
    let answer = get_once(&client, &proxy_uri).await;
    assert_eq!(answer, (StatusCode::SERVICE_UNAVAILABLE, Some("3".into())));
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        10,
        "no upstream call while broken"
    );
    assert_eq!(BREAKER.metrics().call_broken, 6);

    // The upstream heals; broken_time ends. At the start of the ramp nothing
    // is admitted yet.
    up.failing.store(false, Ordering::SeqCst);
    CLOCK.advance(Duration::from_millis(2500));
    assert_eq!(BREAKER.state(), State::Recovering);
    let answer = get_once(&client, &proxy_uri).await;
    assert_eq!(answer, (StatusCode::SERVICE_UNAVAILABLE, Some("1".into())));

    // Half way through the ramp, a share of requests reaches the upstream
    // and succeeds; the rest are still turned away.
    CLOCK.advance(Duration::from_secs(10));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get_once(&client, &proxy_uri).await.0);
    }
    let passed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(passed, 2, "p = 0.414 per attempt: {statuses:?}");
    assert_eq!(BREAKER.state(), State::Recovering);

    // After recovery_time, the next success brings it back to Passing.
    CLOCK.advance(Duration::from_secs(10));
    assert_eq!(get_once(&client, &proxy_uri).await, (StatusCode::OK, None));
    assert_eq!(BREAKER.state(), State::Passing);
    let m = BREAKER.metrics();
    assert_eq!((m.trips, m.failures), (1, 9));
    assert_eq!(up.hits.load(Ordering::SeqCst), 13);
}
