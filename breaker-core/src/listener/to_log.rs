//! [`LogListener`]: transitions through the `log` facade.

use super::{Listener, Transition};
use crate::state::State;

/// Logs every transition through the [`log`](https://docs.rs/log) facade,
/// at `warn` when the breaker becomes Broken and `info` otherwise, with the
/// breaker's name as the message's target-independent prefix:
/// `circuit breaker "upstream": passing -> broken for 5s`.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_core::{CircuitBreaker, Config, LogListener, StdClock};
///
/// static UPSTREAM: CircuitBreaker<StdClock, 10, LogListener> = CircuitBreaker::with_listener(
///     Config::new(0.2, Duration::from_secs(20)),
///     StdClock::new(),
///     LogListener::new("upstream"),
/// );
/// # let _ = UPSTREAM.state();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogListener {
    name: &'static str,
}

impl LogListener {
    /// A listener that names the breaker `name` in every line.
    pub const fn new(name: &'static str) -> LogListener {
        LogListener { name }
    }

    /// The breaker's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl Listener for LogListener {
    fn on_transition(&self, t: Transition) {
        let level = if t.to == State::Broken {
            ::log::Level::Warn
        } else {
            ::log::Level::Info
        };
        ::log::log!(level, "circuit breaker {:?}: {}", self.name, t);
    }
}
