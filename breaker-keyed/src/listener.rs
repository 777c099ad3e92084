//! Hearing the keyed breakers' transitions, each with its key.

use std::fmt;
use std::sync::{Arc, OnceLock};

use breaker_core::{Listener, Transition};

/// Whose transition a keyed listener hears: a key's own breaker, or the
/// map's shared overflow breaker (which has no key: new keys share it while
/// the map is full of breakers it may not evict).
///
/// Displays as the key, or as `(overflow)`, so a log line reads
/// `host api.example:443: passing -> broken for 5s` either way.
#[derive(Debug, PartialEq, Eq, Hash)]
pub enum Key<'a, K> {
    /// The breaker of this key.
    Of(&'a K),
    /// The map's overflow breaker.
    Overflow,
}

impl<'a, K> Key<'a, K> {
    /// The key, or `None` for the overflow breaker.
    pub fn get(self) -> Option<&'a K> {
        match self {
            Key::Of(key) => Some(key),
            Key::Overflow => None,
        }
    }
}

// Not derived: a derive would ask for `K: Clone`, and this only copies a
// reference.
impl<K> Clone for Key<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Key<'_, K> {}

impl<K: fmt::Display> fmt::Display for Key<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Of(key) => key.fmt(f),
            Key::Overflow => f.pad("(overflow)"),
        }
    }
}

/// What hears a keyed transition: the map's listener, or its registry.
pub(crate) type Hear<K> = dyn Fn(Key<'_, K>, Transition) + Send + Sync;

/// Makes a breaker's hook. A function pointer rather than a generic call,
/// so that the map's lookups need no `K: Send + Sync + 'static`: only the
/// methods that start the listening do, and they set it.
pub(crate) type MakeHook<K> = fn(Option<K>, Arc<Hearers<K>>) -> Box<dyn Listener + Send + Sync>;

/// Who hears the transitions of a map's breakers: shared by the map and
/// every breaker's hook.
pub(crate) struct Hearers<K> {
    /// [`Builder::listener`](crate::Builder::listener), fixed when the map
    /// is built.
    pub(crate) listener: Option<Box<Hear<K>>>,
    /// The ops registry's group (its name, and what sends to it), set once
    /// by `report_to` (feature `ops`).
    pub(crate) reporter: OnceLock<(String, Box<Hear<K>>)>,
    /// One `report_to` at a time: a second one must see the first's
    /// reporter before it registers its group, so that it registers nothing.
    #[cfg(feature = "ops")]
    pub(crate) reporting: std::sync::Mutex<()>,
    /// Set by the first who listens; until then breakers get no hook (and
    /// no copy of their key).
    pub(crate) make_hook: OnceLock<MakeHook<K>>,
}

/// The [`MakeHook`] of keys that can go into a listener.
pub(crate) fn make_hook<K: Send + Sync + 'static>(
    key: Option<K>,
    hearers: Arc<Hearers<K>>,
) -> Box<dyn Listener + Send + Sync> {
    Box::new(Hook { key, hearers })
}

impl<K> Hearers<K> {
    fn hear(&self, key: Key<'_, K>, transition: Transition) {
        if let Some(listener) = &self.listener {
            listener(key, transition);
        }
        if let Some((_, reporter)) = self.reporter.get() {
            reporter(key, transition);
        }
    }
}

/// The listener of every breaker in a [`KeyedBreakers`](crate::KeyedBreakers)
/// map: empty (it hears and drops) unless the map has a listener
/// ([`Builder::listener`](crate::Builder::listener)) or reports to an ops
/// registry, in which case it holds its breaker's key and passes each
/// transition on with it.
///
/// It is part of the type a [`KeyedBreaker`](crate::KeyedBreaker)
/// dereferences to, `CircuitBreaker<C, N, KeyListener>`, whether anyone
/// listens or not: so a map's type does not change with its listener, and a
/// listening map goes wherever a map does (breaker-reqwest's middleware,
/// for one). Empty, it costs 24 bytes per key and nothing per call.
#[derive(Default)]
pub struct KeyListener {
    /// Set once: when the breaker is made, or when its map starts reporting
    /// to a registry. Boxed so that the breaker's type does not name the
    /// key's.
    hook: OnceLock<Box<dyn Listener + Send + Sync>>,
}

impl KeyListener {
    /// Makes the breaker heard under `key` (`None`: the overflow breaker),
    /// unless it already is.
    pub(crate) fn hook<K>(&self, key: impl FnOnce() -> Option<K>, hearers: &Arc<Hearers<K>>) {
        if let Some(make_hook) = hearers.make_hook.get() {
            self.hook
                .get_or_init(|| make_hook(key(), Arc::clone(hearers)));
        }
    }

    /// Whether this breaker's transitions are heard (its map has a listener
    /// or reports to a registry).
    pub fn is_heard(&self) -> bool {
        self.hook.get().is_some()
    }
}

impl Listener for KeyListener {
    fn on_transition(&self, transition: Transition) {
        if let Some(hook) = self.hook.get() {
            hook.on_transition(transition);
        }
    }
}

impl fmt::Debug for KeyListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyListener")
            .field("heard", &self.is_heard())
            .finish()
    }
}

/// A breaker's hook: its own copy of its key, and the map's hearers.
struct Hook<K> {
    key: Option<K>,
    hearers: Arc<Hearers<K>>,
}

impl<K> Listener for Hook<K> {
    fn on_transition(&self, transition: Transition) {
        let key = match &self.key {
            Some(key) => Key::Of(key),
            None => Key::Overflow,
        };
        self.hearers.hear(key, transition);
    }
}
