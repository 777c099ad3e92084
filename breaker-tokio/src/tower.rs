//! A tower middleware (feature `tower`): [`CircuitBreakerLayer`] wraps a
//! service in a [`CircuitBreakerService`] that sends each request through a
//! shared breaker.
//!
//! - **One breaker, many clones.** The breaker is held through a handle, an
//!   [`Arc`] or a `&'static` reference to a `static` breaker; cloning the
//!   layer or the service shares it, so every connection's copy of a service
//!   stack feeds the same statistics.
//! - **Rejects in `call`, never in `poll_ready`.** `poll_ready` only asks the
//!   inner service. A Broken breaker answers `call` with an error future that
//!   is ready at once and never calls the inner service. (A readiness error
//!   would be taken for a dead service and tear down `Buffer`, `Balance` and
//!   similar stacks; a broken dependency is a per-request condition.)
//! - **Classification over the whole result.** By default `Ok` is a success and
//!   `Err` a failure. [`CircuitBreakerLayer::with_classifier`] takes a
//!   [`Classify`](crate::Classify) over `Result<S::Response, S::Error>`, so an
//!   HTTP 5xx response can count as a failure while a 4xx counts as a success
//!   (for `http::Response`s, that is `breaker_tokio::http::StatusPolicy`,
//!   feature `http`).
//! - **When the permit settles is a parameter**, [`Settle`]: by default
//!   ([`AtCompletion`]) when the response future completes. A protocol whose
//!   outcome comes after the response head plugs in its own and keeps the
//!   rest of this layer: breaker-tonic's layer moves the permit into the
//!   response body, to settle from gRPC's trailers.
//! - **Errors are [`BoxError`](error::BoxError)s**, as in tower's own
//!   middleware: the inner service's error converted with `Into`, or a boxed
//!   [`CircuitBroken`](error::CircuitBroken) for a rejection. Downcast to read
//!   its `retry_after()` (for a `Retry-After` header, say).
//!
//! The permit is held by the response future, so dropping a response future
//! before it completes records [`Outcome::Ignored`](crate::Outcome::Ignored)
//! and, in Recovering, gives the admission back.
//!
//! # Cost per request
//!
//! Every request of every connection goes through the one breaker, so the
//! layer keeps shared-memory traffic per request to what the decision needs:
//!
//! - **A Passing admission is counted by its outcome**, as the synchronous
//!   `call` counts it ([`CircuitBreaker::try_acquire_owned_deferred`](breaker_core::CircuitBreaker::try_acquire_owned_deferred)):
//!   a successful request costs one load of the state word and one atomic
//!   update of the window. The metrics' `call_count` and `call_passing` show a
//!   request once its response future has settled (completed or dropped),
//!   not while it is in flight; the totals stay exact.
//! - **A `static` breaker costs no reference counting.** With an `Arc`, each
//!   response future holds a clone, which is two atomic updates of the
//!   `Arc`'s shared counter per request: on many cores that counter is as hot
//!   as the breaker itself. Give the layer `&'static` instead:
//!
//! ```
//! use std::time::Duration;
//! use breaker_tokio::tower::CircuitBreakerLayer;
//! use breaker_tokio::{CircuitBreaker, Config};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! static UPSTREAM: CircuitBreaker = breaker_tokio::new(Config::new(0.5, Duration::from_secs(10)));
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let layer = CircuitBreakerLayer::new(&UPSTREAM);
//! let service = layer.layer(service_fn(|name: &'static str| async move {
//!     Ok::<_, std::io::Error>(format!("hello, {name}"))
//! }));
//! assert_eq!(service.oneshot("static").await.unwrap(), "hello, static");
//! # }
//! ```
//!
//! # Readiness
//!
//! When the breaker rejects a request, the inner service's readiness (reserved
//! by the `poll_ready` that preceded `call`) stays with this service and is
//! used by the next `call`.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use breaker_tokio::tower::{error::CircuitBroken, CircuitBreakerLayer};
//! use breaker_tokio::{Config, Outcome};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let breaker = Arc::new(breaker_tokio::new(
//!     Config::new(0.6, Duration::from_secs(10)).min_calls(2).passing_time(Duration::ZERO),
//! ));
//! // Responses are HTTP-like status codes: 5xx is the dependency's fault, 4xx the caller's.
//! let layer = CircuitBreakerLayer::new(breaker.clone()).with_classifier(
//!     |r: &Result<u16, std::io::Error>| match r {
//!         Ok(500..) | Err(_) => Outcome::Failure,
//!         Ok(_) => Outcome::Success,
//!     },
//! );
//! let service = layer.layer(service_fn(|status: u16| async move { Ok::<_, std::io::Error>(status) }));
//!
//! assert_eq!(service.clone().oneshot(404).await.unwrap(), 404); // a success
//! assert_eq!(service.clone().oneshot(503).await.unwrap(), 503); // a failure (1 of 2)
//! assert_eq!(service.clone().oneshot(502).await.unwrap(), 502); // 2 of 3 failed (>= 0.6): broken
//!
//! let err = service.oneshot(200).await.unwrap_err();
//! let rejection = err.downcast_ref::<CircuitBroken>().expect("rejected by the breaker");
//! assert_eq!(rejection.retry_after(), Duration::from_secs(10));
//! # }
//! ```
//!
//! [`Arc`]: std::sync::Arc

pub mod error;
pub mod future;
mod layer;
mod service;
mod settle;

pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreakerService;
pub use settle::{AtCompletion, Settle};
