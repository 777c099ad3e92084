//! [`KeyedBreakers`]: the bounded map from key to breaker.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{self, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use breaker_core::{
    CircuitBreaker, CircuitBroken, Classify, Clock, Config, ConfigError, DefaultClassifier, Error,
    Nanos, OwnedPermit, Transition,
};
use papaya::Equivalent;

use crate::handle::KeyedBreaker;
use crate::listener::{Hear, Hearers, Key, KeyListener, MakeHook, make_hook};

/// The keys' hasher unless [`Builder::hasher`] says otherwise: foldhash,
/// seeded at random per process and per map (as hashbrown's default). Why
/// not std's SipHash: the [crate docs](crate#hashing-the-keys).
pub type DefaultHashBuilder = foldhash::fast::RandomState;

/// The bound of a map built without [`Builder::capacity`].
pub const DEFAULT_CAPACITY: usize = 1024;

type ConfigFn<K> = Box<dyn Fn(&K) -> Config + Send + Sync>;

/// A map from key (a host, an endpoint) to its own circuit breaker, created
/// on first use and bounded in number.
///
/// - `K` is the key; look it up by anything [`Equivalent`] to it that can
///   be turned into one ([`ToOwned`]), so a `String` key is found by a
///   `&str` without allocating.
/// - `C` is the clock every breaker reads: the map keeps one and gives each
///   breaker a clone of it (a zero-sized clock such as `TokioClock` or
///   `CoarseClock`, or a `&MockClock` in tests).
/// - `N` is the breakers' bucket count (10 unless [`Builder::buckets`]).
/// - `S` hashes the keys: [`DefaultHashBuilder`] (foldhash, seeded at
///   random per map) unless [`Builder::hasher`] says otherwise.
///
/// See the [crate docs](crate) for the eviction rule and the overflow
/// breaker.
pub struct KeyedBreakers<K, C: Clock, const N: usize = 10, S = DefaultHashBuilder> {
    map: papaya::HashMap<K, KeyedBreaker<C, N>, S>,
    /// Slots taken: entries in the map plus insertions under way. A new key
    /// takes a slot before it is inserted, so the map never holds more
    /// than `capacity` entries, however many threads insert at once.
    taken: AtomicUsize,
    capacity: usize,
    config: Config,
    config_for: Option<ConfigFn<K>>,
    clock: C,
    overflow: KeyedBreaker<C, N>,
    /// Who hears the breakers' transitions (shared with their hooks).
    pub(crate) hearers: Arc<Hearers<K>>,
    /// One sweep at a time: two concurrent sweeps would each evict a batch.
    sweeping: Mutex<()>,
    /// After a sweep that freed nothing, the clock reading (nanoseconds)
    /// before which no new key sweeps again: new keys go straight to the
    /// overflow breaker meanwhile. Without it, a flood of new keys into a map
    /// full of Broken breakers would scan the whole map once per key.
    sweep_after: AtomicU64,
    sweeps: AtomicU64,
    evictions: AtomicU64,
    overflowed: AtomicU64,
    config_errors: AtomicU64,
}

/// Builds a [`KeyedBreakers`]: [`KeyedBreakers::builder`].
pub struct Builder<K, C, const N: usize = 10, S = DefaultHashBuilder> {
    config: Config,
    clock: C,
    capacity: usize,
    config_for: Option<ConfigFn<K>>,
    hasher: S,
    listener: Option<(Box<Hear<K>>, MakeHook<K>)>,
}

/// What a map has done since it was built: a snapshot, read with
/// [`KeyedBreakers::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Keys in the map now (never more than `capacity`).
    pub len: usize,
    /// The bound on the number of keys.
    pub capacity: usize,
    /// Sweeps of a full map for idle breakers to evict.
    pub sweeps: u64,
    /// Idle Passing breakers removed to make room for new keys.
    pub evictions: u64,
    /// Lookups of a new key answered with the shared overflow breaker,
    /// because the map was full of breakers it may not evict.
    pub overflowed: u64,
    /// New keys whose per-key configuration was invalid, and which got the
    /// map's base configuration instead.
    pub config_errors: u64,
}

