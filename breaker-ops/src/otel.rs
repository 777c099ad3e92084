//! OpenTelemetry export: observable instruments whose callbacks read every
//! registered breaker's snapshot when the SDK collects.

use std::fmt;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};

use crate::figures::{FAMILIES, Family, GAUGES, GROUP_FAMILIES, Kind, SourceUp, subjects};
use crate::registry::{Registry, Snapshot};

/// The OpenTelemetry attribute for a Prometheus label: namespaced.
fn attribute(label: &'static str) -> &'static str {
    match label {
        "state" => "breaker.state",
        "outcome" => "breaker.outcome",
        "result" => "breaker.result",
        "mode" => "breaker.mode",
        "breaker" => "breaker.name",
        "key" => "breaker.key",
        other => other,
    }
}

/// Builds the instrument for `family`, whose series `observe` gives (their
/// values and attributes) when the SDK collects.
fn instrument<S>(
    meter: &Meter,
    family: &Family<S>,
    observe: impl Fn(&mut dyn FnMut(u64, &[KeyValue])) + Send + Sync + 'static,
    counters: &mut Vec<ObservableCounter<u64>>,
    gauges: &mut Vec<ObservableGauge<i64>>,
) {
    match family.kind {
        Kind::Counter => counters.push(
            meter
                .u64_observable_counter(family.otel)
                .with_description(family.help)
                .with_unit(family.unit)
                .with_callback(move |o| observe(&mut |v, a| o.observe(v, a)))
                .build(),
        ),
        Kind::StateSet | Kind::Gauge => gauges.push(
            meter
                .i64_observable_gauge(family.otel)
                .with_description(family.help)
                .with_callback(move |o| {
                    observe(&mut |v, a| o.observe(i64::try_from(v).unwrap_or(i64::MAX), a))
                })
                .build(),
        ),
    }
}

/// The instruments [`register_instruments`] made. Keep it alive as long as
/// you export: it holds their handles.
pub struct Instruments {
    _counters: Vec<ObservableCounter<u64>>,
    _states: Vec<ObservableGauge<i64>>,
    _gauges: Vec<ObservableGauge<f64>>,
}

impl fmt::Debug for Instruments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instruments").finish_non_exhaustive()
    }
}

/// Registers on `meter` the observable instruments in the
/// [crate docs](crate#opentelemetry) for every breaker in `registry` (now
/// and registered later), each attributed with `breaker.name`, and for the
/// members of its [groups](crate::Group), each with `breaker.name` (the
/// group's) and `breaker.key`.
///
/// Their callbacks read [`metrics`](breaker_core::CircuitBreaker::metrics)
/// snapshots when the SDK collects (on its reader's interval), so calls
/// through the breakers pay nothing for it. Only the API crate is used: the
/// application picks the SDK, exporter and interval.
///
/// # Examples
///
/// ```
/// use breaker_ops::Registry;
///
/// let breakers = Registry::new();
/// let meter = opentelemetry::global::meter("my-service");
/// let _instruments = breaker_ops::register_instruments(&meter, breakers.clone());
/// ```
pub fn register_instruments(meter: &Meter, registry: Registry) -> Instruments {
    // Every callback reads the snapshots it needs itself: collections are
    // seconds apart, and a breaker's snapshot is a few atomic loads.
    let each = move |registry: &Registry, f: &mut dyn FnMut(Vec<KeyValue>, &Snapshot)| {
        for subject in subjects(registry).0 {
            let attributes = subject
                .labels()
                .into_iter()
                .map(|(k, v)| KeyValue::new(attribute(k), v.to_owned()))
                .collect();
            f(attributes, &subject.snapshot);
        }
    };

    let mut counters = Vec::new();
    let mut states = Vec::new();
    for family in &FAMILIES {
        let r = registry.clone();
        let series = family.series;
        // Every series of every breaker: its attributes and value.
        let observe = move |f: &mut dyn FnMut(u64, &[KeyValue])| {
            each(&r, &mut |subject, s| {
                for (labels, value) in series(s) {
                    let mut attributes = subject.clone();
                    attributes.extend(labels.iter().map(|&(k, v)| KeyValue::new(attribute(k), v)));
                    f(value, &attributes);
                }
            })
        };
        instrument(meter, family, observe, &mut counters, &mut states);
    }

    let r = registry.clone();
    states.push(
        meter
            .i64_observable_gauge(SourceUp::OTEL)
            .with_description(SourceUp::HELP)
            .with_callback(move |observer| {
                for breaker in r.breakers() {
                    for (source, health) in breaker.health() {
                        let attributes = [
                            KeyValue::new("breaker.name", breaker.name().to_owned()),
                            KeyValue::new("breaker.source", source),
                        ];
                        observer.observe(i64::from(health.is_up()), &attributes);
                    }
                }
            })
            .build(),
    );

    for family in &GROUP_FAMILIES {
        let r = registry.clone();
        let value = family.series;
        // Each group that gives this figure: its name and value.
        let observe = move |f: &mut dyn FnMut(u64, &[KeyValue])| {
            for group in subjects(&r).1 {
                if let Some(v) = value(&group) {
                    f(v, &[KeyValue::new("breaker.name", group.name)]);
                }
            }
        };
        instrument(meter, family, observe, &mut counters, &mut states);
    }

    let gauges = GAUGES
        .iter()
        .map(|gauge| {
            let r = registry.clone();
            let value = gauge.value;
            let builder = meter
                .f64_observable_gauge(gauge.otel)
                .with_description(gauge.help)
                .with_callback(move |observer| {
                    each(&r, &mut |subject, s| {
                        if let Some(v) = value(s) {
                            observer.observe(v, &subject);
                        }
                    })
                });
            if gauge.seconds {
                builder.with_unit("s")
            } else {
                builder
            }
            .build()
        })
        .collect();

    Instruments {
        _counters: counters,
        _states: states,
        _gauges: gauges,
    }
}
