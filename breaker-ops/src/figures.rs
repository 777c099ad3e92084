//! The figures both exporters publish, in one table each, so that the
//! Prometheus families and the OpenTelemetry instruments cannot drift apart.

use breaker_core::{Mode, State};

use crate::group::GroupStats;
use crate::registry::{Registry, Snapshot};

/// How a family is exported.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A monotonic count since the breaker (or the group's map) was created.
    Counter,
    /// One 0/1 series per possible value, 1 for the current one.
    StateSet,
    /// A whole number now.
    Gauge,
}

/// Labels of one series besides `breaker`: (Prometheus label, value).
pub(crate) type Labels = Vec<(&'static str, &'static str)>;

/// A family of series per breaker, each told apart by its labels (`Series`
/// gives them from a snapshot); or, as [`GroupFamily`], one series per group
/// (`Series` gives its value from the group's own figures).
pub(crate) struct Family<Series = fn(&Snapshot) -> Vec<(Labels, u64)>> {
    /// The Prometheus family's name (counters get `_total` from the encoder).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) prometheus: &'static str,
    /// The OpenTelemetry instrument's name.
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) otel: &'static str,
    /// The OpenTelemetry unit (counters only).
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) unit: &'static str,
    pub(crate) kind: Kind,
    pub(crate) help: &'static str,
    pub(crate) series: Series,
}

/// A figure of a group's own (from its reading): one series per group,
/// labelled with the group's name only; none for a group whose source does
/// not give that figure (`Series` gives `None`).
pub(crate) type GroupFamily = Family<fn(&GroupReading) -> Option<u64>>;

pub(crate) const FAMILIES: [Family; 5] = [
    Family {
        prometheus: "breaker_calls",
        otel: "breaker.calls",
        unit: "{call}",
        kind: Kind::Counter,
        help: "Admission attempts, by the state they met and whether they were admitted",
        // Every attempt is in exactly one of these series.
        series: |s| {
            let m = &s.metrics;
            vec![
                (
                    vec![("state", "passing"), ("outcome", "admitted")],
                    m.call_passing,
                ),
                (
                    vec![("state", "broken"), ("outcome", "rejected")],
                    m.call_broken,
                ),
                (
                    vec![("state", "recovering"), ("outcome", "admitted")],
                    m.call_recovering_ok,
                ),
                (
                    vec![("state", "recovering"), ("outcome", "rejected")],
                    m.call_recovering_failed,
                ),
            ]
        },
    },
    Family {
        prometheus: "breaker_results",
        otel: "breaker.results",
        unit: "{call}",
        kind: Kind::Counter,
        help: "Outcomes of admitted calls: success, failure, ignored, or late (arrived after the state it was admitted in had ended)",
        series: |s| {
            let m = &s.metrics;
            vec![
                (vec![("result", "success")], m.successes),
                (vec![("result", "failure")], m.failures),
                (vec![("result", "ignored")], m.ignored),
                (vec![("result", "late")], m.late),
            ]
        },
    },
    Family {
        prometheus: "breaker_trips",
        otel: "breaker.trips",
        unit: "{trip}",
        kind: Kind::Counter,
        help: "Entries into Broken made by the breaker itself (not an operator's force-open)",
        series: |s| vec![(vec![], s.metrics.trips)],
    },
    Family {
        prometheus: "breaker_state",
        otel: "breaker.state",
        unit: "",
        kind: Kind::StateSet,
        help: "The current state: 1 for the state the breaker is in, 0 for the others",
        series: |s| {
            STATES
                .iter()
                .map(|&state| {
                    (
                        vec![("state", state_label(state))],
                        u64::from(s.metrics.state == state),
                    )
                })
                .collect()
        },
    },
    Family {
        prometheus: "breaker_mode",
        otel: "breaker.mode",
        unit: "",
        kind: Kind::StateSet,
        help: "Who decides the state: 1 for the current mode (automatic, forced_open, disabled), 0 for the others",
        series: |s| {
            MODES
                .iter()
                .map(|&mode| {
                    (
                        vec![("mode", mode_label(mode))],
                        u64::from(s.metrics.mode == mode),
                    )
                })
                .collect()
        },
    },
];

