//! The registry of named breakers and its type-erased view of each.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use breaker_core::{CircuitBreaker, Clock, Config, Listener, Metrics, Mode, Nanos, Transition};
use tokio::sync::broadcast;

use crate::events::{Event, Transitions};
use crate::group::{Group, Members};
use crate::health::{Health, Source};
use crate::listener::OpsListener;

/// The longest breaker name: names are Prometheus label values and URL path
/// segments, and both should stay short.
const MAX_NAME_LEN: usize = 64;

/// How many of its latest transitions each reporting breaker keeps, for
/// [`Breaker::recent_transitions`] (what the dashboard lists).
const RECENT: usize = 10;

/// How many sources one breaker may have: a few (a fleet, a config
/// service...); the cap keeps a bug that attaches in a loop from growing
/// memory and the exported series without bound.
const MAX_SOURCES: usize = 8;

/// How many transitions the stream buffers by default (see [`Transitions`]).
const DEFAULT_EVENT_CAPACITY: usize = 256;

/// The names of a service's circuit breakers, each with a type-erased handle:
/// what exporters, the ops router and the dashboard read.
///
/// Registering costs nothing per call: the registry only keeps a handle, and
/// exporters read each breaker's [`metrics`](CircuitBreaker::metrics) snapshot
/// when they are scraped. Any breaker can be registered, whatever its clock,
/// bucket count and listener, as a `&'static` (a `static` or a `#[cutout]`
/// breaker) or an `Arc`.
///
/// A `Registry` is a cheap handle (`Clone` shares it). Breakers are listed in
/// name order. There is no removal: a registry holds a service's breakers
/// for its whole life.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use breaker_ops::Registry;
/// use breaker_tokio::Config;
///
/// static PAYMENTS: breaker_tokio::CircuitBreaker =
///     breaker_tokio::new(Config::new(0.2, Duration::from_secs(30)));
///
/// let registry = Registry::new();
/// registry.register("payments", &PAYMENTS)?;
/// registry.register("search", Arc::new(breaker_tokio::new(Config::new(0.5, Duration::from_secs(10)))))?;
///
/// let names: Vec<String> = registry.breakers().iter().map(|b| b.name().to_owned()).collect();
/// assert_eq!(names, ["payments", "search"]);
/// assert!(registry.register("payments", &PAYMENTS).is_err()); // a name is taken once
/// # Ok::<(), breaker_ops::RegisterError>(())
/// ```
#[derive(Clone)]
pub struct Registry {
    shared: Arc<Shared>,
}

struct Shared {
    breakers: RwLock<BTreeMap<Arc<str>, Breaker>>,
    /// Group names share the breakers' namespace (both are `breaker` label
    /// values): a group is inserted under the breakers' write lock.
    groups: RwLock<BTreeMap<Arc<str>, Group>>,
    events: broadcast::Sender<Event>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.breakers().iter().map(|b| b.name.clone()).collect();
        let groups: Vec<_> = self.groups().iter().map(|g| g.name().to_owned()).collect();
        f.debug_struct("Registry")
            .field("breakers", &names)
            .field("groups", &groups)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry whose transition stream buffers 256 transitions.
    pub fn new() -> Registry {
        Registry::with_event_capacity(DEFAULT_EVENT_CAPACITY)
    }

    /// An empty registry whose transition stream buffers `capacity`
    /// transitions (at least 1) for its slowest reader; see [`Transitions`].
    pub fn with_event_capacity(capacity: usize) -> Registry {
        let (events, _) = broadcast::channel(capacity.max(1));
        Registry {
            shared: Arc::new(Shared {
                breakers: RwLock::new(BTreeMap::new()),
                groups: RwLock::new(BTreeMap::new()),
                events,
            }),
        }
    }

