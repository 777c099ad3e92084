//! aiomisc's circuit-breaker example, in Rust: an HTTP service whose handler
//! fetches from an upstream through a breaker.
//!
//! ```text
//! cargo run -p breaker-tokio --example demo [-- --port 8080]
//! ```
//!
//! aiomisc's docs show an aiohttp handler that fetches public gists through
//! `CircuitBreaker(error_ratio=0.2, response_time=20, broken_time=5)`. There is
//! no internet here, so this program runs the whole scene on loopback:
//!
//! - **the upstream** (an OS-assigned port) whose failure rate follows a
//!   script: healthy, degrading (10% more errors every 2 s), down (every
//!   request hangs) and healed;
//! - **the proxy** on `127.0.0.1:8080` (`--port N` or `PORT=N`; `0` picks a
//!   free port; if 8080 is busy it says so and takes a free port), whose `GET
//!   /gists` calls the upstream through the breaker with a 200 ms timeout. When
//!   the breaker rejects, it answers `503 Service Unavailable` at once with a
//!   `Retry-After` header; a failed upstream call is a `502`, a timeout `504`;
//! - **a load driver** sending 50 requests/s to the proxy;
//! - **the ops endpoints** on the proxy's port (breaker-ops): the live
//!   dashboard at `/dashboard`, Prometheus text at `/metrics`, JSON at
//!   `/breakers` and the transitions as server-sent events at
//!   `/breakers/events`;
//!
//! and prints one line per second: time, requests/s, upstream error rate,
//! breaker state, calls admitted and rejected, p50 latency and retry_after.
//!
//! **Scaling.** aiomisc's example keeps a 20 s window and breaks for 5 s; a
//! show at that pace takes minutes. The same error ratio (0.2) runs here on a
//! 4 s window and 2 s of Broken (recovery_time and passing_time default to the
//! window, as in aiomisc), so the demo goes Passing, Broken, Recovering and
//! Passing again, then ends by itself in about 30 s (50 s at most) and exits 0.
//! Ctrl-C stops it cleanly at any time.
//!
//! **HTTP client.** hyper-util's legacy client with HTTP/1 only, for both the
//! proxy's upstream calls and the load driver: it is the client axum and
//! hyper already bring in (no second HTTP stack, no TLS, no default features
//! to turn off), and it pools connections, which a proxy needs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use breaker_ops::{OpsListener, OpsRouter, Registry};
use breaker_tokio::axum::Rejection;
use breaker_tokio::{CircuitBreaker, Config, Error, State};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};

/// aiomisc's `error_ratio=0.2`; its 20 s window and 5 s `broken_time` scaled
/// down to 4 s and 2 s so the whole show fits in well under a minute.
const CONFIG: Config = Config::new(0.2, Duration::from_secs(4)).broken_time(Duration::from_secs(2));
/// How long the proxy waits for the upstream before counting a failure.
const UPSTREAM_TIMEOUT: Duration = Duration::from_millis(200);
/// Requests per second from the load driver.
const RATE: u64 = 50;
/// The demo stops after this long whatever happens.
const HARD_STOP: Duration = Duration::from_secs(50);
/// ... or once the breaker has been Passing this many seconds after the heal.
const CALM_SECONDS: u32 = 4;

/// Reports its transitions to the ops registry (the dashboard lists them).
static BREAKER: CircuitBreaker<10, OpsListener> =
    breaker_tokio::with_listener(CONFIG, OpsListener::new());

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

// ---- the upstream's script ---------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Health {
    Healthy,
    /// Fails this share of requests.
    Degrading(f64),
    /// Every request hangs.
    Down,
    Healed,
}

impl Health {
    fn at(t: Duration) -> Health {
        match t.as_secs() {
            0..6 => Health::Healthy,
            s @ 6..12 => Health::Degrading(0.1 * ((s - 6) / 2 + 1) as f64),
            12..18 => Health::Down,
            _ => Health::Healed,
        }
    }

