//! A tonic client behind the layer, against a scripted HTTP/2 server on
//! loopback that answers the gRPC health service's `Check` with exactly the
//! frames a test asks for: a trailers-only response (the status in the
//! headers), or a message followed by trailers. And against tonic's own
//! health server. Time is tokio's paused clock.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_tokio::{CircuitBreaker, Config, State};
use breaker_tonic::{GrpcBreakerLayer, GrpcClassifier, circuit_broken};
use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::ServiceBuilder;

const BROKEN_TIME: Duration = Duration::from_secs(30);

/// How the scripted server answers.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// `grpc-status` in the response headers, no body: how servers answer
    /// a call that fails before any message.
    TrailersOnly(Code),
    /// A `HealthCheckResponse { status: SERVING }` message, then trailers
    /// with `grpc-status`.
    AfterBody(Code),
}

#[derive(Debug)]
struct Upstream {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    requests: Arc<AtomicU64>,
}

impl Upstream {
    fn answer(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The gRPC frame of `HealthCheckResponse { status: SERVING }`: no
/// compression, length 2, then field 1 (varint) = 1.
const SERVING_FRAME: [u8; 7] = [0, 0, 0, 0, 2, 0x08, 0x01];

fn respond(script: Script) -> Response<BoxBody<Bytes, Infallible>> {
    let grpc_status = |code: Code| {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", (code as i32).to_string().parse().unwrap());
        headers
    };
    let (headers, body) = match script {
        Script::TrailersOnly(code) => (grpc_status(code), Empty::new().boxed()),
        Script::AfterBody(code) => {
            let trailers = grpc_status(code);
            let body = Full::new(Bytes::from_static(&SERVING_FRAME))
                .with_trailers(std::future::ready(Some(Ok(trailers))))
                .boxed();
            (HeaderMap::new(), body)
        }
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    response.headers_mut().extend(headers);
    response
}

async fn scripted_upstream() -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = Arc::new(Mutex::new(Script::TrailersOnly(Code::Ok)));
    let requests = Arc::new(AtomicU64::new(0));
    let (s, r) = (script.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (script, requests) = (s.clone(), r.clone());
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    assert_eq!(request.uri().path(), "/grpc.health.v1.Health/Check");
                    requests.fetch_add(1, Ordering::SeqCst);
                    let script = *script.lock().unwrap();
                    async move { Ok::<_, Infallible>(respond(script)) }
                });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Upstream {
        addr,
        script,
        requests,
    }
}

fn breaker() -> Arc<CircuitBreaker> {
    Arc::new(breaker_tokio::new(
        Config::new(0.5, Duration::from_secs(10))
            .min_calls(2)
            .passing_time(Duration::ZERO)
            .broken_time(BROKEN_TIME),
    ))
}

type Client = HealthClient<
    breaker_tonic::GrpcBreakerService<
        Channel,
        breaker_tokio::TokioClock,
        10,
        breaker_tokio::NoListener,
    >,
>;

/// A channel to the loopback server at `addr`, connected.
async fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the loopback upstream")
}

async fn client(addr: SocketAddr, breaker: &Arc<CircuitBreaker>) -> Client {
    let channel = channel(addr).await;
    let service = ServiceBuilder::new()
        .layer(GrpcBreakerLayer::new(breaker.clone()))
        .service(channel);
    HealthClient::new(service)
}

async fn check(client: &mut Client) -> Result<i32, tonic::Status> {
    let request = HealthCheckRequest {
        service: "upstream".into(),
    };
    client.check(request).await.map(|r| r.into_inner().status)
}

/// UNAVAILABLE trips the breaker, NOT_FOUND does not, in either form; once
/// Broken, calls fail with UNAVAILABLE and the rejection at once, and never
/// reach the server.
async fn unavailable_trips_not_found_does_not(form: fn(Code) -> Script) {
    let upstream = scripted_upstream().await;
    let breaker = breaker();
    let mut client = client(upstream.addr, &breaker).await;

    upstream.answer(form(Code::NotFound));
    for _ in 0..5 {
        assert_eq!(check(&mut client).await.unwrap_err().code(), Code::NotFound);
    }
    let m = breaker.metrics();
    assert_eq!((m.state, m.successes, m.failures), (State::Passing, 5, 0));

    upstream.answer(form(Code::Unavailable));
    for _ in 0..5 {
        let status = check(&mut client).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            circuit_broken(&status).is_none(),
            "the server's own UNAVAILABLE"
        );
    }
    // 5 failures of 10 calls: 0.5, Broken.
    let m = breaker.metrics();
    assert_eq!(
        (m.state, m.successes, m.failures, m.trips),
        (State::Broken, 5, 5, 1)
    );
    assert_eq!(upstream.requests(), 10);

    let status = check(&mut client).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let rejection = circuit_broken(&status).expect("rejected by the breaker");
    assert_eq!(rejection.retry_after(), BROKEN_TIME);
    assert_eq!(
        upstream.requests(),
        10,
        "a rejected call never reaches the server"
    );

    // It recovers once the server answers OK.
    upstream.answer(form(Code::Ok));
    tokio::time::advance(BROKEN_TIME + Duration::from_secs(10)).await;
    assert_eq!(breaker.state(), State::Recovering);
    if matches!(form(Code::Ok), Script::AfterBody(_)) {
        assert_eq!(
            check(&mut client).await.unwrap(),
            ServingStatus::Serving as i32
        );
    } else {
        // A trailers-only OK carries no message: tonic reports it missing.
        let _ = check(&mut client).await;
    }
    assert_eq!(breaker.state(), State::Passing);
}