    /// Registers `breaker` under `name`, and returns its entry.
    ///
    /// `breaker` is a `&'static CircuitBreaker` or an `Arc<CircuitBreaker>`
    /// (anything that dereferences to one and can be shared). If the
    /// breaker's listener is an [`OpsListener`], the registry hears its
    /// transitions from now on.
    ///
    /// # Errors
    ///
    /// [`RegisterError`] if `name` is taken or not a valid name (1 to 64
    /// ASCII letters, digits, `_`, `-` or `.`; not `events`), or if the
    /// breaker's `OpsListener` already belongs to another registry. Nothing
    /// is registered then.
    pub fn register<H, C, const BUCKETS: usize, L>(
        &self,
        name: &str,
        breaker: H,
    ) -> Result<Breaker, RegisterError>
    where
        H: Deref<Target = CircuitBreaker<C, BUCKETS, L>> + Send + Sync + 'static,
        C: Clock + 'static,
        L: Listener + 'static,
    {
        let mut breakers = self.claim(name)?;
        let name: Arc<str> = Arc::from(name);
        let handle: Arc<dyn Erased> = Arc::new(Held(breaker));
        // Reading the state starts a `const`-built breaker that has not been
        // used yet, so its Passing state begins no later than this reading.
        let _ = handle.metrics();
        let link = match handle.ops_listener() {
            None => None,
            Some(listener) => {
                let link = Arc::new(Link {
                    name: name.clone(),
                    since: AtomicU64::new(handle.now().as_nanos()),
                    recent: Mutex::new(VecDeque::with_capacity(RECENT)),
                    events: self.shared.events.clone(),
                });
                if listener.attach(link.clone()).is_err() {
                    return Err(RegisterError::ListenerTaken {
                        name: name.to_string(),
                        registered_as: listener.registered_name().unwrap_or_default().to_owned(),
                    });
                }
                Some(link)
            }
        };
        let entry = Breaker {
            name: name.clone(),
            handle,
            link,
            sources: Arc::default(),
        };
        breakers.insert(name, entry.clone());
        Ok(entry)
    }

    /// The breaker registered under `name`.
    pub fn get(&self, name: &str) -> Option<Breaker> {
        self.read().get(name).cloned()
    }

    /// Every registered breaker, in name order.
    pub fn breakers(&self) -> Vec<Breaker> {
        self.read().values().cloned().collect()
    }

