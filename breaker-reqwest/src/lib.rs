#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod middleware;

pub use breaker_core::{CircuitBroken, Config, ConfigError};
pub use breaker_tokio::http::StatusPolicy;
pub use middleware::{BreakerMiddleware, circuit_broken, host_and_port};
