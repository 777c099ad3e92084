//! The HTTP rules (feature `http`): `StatusPolicy`'s status table, its use as
//! a classifier with `call_with` and the tower layer, and the `Retry-After`
//! a rejection carries. Time is tokio's paused clock.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use breaker_tokio::http::{StatusPolicy, retry_after_secs};
use breaker_tokio::tower::CircuitBreakerLayer;
use breaker_tokio::tower::error::CircuitBroken;
use breaker_tokio::{CircuitBreaker, Classify, Config, Error, Outcome, State};
use http::{HeaderValue, Response, StatusCode, header};
use tokio::time::advance;
use tower::{Layer, ServiceExt, service_fn};

const BROKEN: Duration = Duration::from_secs(5);
const RECOVERY: Duration = Duration::from_secs(4);

fn breaker() -> CircuitBreaker {
    breaker_tokio::new(
        Config::new(0.5, Duration::from_secs(4))
            .broken_time(BROKEN)
            .recovery_time(RECOVERY)
            .passing_time(Duration::ZERO)
            .min_calls(1),
    )
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

fn response(code: u16) -> Response<()> {
    Response::builder().status(code).body(()).unwrap()
}

const F: bool = true;
const S: bool = false;

/// Every status the rule treats apart, and its neighbours: (status, 5xx
/// only, with 429, with 408, with both).
const TABLE: [(u16, bool, bool, bool, bool); 19] = [
    (100, S, S, S, S),
    (200, S, S, S, S),
    (204, S, S, S, S),
    (301, S, S, S, S),
    (400, S, S, S, S),
    (404, S, S, S, S),
    (407, S, S, S, S),
    (408, S, S, F, F),
    (409, S, S, S, S),
    (428, S, S, S, S),
    (429, S, F, S, F),
    (430, S, S, S, S),
    (499, S, S, S, S),
    (500, F, F, F, F),
    (501, F, F, F, F),
    (503, F, F, F, F),
    (599, F, F, F, F),
    (600, S, S, S, S),
    (999, S, S, S, S),
];

#[test]
fn the_status_table() {
    let policies = [
        StatusPolicy::SERVER_ERRORS,
        StatusPolicy::SERVER_ERRORS.too_many_requests(true),
        StatusPolicy::SERVER_ERRORS.request_timeout(true),
        StatusPolicy::SERVER_ERRORS
            .too_many_requests(true)
            .request_timeout(true),
    ];
    for (code, only_5xx, with_429, with_408, with_both) in TABLE {
        let expected = [only_5xx, with_429, with_408, with_both];
        for (policy, failure) in policies.iter().zip(expected) {
            assert_eq!(
                policy.is_failure(status(code)),
                failure,
                "{code} under {policy:?}"
            );
            let outcome = if failure {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            assert_eq!(
                policy.outcome(status(code)),
                outcome,
                "{code} under {policy:?}"
            );
            let ok: Result<_, Infallible> = Ok(response(code));
            assert_eq!(policy.classify(&ok), outcome, "{code} under {policy:?}");
        }
    }
}

#[test]
fn options_can_be_turned_off_again_and_the_default_is_5xx_only() {
    let on = StatusPolicy::SERVER_ERRORS
        .too_many_requests(true)
        .request_timeout(true);
    let off = on.too_many_requests(false).request_timeout(false);
    assert_eq!(off, StatusPolicy::SERVER_ERRORS);
    assert_eq!(StatusPolicy::default(), StatusPolicy::SERVER_ERRORS);
    assert_ne!(on, StatusPolicy::SERVER_ERRORS);
}

#[test]
fn an_error_is_a_failure_whatever_the_options() {
    let refused: Result<Response<()>, std::io::Error> =
        Err(std::io::ErrorKind::ConnectionRefused.into());
    for policy in [
        StatusPolicy::SERVER_ERRORS,
        StatusPolicy::SERVER_ERRORS
            .too_many_requests(true)
            .request_timeout(true),
    ] {
        assert_eq!(policy.classify(&refused), Outcome::Failure);
    }
}

#[tokio::test(start_paused = true)]
async fn call_with_counts_by_status_and_returns_the_response_untouched() {
    let b = breaker();
    for code in [200, 404, 429, 408] {
        let answer = async move { Ok::<_, Infallible>(response(code)) };
        let got = breaker_tokio::call_with(&b, StatusPolicy::SERVER_ERRORS, answer).await;
        assert_eq!(got.unwrap().status(), status(code));
    }
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.state), (4, 0, State::Passing));

    let down = async { Ok::<_, Infallible>(response(502)) };
    let got = breaker_tokio::call_with(&b, StatusPolicy::SERVER_ERRORS, down).await;
    assert_eq!(got.unwrap().status(), StatusCode::BAD_GATEWAY); // Ok to the caller
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (4, 1));

    let refused = async { Err::<Response<()>, _>("refused") };
    let got = breaker_tokio::call_with(&b, StatusPolicy::SERVER_ERRORS, refused).await;
    assert!(matches!(got, Err(Error::Inner("refused"))));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.state), (4, 2, State::Passing));
}

