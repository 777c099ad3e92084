//! The fleet handle, the listener that feeds it, and the background task
//! that talks to Redis.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use breaker_core::{CircuitBreaker, Clock, Listener, Transition};
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Pipeline, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, timeout};

use crate::config::{ConfigError, FleetConfig};
use crate::member::{Member, is_own_trip};
use crate::view::View;
use crate::wire::{self, Message};

/// Advice is not given again for the same quorum: only when the quorum's end
/// moves later than this past the end already advised (reading the same
/// keys again yields ends a few milliseconds apart).
const SAME_QUORUM: Duration = Duration::from_millis(100);

/// Keys read per `SCAN` call, and reports read per pipelined round trip.
const SCAN_COUNT: usize = 1000;

/// Whether this instance is in touch with its fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Connected and subscribed: trips are shared and the quorum is heard.
    Connected,
    /// Redis is unreachable, slow or has not answered yet: every breaker
    /// decides alone, and the fleet retries with backoff.
    Degraded {
        /// When the fleet last lost (or never had) Redis.
        since: SystemTime,
        /// The last error, e.g. `connection refused` or `timed out`.
        error: String,
    },
}

/// Counters since [`Fleet::join`], from [`Fleet::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStats {
    /// Messages and keys under the prefix that were ignored because they
    /// were malformed or claimed more than [`FleetConfig::max_report`]
    /// (a key is counted each time it is read).
    pub malformed: u64,
    /// Reports and instances dropped because the tables held
    /// [`FleetConfig::max_entries`] already.
    pub overflow: u64,
    /// Transitions of this instance's breakers that the fleet's task has
    /// taken in (shared, if they were trips or ends of trips).
    pub transitions: u64,
    /// Transitions not shared because the queue to the task was full.
    pub lost_transitions: u64,
    /// This instance's own trips and recoveries published.
    pub published: u64,
    /// Times a local breaker took the fleet's advice and went Broken.
    pub advised: u64,
    /// Times the fleet (re)joined Redis, the first join included.
    pub joins: u64,
}

#[derive(Debug, Default)]
struct Counters {
    malformed: AtomicU64,
    overflow: AtomicU64,
    transitions: AtomicU64,
    lost_transitions: AtomicU64,
    published: AtomicU64,
    advised: AtomicU64,
    joins: AtomicU64,
}

impl Counters {
    // Relaxed everywhere: each counter is read on its own, never used to
    // order other memory.
    fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn snapshot(&self) -> FleetStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FleetStats {
            malformed: read(&self.malformed),
            overflow: read(&self.overflow),
            transitions: read(&self.transitions),
            lost_transitions: read(&self.lost_transitions),
            published: read(&self.published),
            advised: read(&self.advised),
            joins: read(&self.joins),
        }
    }
}

/// A transition of one of this instance's breakers, on its way to the task.
#[derive(Debug)]
struct Event {
    breaker: Arc<str>,
    transition: Transition,
}

/// What the task is asked to do, in order.
#[derive(Debug)]
enum Command {
    Transition(Event),
    /// Delete this instance's keys, answer, and stop.
    Leave(oneshot::Sender<()>),
}

/// How a session with Redis ended.
enum End {
    Lost { had_joined: bool, error: String },
    Left,
}

/// The [`Listener`] of a fleet breaker, made by [`Fleet::breaker`]: it hands
/// each transition to the fleet's task through a bounded queue and returns at
/// once (never a lock, never I/O). A full queue (or a dropped [`Fleet`])
/// drops the transition and counts it in [`FleetStats::lost_transitions`];
/// the report's TTL and the next transition put things right.
pub struct FleetListener {
    breaker: Arc<str>,
    events: mpsc::Sender<Command>,
    counters: Arc<Counters>,
}

impl Listener for FleetListener {
    fn on_transition(&self, transition: Transition) {
        let event = Event {
            breaker: Arc::clone(&self.breaker),
            transition,
        };
        if self.events.try_send(Command::Transition(event)).is_err() {
            Counters::bump(&self.counters.lost_transitions);
        }
    }
}

impl fmt::Debug for FleetListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetListener")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// One instance's membership in a fleet: joins Redis, shares its breakers'
/// trips, and advises them when a quorum of the fleet reports Broken.
///
/// Dropping it stops the background task; the instance's keys then expire
/// by themselves.
pub struct Fleet {
    shared: Arc<Shared>,
    task: AbortHandle,
}

struct Shared {
    config: FleetConfig,
    inner: Mutex<Inner>,
    status: Mutex<Status>,
    counters: Arc<Counters>,
    events: mpsc::Sender<Command>,
}

