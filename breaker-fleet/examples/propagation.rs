//! Measures, on loopback against a real `redis-server` that it starts:
//!
//! 1. Propagation: the time from the trip that forms a quorum (b's, after
//!    a's) to a third instance's breaker reading Broken, over many rounds.
//! 2. Redis load: commands per second that 100 idle instances cost at a
//!    1 s heartbeat (from the server's own `total_commands_processed`), next
//!    to the figure the design predicts.
//!
//! ```sh
//! cargo run --release -p breaker-fleet --example propagation
//! ```

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker_core::{CircuitBreaker, Config, MockClock, State};
use breaker_fleet::{Fleet, FleetConfig, FleetListener, Status};
use redis_server::RedisServer;

type Breaker = Arc<CircuitBreaker<&'static MockClock, 10, FleetListener>>;

const ROUNDS: usize = 300;
const LOAD_INSTANCES: usize = 100;
const LOAD_HEARTBEAT: Duration = Duration::from_secs(1);
const LOAD_SECONDS: u64 = 10;

fn breaker_config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(Duration::from_secs(30))
}

async fn member(
    server: &RedisServer,
    prefix: &str,
    id: &str,
    heartbeat: Duration,
) -> (Fleet, Breaker) {
    let config = FleetConfig::new(server.url(), id)
        .prefix(prefix)
        .heartbeat(heartbeat)
        .join_timeout(Duration::from_secs(5));
    let fleet = Fleet::join(config).await.expect("a valid config");
    assert_eq!(fleet.status(), Status::Connected, "{id} joined");
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    let breaker = fleet
        .breaker("db", |l| {
            CircuitBreaker::with_listener(breaker_config(), clock, l)
        })
        .unwrap();
    (fleet, breaker)
}

/// Spins (yielding to the runtime) until `condition` holds; gives up after 5 s.
async fn until(what: &str, mut condition: impl FnMut() -> bool) -> Instant {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out: {what}"
        );
        tokio::task::yield_now().await;
    }
    Instant::now()
}

fn trip(breaker: &Breaker) {
    let _ = breaker.call(|| Err::<(), _>("down"));
    assert_eq!(breaker.state(), State::Broken);
}

async fn commands_processed(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO stats has total_commands_processed")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = RedisServer::start();

    // 1. Propagation.
    let (fa, a) = member(&server, "prop", "a", Duration::from_secs(1)).await;
    let (fb, b) = member(&server, "prop", "b", Duration::from_secs(1)).await;
    let (fc, c) = member(&server, "prop", "c", Duration::from_secs(1)).await;
    until("three live", || {
        [&fa, &fb, &fc].iter().all(|f| f.live_instances() == 3)
    })
    .await;
    let mut took = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        trip(&a);
        until("c hears a", || fc.broken_reporters("db") == 1).await;
        let start = Instant::now();
        trip(&b);
        let broken = until("c breaks", || c.state() == State::Broken).await;
        took.push(broken - start);
        // Back to a quiet fleet for the next round.
        for breaker in [&a, &b, &c] {
            breaker.reset();
        }
        until("the reports are cleared", || {
            [&fa, &fb, &fc]
                .iter()
                .all(|f| f.broken_reporters("db") == 0)
        })
        .await;
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
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut fleet = Vec::with_capacity(LOAD_INSTANCES);
    for i in 0..LOAD_INSTANCES {
        fleet.push(member(&server, "load", &format!("pod-{i}"), LOAD_HEARTBEAT).await);
    }
    until("all live", || {
        fleet
            .iter()
            .all(|(f, _)| f.live_instances() == LOAD_INSTANCES)
    })
    .await;
    let before = commands_processed(&mut conn).await;
    let start = Instant::now();
    // Real time has to pass here: the load is heartbeats per second.
    tokio::time::sleep(Duration::from_secs(LOAD_SECONDS)).await;
    let elapsed = start.elapsed().as_secs_f64();
    // One INFO of ours is counted in the window.
    let commands = commands_processed(&mut conn).await - before - 1;
    let measured = commands as f64 / elapsed;
    // Per heartbeat each instance sends SET (alive) and one SCAN (the alive
    // keys: fewer than 1000 keys in the database, so one call); every 30th
    // beat it also SCANs the report keys (none here).
    let n = LOAD_INSTANCES as f64;
    let predicted =
        n * 2.0 / LOAD_HEARTBEAT.as_secs_f64() + n / 30.0 / LOAD_HEARTBEAT.as_secs_f64();
    println!(
        "{LOAD_INSTANCES} idle instances, heartbeat {LOAD_HEARTBEAT:?}: {measured:.0} Redis commands/s measured \
         over {elapsed:.1} s; the design predicts {predicted:.0}/s"
    );
}
