//! The soak's machinery (issue #18), shared by `tests/soak.rs` (a few seconds
//! in `cargo test`) and `examples/soak.rs` (the manual run, 60 s by default).
//!
//! The stack, all on loopback:
//!
//! - **the upstream**: a hyper HTTP/1 server whose answers follow a schedule
//!   (calm, then a storm, repeating): plain answers, slow ones, `500`s, hangs
//!   past the proxy's timeout, connection resets (the socket is dropped with
//!   `SO_LINGER` 0, so the peer gets an RST) and handler panics;
//! - **the proxy**: an axum handler calling the upstream through a breaker
//!   with `call_with_timeout`, as the demo's does: `200`, `502` for a failed
//!   call, `504` for a timeout, `503` + `Retry-After` when the breaker rejects;
//! - **N clients**, each a bounded loop of requests (a time limit and a count
//!   limit), every request under a deadline.
//!
//! Then [`Report::problems`] checks the identities listed on [`Report`].

use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{HeaderValue, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use breaker_tokio::{CircuitBreaker, Config, Error, Metrics};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};

/// Breaks when half the calls fail (at least 20 in the window); windows of
/// 400 ms (40 ms buckets, above `TokioClock`'s 10 ms tick) so that one
/// schedule cycle goes Passing, Broken, Recovering, Passing.
const CONFIG: Config = Config::new(0.5, Duration::from_millis(400))
    .broken_time(Duration::from_millis(200))
    .min_calls(20);
/// How long the proxy waits for the upstream before a `504` and a failure.
const UPSTREAM_TIMEOUT: Duration = Duration::from_millis(100);
/// A slow answer: well within the timeout, so still a success.
const SLOW: Duration = Duration::from_millis(10);
/// A hang: ten times the timeout, and bounded, so a hanging handler ends by
/// itself even if nobody cancels it.
const HANG: Duration = Duration::from_secs(1);
/// Every client request must be answered within this. The proxy answers
/// within `UPSTREAM_TIMEOUT` plus its own work; the rest is room for a
/// loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(5);
/// The upstream's schedule: calm, then a storm, repeating.
const CALM: Duration = Duration::from_millis(800);
const STORM: Duration = Duration::from_millis(400);
/// Growth of VmRSS allowed from the end of the warm-up to the end. All the
/// soak allocates per request or per connection is freed again, and the
/// counters, histograms and token map are allocated (and touched) before the
/// warm-up, so once every fault, state and connection has been seen the RSS
/// is flat up to allocator noise (malloc keeps freed memory in per-thread
/// arenas, and the peak of live connections varies): measured well under
/// 1 MiB, in the 5 s test and in the 60 s run. 8 MiB leaves room for that
/// noise and still catches a leak of a few hundred bytes per request in the
/// test (the report prints the figure for each run), a few bytes in 60 s.
const RSS_BOUND: u64 = 8 << 20;
/// No client makes more than this many requests per second of the run (a
/// sequential client through two HTTP hops manages far fewer): the count
/// limit of each client's loop, and the size of the upstream's token map.
const MAX_RATE_PER_CLIENT: f64 = 20_000.0;

/// The header the proxy sets on an upstream request, once admitted.
const TOKEN: &str = "x-admission";
/// The header the proxy sets on a `503` of its breaker.
const REJECTED_BY: &str = "x-rejected-by";

/// How long to run, with how many clients and worker threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    clients: usize,
    duration: Duration,
    threads: Option<usize>,
}

impl Settings {
    /// `clients` concurrent clients for `duration`; `threads` worker threads
    /// (`None`: one per core, tokio's default).
    pub(crate) fn new(clients: usize, duration: Duration, threads: Option<usize>) -> Settings {
        Settings {
            clients: clients.max(1),
            duration,
            threads,
        }
    }

    /// The RSS is first read once the schedule has gone round twice (every
    /// fault, every state, every connection the clients keep) or a quarter
    /// of the run has passed, whichever is later.
    fn warm_up(&self) -> Duration {
        (2 * (CALM + STORM)).max(self.duration / 4)
    }

    fn requests_per_client(&self) -> u64 {
        (self.duration.as_secs_f64() * MAX_RATE_PER_CLIENT).ceil() as u64
    }
}