struct Inner {
    view: View,
    /// Whether `view` is current; while Redis is away it is empty and no
    /// advice is given.
    connected: bool,
    /// One breaker per name: two would speak over each other's report.
    members: HashMap<String, Weak<dyn Member>>,
    /// The end of the last quorum advised, per breaker.
    advised_until: HashMap<String, Instant>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind,
    // never a broken invariant worth crashing a service over.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Fleet {
    /// Joins the fleet: connects to Redis, announces this instance, reads
    /// the fleet's current reports, and returns once that is done or after
    /// [`FleetConfig::join_timeout`], whichever is first. After a timeout
    /// the fleet is [`Status::Degraded`] (local-only) and keeps trying in
    /// the background.
    ///
    /// Create the breakers with [`Fleet::breaker`] after `join`, so they
    /// start with what the fleet knows (a breaker the fleet reports Broken
    /// rejects from its first call).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a setting that breaks its rule or a URL the
    /// `redis` crate cannot read. Redis being down is not an error.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub async fn join(config: FleetConfig) -> Result<Fleet, ConfigError> {
        config.validate()?;
        let client = Client::open(config.url.as_str())
            .map_err(|e| ConfigError::new("url", e.to_string()))?;
        let (events, receiver) = mpsc::channel(config.queue);
        let (joined, mut on_join) = watch::channel(false);
        let join_timeout = config.join_timeout;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                view: View::new(config.max_entries),
                connected: false,
                members: HashMap::new(),
                advised_until: HashMap::new(),
            }),
            status: Mutex::new(Status::Degraded {
                since: SystemTime::now(),
                error: "not connected yet".into(),
            }),
            counters: Arc::default(),
            events,
            config,
        });
        let task = tokio::spawn(run(Arc::clone(&shared), client, receiver, joined)).abort_handle();
        // Either way the fleet is usable; the status says which it was.
        let _ = timeout(join_timeout, on_join.wait_for(|joined| *joined)).await;
        Ok(Fleet { shared, task })
    }

    /// Builds a breaker named `breaker` that shares its trips with the fleet
    /// and takes the fleet's advice. `build` gets the [`FleetListener`] to
    /// build it with: as its listener, or inside a listener of your own that
    /// passes every transition on to it (a closure `Fn(Transition)` is a
    /// listener). If the fleet already reports `breaker` Broken by a quorum,
    /// the breaker is advised Broken before it is returned.
    ///
    /// Breaker names are ASCII without spaces (`:` allowed), up to 128
    /// bytes; every instance names the same dependency the same way, and
    /// one instance has one live breaker per name.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for an invalid name, or one taken by a breaker of
    /// this fleet that is still alive.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(fleet: breaker_fleet::Fleet) -> Result<(), breaker_fleet::ConfigError> {
    /// use std::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, Listener, StdClock, Transition};
    ///
    /// let config = Config::new(0.5, Duration::from_secs(10)).broken_time(Duration::from_secs(5));
    /// let payments = fleet.breaker("payments", |listener| {
    ///     CircuitBreaker::with_listener(config, StdClock::new(), listener)
    /// })?;
    /// let _ = payments.call(|| Ok::<_, ()>("charged"));
    ///
    /// // The fleet's listener and one of your own.
    /// let search = fleet.breaker("search", |fleet_listener| {
    ///     let both = move |t: Transition| {
    ///         fleet_listener.on_transition(t);
    ///         eprintln!("search: {t}");
    ///     };
    ///     CircuitBreaker::with_listener(config, StdClock::new(), both)
    /// })?;
    /// # let _ = search;
    /// # Ok(()) }
    /// ```
    pub fn breaker<C, L>(
        &self,
        breaker: &str,
        build: impl FnOnce(FleetListener) -> CircuitBreaker<C, 10, L>,
    ) -> Result<Arc<CircuitBreaker<C, 10, L>>, ConfigError>
    where
        C: Clock + Send + Sync + 'static,
        L: Listener + Send + Sync + 'static,
    {
        self.breaker_with_buckets(breaker, build)
    }

    /// [`breaker`](Self::breaker) for a breaker with `B` buckets.
    ///
    /// # Errors
    ///
    /// As for [`breaker`](Self::breaker).
    pub fn breaker_with_buckets<C, const B: usize, L>(
        &self,
        breaker: &str,
        build: impl FnOnce(FleetListener) -> CircuitBreaker<C, B, L>,
    ) -> Result<Arc<CircuitBreaker<C, B, L>>, ConfigError>
    where
        C: Clock + Send + Sync + 'static,
        L: Listener + Send + Sync + 'static,
    {
        if !wire::valid_name(breaker, true) {
            return Err(ConfigError::new("breaker name", wire::NAME_RULE));
        }
        let taken = |inner: &Inner| {
            inner
                .members
                .get(breaker)
                .is_some_and(|m| m.strong_count() > 0)
        };
        let taken_error = || {
            ConfigError::new(
                "breaker name",
                "already taken by a live breaker of this fleet",
            )
        };
        if taken(&lock(&self.shared.inner)) {
            return Err(taken_error());
        }
        // Built outside the lock: `build` is the caller's code.
        let listener = FleetListener {
            breaker: breaker.into(),
            events: self.shared.events.clone(),
            counters: Arc::clone(&self.shared.counters),
        };
        let built = Arc::new(build(listener));
        let member: Weak<dyn Member> = Arc::downgrade(&built) as Weak<dyn Member>;
        let mut inner = lock(&self.shared.inner);
        // Another thread may have taken the name meanwhile.
        if taken(&inner) {
            return Err(taken_error());
        }
        inner.members.insert(breaker.to_owned(), member);
        self.shared.evaluate(&mut inner, breaker, Instant::now());
        Ok(built)
    }

    /// Whether the fleet is connected or local-only, and why.
    pub fn status(&self) -> Status {
        lock(&self.shared.status).clone()
    }

    /// Counters since `join`: malformed input, drops, advice, joins.
    pub fn stats(&self) -> FleetStats {
        self.shared.counters.snapshot()
    }

    /// How many live instances (this one included) report `breaker` Broken,
    /// as this instance last heard; 0 while degraded.
    pub fn broken_reporters(&self, breaker: &str) -> usize {
        lock(&self.shared.inner)
            .view
            .broken_reporters(breaker, Instant::now())
    }

    /// How many instances are alive, as this instance last heard (itself
    /// included); 0 while degraded.
    pub fn live_instances(&self) -> usize {
        lock(&self.shared.inner).view.live_count(Instant::now())
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.shared.config.instance
    }

    /// Leaves the fleet: deletes this instance's alive key and reports, and
    /// says so on the channel, so the others stop counting it at once (its
    /// reports) or at their next heartbeat (its life) rather than when its
    /// keys expire; then stops the task. Waits at most twice
    /// [`FleetConfig::op_timeout`]; while degraded it just stops. The
    /// breakers keep working, alone.
    pub async fn leave(self) {
        let (done, on_done) = oneshot::channel();
        let bound = self.shared.config.op_timeout.saturating_mul(2);
        let asked = async {
            if self.shared.events.send(Command::Leave(done)).await.is_ok() {
                let _ = on_done.await;
            }
        };
        let _ = timeout(bound, asked).await;
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("instance", &self.shared.config.instance)
            .field("prefix", &self.shared.config.prefix)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Advises the breaker named `breaker` if the fleet holds a quorum on
    /// it that it has not been advised of yet.
    fn evaluate(&self, inner: &mut Inner, breaker: &str, now: Instant) {
        if !inner.connected {
            return;
        }
        let Some(member) = inner.members.get(breaker).and_then(Weak::upgrade) else {
            return;
        };
        let Some(remaining) =
            inner
                .view
                .quorum(breaker, self.config.quorum, now, &self.config.instance)
        else {
            // The quorum has dissolved: the next one is news, however soon.
            inner.advised_until.remove(breaker);
            return;
        };
        let until = now + remaining;
        if inner
            .advised_until
            .get(breaker)
            .is_some_and(|advised| until <= *advised + SAME_QUORUM)
        {
            return;
        }
        let took = member.advise_broken(remaining);
        if took {
            Counters::bump(&self.counters.advised);
            tracing::info!(
                breaker,
                remaining_ms = remaining.as_millis() as u64,
                "fleet quorum: breaker advised Broken"
            );
            inner.advised_until.insert(breaker.to_owned(), until);
        }
    }

    fn evaluate_all(&self, inner: &mut Inner, now: Instant) {
        let names: Vec<String> = inner.members.keys().cloned().collect();
        for name in names {
            self.evaluate(inner, &name, now);
        }
    }

    fn malformed(&self, what: &str) {
        let total = Counters::bump(&self.counters.malformed);
        // Logged at 1, 2, 4, 8, ...: a flood of garbage cannot flood the log.
        if total.is_power_of_two() {
            tracing::warn!(
                total,
                what,
                "fleet: ignored malformed input under the key prefix"
            );
        }
    }

    fn overflow(&self) {
        let total = Counters::bump(&self.counters.overflow);
        if total.is_power_of_two() {
            tracing::warn!(
                total,
                max = self.config.max_entries,
                "fleet: table full, entry dropped"
            );
        }
    }

    fn on_message(&self, payload: &[u8]) {
        let config = &self.config;
        let Some(message) = Message::parse(payload, config.max_report) else {
            return self.malformed("message");
        };
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        let instance = match &message {
            Message::Broken { instance, .. }
            | Message::Clear { instance, .. }
            | Message::Hello { instance } => *instance,
        };
        // Our own messages come back to us; the view has them already.
        if instance == config.instance {
            return;
        }
        // A message is a sign of life: a new instance counts before the
        // next heartbeat's read of the alive keys.
        let mut fits = inner
            .view
            .note_alive(instance, now + config.alive_ttl)
            .is_ok();
        match message {
            Message::Broken {
                breaker, remaining, ..
            } => {
                fits &= inner
                    .view
                    .set_report(breaker, instance, now + remaining)
                    .is_ok();
                self.evaluate(&mut inner, breaker, now);
            }
            Message::Clear { breaker, .. } => {
                inner.view.clear_report(breaker, instance);
                self.evaluate(&mut inner, breaker, now);
            }
            Message::Hello { .. } => self.evaluate_all(&mut inner, now),
        }
        if !fits {
            self.overflow();
        }
    }

    fn set_status(&self, status: Status) {
        *lock(&self.status) = status;
    }
}

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
async fn run(
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
