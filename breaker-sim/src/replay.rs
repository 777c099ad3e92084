//! The replay: every event through one real breaker per configuration, each
//! on its own `MockClock`, in a single pass over the trace.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::Duration;

use breaker_core::{
    CircuitBreaker, Config, ConfigError, Listener, MockClock, Outcome, Permit, State, Transition,
};

use crate::report::{Report, StateTimes, TransitionRecord};
use crate::series::Series;
use crate::trace::{Answer, Event, TraceError};

/// The most transitions kept per configuration for the listing and the
/// picture; the counts and times stay exact beyond it.
pub const MAX_TRANSITIONS: usize = 100_000;

/// How the replay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The most calls in flight (admitted, outcome not yet due) per
    /// configuration: the pending-outcome heap never grows past it.
    pub max_in_flight: usize,
    /// Whether to keep the per-second series the picture needs.
    pub series: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_in_flight: 1_000_000,
            series: false,
        }
    }
}

/// Why a replay stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayError {
    /// A configuration the core refuses (index, error).
    Config(usize, ConfigError),
    /// A line of the trace that cannot be replayed.
    Trace(TraceError),
    /// More calls in flight than [`Options::max_in_flight`] at this time (ns).
    InFlight {
        /// When, in ns since the start of the trace.
        at_ns: u64,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Config(_, e) => write!(f, "{e}"),
            ReplayError::Trace(e) => write!(f, "{e}"),
            ReplayError::InFlight { at_ns, limit } => write!(
                f,
                "more than {limit} calls in flight at {} ms (latencies long for the rate?); \
                 raise --max-in-flight to allow more memory",
                at_ns / 1_000_000
            ),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<TraceError> for ReplayError {
    fn from(e: TraceError) -> ReplayError {
        ReplayError::Trace(e)
    }
}

/// What the core's listener hears, folded as it comes: exact sums, and the
/// first [`MAX_TRANSITIONS`] transitions themselves.
#[derive(Debug, Default)]
struct Timeline {
    transitions: Vec<TransitionRecord>,
    dropped: u64,
    trips: u64,
    first_trip_ns: Option<u64>,
    /// When the current state began (0: Passing from the start of the trace).
    since_ns: u64,
    state: Option<State>,
    /// Time spent in each state before `since_ns`, indexed by `State as usize`.
    spent_ns: [u64; 3],
    /// When the breaker last entered Passing after a trip.
    passing_again_ns: Option<u64>,
}

/// The listener: hears every transition of one breaker.
#[derive(Debug, Default)]
struct Recorder(RefCell<Timeline>);

impl Listener for Recorder {
    fn on_transition(&self, t: Transition) {
        let mut tl = self.0.borrow_mut();
        let at = t.at.as_nanos();
        tl.spent_ns[t.from as usize] += at.saturating_sub(tl.since_ns);
        tl.since_ns = at;
        tl.state = Some(t.to);
        match t.to {
            State::Broken => {
                tl.trips += 1;
                tl.first_trip_ns.get_or_insert(at);
            }
            State::Passing => tl.passing_again_ns = Some(at),
            State::Recovering => {}
        }
        if tl.transitions.len() < MAX_TRANSITIONS {
            tl.transitions.push(TransitionRecord::new(at, t.from, t.to));
        } else {
            tl.dropped += 1;
        }
    }
}

type Breaker<'c> = CircuitBreaker<&'c MockClock, 10, Recorder>;

/// An admitted call whose outcome is due later.
struct Pending<'b, 'c> {
    due_ns: u64,
    /// Admission order: outcomes due at the same instant are recorded in it.
    seq: u64,
    outcome: Outcome,
    permit: Permit<'b, &'c MockClock, 10, Recorder>,
}

impl PartialEq for Pending<'_, '_> {
    fn eq(&self, other: &Self) -> bool {
        (self.due_ns, self.seq) == (other.due_ns, other.seq)
    }
}

impl Eq for Pending<'_, '_> {}

impl PartialOrd for Pending<'_, '_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Reversed, so the `BinaryHeap` (a max-heap) pops the earliest first.
impl Ord for Pending<'_, '_> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_ns, other.seq).cmp(&(self.due_ns, self.seq))
    }
}

