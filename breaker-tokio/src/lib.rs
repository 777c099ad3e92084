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

/// aiomisc's `cutout` decorator: `#[cutout(error_ratio = 0.2, window = "20s")]`
/// on a `fn` or `async fn` returning `Result` gives it its own `static`
/// breaker on this crate's clock. See [`breaker_macros`](https://docs.rs/breaker-macros)
/// for every argument.
pub use breaker_macros::tokio_cutout as cutout;

/// Support for `#[cutout]`: the paths its expansion names. Not public API.
#[doc(hidden)]
pub mod __cutout {
    pub use breaker_core;
    pub type Clock = crate::TokioClock;
    pub const CLOCK: Clock = crate::TokioClock::new();
}
