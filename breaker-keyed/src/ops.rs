//! Feature `ops`: a keyed map's breakers in a breaker-ops registry.

use std::fmt::Display;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, PoisonError};

use breaker_core::Clock;
use breaker_ops::{Group, GroupStats, RegisterError, Registry};

use crate::KeyedBreakers;

impl<K, C, const N: usize, S> KeyedBreakers<K, C, N, S>
where
    K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    C: Clock + Clone + Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    /// Registers this map in `registry` as the group `name`: its keys are
    /// listed afresh at every scrape, collection and JSON view, so an
    /// evicted key is gone from the next one. Each key's breaker is
    /// exported with the labels `breaker="<name>"` and `key="<key>"` (the
    /// key as it displays, bounded in length), at most
    /// [`Group::limit`] of them (100 unless
    /// [`set_limit`](Group::set_limit)): Broken, Recovering and
    /// operator-held breakers first, then the others in key order. The rest
    /// are counted by the gauge `breaker_group_hidden`, and the overflow
    /// breaker is exported besides as `key="(overflow)"`. The map's own
    /// [`stats`](Self::stats) are exported as the group's
    /// [`GroupStats`], labelled `breaker="<name>"` only: keys and capacity
    /// (gauges), evictions, overflow lookups and sweeps (counters). See the
    /// [crate docs](crate#in-the-ops-registry).
    ///
    /// Every breaker's transitions go out on the registry's transition
    /// stream ([`Registry::transitions`], the ops router's
    /// `/breakers/events`) as events of the breaker `name` with the key
    /// label as their `key`: from now on, for the breakers already in the
    /// map and those made later alike (whether the map was built with a
    /// [`listener`](crate::Builder::listener) or not). From then on each
    /// breaker keeps a copy of its key to report with.
    ///
    /// The registry keeps this `Arc` (as it does a registered breaker's),
    /// so the map lives as long as the registry.
    ///
    /// # Errors
    ///
    /// [`RegisterError`] if `name` is taken in `registry` (by a breaker or
    /// a group) or is not a valid name (1 to 64 ASCII letters, digits, `_`,
    /// `-` or `.`);
    /// [`RegisterError::ListenerTaken`] if the map already reports to a
    /// registry (its transitions go to one). Nothing is registered then.
    pub fn report_to(
        self: &Arc<Self>,
        registry: &Registry,
        name: &str,
    ) -> Result<Group, RegisterError> {
        let _one_at_a_time = self
            .hearers
            .reporting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(registered_as) = self.reported_as() {
            return Err(RegisterError::ListenerTaken {
                name: name.to_owned(),
                registered_as: registered_as.to_owned(),
            });
        }
        let map = Arc::clone(self);
        let group = registry.register_group(name, move |members| {
            let stats = map.stats();
            members.stats(GroupStats {
                keys: stats.len,
                capacity: stats.capacity,
                evictions: stats.evictions,
                overflow_lookups: stats.overflowed,
                sweeps: stats.sweeps,
            });
            members.overflow(map.overflow());
            map.for_each(|key, breaker| members.add(key, &**breaker));
        })?;
        let reporter = group.clone();
        self.start_reporting(
            name,
            Box::new(move |key, transition| {
                reporter.report_transition(key.get().map(|key| key as &dyn Display), transition);
            }),
        );
        Ok(group)
    }
}
