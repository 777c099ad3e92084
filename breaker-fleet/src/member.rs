//! The two things the fleet needs from breaker-core, in one place: taking
//! advice, and telling a breaker's own trip from one it was advised or
//! forced into.

use std::time::Duration;

use breaker_core::{Cause, CircuitBreaker, Clock, Listener, Mode, State, Transition};

/// A local breaker the fleet can advise; object-safe, so one fleet holds
/// breakers of any clock and bucket count.
pub(crate) trait Member: Send + Sync {
    /// [`CircuitBreaker::advise_broken`]: Broken for `for_` (clamped by the
    /// breaker to its own longest broken time) unless it is Broken already or
    /// not in automatic mode; whether it took the advice.
    fn advise_broken(&self, for_: Duration) -> bool;
}

impl<C, const B: usize, L> Member for CircuitBreaker<C, B, L>
where
    C: Clock + Send + Sync,
    L: Listener + Send + Sync,
{
    fn advise_broken(&self, for_: Duration) -> bool {
        CircuitBreaker::advise_broken(self, for_)
    }
}

/// Whether `t` is this instance's own verdict that the dependency is down:
/// the machine tripped it. Advised Broken states are not votes (they would
/// keep a quorum alive on its own echo), nor is an operator's `force_open`.
pub(crate) fn is_own_trip(t: &Transition) -> bool {
    t.to == State::Broken && t.to_mode == Mode::Automatic && t.cause == Cause::Machine
}
