//! Fleets of three (and four) instances in one process, each with its own
//! fleet client and breaker on its own `MockClock`, against a real
//! `redis-server` started by the test on a free loopback port.
//!
//! Breaker time moves only by `MockClock::advance`. Network effects are
//! awaited by polling an observable condition (a breaker's state, a fleet's
//! status or counters, a key in Redis) with a bound, never by sleeping.

#[path = "support/log_capture.rs"]
mod log_capture;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use breaker_core::{CircuitBreaker, Config, Error, MockClock, State};
use breaker_fleet::{Fleet, FleetConfig, FleetListener, Status};
use redis::aio::MultiplexedConnection;
use redis_server::RedisServer;
use tokio::time::Instant;

type Breaker = Arc<CircuitBreaker<&'static MockClock, 10, FleetListener>>;

/// What the tests allow a change to take to cross the fleet: on loopback it
/// takes about a millisecond (see examples/propagation.rs); the bound is
/// wide for a loaded CI machine.
const PROPAGATION: Duration = Duration::from_secs(2);
const BROKEN_TIME: Duration = Duration::from_secs(30);
const RECOVERY_TIME: Duration = Duration::from_secs(10);

fn breaker_config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .min_calls(1)
        .passing_time(Duration::ZERO)
        .broken_time(BROKEN_TIME)
        .recovery_time(RECOVERY_TIME)
}

fn fleet_config(server: &RedisServer, instance: &str) -> FleetConfig {
    fleet_config_at(server.url(), instance)
}

fn fleet_config_at(url: String, instance: &str) -> FleetConfig {
    FleetConfig::new(url, instance)
        .prefix("test")
        .heartbeat(Duration::from_millis(200))
        .join_timeout(Duration::from_secs(5))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        // No periodic re-read, so a malformed key is read (and counted)
        // exactly once, at join.
        .resync_every(u32::MAX)
}

struct Instance {
    fleet: Fleet,
    db: Breaker,
    clock: &'static MockClock,
}

async fn join(server: &RedisServer, id: &str) -> Instance {
    let fleet = Fleet::join(fleet_config(server, id))
        .await
        .expect("a valid config");
    assert_eq!(fleet.status(), Status::Connected, "{id} joined");
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    let db = fleet
        .breaker("db", |l| {
            CircuitBreaker::with_listener(breaker_config(), clock, l)
        })
        .unwrap();
    Instance { fleet, db, clock }
}

/// Waits until `condition` holds, polling every 2 ms; fails after `bound`.
async fn eventually(what: &str, bound: Duration, mut condition: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < bound, "not within {bound:?}: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    start.elapsed()
}