const STATES: [State; 3] = [State::Passing, State::Broken, State::Recovering];
const MODES: [Mode; 3] = [Mode::Automatic, Mode::ForcedOpen, Mode::Disabled];

/// A figure with one value per breaker.
pub(crate) struct Gauge {
    /// The Prometheus family's name, before the unit suffix.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) prometheus: &'static str,
    /// The OpenTelemetry instrument's name.
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) otel: &'static str,
    /// In seconds (else a plain number).
    pub(crate) seconds: bool,
    pub(crate) help: &'static str,
    /// The value; `None` leaves this breaker out.
    pub(crate) value: fn(&Snapshot) -> Option<f64>,
}

pub(crate) const GAUGES: [Gauge; 8] = [
    Gauge {
        prometheus: "breaker_window_calls",
        otel: "breaker.window.calls",
        seconds: false,
        help: "Calls (successes and failures) recorded in the current window",
        value: |s| Some(s.metrics.window_calls as f64),
    },
    Gauge {
        prometheus: "breaker_window_failures",
        otel: "breaker.window.failures",
        seconds: false,
        help: "Failures recorded in the current window",
        value: |s| Some(s.metrics.window_failures as f64),
    },
    Gauge {
        prometheus: "breaker_error_ratio",
        otel: "breaker.error_ratio",
        seconds: false,
        help: "Failures / calls in the current window (0 when empty)",
        value: |s| Some(f32_as_written(s.metrics.error_ratio)),
    },
    Gauge {
        prometheus: "breaker_error_ratio_threshold",
        otel: "breaker.error_ratio.threshold",
        seconds: false,
        help: "The configured error_ratio at or above which the breaker breaks",
        value: |s| Some(f32_as_written(s.config.error_ratio)),
    },
    Gauge {
        prometheus: "breaker_min_calls",
        otel: "breaker.min_calls",
        seconds: false,
        help: "The configured fewest calls in the window for a verdict",
        value: |s| Some(f64::from(s.config.min_calls)),
    },
    Gauge {
        prometheus: "breaker_window",
        otel: "breaker.window",
        seconds: true,
        help: "The configured length of the sliding window",
        value: |s| Some(s.config.window.as_secs_f64()),
    },
    Gauge {
        prometheus: "breaker_retry_after",
        otel: "breaker.retry_after",
        seconds: true,
        help: "Time left until Recovering; 0 unless Broken (and 0 when forced open)",
        value: |s| Some(s.metrics.retry_after.as_secs_f64()),
    },
    Gauge {
        prometheus: "breaker_time_in_state",
        otel: "breaker.time_in_state",
        seconds: true,
        help: "Time since the current state began (breakers built with OpsListener only)",
        value: |s| s.time_in_state.map(|d| d.as_secs_f64()),
    },
];

/// An `f32` as the decimal it prints as (`0.2`, not `0.20000000298…`): the
/// value the user wrote in the config, or the nearest short one.
pub(crate) fn f32_as_written(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// The label value for a state.
pub(crate) fn state_label(state: State) -> &'static str {
    match state {
        State::Passing => "passing",
        State::Broken => "broken",
        State::Recovering => "recovering",
    }
}

/// The label value for a mode.
pub(crate) fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Automatic => "automatic",
        Mode::ForcedOpen => "forced_open",
        Mode::Disabled => "disabled",
    }
}

/// The sources' gauge, per breaker and source: 1 up, 0 down. Outside the
/// tables above because its series come from
/// [`Breaker::health`](crate::Breaker::health), not from a snapshot.
pub(crate) struct SourceUp;

impl SourceUp {
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) const PROMETHEUS: &'static str = "breaker_source_up";
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) const OTEL: &'static str = "breaker.source.up";
    pub(crate) const HELP: &'static str = "1 if the source (something the breaker relies on besides its dependency, e.g. its fleet's Redis link) is up, 0 if down";
}