/// One configuration's breaker, clock and tallies.
struct Sim<'b, 'c> {
    breaker: &'b Breaker<'c>,
    clock: &'c MockClock,
    pending: BinaryHeap<Pending<'b, 'c>>,
    seq: u64,
    admitted: u64,
    rejected: u64,
    admitted_failures: u64,
    series: Option<Series>,
}

impl<'b, 'c> Sim<'b, 'c> {
    fn at(&mut self, ns: u64) {
        self.clock.set(Duration::from_nanos(ns));
    }

    /// Records every outcome due at or before `until_ns`, in time order.
    /// An outcome due at the same instant as a new call is recorded first:
    /// that call finished before the next one asked.
    fn settle(&mut self, until_ns: u64) {
        while self.pending.peek().is_some_and(|p| p.due_ns <= until_ns) {
            let Some(p) = self.pending.pop() else { break };
            self.at(p.due_ns);
            self.sample(p.due_ns);
            p.permit.record(p.outcome);
            self.sample(p.due_ns);
        }
    }

    fn sample(&mut self, now_ns: u64) {
        if let Some(series) = &mut self.series {
            let m = self.breaker.metrics();
            let ratio = (m.window_calls > 0).then_some(m.error_ratio);
            series.ratio(now_ns, ratio);
        }
    }

    fn event(&mut self, e: Event, limit: usize) -> Result<(), ReplayError> {
        self.settle(e.at_ns);
        self.at(e.at_ns);
        let outcome = match e.answer {
            Answer::Ok => Outcome::Success,
            Answer::Err => Outcome::Failure,
            Answer::Ignore => Outcome::Ignored,
        };
        let admitted = match self.breaker.try_acquire() {
            Ok(permit) => {
                self.admitted += 1;
                if e.answer == Answer::Err {
                    self.admitted_failures += 1;
                }
                if e.latency_ns == 0 {
                    self.sample(e.at_ns);
                    permit.record(outcome);
                    self.sample(e.at_ns);
                } else {
                    if self.pending.len() >= limit {
                        return Err(ReplayError::InFlight {
                            at_ns: e.at_ns,
                            limit,
                        });
                    }
                    self.seq += 1;
                    self.pending.push(Pending {
                        due_ns: e.at_ns + e.latency_ns,
                        seq: self.seq,
                        outcome,
                        permit,
                    });
                }
                true
            }
            Err(_) => {
                self.rejected += 1;
                false
            }
        };
        if let Some(series) = &mut self.series {
            series.call(e.at_ns, admitted);
        }
        Ok(())
    }
}

/// What the trace itself says, the same for every configuration.
#[derive(Debug, Default, Clone, Copy)]
struct TraceFacts {
    events: u64,
    failures: u64,
    first_failure_ns: Option<u64>,
    last_failure_ns: Option<u64>,
    end_ns: u64,
}

