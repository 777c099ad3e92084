//! A rejection as an HTTP answer (feature `axum`): `Rejection`'s `503` and
//! `Retry-After`, `handle_error` for `HandleErrorLayer`, and loopback axum
//! apps read by a real HTTP client (hyper-util's legacy client, HTTP/1).
//!
//! Time is tokio's paused clock, driven by `tokio::time::advance`: nothing
//! sleeps. Neither axum's server nor the client (without a pool timer) sets
//! a timer, so the paused clock cannot auto-advance while a request is on
//! the wire and every `Retry-After` below is exact.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::State as Extract;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use breaker_tokio::axum::{Rejection, handle_error};
use breaker_tokio::http::StatusPolicy;
use breaker_tokio::tower::CircuitBreakerLayer;
use breaker_tokio::tower::error::{BoxError, CircuitBroken};
use breaker_tokio::{CircuitBreaker, Config, Error, State};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::time::advance;
use tower::ServiceBuilder;

const BROKEN: Duration = Duration::from_secs(5);
const RECOVERY: Duration = Duration::from_secs(4);

fn breaker() -> Arc<CircuitBreaker> {
    Arc::new(breaker_tokio::new(
        Config::new(0.5, Duration::from_secs(4))
            .broken_time(BROKEN)
            .recovery_time(RECOVERY)
            .passing_time(Duration::ZERO)
            .min_calls(1),
    ))
}

async fn trip(b: &CircuitBreaker) {
    let _ = breaker_tokio::call(b, async { Err::<(), _>("down") }).await;
    assert_eq!(b.state(), State::Broken);
}

async fn rejection(b: &CircuitBreaker) -> CircuitBroken {
    let rejected = breaker_tokio::call(b, async { Ok::<_, BoxError>(()) }).await;
    *rejected.unwrap_err().broken().unwrap()
}

/// What a client sees: status, `Retry-After` (if any), body.
#[derive(Debug, PartialEq)]
struct Seen(u16, Option<String>, String);

async fn seen(response: Response) -> Seen {
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    seen_parts(parts.status, &parts.headers, &body)
}

fn seen_parts(status: StatusCode, headers: &axum::http::HeaderMap, body: &[u8]) -> Seen {
    let retry_after = headers
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    Seen(
        status.as_u16(),
        retry_after,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn seen_503(retry_after: Option<&str>, body: &str) -> Seen {
    Seen(503, retry_after.map(str::to_owned), body.to_owned())
}

#[tokio::test(start_paused = true)]
async fn a_broken_rejection_is_a_503_with_the_time_left_rounded_up() {
    let b = breaker();
    trip(&b).await;
    let response = Rejection::from(rejection(&b).await).into_response();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        seen(response).await,
        seen_503(Some("5"), "circuit broken: retry after 5s")
    );

    advance(Duration::from_millis(500)).await;
    let response = Rejection(rejection(&b).await).into_response();
    assert_eq!(
        seen(response).await,
        seen_503(Some("5"), "circuit broken: retry after 4.5s")
    );

    advance(Duration::from_millis(4500) - Duration::from_nanos(1)).await;
    let response = Rejection(rejection(&b).await).into_response();
    assert_eq!(
        seen(response).await,
        seen_503(Some("1"), "circuit broken: retry after 1ns")
    );
}

#[tokio::test(start_paused = true)]
async fn a_recovering_rejection_says_one_second_and_forced_open_says_nothing() {
    let b = breaker();
    trip(&b).await;
    advance(BROKEN).await;
    let response = Rejection(rejection(&b).await).into_response();
    assert_eq!(
        seen(response).await,
        seen_503(Some("1"), "circuit broken: recovering, call not sampled")
    );

    b.force_open();
    let response = Rejection(rejection(&b).await).into_response();
    assert_eq!(
        seen(response).await,
        seen_503(None, "circuit broken: forced open")
    );
}

/// An error that wraps another, as tower's `Buffer` wraps its service's.
#[derive(Debug)]
struct Wrapped(BoxError);

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wrapped: {}", self.0)
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

#[tokio::test(start_paused = true)]
async fn handle_error_finds_the_rejection_and_hides_other_errors() {
    let b = breaker();
    trip(&b).await;
    let rejected = rejection(&b).await;
    let expected = || seen_503(Some("5"), "circuit broken: retry after 5s");

    assert_eq!(
        seen(handle_error(Box::new(rejected)).await).await,
        expected()
    );
    let wrapped = Wrapped(Box::new(Wrapped(Box::new(rejected))));
    assert_eq!(Rejection::find(&wrapped), Some(Rejection(rejected)));
    assert_eq!(
        seen(handle_error(Box::new(wrapped)).await).await,
        expected()
    );

    let other = Wrapped("the database password is hunter2".into());
    assert_eq!(Rejection::find(&other), None);
    assert_eq!(
        seen(handle_error(Box::new(other)).await).await,
        Seen(500, None, String::new())
    );
}

// ---- loopback apps, read by a real client -------------------------------------

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn get_from(client: &HttpClient, addr: SocketAddr) -> Seen {
    let uri: Uri = format!("http://{addr}/").parse().unwrap();
    let response = client.get(uri).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    seen_parts(parts.status, &parts.headers, &body)
}

/// A dependency the test breaks and heals, counting the requests it serves.
#[derive(Default)]
struct Dependency {
    down: AtomicBool,
    hits: AtomicUsize,
}

async fn dependency(Extract(dep): Extract<Arc<Dependency>>) -> Response {
    dep.hits.fetch_add(1, Ordering::SeqCst);
    if dep.down.load(Ordering::SeqCst) {
        (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response()
    } else {
        (StatusCode::OK, "fine").into_response()
    }
}

/// The breaker as a layer on a route: the handler's `500` trips it, then
/// `handle_error` answers `503` without running the handler, until it heals.
#[tokio::test(start_paused = true)]
async fn a_layered_route_answers_503_while_broken_and_200_once_healed() {
    let b = breaker();
    let dep = Arc::new(Dependency::default());
    let app = Router::new()
        .route("/", get(dependency))
        .with_state(dep.clone())
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(handle_error))
                .layer(
                    CircuitBreakerLayer::new(b.clone())
                        .with_classifier(StatusPolicy::SERVER_ERRORS),
                ),
        );
    let addr = serve(app).await;
    let client = client();

    dep.down.store(true, Ordering::SeqCst);
    assert_eq!(
        get_from(&client, addr).await,
        Seen(500, None, "down".into())
    );
    assert_eq!(b.state(), State::Broken);
    let body = "circuit broken: retry after 5s";
    assert_eq!(get_from(&client, addr).await, seen_503(Some("5"), body));

    advance(Duration::from_millis(1500)).await;
    let body = "circuit broken: retry after 3.5s";
    assert_eq!(get_from(&client, addr).await, seen_503(Some("4"), body));

    advance(Duration::from_millis(3500) - Duration::from_nanos(1)).await;
    let body = "circuit broken: retry after 1ns";
    assert_eq!(get_from(&client, addr).await, seen_503(Some("1"), body));

    advance(Duration::from_nanos(1)).await;
    let body = "circuit broken: recovering, call not sampled";
    assert_eq!(get_from(&client, addr).await, seen_503(Some("1"), body));
    assert_eq!(dep.hits.load(Ordering::SeqCst), 1); // rejections never reached it

    dep.down.store(false, Ordering::SeqCst);
    advance(RECOVERY).await; // the end of the ramp: every call admitted
    assert_eq!(
        get_from(&client, addr).await,
        Seen(200, None, "fine".into())
    );
    assert_eq!(b.state(), State::Passing);
    assert_eq!(
        get_from(&client, addr).await,
        Seen(200, None, "fine".into())
    );
    assert_eq!(dep.hits.load(Ordering::SeqCst), 3);
}

