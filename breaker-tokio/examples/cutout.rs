//! aiomisc's `cutout` example, in Rust: a gist proxy whose upstream fetch
//! carries a circuit breaker of its own (`cargo run -p breaker-tokio --example
//! cutout`).
//!
//! aiomisc's docs decorate the function fetching public gists with
//! `@aiomisc.cutout(0.2, 20, ...)` and call it from an aiohttp handler. Here it
//! all runs on loopback (OS-assigned ports):
//!
//! - a flaky **gist API**: healthy for 2 s, then every other request answers
//!   `500` for 3 s, then healed;
//! - `fetch_gists`, an `async fn` under `#[breaker_tokio::cutout(..)]`: its own
//!   `static` breaker, `GISTS`. As in aiomisc's exceptions list, only 5xx
//!   answers and connection errors count as failures;
//! - an axum **handler** calling it: `200` with the gists, `502` when the gist
//!   API failed, `503` with `Retry-After` when the breaker refused the call
//!   (at once, without contacting the gist API);
//! - a **driver** calling the handler 20 times a second.
//!
//! Every 500 ms it prints the state and that half second's answers. It exits 0
//! once the breaker has gone Passing, Broken, Recovering and Passing again
//! (about 7 s), or 1 if not within 15 s. aiomisc's 20 s window is scaled down
//! to 2 s. The HTTP client is hyper-util's legacy client, as in `demo.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use breaker_tokio::axum::Rejection;
use breaker_tokio::{Error, State};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::time::{Instant, MissedTickBehavior, interval};

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// The cycle must be complete by then, or the example fails.
const DEADLINE: Duration = Duration::from_secs(15);
/// Requests the gist API received.
static HITS: AtomicU64 = AtomicU64::new(0);
/// The driver's answers since the last report: 200, 502, 503.
static ANSWERS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

// ---- the gist API, on a script ----------------------------------------------

fn phase(since_start: Duration) -> &'static str {
    match since_start.as_millis() {
        0..2_000 => "healthy",
        2_000..5_000 => "failing", // every other request
        _ => "healed",
    }
}

async fn gist_api(Extract(start): Extract<Instant>) -> Response {
    let hit = HITS.fetch_add(1, Ordering::Relaxed);
    if phase(start.elapsed()) == "failing" && hit.is_multiple_of(2) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "gist API is down").into_response();
    }
    (StatusCode::OK, r#"[{"id":"1","description":"a gist"}]"#).into_response()
}

// ---- fetch_gists, behind its own breaker ------------------------------------

#[derive(Debug)]
enum FetchError {
    /// The gist API answered with an error status (aiohttp's `raise_for_status`).
    Status(StatusCode),
    /// No (complete) answer: connection refused or reset, ...
    Unreachable(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Status(status) => write!(f, "gist API answered {status}"),
            FetchError::Unreachable(e) => write!(f, "gist API unreachable: {e}"),
        }
    }
}

/// aiomisc's exceptions list: what counts against the gist API. Other errors
/// (a 4xx: the caller's mistake) are recorded as successes.
fn is_upstream_fault(e: &FetchError) -> bool {
    match e {
        FetchError::Status(status) => status.is_server_error(),
        FetchError::Unreachable(_) => true,
    }
}

// @aiomisc.cutout(0.2, 20, ...), scaled down. The function now returns
// `Result<String, Error<FetchError>>`, and `GISTS` is its breaker.
#[breaker_tokio::cutout(
    error_ratio = 0.2,
    window = "2s",
    broken_time = "1s",
    recovery_time = "1s",
    passing_time = "0s",
    min_calls = 5,
    failure = is_upstream_fault,
    name = GISTS,
)]
async fn fetch_gists(client: &HttpClient, url: Uri) -> Result<String, FetchError> {
    let unreachable = |e: &dyn std::fmt::Display| FetchError::Unreachable(e.to_string());
    let response = client.get(url).await.map_err(|e| unreachable(&e))?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    let body = response.into_body().collect().await;
    let body = body.map_err(|e| unreachable(&e))?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

// ---- the handler ------------------------------------------------------------

async fn handler(Extract((client, gists)): Extract<(HttpClient, Uri)>) -> Response {
    match fetch_gists(&client, gists).await {
        Ok(gists) => (StatusCode::OK, gists).into_response(),
        // 503 with Retry-After in whole seconds (breaker-tokio's `axum` feature).
        Err(Error::Broken(broken)) => Rejection::from(broken).into_response(),
        Err(Error::Inner(e)) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        Err(Error::Timeout) => unreachable!("#[cutout] sets no deadline"),
    }
}

// ---- the driver and the show ------------------------------------------------

async fn drive(client: HttpClient, url: Uri) {
    let mut ticks = interval(Duration::from_millis(50)); // 20 requests/s
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let Ok(response) = client.get(url).await else {
                return;
            };
            let slot = [200, 502, 503].iter().position(|&s| response.status() == s);
            if let Some(slot) = slot {
                ANSWERS[slot].fetch_add(1, Ordering::Relaxed);
            }
            let _ = response.into_body().collect().await; // reuse the connection
        });
    }
}

/// Serves `GET /gists` on 127.0.0.1 with an OS-assigned port; returns its URL.
async fn serve(gists: MethodRouter) -> Result<Uri, Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/gists", listener.local_addr()?).parse()?;
    let app = Router::new().route("/gists", gists);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let api = serve(get(gist_api).with_state(start)).await?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let proxy = serve(get(handler).with_state((client.clone(), api.clone()))).await?;
    tokio::spawn(drive(client, proxy.clone()));

    println!("gist API {api}, handler {proxy}");
    println!("#[cutout(error_ratio = 0.2, window = \"2s\", broken_time = \"1s\", ...)]");
    println!("  time  gist API state       200  502  503");
    let mut report = interval(Duration::from_millis(500));
    report.tick().await; // the first tick is immediate
    let mut seen_passing = false;
    let cycle_done = loop {
        report.tick().await;
        let t = start.elapsed();
        let m = GISTS.metrics();
        let [ok, bad_gateway, unavailable] =
            ANSWERS.each_ref().map(|n| n.swap(0, Ordering::Relaxed));
        // The gist API's phase during most of the half second just reported.
        let gist_api = phase(t.saturating_sub(Duration::from_millis(250)));
        println!(
            "{:>5.1}s  {gist_api:<8} {:<10} {ok:>4} {bad_gateway:>4} {unavailable:>4}",
            t.as_secs_f64(),
            m.state
        );
        // `trips` counts entries into Broken, `call_recovering` attempts in
        // Recovering; only Recovering leads back to Passing.
        seen_passing |= m.state == State::Passing && m.trips == 0;
        let again = m.state == State::Passing && m.trips > 0 && m.call_recovering > 0;
        if seen_passing && again && phase(t) == "healed" {
            break true;
        }
        if t >= DEADLINE {
            break false;
        }
    };

    let m = GISTS.metrics();
    println!(
        "\ntotals: {} calls: {} admitted while Passing, {} rejected while Broken, {} of {} \
         admitted while Recovering; {} failures, {} trips; the gist API saw {} requests",
        m.call_count,
        m.call_passing,
        m.call_broken,
        m.call_recovering_ok,
        m.call_recovering,
        m.failures,
        m.trips,
        HITS.load(Ordering::Relaxed)
    );
    if !cycle_done {
        println!("the breaker did not go through every state within {DEADLINE:?}");
        std::process::exit(1);
    }
    println!("done: Passing -> Broken -> Recovering -> Passing");
    Ok(())
}
