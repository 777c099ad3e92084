//! What a replay found, per configuration: a table for people, JSON for tools.

use std::fmt::Write as _;

use breaker_core::{Config, State};
use serde::Serialize;

use crate::series::Series;
use crate::settings::describe;

/// One transition, as the core's listener heard it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TransitionRecord {
    /// When the new state began, ms since the start of the trace
    /// (fractional when the instant is not a whole millisecond).
    pub at_ms: f64,
    /// The state before: `passing`, `broken` or `recovering`.
    pub from: &'static str,
    /// The state after.
    pub to: &'static str,
}

impl TransitionRecord {
    pub(crate) fn new(at_ns: u64, from: State, to: State) -> TransitionRecord {
        TransitionRecord {
            at_ms: at_ns as f64 / 1e6,
            from: name(from),
            to: name(to),
        }
    }
}

/// A state's name as the report and the picture print it.
pub(crate) fn name(s: State) -> &'static str {
    match s {
        State::Passing => "passing",
        State::Broken => "broken",
        State::Recovering => "recovering",
    }
}

/// Milliseconds spent in each state, from the start to the end of the trace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StateTimes {
    /// In Passing.
    pub passing: f64,
    /// In Broken.
    pub broken: f64,
    /// In Recovering.
    pub recovering: f64,
}

/// What one configuration did over the trace. Times are ms since the start
/// of the trace; a failure's time is when its outcome is due (`time_ms +
/// latency_ms`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The configuration replayed (printed as `config` in JSON).
    #[serde(serialize_with = "config_text")]
    pub config: Config,
    /// Calls in the trace.
    pub events: u64,
    /// Calls in the trace whose outcome is `err`.
    pub failures_in_trace: u64,
    /// Calls the breaker admitted.
    pub admitted: u64,
    /// Calls the breaker rejected (in Broken, or held back by the ramp).
    pub rejected: u64,
    /// Admitted calls whose outcome is `err`: failures that reached the
    /// dependency.
    pub admitted_failures: u64,
    /// Failures the breaker recorded (slow calls included, late ones not).
    pub failures_recorded: u64,
    /// Outcomes that arrived after their state had ended (not recorded).
    pub late: u64,
    /// Entries into Broken (the core's `metrics().trips`).
    pub trips: u64,
    /// The first failure in the trace.
    pub first_failure_at_ms: Option<f64>,
    /// The first trip.
    pub first_trip_at_ms: Option<f64>,
    /// From the first failure to the first trip.
    pub first_failure_to_trip_ms: Option<f64>,
    /// The last failure in the trace.
    pub last_failure_at_ms: Option<f64>,
    /// From the last failure to Passing for good: 0 if the breaker was
    /// Passing then and stayed so; `null` if it ends not Passing.
    pub last_failure_to_passing_ms: Option<f64>,
    /// Time in each state.
    pub time_in_state_ms: StateTimes,
    /// The end of the trace: its last call or outcome.
    pub end_ms: f64,
    /// The state at the end.
    pub final_state: String,
    /// Entries into Broken heard by the listener (always equals `trips`).
    #[serde(skip)]
    pub listener_trips: u64,
    /// Every transition, in order (the first 100 000).
    pub transitions: Vec<TransitionRecord>,
    /// Transitions past the first 100 000, counted but not listed.
    pub transitions_dropped: u64,
    /// The per-second series for the picture, when asked for.
    #[serde(skip)]
    pub series: Option<Series>,
}

fn config_text<S: serde::Serializer>(c: &Config, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&describe(c))
}

/// The table lists this many transitions; `--json` lists them all.
const TABLE_TRANSITIONS: usize = 12;

fn secs(ms: Option<f64>) -> String {
    ms.map_or_else(|| "-".into(), |ms| format!("{:.3} s", ms / 1e3))
}

impl Report {
    /// The table for configuration `label`.
    pub fn table(&self, label: &str) -> String {
        let mut s = String::new();
        let t = &self.time_in_state_ms;
        let share = |ms: f64| {
            if self.end_ms > 0.0 {
                format!("{:.3} s ({:.0}%)", ms / 1e3, 100.0 * ms / self.end_ms)
            } else {
                "0 s".into()
            }
        };
        let _ = writeln!(s, "{label}: {}", describe(&self.config));
        let rows: [(&str, String); 9] = [
            (
                "calls",
                format!(
                    "{} ({} failed in the trace)",
                    self.events, self.failures_in_trace
                ),
            ),
            ("admitted", self.admitted.to_string()),
            ("rejected", self.rejected.to_string()),
            (
                "failures reaching the dependency",
                self.admitted_failures.to_string(),
            ),
            (
                "trips",
                format!("{} (first at {})", self.trips, secs(self.first_trip_at_ms)),
            ),
            (
                "time passing / broken / recovering",
                format!(
                    "{} / {} / {}",
                    share(t.passing),
                    share(t.broken),
                    share(t.recovering)
                ),
            ),
            (
                "first failure -> first trip",
                secs(self.first_failure_to_trip_ms),
            ),
            (
                "last failure -> passing again",
                secs(self.last_failure_to_passing_ms),
            ),
            (
                "final state",
                format!("{} at {}", self.final_state, secs(Some(self.end_ms))),
            ),
        ];
        for (key, value) in rows {
            let _ = writeln!(s, "  {key:<36}{value}");
        }
        let _ = write!(s, "  {:<36}", "transitions");
        if self.transitions.is_empty() {
            s += "none";
        }
        for (i, t) in self.transitions.iter().take(TABLE_TRANSITIONS).enumerate() {
            if i > 0 {
                let _ = write!(s, "\n  {:<36}", "");
            }
            let _ = write!(s, "{:>10.3} s  {} -> {}", t.at_ms / 1e3, t.from, t.to);
        }
        let more = self.transitions.len().saturating_sub(TABLE_TRANSITIONS) as u64
            + self.transitions_dropped;
        if more > 0 {
            let _ = write!(s, "\n  {:<36}... and {more} more (--json lists them)", "");
        }
        s.push('\n');
        s
    }
}
