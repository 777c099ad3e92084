#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod breaker;
mod call;
mod clock;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "tower")]
pub mod tower;

pub use breaker::{
    CircuitBreaker, new, try_new, try_with_buckets, try_with_listener, with_buckets, with_listener,
};
pub use call::{call, call_with, call_with_timeout, ready};
pub use clock::TokioClock;

pub use breaker_core::{
    Cause, CircuitBroken, Classify, Clock, Config, ConfigError, DefaultClassifier, Error,
    FailureIf, Listener, MAX_BACKOFF, Metrics, MockClock, Mode, Nanos, NoListener, Outcome,
    OwnedPermit, Permit, State, Transition, failure_if,
};

/// Logs every transition through the `log` facade: `warn` on entering Broken,
/// `info` otherwise (feature `log`). See [`with_listener`].
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub use breaker_core::LogListener;

/// Emits every transition as a `tracing` event: `WARN` on entering Broken,
/// `INFO` otherwise (feature `tracing`). See [`with_listener`].
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use breaker_core::TracingListener;

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
