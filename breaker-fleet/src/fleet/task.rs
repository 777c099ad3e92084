//! The fleet's background task: sessions with Redis (connect, announce,
//! read the fleet, then publish, listen and heartbeat until an error), and
//! local-only waits with backoff between them.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Pipeline, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout};

use super::{Command, Counters, End, Event, Shared, Status, lock};
use crate::config::FleetConfig;
use crate::member::is_own_trip;
use crate::view::View;
use crate::wire::{self, Message};

/// Keys read per `SCAN` call, and reports read per pipelined round trip.
const SCAN_COUNT: usize = 1000;

/// This instance's own Broken reports: breaker -> (end, broken time), kept
/// across outages so a rejoin republishes them.
type Own = HashMap<String, (Instant, Duration)>;

/// What a transition changes in this instance's own reports.
enum Change {
    Broken(Duration),
    Clear,
    Nothing,
}

fn note_own(own: &mut Own, event: &Event, now: Instant, counters: &Counters) -> Change {
    Counters::bump(&counters.transitions);
    let breaker = &*event.breaker;
    if is_own_trip(&event.transition) {
        // Never a zero TTL (`PX 0` is an error): at least a millisecond.
        let broken_time = event.transition.broken_time.max(Duration::from_millis(1));
        own.insert(breaker.to_owned(), (now + broken_time, broken_time));
        Change::Broken(broken_time)
    } else if own.remove(breaker).is_some() {
        Change::Clear
    } else {
        Change::Nothing
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

type RedisResult<T> = Result<T, String>;

fn failed(e: impl fmt::Display) -> String {
    e.to_string()
}

/// The background task: sessions with Redis, and local-only waits between
/// them. Ends only when the fleet is dropped (aborted).
pub(super) async fn run(
    shared: Arc<Shared>,
    client: Client,
    mut commands: mpsc::Receiver<Command>,
    joined: watch::Sender<bool>,
) {
    let mut own = Own::new();
    let mut failures: u32 = 0;
    loop {
        let (was_connected, error) =
            match session(&shared, &client, &mut commands, &mut own, &joined).await {
                End::Left => return,
                End::Lost { had_joined, error } => (had_joined, error),
            };
        {
            let mut inner = lock(&shared.inner);
            inner.connected = false;
            inner.view = View::new(shared.config.max_entries);
        }
        if was_connected {
            failures = 0;
        }
        // Said once per outage (and once if Redis is not there at start);
        // the retries after it are debug-level.
        if failures == 0 {
            tracing::warn!(
                error,
                "fleet: no Redis; breakers decide locally until it is back"
            );
        } else {
            tracing::debug!(
                error,
                attempt = failures + 1,
                "fleet: Redis still unreachable"
            );
        }
        {
            let mut status = lock(&shared.status);
            let since = match &*status {
                Status::Degraded { since, .. } if !was_connected => *since,
                _ => SystemTime::now(),
            };
            *status = Status::Degraded { since, error };
        }
        // Wait, still taking transitions in so the rejoin republishes them.
        let wait = sleep(backoff(&shared.config, failures));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                command = commands.recv() => match command {
                    Some(Command::Transition(event)) => {
                        _ = note_own(&mut own, &event, Instant::now(), &shared.counters);
                    }
                    Some(Command::Leave(done)) => {
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
            }
        }
        failures = failures.saturating_add(1);
    }
}

/// The wait before reconnect attempt `failures + 1`: doubling from the
/// minimum, capped, plus up to half again at random so a fleet that lost
/// Redis together does not reconnect in lockstep.
fn backoff(config: &FleetConfig, failures: u32) -> Duration {
    let base = config
        .backoff_min
        .saturating_mul(1 << failures.min(20))
        .min(config.backoff_max);
    // A fresh RandomState is randomly keyed: enough spread, no extra crate.
    let spread = RandomState::new().hash_one(failures) % 1024;
    let extra = base.mul_f64(spread as f64 / 2048.0);
    (base + extra).min(config.backoff_max)
}

/// One connection to Redis, from connect to the first error or to leaving.
async fn session(
    shared: &Shared,
    client: &Client,
    commands: &mut mpsc::Receiver<Command>,
    own: &mut Own,
    joined: &watch::Sender<bool>,
) -> End {
    let lost = |error: String| End::Lost {
        had_joined: false,
        error,
    };
    let config = &shared.config;
    let connection_config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.op_timeout))
        .set_response_timeout(Some(config.op_timeout));
    let connect = async {
        let conn = client
            .get_multiplexed_async_connection_with_config(&connection_config)
            .await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(wire::channel(&config.prefix)).await?;
        Ok::<_, redis::RedisError>((conn, pubsub))
    };
    let (mut conn, pubsub) = match timeout(config.op_timeout.saturating_mul(3), connect).await {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) => return lost(failed(e)),
        Err(_) => return lost("timed out connecting".into()),
    };
    if let Err(e) = announce(shared, &mut conn, own).await {
        return lost(e);
    }
    let fresh = match read_fleet(shared, &mut conn).await {
        Ok(view) => view,
        Err(e) => return lost(e),
    };
    {
        let now = Instant::now();
        let mut inner = lock(&shared.inner);
        inner.view = fresh;
        put_own(shared, &mut inner.view, own, now);
        inner.connected = true;
        shared.evaluate_all(&mut inner, now);
    }
    shared.set_status(Status::Connected);
    if Counters::bump(&shared.counters.joins) > 1 {
        tracing::info!(instance = config.instance, "fleet: rejoined Redis");
    }
    joined.send_replace(true);

    let mut messages = pubsub.into_on_message();
    let start = Instant::now() + config.heartbeat;
    let mut ticks = interval_at(start, config.heartbeat);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut beats: u32 = 0;
    loop {
        let result = tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Transition(event)) => publish(shared, &mut conn, own, &event).await,
                Some(Command::Leave(done)) => {
                    if let Err(error) = say_goodbye(shared, &mut conn, own).await {
                        tracing::debug!(error, "fleet: could not delete this instance's keys; they expire");
                    }
                    let _ = done.send(());
                    return End::Left;
                }
                None => return End::Left,
            },
            message = messages.next() => match message {
                Some(message) => {
                    shared.on_message(message.get_payload_bytes());
                    Ok(())
                }
                None => Err("the subscription's connection closed".into()),
            },
            _ = ticks.tick() => {
                beats = beats.wrapping_add(1);
                heartbeat(shared, &mut conn, own, beats.is_multiple_of(config.resync_every)).await
            }
        };
        if let Err(error) = result {
            return End::Lost {
                had_joined: true,
                error,
            };
        }
    }
}