pub(crate) const GROUP_FAMILIES: [GroupFamily; 6] = [
    Family {
        prometheus: "breaker_group_hidden",
        otel: "breaker.group.hidden",
        unit: "",
        kind: Kind::Gauge,
        help: "Members of a breaker group (e.g. keyed breakers) not exported at this reading: over the group's limit, or displaying like another",
        series: |g| Some(g.hidden as u64),
    },
    Family {
        prometheus: "breaker_group_keys",
        otel: "breaker.group.keys",
        unit: "",
        kind: Kind::Gauge,
        help: "Keys in a breaker group's map (e.g. keyed breakers) now",
        series: |g| g.stats.map(|s| s.keys as u64),
    },
    Family {
        prometheus: "breaker_group_capacity",
        otel: "breaker.group.capacity",
        unit: "",
        kind: Kind::Gauge,
        help: "The most keys a breaker group's map holds; when full, new keys evict idle ones or share the overflow breaker",
        series: |g| g.stats.map(|s| s.capacity as u64),
    },
    Family {
        prometheus: "breaker_group_evictions",
        otel: "breaker.group.evictions",
        unit: "{key}",
        kind: Kind::Counter,
        help: "Keys evicted from a breaker group's full map to make room for new ones",
        series: |g| g.stats.map(|s| s.evictions),
    },
    Family {
        prometheus: "breaker_group_overflow_lookups",
        otel: "breaker.group.overflow_lookups",
        unit: "{lookup}",
        kind: Kind::Counter,
        help: "Lookups of a key not in a breaker group's full map, answered with the shared overflow breaker (nothing could be evicted)",
        series: |g| g.stats.map(|s| s.overflow_lookups),
    },
    Family {
        prometheus: "breaker_group_sweeps",
        otel: "breaker.group.sweeps",
        unit: "{sweep}",
        kind: Kind::Counter,
        help: "Sweeps of a breaker group's full map for idle keys to evict",
        series: |g| g.stats.map(|s| s.sweeps),
    },
];

/// A group at one reading, for the figures of its own
/// ([`GROUP_FAMILIES`]).
pub(crate) struct GroupReading {
    pub(crate) name: String,
    pub(crate) hidden: usize,
    pub(crate) stats: Option<GroupStats>,
}

/// One exported breaker: a registered one, or a member of a group (with its
/// key), and its figures.
pub(crate) struct Subject {
    pub(crate) breaker: String,
    pub(crate) key: Option<String>,
    pub(crate) snapshot: Snapshot,
}

impl Subject {
    /// What tells its series apart from other breakers': `breaker`, and
    /// `key` for a group's member (Prometheus label names).
    pub(crate) fn labels(&self) -> Vec<(&'static str, &str)> {
        let mut labels = vec![("breaker", self.breaker.as_str())];
        labels.extend(self.key.as_deref().map(|key| ("key", key)));
        labels
    }
}

/// Every breaker to export now, registered ones first, then each group's
/// members; and each group's own figures.
pub(crate) fn subjects(registry: &Registry) -> (Vec<Subject>, Vec<GroupReading>) {
    let mut subjects: Vec<Subject> = registry
        .breakers()
        .iter()
        .map(|b| Subject {
            breaker: b.name().to_owned(),
            key: None,
            snapshot: b.snapshot(),
        })
        .collect();
    let mut groups = Vec::new();
    for group in registry.groups() {
        let view = group.read();
        subjects.extend(view.members.into_iter().map(|m| Subject {
            breaker: group.name().to_owned(),
            key: Some(m.key),
            snapshot: m.snapshot,
        }));
        groups.push(GroupReading {
            name: group.name().to_owned(),
            hidden: view.hidden,
            stats: view.stats,
        });
    }
    (subjects, groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_values_read_as_written() {
        assert_eq!(f32_as_written(0.2), 0.2);
        assert_eq!(f32_as_written(1.0), 1.0);
        assert_eq!(f32_as_written(0.0), 0.0);
        assert_eq!(f32_as_written(1.0 / 3.0), 0.33333334);
    }

    #[test]
    fn labels_are_snake_case() {
        // (The families' series are checked value by value in tests/.)
        let states: Vec<_> = STATES.iter().map(|&s| state_label(s)).collect();
        assert_eq!(states, ["passing", "broken", "recovering"]);
        let modes: Vec<_> = MODES.iter().map(|&m| mode_label(m)).collect();
        assert_eq!(modes, ["automatic", "forced_open", "disabled"]);
    }
}
