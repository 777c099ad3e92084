//! `#[breaker_tokio::cutout]` over real HTTP on loopback: an upstream that
//! always fails trips the decorated function's breaker after `min_calls`
//! failures, and from then on calls fail fast without reaching the upstream.
//!
//! The runtime's clock is not paused and nothing sleeps: `broken_time` and
//! `window` are a minute long, so the breaker cannot leave Broken (nor forget
//! a failure) while the test runs, and every count is exact. Sockets are on
//! 127.0.0.1 with OS-assigned ports; the client is hyper-util's legacy client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use breaker_tokio::axum::Rejection;
use breaker_tokio::{Error, State, cutout};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// An upstream answering every request with one status, counting them.
struct Upstream {
    status: StatusCode,
    hits: AtomicUsize,
}

async fn upstream(Extract(up): Extract<Arc<Upstream>>) -> Response {
    up.hits.fetch_add(1, Ordering::SeqCst);
    (up.status, "gists").into_response()
}

#[derive(Debug, PartialEq)]
enum FetchError {
    Status(StatusCode),
    Unreachable,
}

/// aiomisc's exceptions list: 5xx and connection errors are the upstream's
/// fault; a 4xx is not.
fn is_upstream_fault(e: &FetchError) -> bool {
    match e {
        FetchError::Status(status) => status.is_server_error(),
        FetchError::Unreachable => true,
    }
}

/// One GET; any status but 2xx is an error (aiohttp's `raise_for_status`).
async fn get_gists(client: &HttpClient, url: Uri) -> Result<String, FetchError> {
    let response = client.get(url).await.map_err(|_| FetchError::Unreachable)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    let body = response.into_body().collect().await;
    let body = body.map_err(|_| FetchError::Unreachable)?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

// The example's settings, with a minute of `window` and `broken_time`.
#[cutout(
    error_ratio = 0.2,
    window = "60s",
    broken_time = "60s",
    passing_time = "0s",
    min_calls = 5,
    failure = is_upstream_fault,
    name = GISTS,
)]
async fn fetch_gists(client: &HttpClient, url: Uri) -> Result<String, FetchError> {
    get_gists(client, url).await
}

// The same, with a breaker of its own, for the 4xx test.
#[cutout(
    error_ratio = 0.2,
    window = "60s",
    broken_time = "60s",
    passing_time = "0s",
    min_calls = 5,
    failure = is_upstream_fault,
    name = MISSING,
)]
async fn fetch_missing(client: &HttpClient, url: Uri) -> Result<String, FetchError> {
    get_gists(client, url).await
}

#[derive(Clone)]
struct Proxy {
    client: HttpClient,
    upstream: Uri,
}

/// The example's handler: 503 with `Retry-After` when the breaker refuses.
async fn proxy(Extract(proxy): Extract<Proxy>) -> Response {
    match fetch_gists(&proxy.client, proxy.upstream.clone()).await {
        Ok(gists) => (StatusCode::OK, gists).into_response(),
        // 503 with Retry-After in whole seconds (breaker-tokio's `axum` feature).
        Err(Error::Broken(broken)) => Rejection::from(broken).into_response(),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn serve(router: Router) -> Uri {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/gists").parse().unwrap()
}

async fn start_upstream(status: StatusCode) -> (Arc<Upstream>, Uri) {
    let up = Arc::new(Upstream {
        status,
        hits: AtomicUsize::new(0),
    });
    let router = Router::new().route("/gists", get(upstream));
    (up.clone(), serve(router.with_state(up)).await)
}

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

#[tokio::test]
async fn a_failing_upstream_trips_it_then_calls_fail_fast() {
    let (up, url) = start_upstream(StatusCode::INTERNAL_SERVER_ERROR).await;
    let client = client();

    // min_calls = 5: four failures are no verdict yet, the fifth trips it.
    for call in 1..=5 {
        assert_eq!(
            fetch_gists(&client, url.clone()).await,
            Err(Error::Inner(FetchError::Status(
                StatusCode::INTERNAL_SERVER_ERROR
            )))
        );
        let expected = if call < 5 {
            State::Passing
        } else {
            State::Broken
        };
        assert_eq!(GISTS.state(), expected, "after call {call}");
    }
    assert_eq!(up.hits.load(Ordering::SeqCst), 5);

    // Broken: rejected without running the body, so the upstream is not hit.
    let Err(Error::Broken(rejected)) = fetch_gists(&client, url.clone()).await else {
        panic!("a broken breaker admitted a call");
    };
    assert_eq!(rejected.state(), State::Broken);
    let retry_after = rejected.retry_after();
    assert!(
        retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60),
        "retry_after {retry_after:?}"
    );

    // Through the handler: a 503 with Retry-After, still without the upstream.
    let proxy_url = serve(Router::new().route("/gists", get(proxy)).with_state(Proxy {
        client: client.clone(),
        upstream: url,
    }))
    .await;
    for _ in 0..2 {
        let response = client.get(proxy_url.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let header = response.headers().get(header::RETRY_AFTER).unwrap();
        let secs: u64 = header.to_str().unwrap().parse().unwrap();
        assert!((51..=60).contains(&secs), "Retry-After: {secs}");
    }
    assert_eq!(up.hits.load(Ordering::SeqCst), 5);

    let m = GISTS.metrics();
    assert_eq!(m.state, State::Broken);
    assert_eq!(m.call_count, 8);
    assert_eq!(m.call_passing, 5);
    assert_eq!(m.call_broken, 3);
    assert_eq!(m.call_recovering, 0);
    assert_eq!((m.successes, m.failures, m.ignored, m.late), (0, 5, 0, 0));
    assert_eq!(m.trips, 1);
}

#[tokio::test]
async fn client_errors_do_not_count_against_the_upstream() {
    let (up, url) = start_upstream(StatusCode::NOT_FOUND).await;
    let client = client();

    // Every call fails with 404, which the caller sees, but the breaker
    // records successes: it never trips.
    for _ in 0..10 {
        assert_eq!(
            fetch_missing(&client, url.clone()).await,
            Err(Error::Inner(FetchError::Status(StatusCode::NOT_FOUND)))
        );
    }
    assert_eq!(up.hits.load(Ordering::SeqCst), 10);
    let m = MISSING.metrics();
    assert_eq!(m.state, State::Passing);
    assert_eq!((m.call_count, m.call_passing, m.call_broken), (10, 10, 0));
    assert_eq!((m.successes, m.failures, m.trips), (10, 0, 0));
}