/// Adds "this instance is alive" (its alive key, renewed) to `pipe`.
fn push_alive(pipe: &mut Pipeline, config: &FleetConfig) {
    pipe.cmd("SET")
        .arg(wire::alive_key(&config.prefix, &config.instance))
        .arg(wire::ALIVE_VALUE)
        .arg("PX")
        .arg(millis(config.alive_ttl))
        .ignore();
}

/// Adds a Broken report on `breaker` with `remaining` left (its key, and
/// the message) to `pipe`.
fn push_broken(
    pipe: &mut Pipeline,
    config: &FleetConfig,
    breaker: &str,
    broken_time: Duration,
    remaining: Duration,
) {
    pipe.cmd("SET")
        .arg(wire::report_key(&config.prefix, breaker, &config.instance))
        .arg(wire::report_value(broken_time))
        .arg("PX")
        .arg(millis(remaining))
        .ignore();
    let message = Message::Broken {
        instance: &config.instance,
        breaker,
        remaining,
    };
    pipe.cmd("PUBLISH")
        .arg(wire::channel(&config.prefix))
        .arg(message.encode())
        .ignore();
}

/// Adds the end of this instance's report on `breaker` (the key deleted,
/// and the message) to `pipe`.
fn push_clear(pipe: &mut Pipeline, config: &FleetConfig, breaker: &str) {
    pipe.cmd("DEL")
        .arg(wire::report_key(&config.prefix, breaker, &config.instance))
        .ignore();
    let clear = Message::Clear {
        instance: &config.instance,
        breaker,
    };
    pipe.cmd("PUBLISH")
        .arg(wire::channel(&config.prefix))
        .arg(clear.encode())
        .ignore();
}

/// Deletes this instance's alive key and ends its reports.
async fn say_goodbye(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
    own: &Own,
) -> RedisResult<()> {
    let config = &shared.config;
    let mut pipe = redis::pipe();
    pipe.cmd("DEL")
        .arg(wire::alive_key(&config.prefix, &config.instance))
        .ignore();
    for breaker in own.keys() {
        push_clear(&mut pipe, config, breaker);
    }
    pipe.exec_async(conn).await.map_err(failed)
}

/// Says this instance is alive and (again) what it reports Broken.
async fn announce(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
    own: &mut Own,
) -> RedisResult<()> {
    let config = &shared.config;
    let now = Instant::now();
    own.retain(|_, (until, _)| *until > now);
    let mut pipe = redis::pipe();
    push_alive(&mut pipe, config);
    let hello = Message::Hello {
        instance: &config.instance,
    };
    pipe.cmd("PUBLISH")
        .arg(wire::channel(&config.prefix))
        .arg(hello.encode())
        .ignore();
    for (breaker, (until, broken_time)) in own.iter() {
        push_broken(&mut pipe, config, breaker, *broken_time, *until - now);
    }
    pipe.exec_async(conn).await.map_err(failed)
}

/// Puts this instance's own reports and life into a view.
fn put_own(shared: &Shared, view: &mut View, own: &Own, now: Instant) {
    let instance = &shared.config.instance;
    let mut fits = view
        .note_alive(instance, now + shared.config.alive_ttl)
        .is_ok();
    for (breaker, (until, _)) in own {
        fits &= view.set_report(breaker, instance, *until).is_ok();
    }
    if !fits {
        shared.overflow();
    }
}