    /// Registers a group of breakers under `name`: `members` lists them each
    /// time the group is read (at every scrape, collection or JSON view), so
    /// members that come and go never pile up in the registry. Exporters
    /// show each member with the labels `breaker="<name>"` and
    /// `key="<key>"`, at most [`Group::limit`] of them; see [`Group`].
    ///
    /// `members` runs on the exporter's thread while it reads: make it a
    /// walk over what the group holds, without blocking. breaker-keyed's
    /// `ops` feature registers a keyed map this way
    /// (`hosts.report_to(&registry, "hosts")`).
    ///
    /// # Errors
    ///
    /// [`RegisterError`] if `name` is taken (by a breaker or a group) or is
    /// not a valid name, as for [`register`](Self::register).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use breaker_ops::Registry;
    ///
    /// let shards: Arc<Vec<breaker_tokio::CircuitBreaker>> = Arc::new(
    ///     (0..4).map(|_| breaker_tokio::new(breaker_tokio::Config::new(0.5, Duration::from_secs(10)))).collect(),
    /// );
    /// let registry = Registry::new();
    /// let group = registry.register_group("shards", move |members| {
    ///     for (i, shard) in shards.iter().enumerate() {
    ///         members.add(&i, shard);
    ///     }
    /// })?;
    /// group.set_limit(3);
    /// let view = group.read();
    /// assert_eq!(view.members.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), ["0", "1", "2"]);
    /// assert_eq!(view.hidden, 1);
    /// # Ok::<(), breaker_ops::RegisterError>(())
    /// ```
    pub fn register_group(
        &self,
        name: &str,
        members: impl Fn(&mut Members) + Send + Sync + 'static,
    ) -> Result<Group, RegisterError> {
        // Held until the group is in: nobody takes the name meanwhile.
        let _breakers = self.claim(name)?;
        let name: Arc<str> = Arc::from(name);
        let group = Group::new(name.clone(), Arc::new(members), self.shared.events.clone());
        self.shared
            .groups
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, group.clone());
        Ok(group)
    }

    /// The group registered under `name`.
    pub fn group(&self, name: &str) -> Option<Group> {
        self.read_groups().get(name).cloned()
    }

    /// Every registered group, in name order.
    pub fn groups(&self) -> Vec<Group> {
        self.read_groups().values().cloned().collect()
    }

    /// A stream of the transitions of every breaker registered with an
    /// [`OpsListener`], from now on. Bounded; see [`Transitions`].
    pub fn transitions(&self) -> Transitions {
        Transitions::new(self.shared.events.subscribe())
    }

    /// The breakers' map, write-locked, once `name` is found valid and free:
    /// breakers and groups share one namespace (both are `breaker` label
    /// values), and every registration goes through this lock.
    fn claim(
        &self,
        name: &str,
    ) -> Result<std::sync::RwLockWriteGuard<'_, BTreeMap<Arc<str>, Breaker>>, RegisterError> {
        check_name(name)?;
        let breakers = self
            .shared
            .breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if breakers.contains_key(name) || self.read_groups().contains_key(name) {
            return Err(RegisterError::Duplicate(name.to_owned()));
        }
        Ok(breakers)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Arc<str>, Breaker>> {
        // A panic elsewhere while the lock was held cannot leave the map
        // half-written (inserts are single calls): keep serving it.
        self.shared
            .breakers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn read_groups(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Arc<str>, Group>> {
        // As `read`: inserts are single calls.
        self.shared
            .groups
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a breaker was not registered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another breaker or group is registered under this name.
    Duplicate(String),
    /// The name is not 1 to 64 ASCII letters, digits, `_`, `-` or `.`, or it
    /// is reserved.
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The breaker's [`OpsListener`] already reports to a registry, under
    /// another registration.
    ListenerTaken {
        /// The name asked for now.
        name: String,
        /// The name it is registered under already.
        registered_as: String,
    },
    /// A [source](Breaker::add_source) was not attached: its name is taken on
    /// this breaker or not a valid name, or the breaker has 8 sources already.
    Source {
        /// The breaker's name.
        breaker: String,
        /// The source's name.
        source: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Duplicate(name) => {
                write!(f, "a breaker named {name:?} is registered already")
            }
            RegisterError::InvalidName { name, reason } => {
                write!(f, "invalid breaker name {name:?}: {reason}")
            }
            RegisterError::ListenerTaken {
                name,
                registered_as,
            } => write!(
                f,
                "cannot register {name:?}: its OpsListener reports to a registry \
                 already, as {registered_as:?}"
            ),
            RegisterError::Source {
                breaker,
                source,
                reason,
            } => write!(
                f,
                "cannot attach source {source:?} to breaker {breaker:?}: {reason}"
            ),
        }
    }
}

impl std::error::Error for RegisterError {}

fn check_name(name: &str) -> Result<(), RegisterError> {
    let reason = if let Some(problem) = name_problem(name) {
        problem
    } else if name == "events" || name == "." || name == ".." {
        // `/breakers/events` is the ops router's event stream, and dot
        // segments are not names in a URL path.
        "it is reserved"
    } else {
        return Ok(());
    };
    Err(RegisterError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// What makes `name` unfit as a label value, if anything: the rule for
/// breaker and source names alike.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 64 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        Some("use only ASCII letters, digits, '_', '-' and '.'")
    } else {
        None
    }
}

/// One registered breaker, type-erased: its name, snapshots and operator
/// controls, and the health of its [sources](Self::add_source). Cheap to
/// clone (a few `Arc`s).
#[derive(Clone)]
pub struct Breaker {
    name: Arc<str>,
    handle: Arc<dyn Erased>,
    link: Option<Arc<Link>>,
    /// Shared by every clone, so a source attached through one entry shows
    /// in the registry's.
    sources: Arc<Mutex<Vec<Source>>>,
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.name)
            .field("reports_transitions", &self.link.is_some())
            .field("sources", &*self.lock_sources())
            .finish_non_exhaustive()
    }
}

impl Breaker {
    /// The name it is registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The breaker's [`metrics`](CircuitBreaker::metrics) now.
    pub fn metrics(&self) -> Metrics {
        self.handle.metrics()
    }

    /// The breaker's [`config`](CircuitBreaker::config).
    pub fn config(&self) -> Config {
        self.handle.config()
    }

    /// The breaker's [`mode`](CircuitBreaker::mode) now.
    pub fn mode(&self) -> Mode {
        self.handle.metrics().mode
    }

    /// Whether it was built with an [`OpsListener`], so that its transitions
    /// reach the registry's stream and its time in state is known.
    pub fn reports_transitions(&self) -> bool {
        self.link.is_some()
    }

