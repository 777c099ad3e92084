//! The listener that feeds a registry: transitions into its stream, and the
//! moment each state began.

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
#[derive(Debug, Default)]
pub struct OpsListener {
    /// Set once, when the breaker is registered.
    link: OnceLock<Arc<Link>>,
}

impl OpsListener {
    /// A listener not yet tied to a registry.
    pub const fn new() -> OpsListener {
        OpsListener {
            link: OnceLock::new(),
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
    }
}