/// The same, for a condition read from Redis.
async fn eventually_in_redis(
    conn: &mut MultiplexedConnection,
    what: &str,
    bound: Duration,
    key: &str,
    exists: bool,
) {
    let start = Instant::now();
    loop {
        let found: bool = redis::cmd("EXISTS")
            .arg(key)
            .query_async(conn)
            .await
            .unwrap_or(false);
        if found == exists {
            return;
        }
        assert!(start.elapsed() < bound, "not within {bound:?}: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn connect(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Fails calls until the breaker trips by itself (one failure does on a
/// fresh window; more after successes).
fn trip(b: &Breaker) {
    let trips = b.metrics().trips;
    for _ in 0..1000 {
        assert!(matches!(
            b.call(|| Err::<(), _>("down")),
            Err(Error::Inner("down"))
        ));
        if b.state() == State::Broken {
            assert_eq!(b.metrics().trips, trips + 1, "its own trip");
            return;
        }
    }
    panic!("the breaker did not trip");
}

async fn all_live(fleet: &[&Instance], n: usize) {
    for i in fleet {
        eventually(
            &format!("{} sees {n} live instances", i.fleet.instance()),
            PROPAGATION,
            || i.fleet.live_instances() == n,
        )
        .await;
    }
}

#[tokio::test]
async fn one_trip_alone_does_not_break_the_fleet_two_do() {
    let server = RedisServer::start();
    let a = join(&server, "a").await;
    let b = join(&server, "b").await;
    let c = join(&server, "c").await;
    all_live(&[&a, &b, &c], 3).await;

    // a trips alone: b and c hear it, and stay Passing (1 of 3 is no quorum).
    trip(&a.db);
    for i in [&b, &c] {
        eventually("a's report arrives", PROPAGATION, || {
            i.fleet.broken_reporters("db") == 1
        })
        .await;
        assert_eq!(i.db.state(), State::Passing);
        assert_eq!(i.fleet.stats().advised, 0);
    }

    // b trips too: 2 of 3 live instances is a quorum, and c breaks.
    trip(&b.db);
    let took = eventually("c is advised Broken", PROPAGATION, || {
        c.db.state() == State::Broken
    })
    .await;
    println!("quorum-forming trip to c's Broken: {took:?}");
    assert_eq!(c.fleet.stats().advised, 1);
    assert_eq!(c.db.metrics().trips, 0, "advice is not a trip");
    // The quorum lasts as long as the shorter of the two reports (both
    // 30 s, less the few ms it took to cross the fleet).
    let advised = c.db.retry_after();
    assert!(
        advised <= BROKEN_TIME && advised > BROKEN_TIME - PROPAGATION,
        "{advised:?}"
    );
    assert!(matches!(
        c.db.call(|| Ok::<_, ()>(())),
        Err(Error::Broken(_))
    ));

    // Then c probes with its own ramp: p(0) = 0, p(half way) = 2^0.5 - 1.
    c.clock.advance(advised);
    assert_eq!(c.db.state(), State::Recovering);
    assert!(
        matches!(c.db.call(|| Ok::<_, ()>(())), Err(Error::Broken(e)) if e.state() == State::Recovering)
    );
    c.clock.advance(RECOVERY_TIME / 2);
    let admitted = (0..10)
        .filter(|_| c.db.call(|| Ok::<_, ()>(())).is_ok())
        .count();
    assert_eq!(admitted, 4, "10 x 0.414 owed calls");
    c.clock.advance(RECOVERY_TIME / 2);
    assert!(c.db.call(|| Ok::<_, ()>(())).is_ok());
    assert_eq!(c.db.state(), State::Passing);
    // The same quorum (still reported) is not advised twice: once c's task
    // has taken in all three transitions (advised Broken, Recovering,
    // Passing), c is still Passing.
    eventually("c's transitions taken in", PROPAGATION, || {
        c.fleet.stats().transitions == 3
    })
    .await;
    assert_eq!(c.fleet.stats().advised, 1);
    assert_eq!(c.db.state(), State::Passing);
}

#[tokio::test]
async fn round_after_round_only_the_third_instance_is_advised() {
    let server = RedisServer::start();
    let a = join(&server, "a").await;
    let b = join(&server, "b").await;
    let c = join(&server, "c").await;
    all_live(&[&a, &b, &c], 3).await;
    // Each round: a and b trip, c is advised, all three are reset at once.
    // a and b reset while their own reports are still in their views (their
    // tasks hear the reset a moment later): they must not take those for a
    // quorum and advise themselves. (An instance that did would be Broken
    // by advice at the next round's `trip`, which checks for its own trip.)
    const ROUNDS: u64 = 100;
    for round in 1..=ROUNDS {
        trip(&a.db);
        eventually("c hears a", PROPAGATION, || {
            c.fleet.broken_reporters("db") == 1
        })
        .await;
        trip(&b.db);
        eventually("c is advised", PROPAGATION, || {
            c.db.state() == State::Broken
        })
        .await;
        assert_eq!(c.fleet.stats().advised, round);
        for i in [&a, &b, &c] {
            i.db.reset();
        }
        for i in [&a, &b, &c] {
            eventually("reports cleared", PROPAGATION, || {
                i.fleet.broken_reporters("db") == 0
            })
            .await;
        }
    }
    assert_eq!(a.fleet.stats().advised, 0);
    assert_eq!(b.fleet.stats().advised, 0);
}

#[tokio::test]
async fn a_breaker_may_hand_transitions_on_through_a_listener_of_its_own() {
    use breaker_core::{Listener, Transition};
    use std::sync::atomic::{AtomicU32, Ordering};

    let server = RedisServer::start();
    let a = Fleet::join(fleet_config(&server, "a")).await.unwrap();
    let b = join(&server, "b").await;
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    let heard = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&heard);
    let db = a
        .breaker("db", |fleet_listener| {
            let both = move |t: Transition| {
                fleet_listener.on_transition(t);
                counted.fetch_add(1, Ordering::Relaxed);
            };
            CircuitBreaker::with_listener(breaker_config(), clock, both)
        })
        .unwrap();
    assert_eq!(db.call(|| Err::<(), _>("down")), Err(Error::Inner("down")));
    assert_eq!(heard.load(Ordering::Relaxed), 1);
    eventually("b hears a's trip", PROPAGATION, || {
        b.fleet.broken_reporters("db") == 1
    })
    .await;
}

#[tokio::test]
async fn an_instance_that_leaves_stops_counting_at_once() {
    let server = RedisServer::start();
    let mut redis = connect(&server).await;
    let a = join(&server, "a").await;
    let b = join(&server, "b").await;
    let c = join(&server, "c").await;
    all_live(&[&a, &b, &c], 3).await;
    trip(&a.db);
    eventually("b hears a's trip", PROPAGATION, || {
        b.fleet.broken_reporters("db") == 1
    })
    .await;

    let Instance { fleet, db, .. } = a;
    fleet.leave().await;
    for key in ["test:alive:a", "test:b:db:a"] {
        eventually_in_redis(&mut redis, "a's keys deleted", PROPAGATION, key, false).await;
    }
    for i in [&b, &c] {
        eventually("a's report ended", PROPAGATION, || {
            i.fleet.broken_reporters("db") == 0
        })
        .await;
        eventually("a is out of the live count", PROPAGATION, || {
            i.fleet.live_instances() == 2
        })
        .await;
    }
    // a's breaker goes on alone.
    assert_eq!(db.state(), State::Broken);
    assert!(matches!(db.call(|| Ok::<_, ()>(())), Err(Error::Broken(_))));
}

#[tokio::test]
async fn an_instance_joining_a_broken_fleet_rejects_from_its_first_call() {
    let server = RedisServer::start();
    let mut redis = connect(&server).await;
    let a = join(&server, "a").await;
    let b = join(&server, "b").await;
    trip(&a.db);
    trip(&b.db);
    for id in ["a", "b"] {
        eventually_in_redis(
            &mut redis,
            "the report is written",
            PROPAGATION,
            &format!("test:b:db:{id}"),
            true,
        )
        .await;
    }

    let d = join(&server, "d").await;
    assert_eq!(d.fleet.broken_reporters("db"), 2);
    assert!(
        matches!(d.db.call(|| Ok::<_, ()>(())), Err(Error::Broken(_))),
        "rejected from the first call"
    );
    assert_eq!(d.db.metrics().call_count, 1);
    assert_eq!(d.fleet.stats().advised, 1);
}

#[tokio::test]
async fn redis_down_means_local_only_and_back_means_rejoin() {
    // The fleet's tasks run on this (current-thread) runtime's thread, so a
    // thread-local subscriber hears them.
    let log = log_capture::Capture::default();
    let _log = tracing::subscriber::set_default(log.clone());
    let mut server = RedisServer::start();
    let a = join(&server, "a").await;
    let b = join(&server, "b").await;
    let c = join(&server, "c").await;
    all_live(&[&a, &b, &c], 3).await;

    server.kill();
    for i in [&a, &b, &c] {
        eventually("Degraded", PROPAGATION, || {
            matches!(i.fleet.status(), Status::Degraded { .. })
        })
        .await;
        assert_eq!(i.fleet.live_instances(), 0);
    }
    // Calls flow, decided locally; a trip is still a trip.
    for i in [&a, &b, &c] {
        for _ in 0..100 {
            assert_eq!(i.db.call(|| Ok::<_, ()>(7)), Ok(7));
        }
    }
    trip(&a.db);
    trip(&b.db);
    assert_eq!(c.db.state(), State::Passing, "no fleet, no advice");
    // Each instance warned once, however many retries failed since.
    assert_eq!(log.count(tracing::Level::WARN, "fleet: no Redis"), 3);

    server.restart();
    for i in [&a, &b, &c] {
        eventually("Connected again", Duration::from_secs(5), || {
            i.fleet.status() == Status::Connected
        })
        .await;
        assert_eq!(i.fleet.stats().joins, 2);
    }
    // The trips made while Redis was away are published on rejoin, and form
    // the quorum that breaks c.
    let mut redis = connect(&server).await;
    for id in ["a", "b"] {
        eventually_in_redis(
            &mut redis,
            "the report is republished",
            PROPAGATION,
            &format!("test:b:db:{id}"),
            true,
        )
        .await;
    }
    for id in ["a", "b", "c"] {
        eventually_in_redis(
            &mut redis,
            "alive again",
            PROPAGATION,
            &format!("test:alive:{id}"),
            true,
        )
        .await;
    }
    assert_eq!(log.count(tracing::Level::WARN, "fleet: no Redis"), 3);
    assert_eq!(log.count(tracing::Level::INFO, "fleet: rejoined Redis"), 3);
    eventually("c is advised Broken after the rejoin", PROPAGATION, || {
        c.db.state() == State::Broken
    })
    .await;
}

#[tokio::test]
async fn a_stuck_redis_means_local_only_until_it_answers_again() {
    let server = RedisServer::start();
    let a = join(&server, "a").await;
    let b = join(&server, "b").await;
    all_live(&[&a, &b], 2).await;

    // Connections stay open but nothing answers: the next heartbeat's SET
    // times out (op_timeout, 500 ms by default).
    server.pause();
    for i in [&a, &b] {
        let bound = Duration::from_secs(5);
        eventually("Degraded", bound, || {
            matches!(i.fleet.status(), Status::Degraded { .. })
        })
        .await;
        match i.fleet.status() {
            Status::Degraded { error, .. } => assert!(error.contains("timed out"), "{error}"),
            Status::Connected => unreachable!(),
            _ => unreachable!("a new status"),
        }
    }
    for i in [&a, &b] {
        for _ in 0..100 {
            assert_eq!(i.db.call(|| Ok::<_, ()>(7)), Ok(7));
        }
    }

    server.resume();
    for i in [&a, &b] {
        eventually("Connected again", Duration::from_secs(5), || {
            i.fleet.status() == Status::Connected
        })
        .await;
        assert_eq!(i.fleet.stats().joins, 2);
    }
    all_live(&[&a, &b], 2).await;
}

#[tokio::test]
async fn garbage_messages_and_keys_are_ignored_and_counted() {
    let server = RedisServer::start();
    let mut redis = connect(&server).await;
    let a = join(&server, "a").await;

    let messages: &[&[u8]] = &[
        b"",
        b"hello",
        b"v1 broken evil db",
        b"v1 broken evil db -1",
        b"v1 broken evil db 99999999999999999999999999",
        b"v1 broken evil db 3600001", // past max_report (1 h)
        b"v1 broken ev:il db 1000",
        b"v1 broken evil db 1000 trailing",
        b"v1 nonsense evil db",
        b"\xff\xfe\xfd",
    ];
    for m in messages {
        let receivers: u32 = redis::cmd("PUBLISH")
            .arg("test:events")
            .arg(*m)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(receivers, 1);
    }
    let n = messages.len() as u64;
    eventually("every garbage message counted", PROPAGATION, || {
        a.fleet.stats().malformed == n
    })
    .await;
    assert_eq!(a.db.state(), State::Passing);
    assert_eq!(a.fleet.broken_reporters("db"), 0);

    // Keys: a newcomer reads each once while it joins.
    let set = |key: &[u8], value: &[u8], px: Option<u64>| {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(px) = px {
            cmd.arg("PX").arg(px);
        }
        cmd
    };
    let huge = format!("test:b:db:{}", "x".repeat(100_000));
    let garbage = [
        set(huge.as_bytes(), b"v1 broken 1000", Some(60_000)), // longer than any name
        set(b"test:b:db:evil1", b"nonsense", Some(60_000)),
        set(b"test:b:db:evil2", b"v1 broken 1000", None), // never expires
        set(b"test:b:db:evil3", b"v1 broken 1000", Some(7_200_000)), // past max_report
        set(b"test:b:db", b"v1 broken 1000", Some(60_000)), // no instance
        set(b"test:b:db:\xff", b"v1 broken 1000", Some(60_000)), // not UTF-8
    ];
    for cmd in &garbage {
        let _: () = cmd.query_async(&mut redis).await.unwrap();
    }
    let _: () = redis::cmd("HSET")
        .arg("test:b:db:evil4")
        .arg("f")
        .arg("v")
        .query_async(&mut redis)
        .await
        .unwrap();
    let e = join(&server, "e").await;
    assert_eq!(e.fleet.stats().malformed, garbage.len() as u64 + 1);
    assert_eq!(e.db.state(), State::Passing);
    assert_eq!(e.fleet.broken_reporters("db"), 0);

    // Three well-formed hostile reports that claim 30 minutes form a quorum
    // (3 of 6 live: a, e, f and the three): the breaker takes no more than its own longest broken
    // time (30 s here), then probes as usual.
    for evil in ["evil-a", "evil-b", "evil-c"] {
        let _: () = set(format!("test:alive:{evil}").as_bytes(), b"v1", Some(60_000))
            .query_async(&mut redis)
            .await
            .unwrap();
        let _: () = set(
            format!("test:b:pay:{evil}").as_bytes(),
            b"v1 broken 1800000",
            Some(1_800_000),
        )
        .query_async(&mut redis)
        .await
        .unwrap();
    }
    let f = join(&server, "f").await;
    let pay = f
        .fleet
        .breaker("pay", |l| {
            CircuitBreaker::with_listener(breaker_config(), f.clock, l)
        })
        .unwrap();
    assert_eq!(pay.state(), State::Broken);
    assert_eq!(
        pay.retry_after(),
        BROKEN_TIME,
        "clamped to the breaker's own bound"
    );
    f.clock.advance(BROKEN_TIME);
    assert_eq!(pay.state(), State::Recovering);
}

#[tokio::test]
async fn an_acl_user_limited_to_the_fleet_prefix_is_enough() {
    let server = RedisServer::start();
    let mut admin = connect(&server).await;
    // The README's ACL line.
    let acl = "on >s3cret resetkeys ~test:* resetchannels &test:events -@all \
               +set +get +pttl +del +scan +publish +subscribe +ping";
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("fleet")
        .arg(acl.split_whitespace().collect::<Vec<_>>())
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://fleet:s3cret@127.0.0.1:{}/", server.port());
    let mut fleet = Vec::new();
    for id in ["a", "b", "c"] {
        let joined = Fleet::join(fleet_config_at(url.clone(), id)).await.unwrap();
        assert_eq!(
            joined.status(),
            Status::Connected,
            "{id} joined as the ACL user"
        );
        let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
        let db = joined
            .breaker("db", |l| {
                CircuitBreaker::with_listener(breaker_config(), clock, l)
            })
            .unwrap();
        fleet.push(Instance {
            fleet: joined,
            db,
            clock,
        });
    }
    let [a, b, c] = &fleet[..] else {
        unreachable!()
    };
    all_live(&[a, b, c], 3).await;
    trip(&a.db);
    trip(&b.db);
    eventually("c is advised Broken", PROPAGATION, || {
        c.db.state() == State::Broken
    })
    .await;

    // A wrong password is Redis being unreachable, not an error: local-only.
    let wrong = format!("redis://fleet:wrong@127.0.0.1:{}/", server.port());
    let config = fleet_config_at(wrong, "d").join_timeout(Duration::from_millis(100));
    let d = Fleet::join(config).await.unwrap();
    match d.status() {
        Status::Degraded { error, .. } => {
            assert!(error.contains("authentication failed"), "{error}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let err = Fleet::join(FleetConfig::new("redis://127.0.0.1:1/", "a:b"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid fleet instance: 1 to 128 printable ASCII characters, without spaces, ':' or any of * ? [ ] \\"
    );
    let err = Fleet::join(FleetConfig::new("no-such-scheme://x", "a"))
        .await
        .unwrap_err();
    assert_eq!(err.field(), "url");
    // Redis being unreachable is not an error: the fleet is local-only.
    let fleet = Fleet::join(
        FleetConfig::new("redis://127.0.0.1:1/", "a").join_timeout(Duration::from_millis(50)),
    )
    .await
    .unwrap();
    assert!(matches!(fleet.status(), Status::Degraded { .. }));
    let clock: &'static MockClock = Box::leak(Box::new(MockClock::new()));
    let bad = fleet.breaker("has space", |l| {
        CircuitBreaker::with_listener(breaker_config(), clock, l)
    });
    assert_eq!(bad.unwrap_err().field(), "breaker name");
    let ok = fleet
        .breaker("db", |l| {
            CircuitBreaker::with_listener(breaker_config(), clock, l)
        })
        .unwrap();
    assert_eq!(ok.call(|| Ok::<_, ()>(1)), Ok(1));
    // One live breaker per name; the name is free again once it is dropped.
    let build = |l| CircuitBreaker::with_listener(breaker_config(), clock, l);
    assert_eq!(
        fleet.breaker("db", build).unwrap_err().field(),
        "breaker name"
    );
    drop(ok);
    assert!(fleet.breaker("db", build).is_ok());
}