impl<K, C: Clock> KeyedBreakers<K, C> {
    /// A builder of a map whose breakers all use `config` (until
    /// [`Builder::config_for`] says otherwise) and clones of `clock`, at
    /// most [`DEFAULT_CAPACITY`] keys, 10 buckets per breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use breaker_core::{Config, MockClock, State};
    /// use breaker_keyed::KeyedBreakers;
    ///
    /// let clock = MockClock::new();
    /// let hosts = KeyedBreakers::<String, _>::builder(Config::new(0.5, Duration::from_secs(10)), &clock)
    ///     .capacity(100)
    ///     .build()
    ///     .expect("a valid config");
    /// assert_eq!(hosts.call("db-1:5432", || Ok::<_, ()>(1)), Ok(1));
    /// assert_eq!(hosts.get("db-1:5432").state(), State::Passing);
    /// assert_eq!(hosts.len(), 1);
    /// ```
    pub fn builder(config: Config, clock: C) -> Builder<K, C> {
        Builder {
            config,
            clock,
            capacity: DEFAULT_CAPACITY,
            config_for: None,
            hasher: DefaultHashBuilder::default(),
            listener: None,
        }
    }
}

impl<K, C, const N: usize, S> Builder<K, C, N, S> {
    /// At most `capacity` keys. When the map is full, a new key evicts an
    /// idle Passing breaker, or gets the shared overflow breaker (see the
    /// [crate docs](crate#bounded-memory-the-eviction-rule)). Zero sends every
    /// key to the overflow breaker.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Each new key's configuration from `config_for(&key)` rather than the
    /// base configuration (which the overflow breaker keeps). A key whose
    /// configuration is invalid gets the base configuration, and is counted
    /// in [`Stats::config_errors`]: a running service never panics on it.
    pub fn config_for(mut self, config_for: impl Fn(&K) -> Config + Send + Sync + 'static) -> Self {
        self.config_for = Some(Box::new(config_for));
        self
    }

