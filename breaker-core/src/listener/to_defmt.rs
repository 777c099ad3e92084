//! [`DefmtListener`]: transitions through `defmt`, for firmware.

use super::{Listener, Transition};
use crate::state::State;

/// Logs every transition with [`defmt`](https://docs.rs/defmt), at `warn`
/// when the breaker becomes Broken and `info` otherwise. For firmware: the
/// breaker's name and the [`Transition`] are sent as defmt's compact binary
/// encoding, not formatted on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DefmtListener {
    name: &'static str,
}

impl DefmtListener {
    /// A listener that names the breaker `name` in every line.
    pub const fn new(name: &'static str) -> DefmtListener {
        DefmtListener { name }
    }

    /// The breaker's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl Listener for DefmtListener {
    fn on_transition(&self, t: Transition) {
        if t.to == State::Broken {
            ::defmt::warn!("circuit breaker {=str}: {}", self.name, t);
        } else {
            ::defmt::info!("circuit breaker {=str}: {}", self.name, t);
        }
    }
}