    fn label(self) -> String {
        match self {
            Health::Healthy => "healthy".into(),
            Health::Degrading(rate) => format!("degrading {:.0}%", rate * 100.0),
            Health::Down => "down (hangs)".into(),
            Health::Healed => "healed".into(),
        }
    }
}

#[derive(Default)]
struct UpstreamStats {
    requests: AtomicU64,
    failures: AtomicU64,
    /// Error credit in millionths: each request adds the failure rate; a
    /// request that brings it to one whole failure fails. Exact rates, no RNG.
    credit: AtomicU64,
}

#[derive(Clone)]
struct Upstream {
    start: Instant,
    stats: Arc<UpstreamStats>,
}

async fn upstream_gists(AxumState(up): AxumState<Upstream>) -> Response {
    up.stats.requests.fetch_add(1, Ordering::Relaxed);
    let fail = match Health::at(up.start.elapsed()) {
        Health::Healthy | Health::Healed => false,
        Health::Down => {
            up.stats.failures.fetch_add(1, Ordering::Relaxed);
            sleep(Duration::from_secs(5)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Health::Degrading(rate) => {
            let share = (rate * 1e6) as u64;
            let before = up.stats.credit.fetch_add(share, Ordering::Relaxed);
            if before + share >= 1_000_000 {
                up.stats.credit.fetch_sub(1_000_000, Ordering::Relaxed);
                true
            } else {
                false
            }
        }
    };
    if fail {
        up.stats.failures.fetch_add(1, Ordering::Relaxed);
        (StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response()
    } else {
        sleep(Duration::from_millis(2)).await;
        (StatusCode::OK, r#"[{"id":"1","description":"a gist"}]"#).into_response()
    }
}

// ---- the proxy ---------------------------------------------------------------

#[derive(Clone)]
struct Proxy {
    client: HttpClient,
    upstream: Uri,
}

#[derive(Debug)]
enum FetchError {
    Status(StatusCode),
    Http(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Status(status) => write!(f, "upstream answered {status}"),
            FetchError::Http(e) => write!(f, "upstream unreachable: {e}"),
        }
    }
}

/// One upstream request; a 5xx is an error, like aiohttp's `raise_for_status`.
async fn fetch(client: &HttpClient, uri: Uri) -> Result<Bytes, FetchError> {
    let response = client
        .get(uri)
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    if response.status().is_server_error() {
        return Err(FetchError::Status(response.status()));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    Ok(body.to_bytes())
}

async fn proxy_gists(AxumState(proxy): AxumState<Proxy>) -> Response {
    let upstream = fetch(&proxy.client, proxy.upstream.clone());
    match breaker_tokio::call_with_timeout(&BREAKER, UPSTREAM_TIMEOUT, upstream).await {
        Ok(body) => (StatusCode::OK, body).into_response(),
        // 503 with Retry-After: the time left, in whole seconds rounded up.
        Err(Error::Broken(broken)) => Rejection::from(broken).into_response(),
        Err(Error::Timeout) => (StatusCode::GATEWAY_TIMEOUT, "upstream timed out").into_response(),
        Err(Error::Inner(e)) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

// ---- the load driver ---------------------------------------------------------

#[derive(Default)]
struct Load {
    done: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    first_503: Mutex<Option<(Duration, String, Duration)>>,
}

async fn drive(client: HttpClient, uri: Uri, load: Arc<Load>, start: Instant) {
    let mut ticks = interval(Duration::from_micros(1_000_000 / RATE));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let (client, uri, load) = (client.clone(), uri.clone(), load.clone());
        tokio::spawn(async move {
            let sent = Instant::now();
            let Ok(response) = client.get(uri).await else {
                return;
            };
            let status = response.status();
            let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
            let _ = response.into_body().collect().await;
            let latency = sent.elapsed();
            load.done.fetch_add(1, Ordering::Relaxed);
            load.latencies.lock().unwrap().push(latency);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                let mut first = load.first_503.lock().unwrap();
                if first.is_none() {
                    let header = retry_after
                        .and_then(|v| v.to_str().ok().map(str::to_owned))
                        .unwrap_or_default();
                    *first = Some((sent - start, header, latency));
                }
            }
        });
    }
}

// ---- the show ----------------------------------------------------------------

fn port_from_args() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" | "-p" => port = args.next(),
            "--help" | "-h" => {
                println!("usage: demo [--port N]   (or PORT=N; default 8080, 0 = any free port)");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let port = port.or_else(|| std::env::var("PORT").ok());
    match port {
        None => Ok(8080),
        Some(p) => p.parse().map_err(|_| format!("not a port number: {p:?}")),
    }
}

async fn bind_proxy(port: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind(("127.0.0.1", port)).await {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
            println!(
                "!! port {port} is busy (another program is listening on 127.0.0.1:{port}); \
                 using {} instead. Pick one with --port N or PORT=N.",
                listener.local_addr()?.port()
            );
            Ok(listener)
        }
        other => other,
    }
}

fn p50(mut latencies: Vec<Duration>) -> String {
    if latencies.is_empty() {
        return "-".into();
    }
    latencies.sort_unstable();
    let p = latencies[latencies.len() / 2];
    if p < Duration::from_millis(10) {
        format!("{:.1}ms", p.as_secs_f64() * 1e3)
    } else {
        format!("{}ms", p.as_millis())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match port_from_args() {
        Ok(port) => port,
        Err(message) => {
            eprintln!("demo: {message}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();

    let up_listener = TcpListener::bind("127.0.0.1:0").await?;
    let up_addr: SocketAddr = up_listener.local_addr()?;
    let up_stats = Arc::new(UpstreamStats::default());
    let upstream = Router::new()
        .route("/gists", get(upstream_gists))
        .with_state(Upstream {
            start,
            stats: up_stats.clone(),
        });
    tokio::spawn(async move { axum::serve(up_listener, upstream).await });

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let proxy_listener = bind_proxy(port).await?;
    let proxy_addr = proxy_listener.local_addr()?;
    let proxy = Router::new()
        .route("/gists", get(proxy_gists))
        .with_state(Proxy {
            client: client.clone(),
            upstream: format!("http://{up_addr}/gists").parse()?,
        });
    let breakers = Registry::new();
    breakers.register("gists", &BREAKER)?;
    let proxy = proxy.merge(OpsRouter::new(breakers).into_router());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(proxy_listener, proxy)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    println!("breaker demo: aiomisc's gist proxy, in Rust");
    println!("  proxy     http://{proxy_addr}/gists  (try curl -i while it runs)");
    println!("  upstream  http://{up_addr}/gists  (scripted: healthy, degrading, down, healed)");
    println!("  dashboard http://{proxy_addr}/dashboard  (open it in a browser while it runs)");
    println!("  metrics   http://{proxy_addr}/metrics  (Prometheus text)");
    println!(
        "  breaker   error_ratio 0.2, window 4s, broken_time 2s, recovery_time 4s \
         (aiomisc's 20s/5s scaled down)"
    );
    println!("  load      {RATE} req/s; upstream timeout {UPSTREAM_TIMEOUT:?}");
    println!();
    println!(
        "{:>5}  {:>5}  {:<16} {:>8}  {:<10} {:>8} {:>8}  {:>7}  {:>11}",
        "time",
        "req/s",
        "upstream",
        "err rate",
        "state",
        "admitted",
        "rejected",
        "p50",
        "retry_after"
    );

    let load = Arc::new(Load::default());
    let driver = tokio::spawn(drive(
        Client::builder(TokioExecutor::new()).build_http(),
        format!("http://{proxy_addr}/gists").parse()?,
        load.clone(),
        start,
    ));

    let show = async {
        let mut seen = [false; 3];
        let mut seen_order: Vec<State> = Vec::new();
        let mut calm = 0;
        let mut last = BREAKER.metrics();
        let (mut last_up_req, mut last_up_fail, mut last_done) = (0, 0, 0);
        let mut tick = interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let t = start.elapsed();
            let m = BREAKER.metrics();
            let up_req = up_stats.requests.load(Ordering::Relaxed);
            let up_fail = up_stats.failures.load(Ordering::Relaxed);
            let done = load.done.load(Ordering::Relaxed);
            let latencies = std::mem::take(&mut *load.latencies.lock().unwrap());
            let admitted = (m.call_passing + m.call_recovering_ok)
                - (last.call_passing + last.call_recovering_ok);
            let rejected = (m.call_broken + m.call_recovering_failed)
                - (last.call_broken + last.call_recovering_failed);
            let (reqs, fails) = (up_req - last_up_req, up_fail - last_up_fail);
            let err_rate = if reqs == 0 {
                "-".to_string()
            } else {
                format!("{:.0}%", 100.0 * fails as f64 / reqs as f64)
            };
            let retry_after = if m.retry_after.is_zero() {
                "-".to_string()
            } else {
                format!("{:.1}s", m.retry_after.as_secs_f64())
            };
            let health = Health::at(t - Duration::from_millis(500));
            println!(
                "{:>4}s  {:>5}  {:<16} {:>8}  {:<10} {:>8} {:>8}  {:>7}  {:>11}",
                t.as_secs_f64().round(),
                done - last_done,
                health.label(),
                err_rate,
                m.state.to_string(),
                admitted,
                rejected,
                p50(latencies),
                retry_after
            );
            // Any state the breaker passed through during the second counts
            // as seen, not only the one it is in at the tick.
            let mut states = vec![];
            if m.trips > last.trips {
                states.push(State::Broken);
            }
            if m.call_recovering > last.call_recovering {
                states.push(State::Recovering);
            }
            states.push(m.state);
            for s in states {
                seen[s as usize] = true;
                if seen_order.last() != Some(&s) {
                    seen_order.push(s);
                }
            }
            let all_seen = seen.iter().all(|&s| s)
                && seen_order.last() == Some(&State::Passing)
                && seen_order.len() >= 4;
            if health == Health::Healed && m.state == State::Passing && all_seen {
                calm += 1;
            } else {
                calm = 0;
            }
            if calm >= CALM_SECONDS || t >= HARD_STOP {
                return all_seen;
            }
            (last, last_up_req, last_up_fail, last_done) = (m, up_req, up_fail, done);
        }
    };

    let outcome = tokio::select! {
        all_seen = show => Some(all_seen),
        _ = tokio::signal::ctrl_c() => None,
    };
    driver.abort();
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;

    let m = BREAKER.metrics();
    println!();
    if let Some((at, retry_after, latency)) = load.first_503.lock().unwrap().clone() {
        println!(
            "first 503 at {:.1}s: answered in {:.1}ms with Retry-After: {retry_after}",
            at.as_secs_f64(),
            latency.as_secs_f64() * 1e3
        );
    }
    println!(
        "totals: {} calls, {} admitted in Passing, {} rejected while Broken, \
         {} of {} admitted while Recovering; {} successes, {} failures, {} trips",
        m.call_count,
        m.call_passing,
        m.call_broken,
        m.call_recovering_ok,
        m.call_recovering,
        m.successes,
        m.failures,
        m.trips
    );
    match outcome {
        None => {
            println!("interrupted (Ctrl-C): stopped cleanly");
            Ok(())
        }
        Some(true) => {
            println!("done: the breaker went Passing -> Broken -> Recovering -> Passing");
            Ok(())
        }
        Some(false) => {
            println!("the breaker did not show every state in time (a very slow machine?)");
            std::process::exit(1);
        }
    }
}
