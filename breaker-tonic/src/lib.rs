#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod classify;
mod future;
mod service;

use std::sync::Arc;

pub use body::GrpcBody;
pub use breaker_core::CircuitBroken;
pub use classify::GrpcClassifier;
pub use future::{InBody, ResponseFuture};
pub use service::{GrpcBreakerLayer, GrpcBreakerService};

/// A type-erased error, as tower middleware returns (identical to
/// `tower::BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `tonic::Status` a rejected call fails with: `UNAVAILABLE`, the
/// [`CircuitBroken`] as its message and as its source. A tonic client
/// returns it as the call's error, unchanged; read the rejection back with
/// [`circuit_broken`].
pub fn rejection(broken: CircuitBroken) -> tonic::Status {
    let mut status = tonic::Status::unavailable(broken.to_string());
    status.set_source(Arc::new(broken));
    status
}

/// The breaker's rejection behind a call's `Status`, if the breaker
/// rejected the call (the call never reached the network). Its
/// [`retry_after`](CircuitBroken::retry_after) says when to try again.
pub fn circuit_broken(status: &tonic::Status) -> Option<CircuitBroken> {
    std::error::Error::source(status)?
        .downcast_ref::<CircuitBroken>()
        .copied()
}
