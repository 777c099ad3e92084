//! Prometheus export: a `prometheus-client` collector that reads every
//! registered breaker's snapshot when it is scraped.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::figures::{CALLS, GAUGES, MODES, RESULTS, STATES, mode_label, state_label};
use crate::registry::{Registry, Snapshot};

/// A [`Collector`] that writes the metric families in the
/// [crate docs](crate#prometheus) for every breaker in a [`Registry`], each
/// with the label `breaker="<name>"`.
///
/// It reads [`metrics`](breaker_core::CircuitBreaker::metrics) snapshots at
/// scrape time, so calls through the breakers pay nothing for it. Register it
/// with your own `prometheus_client` registry, or let the
/// [`OpsRouter`](crate::OpsRouter)'s `/metrics` serve it.
///
/// # Examples
///
/// ```
/// use breaker_ops::{PrometheusCollector, Registry};
///
/// let breakers = Registry::new();
/// let mut metrics = prometheus_client::registry::Registry::default();
/// metrics.register_collector(Box::new(PrometheusCollector::new(breakers.clone())));
///
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &metrics).unwrap();
/// assert!(text.ends_with("# EOF\n"));
/// ```
#[derive(Debug, Clone)]
pub struct PrometheusCollector {
    registry: Registry,
}

impl PrometheusCollector {
    /// A collector for the breakers in `registry`, now and registered later.
    pub fn new(registry: Registry) -> PrometheusCollector {
        PrometheusCollector { registry }
    }
}

impl Collector for PrometheusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snapshots: Vec<(String, Snapshot)> = self
            .registry
            .breakers()
            .iter()
            .map(|b| (b.name().to_owned(), b.snapshot()))
            .collect();

        let mut family = encoder.encode_descriptor(
            "breaker_calls",
            "Admission attempts, by the state they met and whether they were admitted",
            None,
            MetricType::Counter,
        )?;
        for (name, s) in &snapshots {
            for (state, outcome, value) in CALLS {
                let labels = [
                    ("breaker", name.as_str()),
                    ("state", state_label(state)),
                    ("outcome", outcome),
                ];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&value(s), None)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "breaker_results",
            "Outcomes of admitted calls: success, failure, ignored, or late (arrived after the state it was admitted in had ended)",
            None,
            MetricType::Counter,
        )?;
        for (name, s) in &snapshots {
            for (result, value) in RESULTS {
                let labels = [("breaker", name.as_str()), ("result", result)];
                family
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&value(s), None)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "breaker_trips",
            "Entries into Broken made by the breaker itself (not an operator's force-open)",
            None,
            MetricType::Counter,
        )?;
        for (name, s) in &snapshots {
            family
                .encode_family(&[("breaker", name.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(&s.metrics.trips, None)?;
        }

        // A state set, as Prometheus writes one: one series per state, 1 for
        // the current one and 0 for the others.
        let mut family = encoder.encode_descriptor(
            "breaker_state",
            "The current state: 1 for the state the breaker is in, 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        for (name, s) in &snapshots {
            for state in STATES {
                let labels = [("breaker", name.as_str()), ("state", state_label(state))];
                family
                    .encode_family(&labels)?
                    .encode_gauge(&i64::from(s.metrics.state == state))?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "breaker_mode",
            "Who decides the state: 1 for the current mode (automatic, forced_open, disabled), 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        for (name, s) in &snapshots {
            for mode in MODES {
                let labels = [("breaker", name.as_str()), ("mode", mode_label(mode))];
                family
                    .encode_family(&labels)?
                    .encode_gauge(&i64::from(s.metrics.mode == mode))?;
            }
        }

        for gauge in GAUGES {
            let unit = gauge.seconds.then_some(Unit::Seconds);
            let mut family = encoder.encode_descriptor(
                gauge.prometheus,
                gauge.help,
                unit.as_ref(),
                MetricType::Gauge,
            )?;
            for (name, s) in &snapshots {
                if let Some(v) = (gauge.value)(s) {
                    family
                        .encode_family(&[("breaker", name.as_str())])?
                        .encode_gauge(&v)?;
                }
            }
        }
        Ok(())
    }
}

/// The whole Prometheus text for `registry`: OpenMetrics 1.0 when
/// `openmetrics` (what a Prometheus server asks for), else the classic
/// Prometheus text format 0.0.4. Returns the body and its content type.
#[cfg(feature = "axum")]
pub(crate) fn render(
    metrics: &prometheus_client::registry::Registry,
    openmetrics: bool,
) -> Result<(String, &'static str), std::fmt::Error> {
    use prometheus_client::encoding::{prometheus_text, text};
    let mut body = String::new();
    if openmetrics {
        text::encode(&mut body, metrics)?;
        Ok((
            body,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ))
    } else {
        prometheus_text::encode(&mut body, metrics)?;
        Ok((body, prometheus_text::CONTENT_TYPE))
    }
}