    /// Its metrics, configuration and time in state, read together.
    pub fn snapshot(&self) -> Snapshot {
        let metrics = self.handle.metrics();
        // After `metrics`: any transition that reading settled has been heard.
        let clock = self.handle.now();
        let time_in_state = self.link.as_ref().map(|link| {
            let since = Nanos::from_nanos(link.since.load(Ordering::Relaxed));
            clock.saturating_sub(since).to_duration()
        });
        Snapshot {
            metrics,
            config: self.handle.config(),
            time_in_state,
            clock,
        }
    }

    /// Its latest transitions (up to 10, oldest first), with how long ago
    /// each was on the breaker's clock. Empty for a breaker without an
    /// [`OpsListener`].
    pub fn recent_transitions(&self) -> Vec<(Transition, Duration)> {
        let Some(link) = &self.link else {
            return Vec::new();
        };
        let recent: Vec<Transition> = link.lock_recent().iter().copied().collect();
        let now = self.handle.now();
        recent
            .into_iter()
            .map(|t| (t, now.saturating_sub(t.at).to_duration()))
            .collect()
    }

    /// Attaches a source: something this breaker relies on besides its
    /// dependency, whose [`Health`] the registry shows beside the breaker
    /// (the ops router's JSON views, and the Prometheus gauge
    /// `breaker_source_up{breaker, source}`). `health` is called when they
    /// are read, so make it cheap and non-blocking (read a status the
    /// source keeps).
    ///
    /// A fleet breaker's fleet is the source this was made for: with
    /// breaker-fleet's `ops` feature, `fleet.report_to(&entry)` attaches it
    /// as `fleet`.
    ///
    /// # Errors
    ///
    /// [`RegisterError::Source`] if this breaker has a source named `source`
    /// already, or 8 sources, or if `source` is not 1 to 64 ASCII letters,
    /// digits, `_`, `-` or `.`. The name is a `&'static str` on purpose: it
    /// becomes a label value, so it should be a fixed word, not data.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::{Duration, SystemTime};
    /// use breaker_ops::{Health, Registry};
    ///
    /// let registry = Registry::new();
    /// let db = registry.register("db", Arc::new(breaker_tokio::new(
    ///     breaker_tokio::Config::new(0.5, Duration::from_secs(10)),
    /// )))?;
    /// db.add_source("replica", || Health::Down {
    ///     since: SystemTime::UNIX_EPOCH,
    ///     reason: "unreachable".into(),
    /// })?;
    /// assert!(!registry.get("db").unwrap().health()[0].1.is_up());
    /// assert!(db.add_source("replica", || Health::Up).is_err()); // attached already
    /// # Ok::<(), breaker_ops::RegisterError>(())
    /// ```
    pub fn add_source(
        &self,
        source: &'static str,
        health: impl Fn() -> Health + Send + Sync + 'static,
    ) -> Result<(), RegisterError> {
        let mut sources = self.lock_sources();
        let reason = if let Some(problem) = name_problem(source) {
            problem
        } else if sources.iter().any(|s| s.name == source) {
            "this breaker has a source of that name already"
        } else if sources.len() == MAX_SOURCES {
            "a breaker has at most 8 sources"
        } else {
            sources.push(Source {
                name: source,
                health: Arc::new(health),
            });
            return Ok(());
        };
        Err(RegisterError::Source {
            breaker: self.name.to_string(),
            source: source.to_owned(),
            reason,
        })
    }

    /// Every source's name and health now, in the order they were attached.
    pub fn health(&self) -> Vec<(&'static str, Health)> {
        // Read outside the lock: `health` is the source's code.
        let sources = self.lock_sources().clone();
        sources
            .into_iter()
            .map(|s| (s.name, (s.health)()))
            .collect()
    }

    fn lock_sources(&self) -> std::sync::MutexGuard<'_, Vec<Source>> {
        // Pushes are single calls: a panic elsewhere leaves the list whole.
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`CircuitBreaker::force_open`]: reject every call until [`reset`](Self::reset).
    pub fn force_open(&self) {
        self.handle.force_open()
    }

    /// [`CircuitBreaker::disable`]: admit every call, no verdicts, until [`reset`](Self::reset).
    pub fn disable(&self) {
        self.handle.disable()
    }

    /// [`CircuitBreaker::reset`]: Passing now, with a fresh window.
    pub fn reset(&self) {
        self.handle.reset()
    }
}