/// Runs the soak on its own multi-thread runtime and reports.
pub(crate) fn run(settings: Settings) -> Report {
    silence_injected_panics();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(threads) = settings.threads {
        builder.worker_threads(threads);
    }
    let runtime = builder.build().expect("a tokio runtime");
    runtime.block_on(soak(settings))
}

// ---- the upstream ------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Slow,
    Error,
    Hang,
    Reset,
    Panic,
}

impl Fault {
    const ALL: [Fault; 6] = [
        Fault::None,
        Fault::Slow,
        Fault::Error,
        Fault::Hang,
        Fault::Reset,
        Fault::Panic,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::None => "ok",
            Fault::Slow => "slow",
            Fault::Error => "500",
            Fault::Hang => "hang",
            Fault::Reset => "reset",
            Fault::Panic => "panic",
        }
    }

    /// The answer to the `arrival`-th admitted request, `since_start` into
    /// the run. Calm: 4 failures in 20 (20 %, below the 50 % that trips the
    /// breaker) and 2 slow answers. Storm: every answer fails, each way in
    /// turn. No RNG: the same arrivals get the same answers.
    fn scheduled(since_start: Duration, arrival: u64) -> Fault {
        let cycle = (CALM + STORM).as_nanos();
        if since_start.as_nanos() % cycle < CALM.as_nanos() {
            match arrival % 20 {
                3 => Fault::Error,
                8 => Fault::Reset,
                13 => Fault::Panic,
                18 => Fault::Hang,
                5 | 15 => Fault::Slow,
                _ => Fault::None,
            }
        } else {
            [Fault::Error, Fault::Reset, Fault::Panic, Fault::Hang][(arrival % 4) as usize]
        }
    }
}

/// The payload of an injected panic, so the panic hook can keep quiet about
/// these and only these.
struct InjectedPanic;

fn silence_injected_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<InjectedPanic>() {
                default(info);
            }
        }));
    });
}

struct Upstream {
    start: Instant,
    /// The proxy's token counter: every token below it was taken by a call
    /// the breaker had admitted.
    minted: Arc<AtomicU64>,
    /// One bit per token, set when a request carrying it arrives. Touched in
    /// full before the run, so it adds nothing to the RSS as it fills.
    seen: Box<[AtomicU64]>,
    /// Requests carrying a fresh, valid token.
    arrivals: AtomicU64,
    /// Requests without a valid token: calls the breaker never admitted.
    unadmitted: AtomicU64,
    /// Requests carrying a token already seen: one admission, two calls.
    reused: AtomicU64,
    injected: [AtomicU64; 6],
}

