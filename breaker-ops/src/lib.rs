#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod events;
#[cfg(any(feature = "prometheus", feature = "opentelemetry"))]
mod figures;
mod group;
mod health;
mod listener;
mod registry;

#[cfg(feature = "opentelemetry")]
mod otel;
#[cfg(feature = "prometheus")]
mod prometheus;
#[cfg(feature = "axum")]
mod router;

pub use events::{Event, Lagged, Transitions};
pub use group::{DEFAULT_GROUP_LIMIT, Group, GroupStats, GroupView, Member, Members, OVERFLOW_KEY};
pub use health::Health;
pub use listener::OpsListener;
pub use registry::{Breaker, RegisterError, Registry, Snapshot};

#[cfg(feature = "opentelemetry")]
pub use otel::{Instruments, register_instruments};
#[cfg(feature = "prometheus")]
pub use prometheus::PrometheusCollector;
#[cfg(feature = "axum")]
pub use router::OpsRouter;

/// Re-exported so that a user names the same core types as this crate.
pub use breaker_core;
