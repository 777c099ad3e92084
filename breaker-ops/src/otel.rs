//! OpenTelemetry export: observable instruments whose callbacks read every
//! registered breaker's snapshot when the SDK collects.

use std::fmt;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};

use crate::figures::{CALLS, GAUGES, MODES, RESULTS, STATES, mode_label, state_label};
use crate::registry::{Registry, Snapshot};

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
/// and registered later), each attributed with `breaker.name`.
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
    let each = move |registry: &Registry, f: &mut dyn FnMut(KeyValue, &Snapshot)| {
        for breaker in registry.breakers() {
            f(
                KeyValue::new("breaker.name", breaker.name().to_owned()),
                &breaker.snapshot(),
            );
        }
    };

    let mut counters = Vec::new();
    let r = registry.clone();
    counters.push(
        meter
            .u64_observable_counter("breaker.calls")
            .with_description(
                "Admission attempts, by the state they met and whether they were admitted",
            )
            .with_unit("{call}")
            .with_callback(move |observer| {
                each(&r, &mut |name, s| {
                    for (state, outcome, value) in CALLS {
                        observer.observe(
                            value(s),
                            &[
                                name.clone(),
                                KeyValue::new("breaker.state", state_label(state)),
                                KeyValue::new("breaker.outcome", outcome),
                            ],
                        );
                    }
                })
            })
            .build(),
    );
    let r = registry.clone();
    counters.push(
        meter
            .u64_observable_counter("breaker.results")
            .with_description("Outcomes of admitted calls: success, failure, ignored, late")
            .with_unit("{call}")
            .with_callback(move |observer| {
                each(&r, &mut |name, s| {
                    for (result, value) in RESULTS {
                        observer.observe(
                            value(s),
                            &[name.clone(), KeyValue::new("breaker.result", result)],
                        );
                    }
                })
            })
            .build(),
    );
    let r = registry.clone();
    counters.push(
        meter
            .u64_observable_counter("breaker.trips")
            .with_description("Entries into Broken made by the breaker itself")
            .with_unit("{trip}")
            .with_callback(move |observer| {
                each(&r, &mut |name, s| {
                    observer.observe(s.metrics.trips, &[name])
                })
            })
            .build(),
    );

    let mut states = Vec::new();
    let r = registry.clone();
    states.push(
        meter
            .i64_observable_gauge("breaker.state")
            .with_description("1 for the state the breaker is in, 0 for the others")
            .with_callback(move |observer| {
                each(&r, &mut |name, s| {
                    for state in STATES {
                        let attributes = [
                            name.clone(),
                            KeyValue::new("breaker.state", state_label(state)),
                        ];
                        observer.observe(i64::from(s.metrics.state == state), &attributes);
                    }
                })
            })
            .build(),
    );
    let r = registry.clone();
    states.push(
        meter
            .i64_observable_gauge("breaker.mode")
            .with_description(
                "1 for the current mode (automatic, forced_open, disabled), 0 for the others",
            )
            .with_callback(move |observer| {
                each(&r, &mut |name, s| {
                    for mode in MODES {
                        let attributes = [
                            name.clone(),
                            KeyValue::new("breaker.mode", mode_label(mode)),
                        ];
                        observer.observe(i64::from(s.metrics.mode == mode), &attributes);
                    }
                })
            })
            .build(),
    );

    let gauges = GAUGES
        .iter()
        .map(|gauge| {
            let r = registry.clone();
            let value = gauge.value;
            let builder = meter
                .f64_observable_gauge(gauge.otel)
                .with_description(gauge.help)
                .with_callback(move |observer| {
                    each(&r, &mut |name, s| {
                        if let Some(v) = value(s) {
                            observer.observe(v, &[name]);
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
