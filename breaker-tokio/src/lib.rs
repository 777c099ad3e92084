#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod breaker;
mod call;
mod clock;
#[cfg(feature = "tower")]
pub mod tower;

pub use breaker::{CircuitBreaker, new, try_new, try_with_buckets, with_buckets};
pub use call::{call, call_with, call_with_timeout, ready};
pub use clock::TokioClock;

pub use breaker_core::{
    CircuitBroken, Classify, Clock, Config, ConfigError, DefaultClassifier, Error, FailureIf,
    Metrics, MockClock, Nanos, Outcome, OwnedPermit, Permit, State, failure_if,
};
