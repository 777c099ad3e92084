#![doc = include_str!("../README.md")]

mod config;
mod fleet;
mod member;
mod view;
mod wire;

pub use breaker_core::Cause;
pub use config::{ConfigError, FleetConfig, Quorum};
pub use fleet::{Fleet, FleetListener, FleetStats, Status};