/// An upstream's `503` asking for an hour: the caller gets the header, the
/// breaker breaks for its own `broken_time`, not an hour.
#[tokio::test(start_paused = true)]
async fn the_layer_counts_a_503_but_ignores_its_retry_after() {
    let b = Arc::new(breaker());
    let svc = CircuitBreakerLayer::new(b.clone())
        .with_classifier(StatusPolicy::SERVER_ERRORS)
        .layer(service_fn(|code: u16| async move {
            let mut r = response(code);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            Ok::<_, Infallible>(r)
        }));
    assert_eq!(svc.clone().oneshot(404).await.unwrap().status(), 404);
    let unavailable = svc.clone().oneshot(503).await.unwrap();
    assert_eq!(unavailable.headers()[header::RETRY_AFTER], "3600");
    // 1 of 2 failed (0.5): Broken for the configured 5 s.
    assert_eq!(b.state(), State::Broken);
    assert_eq!(b.retry_after(), BROKEN);

    let err = svc.clone().oneshot(200).await.unwrap_err();
    let rejection = err.downcast_ref::<CircuitBroken>().unwrap();
    assert_eq!(rejection.retry_after(), BROKEN);

    advance(BROKEN).await;
    assert_eq!(b.state(), State::Recovering);
}

async fn trip(b: &CircuitBreaker) {
    let _ = breaker_tokio::call(b, async { Err::<(), _>("down") }).await;
    assert_eq!(b.state(), State::Broken);
}

async fn rejection(b: &CircuitBreaker) -> CircuitBroken {
    let rejected = breaker_tokio::call(b, async { Ok::<_, Infallible>(()) }).await;
    *rejected.unwrap_err().broken().unwrap()
}

/// `Retry-After` while Broken: whole seconds rounded up, never 0.
#[tokio::test(start_paused = true)]
async fn retry_after_rounds_the_time_left_up_to_whole_seconds() {
    let b = breaker();
    trip(&b).await;
    let cases = [
        // (time left, header)
        (Duration::from_secs(5), 5),
        (Duration::from_millis(4500), 5),
        (Duration::from_secs(1) + Duration::from_nanos(1), 2),
        (Duration::from_secs(1), 1),
        (Duration::from_millis(999), 1),
        (Duration::from_nanos(1), 1),
    ];
    let mut elapsed = Duration::ZERO;
    for (left, secs) in cases {
        advance(BROKEN - left - elapsed).await;
        elapsed = BROKEN - left;
        let rejected = rejection(&b).await;
        assert_eq!(
            (rejected.state(), rejected.retry_after()),
            (State::Broken, left)
        );
        assert_eq!(retry_after_secs(&rejected), Some(secs), "{left:?} left");
    }
}

/// Recovering rejects with no countdown: the header says 1 s.
#[tokio::test(start_paused = true)]
async fn a_recovering_rejection_says_one_second() {
    let b = breaker();
    trip(&b).await;
    advance(BROKEN).await;
    let rejected = rejection(&b).await; // the ramp admits nothing at its start
    assert_eq!(
        (rejected.state(), rejected.retry_after()),
        (State::Recovering, Duration::ZERO)
    );
    assert_eq!(retry_after_secs(&rejected), Some(1));
}

/// Forced open has no countdown either, and no end anyone can predict: no header.
#[tokio::test(start_paused = true)]
async fn a_forced_open_rejection_sends_no_retry_after() {
    let b = breaker();
    b.force_open();
    let rejected = rejection(&b).await;
    assert_eq!(
        (rejected.state(), rejected.retry_after()),
        (State::Broken, Duration::ZERO)
    );
    assert_eq!(retry_after_secs(&rejected), None);
}
