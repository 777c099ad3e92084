//! Errors of [`CircuitBreakerService`](super::CircuitBreakerService).
//!
//! The service's error type is [`BoxError`] (the same type as
//! `tower::BoxError`): either the inner service's error, converted with
//! `Into`, or a boxed [`CircuitBroken`] when the breaker rejected the request.
//!
//! # Examples
//!
//! ```
//! use breaker_tokio::tower::error::{BoxError, CircuitBroken};
//!
//! fn retry_after_secs(err: &BoxError) -> Option<u64> {
//!     err.downcast_ref::<CircuitBroken>().map(|b| b.retry_after().as_secs())
//! }
//! # let _ = retry_after_secs;
//! ```

pub use breaker_core::CircuitBroken;

/// A type-erased error, as tower middleware returns (identical to
/// `tower::BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
