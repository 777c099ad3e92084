//! Measures, on loopback against a real `redis-server` that it starts:
//!
//! 1. Propagation: the time from the trip that forms a quorum (b's, after
//!    a's) to a third instance's breaker reading Broken, over many rounds.
//! 2. Redis load: commands per second that 100 idle instances cost at a
//!    1 s heartbeat (from the server's own counters), next to the figure the
//!    design predicts.
//!
//! ```sh
//! cargo run --release -p breaker-fleet --example propagation
//! ```
//!
//! The fleets run on a 2-worker tokio runtime; the measuring loop spins on
//! the main thread, outside the runtime, so it never holds up the tasks it
//! measures.

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker_core::{CircuitBreaker, Config, MockClock, State};
use breaker_fleet::{Fleet, FleetConfig, FleetListener, Status};
use redis::aio::MultiplexedConnection;
use redis_server::RedisServer;
use tokio::runtime::Runtime;

type Breaker = Arc<CircuitBreaker<&'static MockClock, 10, FleetListener>>;

const ROUNDS: usize = 300;
const LOAD_INSTANCES: usize = 100;
const LOAD_HEARTBEAT: Duration = Duration::from_secs(1);
/// 30 heartbeats: each instance's one full re-read falls inside.
const LOAD_SECONDS: u64 = 30;

fn breaker_config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(Duration::from_secs(30))
}

fn member(
    rt: &Runtime,
    server: &RedisServer,
    prefix: &str,
    id: &str,
    heartbeat: Duration,
) -> (Fleet, Breaker) {
    let config = FleetConfig::new(server.url(), id)
        .prefix(prefix)
        .heartbeat(heartbeat)
        .join_timeout(Duration::from_secs(5));
    let fleet = rt.block_on(Fleet::join(config)).expect("a valid config");
    assert_eq!(fleet.status(), Status::Connected, "{id} joined");
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    let breaker = fleet
        .breaker("db", |l| {
            CircuitBreaker::with_listener(breaker_config(), clock, l)
        })
        .unwrap();
    (fleet, breaker)
}

/// Spins on this thread until `condition` holds; fails after 10 s.
fn until(what: &str, mut condition: impl FnMut() -> bool) -> Instant {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::yield_now();
    }
    Instant::now()
}

/// One failure trips the breaker (a fresh window, `min_calls` 1): its own
/// trip, not advice.
fn trip(breaker: &Breaker) {
    let trips = breaker.metrics().trips;
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.metrics().trips, trips + 1);
}

/// Calls per command, from `INFO commandstats` (`cmdstat_scan:calls=12,...`),
/// and the total.
async fn command_calls(conn: &mut MultiplexedConnection) -> (Vec<(String, u64)>, u64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    let calls: Vec<(String, u64)> = info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(":calls=")?;
            Some((name.to_owned(), rest.split(',').next()?.parse().ok()?))
        })
        .filter(|(name, _)| name != "info")
        .collect();
    let total = calls.iter().map(|(_, n)| n).sum();
    (calls, total)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = RedisServer::start();

    // 1. Propagation.
    let (fa, a) = member(&rt, &server, "prop", "a", Duration::from_secs(1));
    let (fb, b) = member(&rt, &server, "prop", "b", Duration::from_secs(1));
    let (fc, c) = member(&rt, &server, "prop", "c", Duration::from_secs(1));
    until("three live", || {
        [&fa, &fb, &fc].iter().all(|f| f.live_instances() == 3)
    });
    let mut took = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        trip(&a);
        until("c hears a", || fc.broken_reporters("db") == 1);
        until("c hears a", || fc.broken_reporters("db") == 1);
        let start = Instant::now();
        trip(&b);
        let broken = until("c breaks", || c.state() == State::Broken);
        took.push(broken - start);
        // Back to a quiet fleet for the next round.
        for breaker in [&a, &b, &c] {
            breaker.reset();
        }
        until("the reports are cleared", || {
            [&fa, &fb, &fc]
                .iter()
                .all(|f| f.broken_reporters("db") == 0)
        });
    }
    took.sort_unstable();
    let pick = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    println!(
        "propagation, quorum-forming trip -> third instance Broken, {ROUNDS} rounds on loopback: \
         p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        pick(0.5),
        pick(0.9),
        pick(0.99),
        took[took.len() - 1]
    );
    drop((fa, fb, fc));

    // 2. Redis load of 100 idle instances.
    let mut conn = rt.block_on(async {
        redis::Client::open(server.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    });
    let fleet: Vec<_> = (0..LOAD_INSTANCES)
        .map(|i| member(&rt, &server, "load", &format!("pod-{i}"), LOAD_HEARTBEAT))
        .collect();
    until("all live", || {
        fleet
            .iter()
            .all(|(f, _)| f.live_instances() == LOAD_INSTANCES)
    });
    let (before, before_total) = rt.block_on(command_calls(&mut conn));
    let start = Instant::now();
    // Real time has to pass here: the load is heartbeats per second.
    std::thread::sleep(Duration::from_secs(LOAD_SECONDS));
    let (after, after_total) = rt.block_on(command_calls(&mut conn));
    let elapsed = start.elapsed().as_secs_f64();
    let rate = |n: u64| n as f64 / elapsed;
    let by_command: Vec<String> = after
        .iter()
        .map(|(name, calls)| {
            let earlier = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, c)| *c);
            format!("{name} {:.1}/s", rate(calls - earlier))
        })
        .collect();
    // Per heartbeat each instance sends SET (alive) and one SCAN (the alive
    // keys: fewer than 1000 keys in the database, so one call); every 30th
    // beat it also SCANs the report keys (none here, so no GET/PTTL).
    let n = LOAD_INSTANCES as f64;
    let beat = LOAD_HEARTBEAT.as_secs_f64();
    let predicted = n * 2.0 / beat + n / 30.0 / beat;
    println!(
        "{LOAD_INSTANCES} idle instances, heartbeat {LOAD_HEARTBEAT:?}: {:.0} Redis commands/s measured \
         over {elapsed:.1} s ({}); the design predicts {predicted:.0}/s",
        rate(after_total - before_total),
        by_command.join(", ")
    );
    drop(fleet);
}
