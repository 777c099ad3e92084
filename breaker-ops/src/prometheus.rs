//! Prometheus export: a `prometheus-client` collector that reads every
//! registered breaker's snapshot when it is scraped.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::figures::{FAMILIES, Family, GAUGES, GROUP_FAMILIES, Kind, SourceUp, subjects};
use crate::registry::Registry;

/// A [`Collector`] that writes the metric families in the
/// [crate docs](crate#prometheus) for every breaker in a [`Registry`], each
/// with the label `breaker="<name>"`, and for the members of its
/// [groups](crate::Group), each with `breaker="<group>"` and `key="<key>"`.
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
        let (subjects, groups) = subjects(&self.registry);

        for f in &FAMILIES {
            write(
                &mut encoder,
                f,
                subjects.iter().flat_map(|subject| {
                    (f.series)(&subject.snapshot)
                        .into_iter()
                        .map(|(series_labels, value)| {
                            let mut labels = subject.labels();
                            labels.extend(series_labels);
                            (labels, value)
                        })
                }),
            )?;
        }

        for gauge in GAUGES {
            let unit = gauge.seconds.then_some(Unit::Seconds);
            let mut family = encoder.encode_descriptor(
                gauge.prometheus,
                gauge.help,
                unit.as_ref(),
                MetricType::Gauge,
            )?;
            for subject in &subjects {
                if let Some(v) = (gauge.value)(&subject.snapshot) {
                    family.encode_family(&subject.labels())?.encode_gauge(&v)?;
                }
            }
        }

        for f in &GROUP_FAMILIES {
            write(
                &mut encoder,
                f,
                groups.iter().filter_map(|group| {
                    Some((vec![("breaker", group.name.as_str())], (f.series)(group)?))
                }),
            )?;
        }

        // Sources are read after the snapshots, outside the figures table:
        // their series are per source as well as per breaker.
        let mut family = encoder.encode_descriptor(
            SourceUp::PROMETHEUS,
            SourceUp::HELP,
            None,
            MetricType::Gauge,
        )?;
        for breaker in self.registry.breakers() {
            for (source, health) in breaker.health() {
                family
                    .encode_family(&[("breaker", breaker.name()), ("source", source)])?
                    .encode_gauge(&i64::from(health.is_up()))?;
            }
        }
        Ok(())
    }
}

/// Writes the family `f` with these series: their labels and values.
fn write<'a, S>(
    encoder: &mut DescriptorEncoder<'_>,
    f: &Family<S>,
    series: impl Iterator<Item = (Vec<(&'static str, &'a str)>, u64)>,
) -> Result<(), std::fmt::Error> {
    let kind = match f.kind {
        Kind::Counter => MetricType::Counter,
        // A state set is written the way Prometheus exporters write enums:
        // a gauge series per value (prometheus-client has no StateSet yet).
        Kind::StateSet | Kind::Gauge => MetricType::Gauge,
    };
    let mut family = encoder.encode_descriptor(f.prometheus, f.help, None, kind)?;
    for (labels, value) in series {
        let mut series = family.encode_family(&labels)?;
        match f.kind {
            Kind::Counter => series.encode_counter::<NoLabelSet, _, u64>(&value, None)?,
            Kind::StateSet | Kind::Gauge => series.encode_gauge(&value)?,
        }
    }
    Ok(())
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