impl Upstream {
    fn new(start: Instant, minted: Arc<AtomicU64>, tokens: u64) -> Upstream {
        let seen: Box<[AtomicU64]> = (0..tokens.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        for word in seen.iter() {
            word.store(0, Ordering::Relaxed);
        }
        Upstream {
            start,
            minted,
            seen,
            arrivals: AtomicU64::new(0),
            unadmitted: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            injected: Default::default(),
        }
    }

    /// Whether `request` carries a token the proxy took after an admission,
    /// seen here for the first time. Anything else is counted, never trusted.
    fn admitted(&self, request: &Request<Incoming>) -> bool {
        let token = request
            .headers()
            .get(TOKEN)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok())
            .filter(|&token| token < self.minted.load(Ordering::SeqCst));
        let Some((word, bit)) = token
            .and_then(|token| Some((self.seen.get((token / 64) as usize)?, 1 << (token % 64))))
        else {
            self.unadmitted.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        if word.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    async fn answer(
        self: Arc<Self>,
        request: Request<Incoming>,
        reset: Arc<Notify>,
    ) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
        if !self.admitted(&request) {
            return Ok(reply(StatusCode::BAD_REQUEST, "no admission"));
        }
        let arrival = self.arrivals.fetch_add(1, Ordering::Relaxed);
        let fault = Fault::scheduled(self.start.elapsed(), arrival);
        self.injected[fault as usize].fetch_add(1, Ordering::Relaxed);
        Ok(match fault {
            Fault::None => reply(StatusCode::OK, "ok"),
            Fault::Slow => {
                tokio::time::sleep(SLOW).await;
                reply(StatusCode::OK, "ok, slowly")
            }
            Fault::Error => reply(StatusCode::INTERNAL_SERVER_ERROR, "injected error"),
            Fault::Hang => {
                tokio::time::sleep(HANG).await;
                reply(StatusCode::OK, "too late")
            }
            Fault::Reset => {
                // The connection's task drops the socket; this answer never comes.
                reset.notify_one();
                return std::future::pending().await;
            }
            Fault::Panic => std::panic::panic_any(InjectedPanic),
        })
    }
}

fn reply(status: StatusCode, body: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

/// Accepts connections until `stop`; each connection is served by its own
/// task, which ends with the connection, on a reset, or at `stop`.
async fn serve_upstream(
    listener: TcpListener,
    upstream: Arc<Upstream>,
    stop: watch::Receiver<bool>,
) {
    loop {
        let mut stopped = stop.clone();
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|&stop| stop) => return,
        };
        let Ok((stream, _)) = accepted else {
            // A failed accept (out of descriptors, say) loses that connection
            // only, and the proxy sees a failed call; wait a moment rather
            // than spin on an error that persists.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        // Dropping a socket with SO_LINGER 0 sends an RST, as a crashed or
        // reset peer does: that is the reset fault, and a panicking handler
        // drops its connection the same way.
        let _ = stream.set_zero_linger();
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let reset = Arc::new(Notify::new());
            let service = {
                let reset = reset.clone();
                service_fn(move |request| upstream.clone().answer(request, reset.clone()))
            };
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = reset.notified() => {}
                _ = stopped.wait_for(|&stop| stop) => {}
            }
        });
    }
}

// ---- the proxy ---------------------------------------------------------------

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// What the proxy shares with the report: the breaker and the proxy's own
/// tallies. The HTTP client is not in here, so it is dropped with the server.
struct Gate {
    breaker: CircuitBreaker,
    /// Tokens taken: one per call the breaker admitted (see `proxy`).
    minted: Arc<AtomicU64>,
    /// Admitted calls whose upstream future is still alive.
    held: AtomicU64,
    handled: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    rejected: AtomicU64,
    /// Time spent in the breaker per request (see `proxy`), for admitted
    /// calls and for rejections.
    breaker_admitted: Histogram,
    breaker_rejected: Histogram,
}

struct Proxy {
    gate: Arc<Gate>,
    client: HttpClient,
    upstream: Uri,
}

impl Proxy {
    /// One upstream request; a 5xx or a broken body is an error.
    async fn fetch(&self, token: u64) -> Result<(), String> {
        let request = Request::get(self.upstream.clone())
            .header(TOKEN, token)
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("upstream unreachable: {e}"))?;
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("upstream body: {e}"))?;
        if status.is_server_error() {
            return Err(format!("upstream answered {status}"));
        }
        Ok(())
    }
}

/// Counts a call in `held` for as long as it lives.
struct Held<'a>(&'a AtomicU64);