/// Shares one transition of a local breaker, then checks the quorum on that
/// breaker again (a breaker that has just left Broken may owe the fleet a
/// Broken state it could not take while Broken itself).
async fn publish(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
    own: &mut Own,
    event: &Event,
) -> RedisResult<()> {
    let config = &shared.config;
    let breaker = &*event.breaker;
    let now = Instant::now();
    let change = note_own(own, event, now, &shared.counters);
    {
        let mut inner = lock(&shared.inner);
        match change {
            Change::Broken(broken_time) => {
                if inner
                    .view
                    .set_report(breaker, &config.instance, now + broken_time)
                    .is_err()
                {
                    shared.overflow();
                }
            }
            Change::Clear => inner.view.clear_report(breaker, &config.instance),
            Change::Nothing => {}
        }
        shared.evaluate(&mut inner, breaker, now);
    }
    let mut pipe = redis::pipe();
    match change {
        Change::Broken(broken_time) => {
            push_broken(&mut pipe, config, breaker, broken_time, broken_time)
        }
        Change::Clear => push_clear(&mut pipe, config, breaker),
        Change::Nothing => return Ok(()),
    }
    pipe.exec_async(conn).await.map_err(failed)?;
    Counters::bump(&shared.counters.published);
    Ok(())
}

/// One heartbeat: renew this instance's alive key, read who else is alive,
/// and every `resync`-th beat read all reports again.
async fn heartbeat(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
    own: &Own,
    resync: bool,
) -> RedisResult<()> {
    let config = &shared.config;
    let mut pipe = redis::pipe();
    push_alive(&mut pipe, config);
    pipe.exec_async(conn).await.map_err(failed)?;
    // Every resync-th beat, all of it (the alive keys too); else the alive keys.
    let fresh = if resync {
        Ok(read_fleet(shared, conn).await?)
    } else {
        Err(read_live(shared, conn).await?)
    };
    let now = Instant::now();
    let mut inner = lock(&shared.inner);
    match fresh {
        Ok(view) => inner.view = view,
        Err(live) => inner.view.replace_live(live),
    }
    put_own(shared, &mut inner.view, own, now);
    inner.view.prune(now);
    shared.evaluate_all(&mut inner, now);
    Ok(())
}

/// Reads the whole fleet: who is alive and every report.
async fn read_fleet(shared: &Shared, conn: &mut MultiplexedConnection) -> RedisResult<View> {
    let config = &shared.config;
    let mut view = View::new(config.max_entries);
    view.replace_live(read_live(shared, conn).await?);
    let keys = scan(shared, conn, &wire::report_pattern(&config.prefix)).await?;
    for chunk in keys.chunks(SCAN_COUNT) {
        let mut pipe = redis::pipe();
        // A key of another type answers GET with an error: that key is
        // malformed, the rest of the batch still counts.
        pipe.ignore_errors();
        for key in chunk {
            pipe.cmd("GET").arg(key).cmd("PTTL").arg(key);
        }
        let values: Vec<Value> = pipe.query_async(conn).await.map_err(failed)?;
        let now = Instant::now();
        for (key, pair) in chunk.iter().zip(values.chunks(2)) {
            let [value, pttl] = pair else { continue };
            let Some((breaker, instance)) = wire::parse_report_key(&config.prefix, key) else {
                shared.malformed("report key");
                continue;
            };
            let (value, pttl) = match (value, pttl) {
                // Deleted between SCAN and GET: a report that just ended.
                (Value::Nil, _) => continue,
                (Value::BulkString(value), Value::Int(pttl)) => (value, *pttl),
                _ => {
                    shared.malformed("report value");
                    continue;
                }
            };
            match wire::parse_report(value, pttl, config.max_report) {
                Some(remaining) => {
                    if view.set_report(breaker, instance, now + remaining).is_err() {
                        shared.overflow();
                    }
                }
                None => shared.malformed("report value"),
            }
        }
    }
    Ok(view)
}

/// Reads the alive keys: instance -> alive until.
async fn read_live(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
) -> RedisResult<HashMap<String, Instant>> {
    let config = &shared.config;
    let keys = scan(shared, conn, &wire::alive_pattern(&config.prefix)).await?;
    let until = Instant::now() + config.alive_ttl;
    let mut live = HashMap::new();
    for key in &keys {
        match wire::parse_alive_key(&config.prefix, key) {
            Some(instance) => _ = live.insert(instance.to_owned(), until),
            None => shared.malformed("alive key"),
        }
    }
    Ok(live)
}

/// The keys matching `pattern`, at most `max_entries` of them (the rest are
/// counted as overflow), without duplicates (`SCAN` may repeat a key).
async fn scan(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
    pattern: &str,
) -> RedisResult<Vec<Vec<u8>>> {
    let max = shared.config.max_entries;
    let mut keys = HashSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .cursor_arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await
            .map_err(failed)?;
        for key in batch {
            if !wire::key_fits(&shared.config.prefix, &key) {
                // Not one of ours (names are short) and not worth keeping.
                shared.malformed("key too long");
            } else if keys.len() < max {
                keys.insert(key);
            } else if !keys.contains(&key) {
                shared.overflow();
            }
        }
        if next == 0 {
            return Ok(keys.into_iter().collect());
        }
        cursor = next;
    }
}
