//! HTTP's rules for a breaker (feature `http`): which responses are the
//! upstream's fault, and how long a rejected client should wait.
//!
//! - [`StatusPolicy`] classifies `Result<http::Response<B>, E>`: a 5xx is a
//!   failure, any other status a success, and an `Err` (no response at all:
//!   refused, reset, timed out) a failure. `429 Too Many Requests` and
//!   `408 Request Timeout` can be counted as failures too. It is a
//!   [`Classify`], so it goes wherever a classifier does: the tower layer's
//!   [`with_classifier`](crate::tower::CircuitBreakerLayer::with_classifier)
//!   and [`call_with`](crate::call_with). Clients whose response type is not
//!   `http::Response` (reqwest's, say) ask [`StatusPolicy::is_failure`] about
//!   the status: the rule lives there and nowhere else.
//! - [`retry_after_secs`] is the `Retry-After` a rejection should carry (the
//!   `axum` feature's [`Rejection`](crate::axum::Rejection) writes it).
//!
//! # An upstream's own `Retry-After`
//!
//! The classifier reads the status only. A `503` or `429` that carries
//! `Retry-After: 120` is counted like any other response with that status and
//! handed to the caller untouched, headers included, so the caller may honour
//! it. It never changes the breaker's timing: how long the breaker stays
//! Broken is the configured `broken_time` (with its backoff and jitter), the
//! same for every upstream behind it. A header is one upstream's wish about
//! one client; letting it set the breaker's clock would let any upstream,
//! or anything between it and you, hold the breaker open for as long as it
//! likes.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use breaker_tokio::http::StatusPolicy;
//! use breaker_tokio::Config;
//! use http::{Response, StatusCode};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let breaker = breaker_tokio::new(Config::new(0.5, Duration::from_secs(10)));
//! // 5xx and 429 are the upstream's fault; 408 and other 4xx the caller's.
//! const POLICY: StatusPolicy = StatusPolicy::SERVER_ERRORS.too_many_requests(true);
//!
//! let answer = async { Ok::<_, std::io::Error>(Response::builder().status(404).body(()).unwrap()) };
//! let response = breaker_tokio::call_with(&breaker, POLICY, answer).await.unwrap();
//! assert_eq!(response.status(), StatusCode::NOT_FOUND); // the caller gets it as it came
//! assert_eq!((breaker.metrics().successes, breaker.metrics().failures), (1, 0));
//!
//! assert!(POLICY.is_failure(StatusCode::TOO_MANY_REQUESTS));
//! assert!(!POLICY.is_failure(StatusCode::REQUEST_TIMEOUT));
//! # }
//! ```

use ::http::{Response, StatusCode};
use breaker_core::{CircuitBroken, Classify, Mode, Outcome};

/// Which HTTP statuses count as the upstream's fault: 5xx always, `429` and
/// `408` when asked. Any status not counted is a success (the upstream
/// answered; a `404` or a `400` is about the request, not the upstream).
///
/// Build it in a `const`: [`SERVER_ERRORS`](Self::SERVER_ERRORS) (also the
/// [`Default`]), then [`too_many_requests`](Self::too_many_requests) and
/// [`request_timeout`](Self::request_timeout).
///
/// As a [`Classify`] over `Result<http::Response<B>, E>` it is the
/// classifier for the tower layer and for [`call_with`](crate::call_with):
/// a response is judged by [`is_failure`](Self::is_failure), and every `Err`
/// (the request got no response) is a failure. To treat some errors
/// differently, wrap it in a closure that matches them first and asks the
/// policy for the rest.
///
/// Only the status is read: an upstream's `Retry-After` never changes the
/// breaker's timing (see the [module docs](self#an-upstreams-own-retry-after)).
///
/// | status | [`SERVER_ERRORS`](Self::SERVER_ERRORS) | why |
/// |---|---|---|
/// | 500-599 | failure | the upstream (or a gateway in front of it) failed |
/// | 429 | success; failure with `too_many_requests(true)` | a quota is usually per caller or per key, not the upstream's health; count it when the quota is your whole client's and backing off all of it is the point |
/// | 408 | success; failure with `request_timeout(true)` | usually the client sent its request too slowly; but a `tower_http` `TimeoutLayer` inside the breaker answers `408` for a handler it cut off (unless built `with_status_code(StatusCode::GATEWAY_TIMEOUT, ..)`, a 5xx), and that is a failure to count |
/// | any other (1xx-4xx, 600-999) | success | the upstream answered |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusPolicy {
    too_many_requests: bool,
    request_timeout: bool,
}

impl StatusPolicy {
    /// 5xx are failures; everything else, 429 and 408 included, is a success.
    pub const SERVER_ERRORS: StatusPolicy = StatusPolicy {
        too_many_requests: false,
        request_timeout: false,
    };

    /// Whether `429 Too Many Requests` counts as a failure.
    #[must_use]
    pub const fn too_many_requests(mut self, failure: bool) -> StatusPolicy {
        self.too_many_requests = failure;
        self
    }

    /// Whether `408 Request Timeout` counts as a failure.
    #[must_use]
    pub const fn request_timeout(mut self, failure: bool) -> StatusPolicy {
        self.request_timeout = failure;
        self
    }

    /// Whether a response with `status` is the upstream's fault: the one
    /// place this crate's HTTP status rule is written.
    pub const fn is_failure(&self, status: StatusCode) -> bool {
        match status.as_u16() {
            500..=599 => true,
            429 => self.too_many_requests,
            408 => self.request_timeout,
            _ => false,
        }
    }

    /// [`is_failure`](Self::is_failure) as an [`Outcome`].
    pub const fn outcome(&self, status: StatusCode) -> Outcome {
        if self.is_failure(status) {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }
}

impl Default for StatusPolicy {
    /// [`StatusPolicy::SERVER_ERRORS`].
    fn default() -> Self {
        StatusPolicy::SERVER_ERRORS
    }
}

impl<B, E> Classify<Response<B>, E> for StatusPolicy {
    /// The response's status by [`is_failure`](StatusPolicy::is_failure);
    /// an `Err` (no response) is a failure.
    fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
        match result {
            Ok(response) => self.outcome(response.status()),
            Err(_) => Outcome::Failure,
        }
    }
}

/// The `Retry-After` value, in whole seconds, for a `503` answering
/// `rejection`; `None` when no header should be sent.
///
/// - **Broken**: the time left until the breaker starts Recovering, rounded
///   *up* to whole seconds (`Retry-After` has no fractions; rounding down
///   would send clients back while the breaker still rejects), and never `0`
///   (a `0` invites every client back at once): 1 ns left is `1`, 1 s is `1`,
///   1.000000001 s is `2`.
/// - **Recovering** (the call was not sampled; there is no countdown): `1`.
///   The breaker admits a growing share of calls as recovery goes on, so a
///   retry a second later has better odds; `0` would make rejected clients
///   retry at once, and no header would leave them to their own, often much
///   longer, backoff while the upstream is being probed.
/// - **Forced open** by an operator: `None`. It stays open until someone
///   calls `reset()`, which no countdown can predict, and a guessed number
///   would be trusted by clients.
pub const fn retry_after_secs(rejection: &CircuitBroken) -> Option<u64> {
    if let Mode::ForcedOpen = rejection.mode() {
        return None;
    }
    // Recovering has no countdown (`retry_after` is zero), so it takes the
    // floor of 1 below with a Broken breaker at its last nanosecond.
    let left = rejection.retry_after();
    let whole = left.as_secs();
    let secs = if left.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    Some(if secs == 0 { 1 } else { secs })
}