    /// Tells `listener` every transition of every breaker in the map, with
    /// its key: [`Key::Of`] for a key's own breaker, [`Key::Overflow`] for
    /// the shared overflow breaker. One listener for the whole map; each
    /// breaker made from then on keeps a copy of its key to call it with.
    ///
    /// As a breaker's own [`Listener`](breaker_core::Listener), it runs on
    /// the thread whose call made the transition, after the new state is in
    /// place and nothing is held, exactly once per transition: keep it short
    /// (a log line, a counter, a channel send that does not block). Two
    /// transitions of one key told by two threads may come in either order;
    /// [`Transition::at`] orders them.
    ///
    /// It costs nothing per call: breakers call their listener only when
    /// they change state. What it costs per key: the [crate
    /// docs](crate#hearing-the-transitions).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use breaker_core::{Config, MockClock, State};
    /// use breaker_keyed::KeyedBreakers;
    ///
    /// let heard = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&heard);
    /// let clock = MockClock::new();
    /// let config = Config::new(0.5, Duration::from_secs(10)).min_calls(1).passing_time(Duration::ZERO);
    /// let hosts = KeyedBreakers::<String, _>::builder(config, &clock)
    ///     .listener(move |host, t| log.lock().unwrap().push(format!("host {host}: {t}")))
    ///     .build()
    ///     .expect("a valid config");
    ///
    /// let _ = hosts.call("api.example:443", || Err::<(), _>("refused"));
    /// assert_eq!(hosts.get("api.example:443").state(), State::Broken);
    /// assert_eq!(*heard.lock().unwrap(), ["host api.example:443: passing -> broken for 10s"]);
    /// ```
    pub fn listener(
        mut self,
        listener: impl Fn(Key<'_, K>, Transition) + Send + Sync + 'static,
    ) -> Self
    where
        K: Send + Sync + 'static,
    {
        self.listener = Some((Box::new(listener), make_hook::<K>));
        self
    }

    /// Hashes keys with `hasher` instead of [`DefaultHashBuilder`]: std's
    /// `RandomState` (SipHash) where keys come from outside and must resist
    /// an attacker who studies the service's timing (see the
    /// [crate docs](crate#hashing-the-keys)), or an unseeded hasher where
    /// nobody outside chooses the keys.
    pub fn hasher<S2>(self, hasher: S2) -> Builder<K, C, N, S2> {
        Builder {
            config: self.config,
            clock: self.clock,
            capacity: self.capacity,
            config_for: self.config_for,
            hasher,
            listener: self.listener,
        }
    }

    /// Breakers with `M` buckets in their window instead of `N`.
    pub fn buckets<const M: usize>(self) -> Builder<K, C, M, S> {
        Builder {
            config: self.config,
            clock: self.clock,
            capacity: self.capacity,
            config_for: self.config_for,
            hasher: self.hasher,
            listener: self.listener,
        }
    }

    /// The map.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if the base configuration is invalid for this clock
    /// and bucket count (the same check as [`CircuitBreaker::try_new`]).
    pub fn build(self) -> Result<KeyedBreakers<K, C, N, S>, ConfigError>
    where
        C: Clock + Clone,
        K: Hash + Eq,
        S: BuildHasher,
    {
        let overflow = CircuitBreaker::try_with_listener(
            self.config,
            self.clock.clone(),
            KeyListener::default(),
        )?;
        let (listener, hook) = self.listener.unzip();
        let hearers = Arc::new(Hearers {
            listener,
            reporter: OnceLock::new(),
            #[cfg(feature = "ops")]
            reporting: Mutex::new(()),
            make_hook: hook.map(OnceLock::from).unwrap_or_default(),
        });
        let overflow = KeyedBreaker::new(overflow, true);
        overflow.listener().hook(|| None, &hearers);
        let map = papaya::HashMap::builder()
            .hasher(self.hasher)
            // Never more than `capacity` entries: one table up front. papaya
            // keeps a table's size while entries come and go, so the map's
            // memory stays put under a flood of new keys.
            .capacity(self.capacity.min(1 << 16))
            .build();
        Ok(KeyedBreakers {
            map,
            taken: AtomicUsize::new(0),
            capacity: self.capacity,
            config: self.config,
            config_for: self.config_for,
            clock: self.clock,
            overflow,
            hearers,
            sweeping: Mutex::new(()),
            sweep_after: AtomicU64::new(0),
            sweeps: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
            config_errors: AtomicU64::new(0),
        })
    }
}

impl<K, C, const N: usize, S> KeyedBreakers<K, C, N, S>
where
    K: Hash + Eq,
    C: Clock + Clone,
    S: BuildHasher,
{
    /// `key`'s breaker, created if the key is new.
    ///
    /// A new key takes a free slot, or evicts an idle Passing breaker, or,
    /// when every breaker in a full map must be kept, gets the shared
    /// overflow breaker ([`KeyedBreaker::is_overflow`]).
    pub fn get<Q>(&self, key: &Q) -> KeyedBreaker<C, N>
    where
        Q: ?Sized + Hash + Equivalent<K> + ToOwned<Owned = K>,
    {
        self.with(key, Clone::clone)
    }

    /// Calls `f` through `key`'s breaker ([`CircuitBreaker::call`]): `Ok` is
    /// a success, `Err` a failure.
    ///
    /// For a key already in the map this allocates nothing and clones no
    /// handle: the breaker is borrowed for the call.
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::call`].
    #[inline]
    pub fn call<Q, T, E, F>(&self, key: &Q, f: F) -> Result<T, Error<E>>
    where
        Q: ?Sized + Hash + Equivalent<K> + ToOwned<Owned = K>,
        F: FnOnce() -> Result<T, E>,
    {
        self.call_with(key, DefaultClassifier, f)
    }

    /// [`call`](Self::call) with a classifier deciding how the result counts.
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::call`].
    #[inline]
    pub fn call_with<Q, T, E, K2, F>(&self, key: &Q, classifier: K2, f: F) -> Result<T, Error<E>>
    where
        Q: ?Sized + Hash + Equivalent<K> + ToOwned<Owned = K>,
        K2: Classify<T, E>,
        F: FnOnce() -> Result<T, E>,
    {
        self.with(key, |breaker| breaker.call_with(classifier, f))
    }

    /// A permit for one call through `key`'s breaker, holding a handle on
    /// it: for async calls and futures that outlive the lookup. Report the
    /// outcome on the permit; dropping it records
    /// [`Outcome::Ignored`](crate::Outcome::Ignored). While the permit is
    /// held, the breaker is not evicted.
    ///
    /// # Errors
    ///
    /// [`CircuitBroken`] when the breaker rejects the call.
    pub fn try_acquire<Q>(
        &self,
        key: &Q,
    ) -> Result<OwnedPermit<KeyedBreaker<C, N>, C, N, KeyListener>, CircuitBroken>
    where
        Q: ?Sized + Hash + Equivalent<K> + ToOwned<Owned = K>,
    {
        CircuitBreaker::try_acquire_owned(self.get(key))
    }

    /// Runs `f` on `key`'s breaker, borrowed from the map.
    #[inline]
    fn with<Q, R>(&self, key: &Q, f: impl FnOnce(&KeyedBreaker<C, N>) -> R) -> R
    where
        Q: ?Sized + Hash + Equivalent<K> + ToOwned<Owned = K>,
    {
        let map = self.map.pin();
        match map.get(key) {
            Some(breaker) => {
                breaker.touch();
                f(breaker)
            }
            None => {
                drop(map);
                self.insert_with(key, f)
            }
        }
    }

