//! The fleet handle, the listener that feeds it, and the background task
//! that talks to Redis.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use breaker_core::{CircuitBreaker, Clock, Listener, Transition};
use redis::Client;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout};

#[cfg(feature = "ops")]
mod ops;
mod task;

use crate::config::{ConfigError, FleetConfig};
use crate::member::Member;
use crate::view::View;
use crate::wire::{self, Message};

/// Advice is not given again for the same quorum: only when the quorum's end
/// moves later than this past the end already advised (reading the same
/// keys again yields ends a few milliseconds apart).
const SAME_QUORUM: Duration = Duration::from_millis(100);

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
        let task =
            tokio::spawn(task::run(Arc::clone(&shared), client, receiver, joined)).abort_handle();
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
