//! A snapshot of a breaker's state and counters.

use core::time::Duration;

use crate::state::{Mode, State};

/// A breaker's state and counters at one moment. A plain `Copy` struct.
///
/// The counters since creation are named after aiomisc's statistics. Every
/// admission attempt lands in exactly one of `call_passing`, `call_broken`,
/// `call_recovering_ok`, `call_recovering_failed`; every admitted call ends in
/// exactly one of `successes`, `failures`, `ignored`, `late` (or is still
/// running). Counters are `u64` and would need 2^64 events to wrap.
///
/// Read while other threads are calling, the fields are read one by one, not
/// as one atomic snapshot: a count may be off by the calls in flight at that
/// moment (`call_passing` may briefly miss a call whose outcome is being
/// recorded). Read at rest they are exact.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Metrics {
    /// The state now: Broken when forced open, Passing when disabled.
    pub state: State,
    /// Who decides the state: the machine, or an operator.
    pub mode: Mode,
    /// Calls (successes + failures) recorded in the current window.
    pub window_calls: u64,
    /// Failures recorded in the current window.
    pub window_failures: u64,
    /// `window_failures / window_calls`, or 0 for an empty window.
    pub error_ratio: f32,
    /// Time left until the breaker starts Recovering; zero unless Broken.
    pub retry_after: Duration,
    /// Every admission attempt.
    pub call_count: u64,
    /// Calls admitted in Passing (also while disabled).
    pub call_passing: u64,
    /// Calls rejected in Broken (also while forced open).
    pub call_broken: u64,
    /// Admission attempts in Recovering (`call_recovering_ok + call_recovering_failed`).
    pub call_recovering: u64,
    /// Calls admitted in Recovering.
    pub call_recovering_ok: u64,
    /// Calls rejected in Recovering.
    pub call_recovering_failed: u64,
    /// Successes recorded.
    pub successes: u64,
    /// Failures recorded.
    pub failures: u64,
    /// Outcomes recorded as ignored, including dropped permits.
    pub ignored: u64,
    /// Outcomes that arrived after the state they were admitted in had ended;
    /// counted here and nowhere else.
    pub late: u64,
    /// Entries into Broken by the automatic machine (an operator forcing the
    /// breaker open is not a trip).
    pub trips: u64,
}
