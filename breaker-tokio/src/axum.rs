//! A rejection as an HTTP answer, for axum (feature `axum`).
//!
//! - [`Rejection`] is axum's [`IntoResponse`] for a [`CircuitBroken`]:
//!   `503 Service Unavailable`, a `Retry-After` header by
//!   [`retry_after_secs`] (whole seconds, rounded up, never `0` while Broken;
//!   `1` when Recovering; none when forced open) and the rejection's message
//!   as a short `text/plain` body. Use it in a handler that calls through a
//!   breaker with [`call`](crate::call) / [`call_with`](crate::call_with).
//! - [`handle_error`] is the same answer for a tower stack: give it to axum's
//!   `HandleErrorLayer` in front of a
//!   [`CircuitBreakerLayer`](crate::tower::CircuitBreakerLayer) (feature
//!   `tower`), which fails with a boxed error.
//!
//! The trait is axum-core's, which axum re-exports as
//! `axum::response::IntoResponse`: the same trait, without the library
//! building axum's router or hyper.
//!
//! # Examples
//!
//! A handler calling its upstream through a `static` breaker:
//!
//! ```
//! use std::time::Duration;
//! use axum::http::StatusCode;
//! use axum::response::{IntoResponse, Response};
//! use breaker_tokio::axum::Rejection;
//! use breaker_tokio::{CircuitBreaker, Config, Error};
//!
//! static UPSTREAM: CircuitBreaker = breaker_tokio::new(Config::new(0.2, Duration::from_secs(20)));
//!
//! async fn fetch() -> Result<String, std::io::Error> {
//!     Ok("[]".into()) // the real request goes here
//! }
//!
//! async fn gists() -> Response {
//!     match breaker_tokio::call(&UPSTREAM, fetch()).await {
//!         Ok(body) => body.into_response(),
//!         Err(Error::Broken(rejected)) => Rejection::from(rejected).into_response(), // 503
//!         Err(Error::Inner(e)) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
//!         Err(Error::Timeout) => StatusCode::GATEWAY_TIMEOUT.into_response(),
//!     }
//! }
//! # let _ = axum::Router::<()>::new().route("/gists", axum::routing::get(gists));
//! ```

use std::error::Error as StdError;

use ::http::{HeaderValue, StatusCode, header};
use axum_core::response::{IntoResponse, Response};
use breaker_core::CircuitBroken;

use crate::http::retry_after_secs;

/// A breaker's rejection, answered as `503 Service Unavailable` with a
/// `Retry-After` header (see [`retry_after_secs`] for its value in each
/// state) and the rejection's message as a `text/plain` body, such as
/// `circuit broken: retry after 4.5s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rejection(pub CircuitBroken);

impl Rejection {
    /// The breaker's rejection in `error` or in any error it wraps (its
    /// [`source`](StdError::source) chain), as a tower layer's boxed error
    /// holds it; `None` when the error is something else.
    pub fn find(error: &(dyn StdError + 'static)) -> Option<Rejection> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(rejected) = error.downcast_ref::<CircuitBroken>() {
                return Some(Rejection(*rejected));
            }
            next = error.source();
        }
        None
    }
}

impl From<CircuitBroken> for Rejection {
    fn from(rejected: CircuitBroken) -> Self {
        Rejection(rejected)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, self.0.to_string()).into_response();
        if let Some(secs) = retry_after_secs(&self.0) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Answers a tower stack's error for axum's `HandleErrorLayer`: a breaker's
/// rejection (found by [`Rejection::find`]) becomes its `503`, and any other
/// error a bare `500 Internal Server Error`, its text kept out of the answer
/// (it may describe internals). To answer other errors otherwise (a `504`
/// for a timeout, say), write your own function and call
/// [`Rejection::find`] first.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use axum::error_handling::HandleErrorLayer;
/// use axum::routing::get;
/// use axum::Router;
/// use breaker_tokio::http::StatusPolicy;
/// use breaker_tokio::tower::CircuitBreakerLayer;
/// use breaker_tokio::Config;
/// use tower::ServiceBuilder;
///
/// let breaker = Arc::new(breaker_tokio::new(Config::new(0.5, Duration::from_secs(10))));
/// let app: Router = Router::new().route("/", get(|| async { "hello" })).layer(
///     ServiceBuilder::new()
///         .layer(HandleErrorLayer::new(breaker_tokio::axum::handle_error))
///         .layer(CircuitBreakerLayer::new(breaker).with_classifier(StatusPolicy::SERVER_ERRORS)),
/// );
/// # let _ = app;
/// ```
pub async fn handle_error(error: Box<dyn StdError + Send + Sync>) -> Response {
    match Rejection::find(&*error) {
        Some(rejection) => rejection.into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
