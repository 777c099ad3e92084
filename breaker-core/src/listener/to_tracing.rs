//! [`TracingListener`]: transitions as `tracing` events.

use super::{Listener, Transition};
use crate::state::State;

/// Emits every transition as a [`tracing`](https://docs.rs/tracing) event,
/// at `WARN` when the breaker becomes Broken and `INFO` otherwise, with the
/// fields `breaker`, `from`, `to`, `from_mode`, `to_mode`, `cause`, `at_ns` (the
/// breaker's clock) and `broken_ms`.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_core::{CircuitBreaker, Config, StdClock, TracingListener};
///
/// static UPSTREAM: CircuitBreaker<StdClock, 10, TracingListener> = CircuitBreaker::with_listener(
///     Config::new(0.2, Duration::from_secs(20)),
///     StdClock::new(),
///     TracingListener::new("upstream"),
/// );
/// # let _ = UPSTREAM.state();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TracingListener {
    name: &'static str,
}

impl TracingListener {
    /// A listener that names the breaker `name` in every event.
    pub const fn new(name: &'static str) -> TracingListener {
        TracingListener { name }
    }

    /// The breaker's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl Listener for TracingListener {
    fn on_transition(&self, t: Transition) {
        // `tracing` levels are part of each callsite, so one event per level.
        macro_rules! event {
            ($level:expr) => {
                ::tracing::event!(
                    $level,
                    breaker = self.name,
                    from = %t.from,
                    to = %t.to,
                    from_mode = %t.from_mode,
                    to_mode = %t.to_mode,
                    at_ns = t.at.as_nanos(),
                    broken_ms = t.broken_time.as_millis() as u64,
                    cause = %t.cause,
                    "circuit breaker transition"
                )
            };
        }
        if t.to == State::Broken {
            event!(::tracing::Level::WARN);
        } else {
            event!(::tracing::Level::INFO);
        }
    }
}