/// A breaker's figures at one moment, as exporters and the ops router show them.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// State, mode, window and counters ([`CircuitBreaker::metrics`]).
    pub metrics: Metrics,
    /// The configuration, defaults made explicit.
    pub config: Config,
    /// How long the breaker has been in its current state (and mode), on its
    /// own clock. Known only for breakers built with an [`OpsListener`]; it
    /// counts from the state's start, or from registration if the state began
    /// earlier (the listener was not attached yet).
    pub time_in_state: Option<Duration>,
    /// The breaker's clock when this was read (from the clock's own origin):
    /// two snapshots' counters over the difference of their clocks are rates
    /// on the breaker's time, whatever the reader's.
    pub clock: Nanos,
}

/// What ties a registered breaker's [`OpsListener`] to its registry.
#[derive(Debug)]
pub(crate) struct Link {
    name: Arc<str>,
    /// When the current state began, in the breaker's clock's nanoseconds.
    since: AtomicU64,
    /// The latest transitions, oldest first, at most [`RECENT`].
    recent: Mutex<VecDeque<Transition>>,
    events: broadcast::Sender<Event>,
}

impl Link {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn lock_recent(&self) -> std::sync::MutexGuard<'_, VecDeque<Transition>> {
        // Every update leaves the deque whole: a panic elsewhere cannot
        // have left it half-written.
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a transition and sends it to the stream's readers.
    pub(crate) fn heard(&self, transition: Transition) {
        // Two transitions told by two threads may arrive in either order;
        // the later state began at the later time (`at` never goes back).
        self.since
            .fetch_max(transition.at.as_nanos(), Ordering::Relaxed);
        {
            let mut recent = self.lock_recent();
            if recent.len() == RECENT {
                recent.pop_front();
            }
            // In date order, whichever thread told first.
            let at = recent.partition_point(|t| t.at <= transition.at);
            recent.insert(at, transition);
        }
        // An error only says nobody is reading now: nothing to do.
        let _ = self.events.send(Event {
            breaker: self.name.clone(),
            key: None,
            transition,
        });
    }
}

/// The operations the registry needs from a breaker, whatever its type.
trait Erased: Send + Sync {
    fn metrics(&self) -> Metrics;
    fn config(&self) -> Config;
    fn now(&self) -> Nanos;
    fn force_open(&self);
    fn disable(&self);
    fn reset(&self);
    fn ops_listener(&self) -> Option<&OpsListener>;
}

/// A breaker handle (`&'static` or `Arc`) behind [`Erased`].
struct Held<H>(H);

impl<H, C, const BUCKETS: usize, L> Erased for Held<H>
where
    H: Deref<Target = CircuitBreaker<C, BUCKETS, L>> + Send + Sync,
    C: Clock + 'static,
    L: Listener + 'static,
{
    fn metrics(&self) -> Metrics {
        self.0.metrics()
    }

    fn config(&self) -> Config {
        self.0.config()
    }

    fn now(&self) -> Nanos {
        self.0.clock().now()
    }

    fn force_open(&self) {
        self.0.force_open()
    }

    fn disable(&self) {
        self.0.disable()
    }

    fn reset(&self) {
        self.0.reset()
    }

    fn ops_listener(&self) -> Option<&OpsListener> {
        (self.0.listener() as &dyn Any).downcast_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_plain_and_not_reserved() {
        for good in ["db", "a", "payments-v2", "eu.search_1", &"x".repeat(64)] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        let cases: [(&str, &str); 7] = [
            ("", "it is empty"),
            (&"x".repeat(65), "it is longer than 64 bytes"),
            ("a b", "use only ASCII letters, digits, '_', '-' and '.'"),
            ("a/b", "use only ASCII letters, digits, '_', '-' and '.'"),
            (
                "événement",
                "use only ASCII letters, digits, '_', '-' and '.'",
            ),
            ("events", "it is reserved"),
            ("..", "it is reserved"),
        ];
        for (bad, reason) in cases {
            assert_eq!(
                check_name(bad),
                Err(RegisterError::InvalidName {
                    name: bad.to_owned(),
                    reason
                })
            );
        }
    }
}