/// Replays `events` through one breaker per configuration, side by side, in
/// one pass: the events are read once and never stored.
///
/// Each configuration gets a `CircuitBreaker` (10 buckets) on its own
/// `MockClock`. For each event the clock is set to its time, outcomes that
/// are due by then are recorded (earliest first; ties in admission order),
/// then the call asks for admission; an admitted call's outcome is recorded
/// at once, or `latency` later from a min-heap of pending outcomes holding at
/// most [`Options::max_in_flight`] calls. At the end the pending outcomes are
/// recorded and the state is read at the last instant, so a Broken period
/// whose deadline passed is closed as the core dates it.
///
/// # Errors
///
/// The first invalid configuration (as the core reports it), the first bad
/// line of the trace, or too many calls in flight.
pub fn replay<I>(
    events: I,
    configs: &[Config],
    options: Options,
) -> Result<Vec<Report>, ReplayError>
where
    I: IntoIterator<Item = Result<Event, TraceError>>,
{
    let clocks: Vec<MockClock> = configs.iter().map(|_| MockClock::new()).collect();
    let mut breakers = Vec::with_capacity(configs.len());
    for (i, (config, clock)) in configs.iter().zip(&clocks).enumerate() {
        let breaker: Breaker<'_> =
            CircuitBreaker::try_with_listener(*config, clock, Recorder::default())
                .map_err(|e| ReplayError::Config(i, e))?;
        // Start it (in Passing) at the trace's zero, so passing_time counts from there.
        let _ = breaker.state();
        breakers.push(breaker);
    }
    let mut sims: Vec<Sim<'_, '_>> = breakers
        .iter()
        .zip(&clocks)
        .map(|(breaker, clock)| Sim {
            breaker,
            clock,
            pending: BinaryHeap::new(),
            seq: 0,
            admitted: 0,
            rejected: 0,
            admitted_failures: 0,
            series: options.series.then(Series::new),
        })
        .collect();

    let mut facts = TraceFacts::default();
    for event in events {
        let event = event?;
        facts.events += 1;
        let done_ns = event.at_ns + event.latency_ns;
        facts.end_ns = facts.end_ns.max(done_ns);
        if event.answer == Answer::Err {
            facts.failures += 1;
            // Outcomes are due out of line order when latencies differ.
            facts.first_failure_ns = Some(
                facts
                    .first_failure_ns
                    .map_or(done_ns, |t: u64| t.min(done_ns)),
            );
            facts.last_failure_ns = Some(
                facts
                    .last_failure_ns
                    .map_or(done_ns, |t: u64| t.max(done_ns)),
            );
        }
        for sim in &mut sims {
            sim.event(event, options.max_in_flight)?;
        }
    }

    Ok(sims
        .into_iter()
        .zip(configs)
        .map(|(mut sim, config)| {
            sim.settle(u64::MAX);
            sim.at(facts.end_ns);
            let _ = sim.breaker.state();
            finish(sim, *config, facts)
        })
        .collect())
}

fn finish(sim: Sim<'_, '_>, config: Config, facts: TraceFacts) -> Report {
    let metrics = sim.breaker.metrics();
    let tl = sim.breaker.listener().0.borrow();
    let state = tl.state.unwrap_or(State::Passing);
    let mut spent = tl.spent_ns;
    spent[state as usize] += facts.end_ns.saturating_sub(tl.since_ns);
    let ms = |ns: u64| ns as f64 / 1e6;
    // Back to Passing for good: the final Passing began at `passing_again`;
    // zero if it began before the last failure (that failure did not trip it).
    let recovered_ns = match (state, facts.last_failure_ns) {
        (State::Passing, Some(last)) => {
            Some(tl.passing_again_ns.map_or(0, |p| p.saturating_sub(last)))
        }
        _ => None,
    };
    Report {
        config,
        events: facts.events,
        failures_in_trace: facts.failures,
        admitted: sim.admitted,
        rejected: sim.rejected,
        admitted_failures: sim.admitted_failures,
        failures_recorded: metrics.failures,
        late: metrics.late,
        trips: metrics.trips,
        first_failure_at_ms: facts.first_failure_ns.map(ms),
        first_trip_at_ms: tl.first_trip_ns.map(ms),
        first_failure_to_trip_ms: match (facts.first_failure_ns, tl.first_trip_ns) {
            (Some(f), Some(t)) => Some(ms(t.saturating_sub(f))),
            _ => None,
        },
        last_failure_at_ms: facts.last_failure_ns.map(ms),
        last_failure_to_passing_ms: recovered_ns.map(ms),
        time_in_state_ms: StateTimes {
            passing: ms(spent[State::Passing as usize]),
            broken: ms(spent[State::Broken as usize]),
            recovering: ms(spent[State::Recovering as usize]),
        },
        end_ms: ms(facts.end_ns),
        final_state: state.to_string(),
        listener_trips: tl.trips,
        transitions: tl.transitions.clone(),
        transitions_dropped: tl.dropped,
        series: sim.series,
    }
}
