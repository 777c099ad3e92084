//! The listener that feeds a registry: transitions into its stream, and the
//! moment each state began.

use std::fmt;
use std::sync::{Arc, OnceLock};

use breaker_core::{Listener, Transition};

use crate::registry::Link;

/// A [`Listener`] that reports a breaker's transitions to the [`Registry`]
/// it is registered in: they go out on
/// [`Registry::transitions`](crate::Registry::transitions) (and so on the
/// ops router's `/breakers/events`), and they date the current state, which
/// gives [`Snapshot::time_in_state`](crate::Snapshot::time_in_state).
///
/// Build the breaker with it (its constructor is `const`, so the breaker can
/// still be a `static`), then register it; until then it hears transitions
/// and drops them. A breaker registered without this listener is exported
/// just the same, minus its transitions and its time in state.
///
/// One listener belongs to one registry: registering its breaker in a second
/// registry is an error ([`RegisterError::ListenerTaken`](crate::RegisterError::ListenerTaken)).
///
/// A breaker has one listener. When something else must hear its transitions
/// too (a fleet's `FleetListener`, your own log line), build the breaker with
/// [`OpsListener::forwarding(next)`](Self::forwarding): the registry still
/// recognises it, and every transition is passed on to `next`.
///
/// What it costs: nothing per call. On a transition (a few per minute at
/// most, in a healthy service) one atomic store and one send into a bounded
/// broadcast channel.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_ops::{OpsListener, Registry};
/// use breaker_tokio::{CircuitBreaker, Config};
///
/// static DB: CircuitBreaker<10, OpsListener> = breaker_tokio::with_listener(
///     Config::new(0.5, Duration::from_secs(10)),
///     OpsListener::new(),
/// );
///
/// let registry = Registry::new();
/// registry.register("db", &DB).unwrap();
/// ```
///
/// [`Registry`]: crate::Registry
#[derive(Default)]
pub struct OpsListener {
    /// Set once, when the breaker is registered.
    link: OnceLock<Arc<Link>>,
    /// The listener every transition is passed on to, if any. Boxed so the
    /// type stays `OpsListener` (what the registry recognises), whatever
    /// `next` is; one indirect call per transition is nothing.
    next: Option<Box<dyn Listener + Send + Sync>>,
}

impl fmt::Debug for OpsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpsListener")
            .field("registered_name", &self.registered_name())
            .field("forwards", &self.next.is_some())
            .finish()
    }
}

impl OpsListener {
    /// A listener not yet tied to a registry.
    pub const fn new() -> OpsListener {
        OpsListener {
            link: OnceLock::new(),
            next: None,
        }
    }

    /// A listener that reports to the registry like [`new`](Self::new), then
    /// passes every transition on to `next` (any [`Listener`], a closure
    /// `Fn(Transition)` included).
    ///
    /// This is how a breaker whose listener is someone else's still reaches
    /// the registry, e.g. a fleet breaker
    /// ([`breaker-fleet`](https://docs.rs/breaker-fleet)):
    ///
    /// ```ignore
    /// let payments = fleet.breaker("payments", |fleet_listener| {
    ///     breaker_tokio::with_listener(config, OpsListener::forwarding(fleet_listener))
    /// })?;
    /// registry.register("payments", payments.clone())?;
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, MockClock, Transition};
    /// use breaker_ops::{OpsListener, Registry};
    ///
    /// let heard = Arc::new(AtomicUsize::new(0));
    /// let count = Arc::clone(&heard);
    /// let listener = OpsListener::forwarding(move |_: Transition| {
    ///     count.fetch_add(1, Ordering::Relaxed);
    /// });
    /// let breaker = Arc::new(CircuitBreaker::<_, 10, _>::with_listener(
    ///     Config::new(0.5, Duration::from_secs(10)),
    ///     MockClock::new(),
    ///     listener,
    /// ));
    /// let entry = Registry::new().register("db", breaker.clone()).unwrap();
    /// assert!(entry.reports_transitions());
    ///
    /// breaker.force_open();
    /// assert_eq!(heard.load(Ordering::Relaxed), 1);
    /// assert_eq!(entry.recent_transitions().len(), 1);
    /// ```
    pub fn forwarding(next: impl Listener + Send + Sync + 'static) -> OpsListener {
        OpsListener {
            link: OnceLock::new(),
            next: Some(Box::new(next)),
        }
    }

    /// Ties the listener to `link`; fails if the listener already belongs
    /// to a registry.
    pub(crate) fn attach(&self, link: Arc<Link>) -> Result<(), Arc<Link>> {
        self.link.set(link)
    }

    /// The name this listener's breaker is registered under, if any.
    pub fn registered_name(&self) -> Option<&str> {
        self.link.get().map(|link| link.name())
    }
}

impl Listener for OpsListener {
    fn on_transition(&self, transition: Transition) {
        if let Some(link) = self.link.get() {
            link.heard(transition);
        }
        if let Some(next) = &self.next {
            next.on_transition(transition);
        }
    }
}