    /// The cold path of [`with`](Self::with): a key not in the map.
    #[cold]
    fn insert_with<Q, R>(&self, key: &Q, f: impl FnOnce(&KeyedBreaker<C, N>) -> R) -> R
    where
        Q: ?Sized + Hash + Equivalent<K> + ToOwned<Owned = K>,
    {
        if !self.take_slot() {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return f(&self.overflow);
        }
        let owned = key.to_owned();
        let config = self.config_of(&owned);
        let map = self.map.pin();
        let new_breaker = || {
            let breaker = KeyedBreaker::new(self.breaker_for(config), false);
            breaker
                .listener()
                .hook(|| Some(key.to_owned()), &self.hearers);
            breaker
        };
        match map.try_insert_with(owned, new_breaker) {
            Ok(inserted) => {
                // Hooked as it was made if anyone listened then; if
                // `report_to` started listening since, its walk over the
                // map may have missed this key, so look again. The fences
                // (here and in `start_reporting`) make sure that one of the
                // two sees the other.
                atomic::fence(Ordering::SeqCst);
                inserted
                    .listener()
                    .hook(|| Some(key.to_owned()), &self.hearers);
                f(inserted)
            }
            Err(present) => {
                // Another thread inserted the key first: give the slot back.
                self.taken.fetch_sub(1, Ordering::AcqRel);
                present.touch();
                f(present)
            }
        }
    }