impl<'a> Held<'a> {
    fn new(gauge: &'a AtomicU64) -> Held<'a> {
        gauge.fetch_add(1, Ordering::SeqCst);
        Held(gauge)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn proxy(Extract(proxy): Extract<Arc<Proxy>>) -> Response {
    let gate = &proxy.gate;
    gate.handled.fetch_add(1, Ordering::Relaxed);
    let entered = Instant::now();
    let (mut admitted, mut finished) = (None, None);
    let result = breaker_tokio::call_with_timeout(&gate.breaker, UPSTREAM_TIMEOUT, async {
        // The breaker polls this future only once it has admitted the call
        // (a rejected call's future is never polled), so a token proves an
        // admission: the upstream counts any request without one.
        let token = gate.minted.fetch_add(1, Ordering::SeqCst);
        admitted = Some(Instant::now());
        let _held = Held::new(&gate.held);
        let result = proxy.fetch(token).await;
        finished = Some(Instant::now());
        result
    })
    .await;
    let returned = Instant::now();
    // The breaker's own time: from the handler's call to the upstream
    // future's first poll (admission, and the timer's start), and from that
    // future's end to the result (recording). A rejection is all breaker;
    // after a timeout only the admission can be told apart from the timer.
    match (admitted, finished) {
        (None, _) => gate.breaker_rejected.record(returned - entered),
        (Some(admitted), Some(finished)) => {
            gate.breaker_admitted
                .record((admitted - entered) + (returned - finished));
        }
        (Some(admitted), None) => gate.breaker_admitted.record(admitted - entered),
    }
    match result {
        Ok(()) => {
            gate.ok.fetch_add(1, Ordering::Relaxed);
            (StatusCode::OK, "ok").into_response()
        }
        Err(Error::Inner(e)) => {
            gate.failed.fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_GATEWAY, e).into_response()
        }
        Err(Error::Timeout) => {
            gate.timed_out.fetch_add(1, Ordering::Relaxed);
            (StatusCode::GATEWAY_TIMEOUT, "upstream timed out").into_response()
        }
        Err(Error::Broken(broken)) => {
            gate.rejected.fetch_add(1, Ordering::Relaxed);
            // Whole seconds, rounded up, at least 1 (a Recovering rejection
            // has retry_after 0: try again soon).
            let secs = broken.retry_after().as_secs_f64().ceil().max(1.0) as u64;
            let mut response =
                (StatusCode::SERVICE_UNAVAILABLE, broken.to_string()).into_response();
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            headers.insert(REJECTED_BY, HeaderValue::from_static("breaker"));
            response
        }
    }
}

// ---- the clients -------------------------------------------------------------

/// What the clients saw.
#[derive(Default)]
struct Load {
    ok: AtomicU64,
    bad_gateway: AtomicU64,
    gateway_timeout: AtomicU64,
    /// `503`s marked as the breaker's.
    rejected: AtomicU64,
    /// Any other answer, an unmarked `503` included.
    other: AtomicU64,
    /// Requests that got no HTTP answer at all.
    errors: AtomicU64,
    /// Requests still unanswered at `DEADLINE` (then dropped).
    late: AtomicU64,
    /// Clients that stopped at their request limit before the time limit.
    capped: AtomicU64,
    /// End-to-end latency of every answer, of the admitted calls' (`200`,
    /// `502`, `504`) and of the breaker's `503`s.
    latency: Histogram,
    admitted_latency: Histogram,
    rejected_latency: Histogram,
    /// VmRSS once the warm-up is over, read by the first client past it,
    /// and how many requests had been answered then.
    warm: OnceLock<(Option<u64>, u64)>,
}

impl Load {
    fn answered(&self) -> u64 {
        [
            &self.ok,
            &self.bad_gateway,
            &self.gateway_timeout,
            &self.rejected,
            &self.other,
        ]
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .sum()
    }
}

/// One client: requests one after another until `stop_at` or `limit`.
async fn client(
    load: Arc<Load>,
    http: HttpClient,
    uri: Uri,
    warm_at: Instant,
    stop_at: Instant,
    limit: u64,
) {
    for _ in 0..limit {
        let sent = Instant::now();
        if sent >= stop_at {
            return;
        }
        if sent >= warm_at {
            load.warm.get_or_init(|| (rss_bytes(), load.answered()));
        }
        let request = async {
            let response = http.get(uri.clone()).await.ok()?;
            let by_breaker = response.headers().contains_key(REJECTED_BY);
            let status = response.status();
            response.into_body().collect().await.ok()?;
            Some((status, by_breaker))
        };
        let counter = match tokio::time::timeout(DEADLINE, request).await {
            Err(_) => &load.late,
            Ok(None) => &load.errors,
            Ok(Some((status, by_breaker))) => {
                let latency = sent.elapsed();
                load.latency.record(latency);
                let (counter, kind) = match status {
                    StatusCode::OK => (&load.ok, Some(&load.admitted_latency)),
                    StatusCode::BAD_GATEWAY => (&load.bad_gateway, Some(&load.admitted_latency)),
                    StatusCode::GATEWAY_TIMEOUT => {
                        (&load.gateway_timeout, Some(&load.admitted_latency))
                    }
                    StatusCode::SERVICE_UNAVAILABLE if by_breaker => {
                        (&load.rejected, Some(&load.rejected_latency))
                    }
                    _ => (&load.other, None),
                };
                if let Some(kind) = kind {
                    kind.record(latency);
                }
                counter
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    load.capped.fetch_add(1, Ordering::Relaxed);
}

// ---- the run -----------------------------------------------------------------

async fn soak(settings: Settings) -> Report {
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks_before = metrics.num_alive_tasks();
    let start = Instant::now();
    let per_client = settings.requests_per_client();

    let minted = Arc::new(AtomicU64::new(0));
    let upstream = Arc::new(Upstream::new(
        start,
        minted.clone(),
        per_client * settings.clients as u64,
    ));
    let up_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the upstream");
    let up_addr = up_listener.local_addr().expect("the upstream's address");
    let (stop_upstream, stop) = watch::channel(false);
    let upstream_task = tokio::spawn(serve_upstream(up_listener, upstream.clone(), stop));

    let gate = Arc::new(Gate {
        breaker: breaker_tokio::new(CONFIG),
        minted,
        held: AtomicU64::new(0),
        handled: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        timed_out: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        breaker_admitted: Histogram::default(),
        breaker_rejected: Histogram::default(),
    });
    let app = Router::new()
        .route("/", get(proxy))
        .with_state(Arc::new(Proxy {
            gate: gate.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            upstream: format!("http://{up_addr}/").parse().expect("a URI"),
        }));
    let proxy_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let proxy_addr = proxy_listener.local_addr().expect("the proxy's address");
    let (stop_proxy, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(proxy_listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let load = Arc::new(Load::default());
    let http: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let uri: Uri = format!("http://{proxy_addr}/").parse().expect("a URI");
    let (warm_at, stop_at) = (start + settings.warm_up(), start + settings.duration);
    let clients: Vec<_> = (0..settings.clients)
        .map(|_| {
            let (load, http, uri) = (load.clone(), http.clone(), uri.clone());
            tokio::spawn(client(load, http, uri, warm_at, stop_at, per_client))
        })
        .collect();
    let mut clients_failed = 0;
    for client in clients {
        clients_failed += u64::from(client.await.is_err());
    }
    let elapsed = start.elapsed();
    let end_rss = rss_bytes();

    // Shut down from the outside in: the clients' connections, the proxy
    // (it waits for its connections, then drops its HTTP client), the
    // upstream. Each step has a deadline: a stuck one is reported.
    drop(http);
    let _ = stop_proxy.send(());
    let proxy_stopped = matches!(
        tokio::time::timeout(Duration::from_secs(5), server).await,
        Ok(Ok(Ok(())))
    );
    let _ = stop_upstream.send(true);
    let upstream_stopped = matches!(
        tokio::time::timeout(Duration::from_secs(5), upstream_task).await,
        Ok(Ok(()))
    );
    // Connection tasks notice a dropped peer or client on their next poll:
    // wait for that, within a deadline, instead of guessing how long it takes.
    let give_up = Instant::now() + Duration::from_secs(5);
    let tasks_left = loop {
        let left = metrics.num_alive_tasks().saturating_sub(tasks_before);
        if left == 0 || Instant::now() >= give_up {
            break left;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };

    Report {
        settings,
        elapsed,
        metrics: gate.breaker.metrics(),
        gate,
        upstream,
        load,
        clients_failed,
        end_rss,
        proxy_stopped,
        upstream_stopped,
        tasks_left,
    }
}

/// VmRSS from `/proc/self/status`, in bytes; `None` off Linux.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

// ---- the report --------------------------------------------------------------

/// Everything the soak measured. [`Report::problems`] checks, exactly:
///
/// - every request is answered: no client request missed `DEADLINE` or got
///   no HTTP answer, every answer is one the proxy gives, no client task
///   panicked, the servers stop and no task outlives them;
/// - `call_count` = requests the proxy handled = answers the clients got;
/// - rejections (`call_broken + call_recovering_failed`) = the proxy's `503`s
///   = the `503`s the clients got marked as the breaker's;
/// - admissions (`call_passing + call_recovering_ok`) = tokens taken =
///   `successes + failures + late + ignored + held`, with held = 0 at the end;
///   `successes + failures + late` = calls that finished (the clients' `200`,
///   `502` and `504`, each equal to the proxy's own tally), so `ignored` =
///   admitted calls that were cancelled;
/// - no upstream call without an admission: every request reaching the
///   upstream carries a token taken after an admission, and no token twice,
///   so upstream calls <= admissions, one to one;
/// - the soak did what it is for: the breaker tripped, rejected calls while
///   Broken and admitted some while Recovering; every fault was injected;
/// - VmRSS grew by less than `RSS_BOUND` from the warm-up to the end (Linux).
pub(crate) struct Report {
    settings: Settings,
    elapsed: Duration,
    metrics: Metrics,
    gate: Arc<Gate>,
    upstream: Arc<Upstream>,
    load: Arc<Load>,
    clients_failed: u64,
    /// VmRSS once the clients are done; the warm-up's reading is in `load`.
    end_rss: Option<u64>,
    proxy_stopped: bool,
    upstream_stopped: bool,
    tasks_left: usize,
}

fn read(n: &AtomicU64) -> u64 {
    n.load(Ordering::SeqCst)
}

impl Report {
    /// The warm-up's and the end's VmRSS, when both were read.
    fn rss(&self) -> Option<(u64, u64)> {
        Some((self.load.warm.get()?.0?, self.end_rss?))
    }

    /// Every check that failed, as a sentence; empty when the soak lost nothing.
    pub(crate) fn problems(&self) -> Vec<String> {
        let (m, gate, load, up) = (&self.metrics, &self.gate, &self.load, &self.upstream);
        let mut problems = Vec::new();
        let mut check = |holds: bool, what: String| {
            if !holds {
                problems.push(what);
            }
        };

        // Every request is answered.
        let late = read(&load.late);
        check(
            late == 0,
            format!("{late} requests got no answer within {DEADLINE:?}"),
        );
        let errors = read(&load.errors);
        check(errors == 0, format!("{errors} requests got no HTTP answer"));
        let other = read(&load.other);
        check(
            other == 0,
            format!("{other} answers were none the proxy gives"),
        );
        check(
            self.clients_failed == 0,
            format!("{} client tasks panicked", self.clients_failed),
        );
        check(
            self.proxy_stopped,
            "the proxy did not shut down cleanly within 5 s".into(),
        );
        check(
            self.upstream_stopped,
            "the upstream did not stop within 5 s".into(),
        );
        check(
            self.tasks_left == 0,
            format!("{} tasks outlived the soak", self.tasks_left),
        );

        // Every attempt is counted once, and answered as counted.
        let answered = load.answered();
        let handled = read(&gate.handled);
        check(
            m.call_count == handled && handled == answered,
            format!(
                "call_count {} != requests the proxy handled {handled} != answers {answered}",
                m.call_count
            ),
        );
        let rejections = m.call_broken + m.call_recovering_failed;
        let (proxy_503, client_503) = (read(&gate.rejected), read(&load.rejected));
        check(
            rejections == proxy_503 && proxy_503 == client_503,
            format!(
                "rejections {rejections} != the proxy's 503s {proxy_503} != the clients' {client_503}"
            ),
        );
        for (what, proxy, client) in [
            ("200", &gate.ok, &load.ok),
            ("502", &gate.failed, &load.bad_gateway),
            ("504", &gate.timed_out, &load.gateway_timeout),
        ] {
            let (proxy, client) = (read(proxy), read(client));
            check(
                proxy == client,
                format!("the proxy answered {proxy} {what}s, the clients got {client}"),
            );
        }

        // Every admission ends in exactly one outcome.
        let admissions = m.call_passing + m.call_recovering_ok;
        let minted = read(&gate.minted);
        check(
            admissions == minted,
            format!("admissions {admissions} != tokens taken {minted}"),
        );
        let held = read(&gate.held);
        check(
            held == 0,
            format!("{held} admitted calls still held at the end"),
        );
        let outcomes = m.successes + m.failures + m.late + m.ignored;
        check(
            admissions == outcomes + held,
            format!(
                "admissions {admissions} != successes {} + failures {} + late {} + ignored {} + held {held}",
                m.successes, m.failures, m.late, m.ignored
            ),
        );
        let finished = read(&gate.ok) + read(&gate.failed) + read(&gate.timed_out);
        check(
            m.successes + m.failures + m.late == finished,
            format!(
                "successes + failures + late = {} != calls that finished {finished}",
                m.successes + m.failures + m.late
            ),
        );

        // No upstream call without an admission.
        let (unadmitted, reused, arrivals) =
            (read(&up.unadmitted), read(&up.reused), read(&up.arrivals));
        check(
            unadmitted == 0,
            format!("{unadmitted} upstream calls carried no admission"),
        );
        check(
            reused == 0,
            format!("{reused} upstream calls reused an admission"),
        );
        check(
            arrivals <= admissions,
            format!("{arrivals} upstream calls for {admissions} admissions"),
        );

        // The soak exercised what it checks.
        check(m.trips > 0, "the breaker never tripped".into());
        check(
            m.call_broken > 0,
            "no call was rejected while Broken".into(),
        );
        check(
            m.call_recovering_ok > 0,
            "no call was admitted while Recovering".into(),
        );
        for fault in Fault::ALL {
            let n = read(&up.injected[fault as usize]);
            check(
                n > 0,
                format!("the upstream never injected {}", fault.name()),
            );
        }

        // Memory stays flat.
        if let Some((warm, end)) = self.rss() {
            check(
                end < warm + RSS_BOUND,
                format!(
                    "VmRSS grew from {} to {} (bound {})",
                    mib(warm),
                    mib(end),
                    mib(RSS_BOUND)
                ),
            );
        }
        problems
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m, gate, load, up) = (&self.metrics, &self.gate, &self.load, &self.upstream);
        let secs = self.elapsed.as_secs_f64();
        let answered = load.answered();
        writeln!(
            f,
            "soak: {} clients for {:.1} s (warm-up {:.1} s), {} worker threads; upstream timeout {UPSTREAM_TIMEOUT:?}, \
             client deadline {DEADLINE:?}",
            self.settings.clients,
            secs,
            self.settings.warm_up().as_secs_f64(),
            self.settings
                .threads
                .map_or("per-core".to_string(), |n| n.to_string()),
        )?;
        writeln!(
            f,
            "requests: {answered} answered, {:.0} req/s: {} 200, {} 502, {} 504, {} 503 by the breaker; \
             {} late, {} unanswered, {} other; {} clients reached their limit of {}",
            answered as f64 / secs,
            read(&load.ok),
            read(&load.bad_gateway),
            read(&load.gateway_timeout),
            read(&load.rejected),
            read(&load.late),
            read(&load.errors),
            read(&load.other),
            read(&load.capped),
            self.settings.requests_per_client(),
        )?;
        let q = |h: &Histogram, q: f64| {
            h.quantile(q)
                .map_or("-".to_string(), |d| format!("{d:.2?}"))
        };
        writeln!(
            f,
            "latency (client, end to end): all p50 {}, p99 {}; admitted calls p50 {}, p99 {}; \
             503s p50 {}, p99 {}",
            q(&load.latency, 0.5),
            q(&load.latency, 0.99),
            q(&load.admitted_latency, 0.5),
            q(&load.admitted_latency, 0.99),
            q(&load.rejected_latency, 0.5),
            q(&load.rejected_latency, 0.99),
        )?;
        // The breaker's p-quantile as a share of the same quantile of the
        // requests it served: admitted calls, then rejections.
        let part = |breaker: &Histogram, latency: &Histogram, p: f64| match (
            breaker.quantile(p),
            latency.quantile(p),
        ) {
            (Some(breaker), Some(total)) => format!(
                "{breaker:.2?} ({:.2}%)",
                100.0 * breaker.as_secs_f64() / total.as_secs_f64()
            ),
            _ => "-".into(),
        };
        writeln!(
            f,
            "breaker's own time per request, in the proxy (share of that latency): \
             admitted calls p50 {}, p99 {}; 503s p50 {}, p99 {}",
            part(&gate.breaker_admitted, &load.admitted_latency, 0.5),
            part(&gate.breaker_admitted, &load.admitted_latency, 0.99),
            part(&gate.breaker_rejected, &load.rejected_latency, 0.5),
            part(&gate.breaker_rejected, &load.rejected_latency, 0.99),
        )?;
        writeln!(
            f,
            "breaker: {} calls; admitted {} passing + {} recovering; rejected {} broken + {} recovering; \
             {} successes, {} failures, {} late, {} ignored, {} held; {} trips; ends {}",
            m.call_count,
            m.call_passing,
            m.call_recovering_ok,
            m.call_broken,
            m.call_recovering_failed,
            m.successes,
            m.failures,
            m.late,
            m.ignored,
            read(&gate.held),
            m.trips,
            m.state,
        )?;
        let injected: Vec<String> = Fault::ALL
            .iter()
            .map(|&fault| format!("{} {}", read(&up.injected[fault as usize]), fault.name()))
            .collect();
        writeln!(
            f,
            "upstream: {} calls, each with its own admission ({}); {} without one, {} reusing one; \
             {} admitted calls never reached it",
            read(&up.arrivals),
            injected.join(", "),
            read(&up.unadmitted),
            read(&up.reused),
            read(&gate.minted).saturating_sub(read(&up.arrivals)),
        )?;
        match self.rss() {
            Some((warm, end)) => {
                // The smallest leak per request the bound is sure to catch.
                let after_warm_up = answered.saturating_sub(load.warm.get().map_or(0, |w| w.1));
                writeln!(
                    f,
                    "memory: VmRSS {} after the warm-up, {} at the end: {:+.2} MiB (bound +{}, \
                     which {after_warm_up} requests since the warm-up reach with {} bytes each)",
                    mib(warm),
                    mib(end),
                    (end as f64 - warm as f64) / f64::from(1 << 20),
                    mib(RSS_BOUND),
                    RSS_BOUND / after_warm_up.max(1),
                )?
            }
            None => writeln!(
                f,
                "memory: not checked (no /proc/self/status VmRSS on this system)"
            )?,
        }
        write!(
            f,
            "shutdown: proxy {}, upstream {}, {} tasks left",
            if self.proxy_stopped {
                "stopped"
            } else {
                "STUCK"
            },
            if self.upstream_stopped {
                "stopped"
            } else {
                "STUCK"
            },
            self.tasks_left,
        )
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

// ---- latency histogram -------------------------------------------------------

/// Latencies in fixed log-linear buckets (16 per power of two, so a quantile
/// is within 6.25 %): no allocation per sample, so it does not grow the RSS.
struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            // Bucket of u64::MAX: (63 - 3) * 16 + 15.
            counts: (0..976).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    fn record(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(nanos)].fetch_add(1, Ordering::Relaxed);
    }

    /// Values below 16 ns have a bucket each; above, the top bit and the
    /// four bits after it choose the bucket.
    fn bucket(nanos: u64) -> usize {
        if nanos < 16 {
            return nanos as usize;
        }
        let top = u64::from(63 - nanos.leading_zeros());
        (((top - 3) << 4) | ((nanos >> (top - 4)) & 15)) as usize
    }

    /// The largest value bucket `i` holds.
    fn largest(i: usize) -> u64 {
        if i < 16 {
            return i as u64;
        }
        let (top, sub) = ((i >> 4) as u32 + 3, (i & 15) as u64);
        let step = 1u64 << (top - 4);
        // Written so that the last bucket's end, u64::MAX, does not overflow.
        (16 + sub) * step + (step - 1)
    }

    /// The `q` quantile, rounded up to its bucket's largest value.
    fn quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        let i = counts.iter().position(|&n| {
            seen += n;
            seen >= rank
        })?;
        Some(Duration::from_nanos(Self::largest(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn buckets_are_contiguous_and_within_a_sixteenth() {
        let mut previous_end = None;
        for i in 0..976 {
            let end = Histogram::largest(i);
            if let Some(previous) = previous_end {
                assert!(end > previous, "bucket {i} ends at {end}, after {previous}");
                assert_eq!(Histogram::bucket(previous + 1), i, "{}", previous + 1);
            }
            assert_eq!(Histogram::bucket(end), i);
            previous_end = Some(end);
        }
        assert_eq!(previous_end, Some(u64::MAX));
        for nanos in [17, 1_000, 123_456_789, u64::MAX / 3] {
            let end = Histogram::largest(Histogram::bucket(nanos));
            assert!(
                end >= nanos && (end - nanos) as f64 <= nanos as f64 / 16.0,
                "{nanos} -> {end}"
            );
        }
    }
}
