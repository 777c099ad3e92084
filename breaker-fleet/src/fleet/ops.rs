//! The fleet's status in a `breaker-ops` registry (feature `ops`).

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use breaker_ops::{Breaker, Health, RegisterError};

use super::{Fleet, Status, lock};

/// The source name the fleet reports under: a fixed word, so the label
/// `source="fleet"` adds one series per registered breaker, never more.
const SOURCE: &str = "fleet";

impl Fleet {
    /// Shows this fleet's [`status`](Self::status) beside `breaker` in its
    /// `breaker-ops` registry, as the source `fleet`: in the ops router's
    /// JSON views (`"sources": [{"name": "fleet", "up": ...}]`) and as the
    /// Prometheus gauge `breaker_source_up{breaker="...", source="fleet"}`
    /// (1 [`Connected`](Status::Connected), 0
    /// [`Degraded`](Status::Degraded), with its `since` and error). After
    /// the fleet is left or dropped, it shows down.
    ///
    /// The status is read when the registry is read: nothing is pushed, and
    /// the registry does not keep the fleet alive.
    ///
    /// # Errors
    ///
    /// `breaker` has a `fleet` source already (or 8 sources).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(fleet: breaker_fleet::Fleet) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use breaker_ops::{OpsListener, Registry};
    ///
    /// let registry = Registry::new();
    /// let config = breaker_tokio::Config::new(0.5, Duration::from_secs(10));
    /// // The fleet's listener inside the registry's: the registry hears the
    /// // transitions (advised ones included), the fleet shares them.
    /// let payments = fleet.breaker("payments", |listener| {
    ///     breaker_tokio::with_listener(config, OpsListener::forwarding(listener))
    /// })?;
    /// fleet.report_to(&registry.register("payments", payments.clone())?)?;
    /// # Ok(()) }
    /// ```
    pub fn report_to(&self, breaker: &Breaker) -> Result<(), RegisterError> {
        let shared = Arc::downgrade(&self.shared);
        // When the fleet was first seen gone: the best `since` there is.
        let gone_since = OnceLock::new();
        breaker.add_source(SOURCE, move || match shared.upgrade() {
            Some(shared) => match &*lock(&shared.status) {
                Status::Connected => Health::Up,
                Status::Degraded { since, error } => Health::Down {
                    since: *since,
                    reason: error.clone(),
                },
            },
            None => Health::Down {
                since: *gone_since.get_or_init(SystemTime::now),
                reason: "the fleet was left or dropped".into(),
            },
        })
    }
}