#[tokio::test(start_paused = true)]
async fn trailers_only_unavailable_trips_the_breaker_not_found_does_not() {
    unavailable_trips_not_found_does_not(Script::TrailersOnly).await;
}

#[tokio::test(start_paused = true)]
async fn unavailable_in_trailers_after_the_body_trips_the_breaker_not_found_does_not() {
    unavailable_trips_not_found_does_not(Script::AfterBody).await;
}

#[tokio::test(start_paused = true)]
async fn the_failure_codes_are_configurable() {
    let upstream = scripted_upstream().await;
    let breaker = breaker();
    let channel = channel(upstream.addr).await;
    let layer = GrpcBreakerLayer::new(breaker.clone()).with_classifier(
        GrpcClassifier::new()
            .failure(Code::NotFound)
            .not_failure(Code::Unavailable),
    );
    let mut client = HealthClient::new(ServiceBuilder::new().layer(layer).service(channel));
    let request = || HealthCheckRequest {
        service: String::new(),
    };

    upstream.answer(Script::AfterBody(Code::Unavailable));
    for _ in 0..3 {
        assert!(client.check(request()).await.is_err());
    }
    assert_eq!(breaker.metrics().successes, 3);
    upstream.answer(Script::TrailersOnly(Code::NotFound));
    for _ in 0..3 {
        assert!(client.check(request()).await.is_err());
    }
    assert_eq!(breaker.state(), State::Broken);
}

#[tokio::test(start_paused = true)]
async fn a_body_dropped_before_its_trailers_records_ignored() {
    let upstream = scripted_upstream().await;
    upstream.answer(Script::AfterBody(Code::Unavailable));
    let breaker = breaker();
    let channel = channel(upstream.addr).await;
    let service = ServiceBuilder::new()
        .layer(GrpcBreakerLayer::new(breaker.clone()))
        .service(channel);

    let request = Request::builder()
        .uri(format!(
            "http://{}/grpc.health.v1.Health/Check",
            upstream.addr
        ))
        .header("content-type", "application/grpc")
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(service, request).await.unwrap();
    assert!(
        response.body().is_pending(),
        "the status is in the trailers"
    );
    assert_eq!(breaker.metrics().call_count, 1);
    drop(response);
    let m = breaker.metrics();
    assert_eq!((m.ignored, m.successes, m.failures), (1, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_transport_error_is_a_failure() {
    // A port nobody listens on: bind, read the port, close.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let breaker = breaker();
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let mut client = HealthClient::new(
        ServiceBuilder::new()
            .layer(GrpcBreakerLayer::new(breaker.clone()))
            .service(channel),
    );
    for _ in 0..2 {
        let status = client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
    }
    assert_eq!(breaker.metrics().trips, 1);
    let status = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap_err();
    assert!(circuit_broken(&status).is_some());
}

/// tonic's own health server: OK for a service it knows, NOT_FOUND (a
/// trailers-only answer from tonic) for one it does not; neither trips.
#[tokio::test(start_paused = true)]
async fn with_tonics_health_server_not_found_is_not_a_failure() {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("known", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let breaker = breaker();
    let mut client = client(addr, &breaker).await;
    let served = AtomicU32::new(0);
    for service in ["known", "unknown", "known", "unknown"] {
        let reply = client
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await;
        match service {
            "known" => {
                let reply: HealthCheckResponse = reply.unwrap().into_inner();
                assert_eq!(reply.status, ServingStatus::Serving as i32);
                served.fetch_add(1, Ordering::Relaxed);
            }
            _ => assert_eq!(reply.unwrap_err().code(), Code::NotFound),
        }
    }
    let m = breaker.metrics();
    assert_eq!((m.state, m.successes, m.failures), (State::Passing, 4, 0));
    assert_eq!(served.load(Ordering::Relaxed), 2);
}

/// One breaker per upstream: the layer takes a breaker-keyed handle, so each
/// channel gets its own host's breaker from one bounded map.
#[tokio::test(start_paused = true)]
async fn one_breaker_per_upstream_from_breaker_keyed() {
    let failing = scripted_upstream().await;
    failing.answer(Script::TrailersOnly(Code::Unavailable));
    let healthy = scripted_upstream().await;
    healthy.answer(Script::AfterBody(Code::Ok));
    let hosts = breaker_keyed::KeyedBreakers::<String, _>::builder(
        Config::new(0.5, Duration::from_secs(10))
            .min_calls(2)
            .passing_time(Duration::ZERO)
            .broken_time(BROKEN_TIME),
        breaker_tokio::TokioClock::new(),
    )
    .capacity(16)
    .build()
    .unwrap();
    let client_for = async |addr: SocketAddr| {
        let layer = GrpcBreakerLayer::new(hosts.get(addr.to_string().as_str()));
        HealthClient::new(
            ServiceBuilder::new()
                .layer(layer)
                .service(channel(addr).await),
        )
    };
    let (mut to_failing, mut to_healthy) = (
        client_for(failing.addr).await,
        client_for(healthy.addr).await,
    );
    let request = || HealthCheckRequest {
        service: String::new(),
    };
    for _ in 0..5 {
        let _ = to_failing.check(request()).await;
        assert_eq!(
            to_healthy
                .check(request())
                .await
                .unwrap()
                .into_inner()
                .status,
            ServingStatus::Serving as i32
        );
    }
    assert_eq!(
        hosts.get(failing.addr.to_string().as_str()).state(),
        State::Broken
    );
    assert_eq!(
        hosts
            .get(healthy.addr.to_string().as_str())
            .metrics()
            .successes,
        5
    );
    assert_eq!(failing.requests(), 2, "rejected once its breaker opened");
    assert_eq!(healthy.requests(), 5);
}
