//! A reqwest client with the middleware against real HTTP servers on
//! loopback (axum), each counting the requests that reach it. Time is
//! tokio's paused clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use breaker_keyed::KeyedBreakers;
use breaker_reqwest::{BreakerMiddleware, circuit_broken};
use breaker_tokio::{Config, State, TokioClock};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

const BROKEN_TIME: Duration = Duration::from_secs(30);

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(5)
        .passing_time(Duration::ZERO)
        .broken_time(BROKEN_TIME)
}

/// An upstream on a loopback port of its own that answers every request
/// with `status`, and counts them.
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicU64>,
}

impl Upstream {
    async fn answering(status: StatusCode) -> Upstream {
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let app = Router::new().route(
            "/",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async move { status }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Upstream { addr, hits }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn key(&self) -> String {
        self.addr.to_string()
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

fn client_with(
    middleware: BreakerMiddleware,
) -> (ClientWithMiddleware, Arc<KeyedBreakers<String, TokioClock>>) {
    let breakers = middleware.breakers().clone();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build();
    (client, breakers)
}

#[tokio::test(start_paused = true)]
async fn only_the_failing_hosts_breaker_opens_and_its_requests_never_reach_it() {
    let failing = Upstream::answering(StatusCode::INTERNAL_SERVER_ERROR).await;
    let healthy = Upstream::answering(StatusCode::OK).await;
    assert_ne!(failing.addr.port(), healthy.addr.port());
    let (client, breakers) = client_with(BreakerMiddleware::new(config()).unwrap());

    // Five 500s: 5 of 5 calls failed, the failing host's breaker opens.
    for _ in 0..5 {
        let response = client.get(failing.url()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            client.get(healthy.url()).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert_eq!(breakers.get(failing.key().as_str()).state(), State::Broken);
    let error = client.get(failing.url()).send().await.unwrap_err();
    let rejection = circuit_broken(&error).expect("rejected by the breaker");
    assert_eq!(rejection.retry_after(), BROKEN_TIME);
    // The error is the middleware's, holding the rejection.
    match &error {
        reqwest_middleware::Error::Middleware(e) => {
            assert!(e.downcast_ref::<breaker_reqwest::CircuitBroken>().is_some())
        }
        other => panic!("not a middleware error: {other:?}"),
    }

    // Through the same client, the healthy host answers every request; the
    // failing host's requests are all rejected and never reach it.
    let mut healthy_ok = 0;
    for _ in 0..50 {
        let error = client.get(failing.url()).send().await.unwrap_err();
        assert!(circuit_broken(&error).is_some(), "{error:?}");
        healthy_ok +=
            (client.get(healthy.url()).send().await.unwrap().status() == StatusCode::OK) as u32;
    }
    assert_eq!(healthy_ok, 50);
    assert_eq!(
        failing.hits(),
        5,
        "an open host's requests never reach its server"
    );
    assert_eq!(healthy.hits(), 55);

    let healthy_breaker = breakers.get(healthy.key().as_str());
    let m = healthy_breaker.metrics();
    assert_eq!((m.state, m.successes, m.failures), (State::Passing, 55, 0));
    let m = breakers.get(failing.key().as_str()).metrics();
    assert_eq!((m.failures, m.call_broken, m.trips), (5, 51, 1));
    assert_eq!(breakers.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn connection_errors_open_the_breaker() {
    // A port nobody listens on: bind, read the port, close.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let (client, breakers) = client_with(BreakerMiddleware::new(config()).unwrap());
    for _ in 0..5 {
        let error = client
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        assert!(circuit_broken(&error).is_none());
    }
    let error = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert!(circuit_broken(&error).is_some());
    assert_eq!(
        breakers.get(addr.to_string().as_str()).metrics().failures,
        5
    );
}

#[tokio::test(start_paused = true)]
async fn too_many_requests_counts_only_when_asked() {
    let throttling = Upstream::answering(StatusCode::TOO_MANY_REQUESTS).await;
    let (client, breakers) = client_with(BreakerMiddleware::new(config()).unwrap());
    for _ in 0..10 {
        assert_eq!(
            client.get(throttling.url()).send().await.unwrap().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!(
        breakers.get(throttling.key().as_str()).state(),
        State::Passing
    );

    let (client, breakers) = client_with(
        BreakerMiddleware::new(config())
            .unwrap()
            .too_many_requests(true),
    );
    for _ in 0..5 {
        client.get(throttling.url()).send().await.unwrap();
    }
    assert_eq!(
        breakers.get(throttling.key().as_str()).state(),
        State::Broken
    );
    assert!(client.get(throttling.url()).send().await.is_err());
    assert_eq!(throttling.hits(), 15);
}

#[tokio::test(start_paused = true)]
async fn the_status_policy_is_breaker_tokios() {
    let slow_client = Upstream::answering(StatusCode::REQUEST_TIMEOUT).await;
    let (client, breakers) = client_with(BreakerMiddleware::new(config()).unwrap());
    for _ in 0..5 {
        client.get(slow_client.url()).send().await.unwrap();
    }
    assert_eq!(
        breakers.get(slow_client.key().as_str()).state(),
        State::Passing
    );

    let policy = breaker_reqwest::StatusPolicy::SERVER_ERRORS.request_timeout(true);
    let (client, breakers) = client_with(
        BreakerMiddleware::new(config())
            .unwrap()
            .status_policy(policy),
    );
    for _ in 0..5 {
        client.get(slow_client.url()).send().await.unwrap();
    }
    assert_eq!(
        breakers.get(slow_client.key().as_str()).state(),
        State::Broken
    );
    assert_eq!(slow_client.hits(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_key_function_chooses_what_shares_a_breaker() {
    let a = Upstream::answering(StatusCode::SERVICE_UNAVAILABLE).await;
    let b = Upstream::answering(StatusCode::OK).await;
    // One breaker for the whole loopback "cluster", whatever the port.
    let breakers = KeyedBreakers::builder(config(), TokioClock::new())
        .capacity(8)
        .build()
        .unwrap();
    let middleware = BreakerMiddleware::with_key(breakers, |request: &reqwest::Request| {
        request.url().host_str().unwrap_or_default().to_owned()
    });
    let breakers = middleware.breakers().clone();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build();
    for _ in 0..2 {
        client.get(a.url()).send().await.unwrap();
        client.get(b.url()).send().await.unwrap();
    }
    assert_eq!(breakers.get("127.0.0.1").state(), State::Passing);
    // The fifth call to the shared key, the third failure: 3 of 5, open for
    // both ports.
    client.get(a.url()).send().await.unwrap();
    assert_eq!(breakers.get("127.0.0.1").state(), State::Broken);
    assert!(circuit_broken(&client.get(b.url()).send().await.unwrap_err()).is_some());
    assert_eq!((a.hits(), b.hits()), (3, 2));
    assert_eq!(breakers.len(), 1);
}

/// reqwest-retry outside, the breaker inside: every attempt is counted by
/// the breaker, and once it opens, the rejection is an error reqwest-retry
/// does not retry (a middleware error is fatal to it), so retrying stops.
#[tokio::test(start_paused = true)]
async fn inside_reqwest_retry_every_attempt_counts_and_an_open_breaker_stops_the_retries() {
    use reqwest_retry::RetryTransientMiddleware;
    use reqwest_retry::policies::ExponentialBackoff;

    let failing = Upstream::answering(StatusCode::SERVICE_UNAVAILABLE).await;
    let breaker = BreakerMiddleware::new(config()).unwrap();
    let breakers = breaker.breakers().clone();
    let client = ClientBuilder::new(reqwest::Client::new())
        // Attached first: the outer middleware.
        .with(RetryTransientMiddleware::new_with_policy(
            // Retries within the breaker's 10 s window (backoff sleeps pass
            // on the paused clock).
            ExponentialBackoff::builder()
                .retry_bounds(Duration::from_millis(10), Duration::from_millis(100))
                .build_with_max_retries(10),
        ))
        .with(breaker)
        .build();

    let error = client.get(failing.url()).send().await.unwrap_err();
    // Five attempts reached the server (each a 503, retried), the breaker
    // opened, and the sixth attempt was rejected without a request.
    assert_eq!(failing.hits(), 5);
    assert!(circuit_broken(&error).is_some(), "{error:?}");
    let m = breakers.get(failing.key().as_str()).metrics();
    assert_eq!((m.failures, m.call_broken), (5, 1));
}
