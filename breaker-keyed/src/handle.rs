//! [`KeyedBreaker`]: one key's breaker, as the map hands it out.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use breaker_core::{CircuitBreaker, Clock, Mode, State};

use crate::listener::KeyListener;

/// What the map holds for each key.
pub(crate) struct Slot<C: Clock, const N: usize> {
    breaker: CircuitBreaker<C, N, KeyListener>,
    /// The CLOCK algorithm's reference bit: set by every lookup, cleared by
    /// the eviction sweep. A slot whose bit is still clear when a sweep comes
    /// by has had no lookup since the previous sweep. `Relaxed`: it orders
    /// nothing, and a sweep that misses a concurrent lookup evicts a breaker
    /// that was just used, which only costs that breaker its statistics.
    referenced: AtomicBool,
    /// Whether this is the map's shared overflow breaker.
    overflow: bool,
}

/// One key's breaker: a cheap handle (an `Arc`) that dereferences to the
/// [`CircuitBreaker`].
///
/// It is what [`KeyedBreakers::get`](crate::KeyedBreakers::get) returns and
/// what an owned permit holds
/// ([`KeyedBreakers::try_acquire`](crate::KeyedBreakers::try_acquire),
/// [`CircuitBreaker::try_acquire_owned`]), so it can live in a `'static`
/// future. While any handle is alive, the map does not evict the breaker:
/// that is how a call in flight keeps its breaker.
pub struct KeyedBreaker<C: Clock, const N: usize = 10>(Arc<Slot<C, N>>);

impl<C: Clock, const N: usize> KeyedBreaker<C, N> {
    pub(crate) fn new(breaker: CircuitBreaker<C, N, KeyListener>, overflow: bool) -> Self {
        KeyedBreaker(Arc::new(Slot {
            breaker,
            // A new breaker counts as used: a sweep gives it one period
            // before it can be evicted.
            referenced: AtomicBool::new(true),
            overflow,
        }))
    }

    /// Whether this is the map's shared overflow breaker, handed out for a
    /// new key while the map was full of breakers it may not evict (see the
    /// [crate docs](crate#bounded-memory-the-eviction-rule)).
    pub fn is_overflow(&self) -> bool {
        self.0.overflow
    }

    /// Marks the slot used. A load first, so that a breaker in steady use
    /// costs no write to its cache line.
    #[inline]
    pub(crate) fn touch(&self) {
        if !self.0.referenced.load(Ordering::Relaxed) {
            self.0.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// Clears the reference bit, returning whether it was set (the slot's
    /// second chance, spent).
    pub(crate) fn take_reference(&self) -> bool {
        self.0.referenced.swap(false, Ordering::Relaxed)
    }

    pub(crate) fn is_referenced(&self) -> bool {
        self.0.referenced.load(Ordering::Relaxed)
    }

    /// Whether evicting this breaker would lose nothing that protects a
    /// host: it is Passing under the automatic machine (not Broken, not
    /// Recovering, not forced open or disabled by an operator) and nobody
    /// else holds a handle on it (no permit or call in flight through a
    /// handle).
    pub(crate) fn is_evictable(&self) -> bool {
        Arc::strong_count(&self.0) == 1
            && self.0.breaker.mode() == Mode::Automatic
            && self.0.breaker.state() == State::Passing
    }

    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<C: Clock, const N: usize> Deref for KeyedBreaker<C, N> {
    type Target = CircuitBreaker<C, N, KeyListener>;

    #[inline]
    fn deref(&self) -> &CircuitBreaker<C, N, KeyListener> {
        &self.0.breaker
    }
}

impl<C: Clock, const N: usize> Clone for KeyedBreaker<C, N> {
    fn clone(&self) -> Self {
        KeyedBreaker(Arc::clone(&self.0))
    }
}

impl<C: Clock + fmt::Debug, const N: usize> fmt::Debug for KeyedBreaker<C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBreaker")
            .field("breaker", &self.0.breaker)
            .field("referenced", &self.0.referenced)
            .field("overflow", &self.0.overflow)
            .finish()
    }
}