    /// Takes a slot for a new key, sweeping out idle breakers when the map
    /// is full. `false`: no slot could be had (send the key to overflow).
    fn take_slot(&self) -> bool {
        // A sweep that frees slots can lose them to other threads' new keys
        // before this one takes one; a few tries, then overflow.
        for _ in 0..3 {
            let took = self
                .taken
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.capacity).then_some(n + 1)
                })
                .is_ok();
            if took {
                return true;
            }
            if !self.sweep() {
                return false;
            }
        }
        false
    }

    /// Evicts idle breakers by the CLOCK algorithm (second chance): a
    /// breaker looked up since the last sweep has its reference bit cleared
    /// and is spared this time; every one whose bit is already clear (no
    /// lookup for a whole sweep period) is evicted. If that pass evicts
    /// nothing, a second pass evicts one breaker that the first spared (and
    /// that was not looked up in between). Only
    /// [evictable](KeyedBreaker::is_evictable) breakers are ever removed.
    ///
    /// Every pass looks at every key, so no key escapes the sweeps by where
    /// it sits in the table. A sweep costs one look at each key and comes
    /// only when the map is full; since it frees every slot whose breaker
    /// sat idle for a whole period, the cost per new key stays small, while
    /// breakers in steady use are only evicted one at a time, and only when
    /// nothing idle is left.
    ///
    /// Returns whether a slot is free now (this sweep freed some, or another
    /// thread's sweep did while this one waited for the lock).
    ///
    /// A sweep that frees nothing holds off the next one for a bucket's
    /// length of the base configuration's window (`window / N`): breakers
    /// change state with time, so sooner would find the same.
    fn sweep(&self) -> bool {
        if self.clock.now().as_nanos() < self.sweep_after.load(Ordering::Relaxed) {
            return false;
        }
        let _one_at_a_time = self.sweeping.lock().unwrap_or_else(PoisonError::into_inner);
        if self.taken.load(Ordering::Acquire) < self.capacity {
            return true;
        }
        let now = self.clock.now();
        if now.as_nanos() < self.sweep_after.load(Ordering::Relaxed) {
            return false;
        }
        self.sweeps.fetch_add(1, Ordering::Relaxed);
        let map = self.map.pin();
        let mut evicted = 0;
        for pass in 0..2 {
            for (key, breaker) in map.iter() {
                if !breaker.is_evictable() || breaker.take_reference() {
                    continue;
                }
                // Checked again as the entry is removed: a lookup or a
                // handle may have come since.
                let removed = map.remove_if(key, |_, current| {
                    current.same(breaker) && !current.is_referenced() && current.is_evictable()
                });
                if matches!(removed, Ok(Some(_))) {
                    self.taken.fetch_sub(1, Ordering::AcqRel);
                    evicted += 1;
                    if pass == 1 {
                        break;
                    }
                }
            }
            if evicted > 0 {
                break;
            }
        }
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
        if evicted == 0 {
            let bucket = Nanos::from_duration(self.config.window / N as u32);
            self.sweep_after
                .store(now.saturating_add(bucket).as_nanos(), Ordering::Relaxed);
        }
        evicted > 0
    }

    fn config_of(&self, key: &K) -> Config {
        match &self.config_for {
            Some(config_for) => config_for(key),
            None => self.config,
        }
    }

    fn breaker_for(&self, config: Config) -> CircuitBreaker<C, N, KeyListener> {
        CircuitBreaker::try_with_listener(config, self.clock.clone(), KeyListener::default())
            .unwrap_or_else(|_| {
                self.config_errors.fetch_add(1, Ordering::Relaxed);
                CircuitBreaker::with_listener(
                    self.config,
                    self.clock.clone(),
                    KeyListener::default(),
                )
            })
    }

    /// Makes `hear` (the group `name`) hear every breaker's transitions
    /// from now on, with its key: those made from now on, and those already
    /// in the map. The caller holds `hearers.reporting` and has seen no
    /// reporter yet.
    #[cfg(feature = "ops")]
    pub(crate) fn start_reporting(&self, name: &str, hear: Box<Hear<K>>)
    where
        K: Clone + Send + Sync + 'static,
    {
        let first = self.hearers.reporter.set((name.to_owned(), hear)).is_ok();
        debug_assert!(first, "report_to holds `reporting` and saw no reporter");
        self.hearers.make_hook.get_or_init(|| make_hook::<K>);
        // See `insert_with`: a key inserted meanwhile is hooked there if this
        // walk misses it.
        atomic::fence(Ordering::SeqCst);
        self.overflow.listener().hook(|| None, &self.hearers);
        self.for_each(|key, breaker| breaker.listener().hook(|| Some(key.clone()), &self.hearers));
    }

    /// The name of the group the map reports its transitions to, if any.
    #[cfg(feature = "ops")]
    pub(crate) fn reported_as(&self) -> Option<&str> {
        self.hearers.reporter.get().map(|(name, _)| name.as_str())
    }

    /// Whether `key` has a breaker of its own in the map now (a lookup, not
    /// a use: it creates nothing and marks nothing).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        self.map.pin().contains_key(key)
    }

    /// Keys in the map now, counting new keys whose insertion is under way
    /// on another thread. Never more than [`capacity`](Self::capacity):
    /// this is the count that enforces the bound.
    pub fn len(&self) -> usize {
        self.taken.load(Ordering::Acquire)
    }

    /// Whether the map holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound on the number of keys.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The shared breaker that new keys get while the map is full of
    /// breakers it may not evict.
    pub fn overflow(&self) -> &KeyedBreaker<C, N> {
        &self.overflow
    }

    /// The clock every breaker reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The base configuration (the overflow breaker's, and every key's
    /// without [`Builder::config_for`]).
    pub fn config(&self) -> Config {
        self.config
    }

    /// Calls `f` with each key and its breaker, for exporters and operator
    /// views (read each breaker's `metrics()`). A lookup, not a use: it does
    /// not mark breakers as used. Keys inserted or evicted meanwhile may or
    /// may not be seen.
    pub fn for_each(&self, mut f: impl FnMut(&K, &KeyedBreaker<C, N>)) {
        for (key, breaker) in self.map.pin().iter() {
            f(key, breaker);
        }
    }

    /// Removes `key`'s breaker whatever its state (an operator's action:
    /// the next call for the key starts a fresh breaker). Returns it if the
    /// key was there.
    pub fn remove<Q>(&self, key: &Q) -> Option<KeyedBreaker<C, N>>
    where
        Q: ?Sized + Hash + Equivalent<K>,
    {
        let removed = self.map.pin().remove(key).cloned();
        if removed.is_some() {
            self.taken.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    /// What the map has done since it was built.
    pub fn stats(&self) -> Stats {
        Stats {
            len: self.len(),
            capacity: self.capacity,
            sweeps: self.sweeps.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            overflowed: self.overflowed.load(Ordering::Relaxed),
            config_errors: self.config_errors.load(Ordering::Relaxed),
        }
    }
}

impl<K, C: Clock + fmt::Debug, const N: usize, S> fmt::Debug for KeyedBreakers<K, C, N, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBreakers")
            .field("taken", &self.taken)
            .field("capacity", &self.capacity)
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("evictions", &self.evictions)
            .field("overflowed", &self.overflowed)
            .finish_non_exhaustive()
    }
}

impl<K, C: fmt::Debug, const N: usize, S> fmt::Debug for Builder<K, C, N, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("capacity", &self.capacity)
            .field("config_for", &self.config_for.is_some())
            .field("listener", &self.listener.is_some())
            .finish_non_exhaustive()
    }
}