#[derive(Clone)]
struct Proxy {
    breaker: Arc<CircuitBreaker>,
    client: Client<HttpConnector, Body>,
    upstream: Uri,
}

/// A handler calling its upstream through the breaker with `call_with`: the
/// upstream's answers pass through, a rejection is a `Rejection`.
async fn proxy(Extract(proxy): Extract<Proxy>) -> Response {
    let request = proxy.client.get(proxy.upstream.clone());
    match breaker_tokio::call_with(&proxy.breaker, StatusPolicy::SERVER_ERRORS, request).await {
        Ok(response) => response.into_response(),
        Err(Error::Broken(rejected)) => Rejection::from(rejected).into_response(),
        Err(Error::Inner(_)) => StatusCode::BAD_GATEWAY.into_response(),
        Err(Error::Timeout) => StatusCode::GATEWAY_TIMEOUT.into_response(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_proxy_handler_answers_503_while_broken_and_200_once_healed() {
    let b = breaker();
    let dep = Arc::new(Dependency::default());
    let upstream = serve(
        Router::new()
            .route("/", get(dependency))
            .with_state(dep.clone()),
    )
    .await;
    let app = Router::new().route("/", get(proxy)).with_state(Proxy {
        breaker: b.clone(),
        client: Client::builder(TokioExecutor::new()).build_http(),
        upstream: format!("http://{upstream}/").parse().unwrap(),
    });
    let addr = serve(app).await;
    let client = client();

    assert_eq!(
        get_from(&client, addr).await,
        Seen(200, None, "fine".into())
    );
    dep.down.store(true, Ordering::SeqCst);
    assert_eq!(
        get_from(&client, addr).await,
        Seen(500, None, "down".into())
    );
    // 1 of 2 failed (0.5): Broken.
    let body = "circuit broken: retry after 5s";
    assert_eq!(get_from(&client, addr).await, seen_503(Some("5"), body));

    advance(Duration::from_millis(4999)).await;
    let body = "circuit broken: retry after 1ms";
    assert_eq!(get_from(&client, addr).await, seen_503(Some("1"), body));
    assert_eq!(dep.hits.load(Ordering::SeqCst), 2);

    dep.down.store(false, Ordering::SeqCst);
    advance(Duration::from_millis(1) + RECOVERY).await;
    assert_eq!(
        get_from(&client, addr).await,
        Seen(200, None, "fine".into())
    );
    assert_eq!(b.state(), State::Passing);
    assert_eq!(dep.hits.load(Ordering::SeqCst), 3);
}
