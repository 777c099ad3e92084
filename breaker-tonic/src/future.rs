//! [`ResponseFuture`], the future of
//! [`GrpcBreakerService`](crate::GrpcBreakerService), and [`InBody`], how
//! its permit settles.

use std::ops::Deref;

use breaker_core::{CircuitBreaker, CircuitBroken, Clock, Listener, Outcome, OwnedPermit};
use breaker_tokio::tower::Settle;
use http::Response;

use crate::{BoxError, GrpcBody, GrpcClassifier, rejection};

/// The response of a [`GrpcBreakerService`](crate::GrpcBreakerService):
/// the inner service's future holding the call's permit, or a rejection
/// that is ready at once.
///
/// When the response head arrives it decides the call if it can (a
/// trailers-only response, a transport error, a non-200 HTTP status);
/// otherwise the permit moves into the response's [`GrpcBody`], which
/// records the outcome from the trailers (see [`InBody`]). Dropping this
/// future earlier records [`Outcome::Ignored`].
pub type ResponseFuture<F, P> =
    breaker_tokio::tower::future::ResponseFuture<F, GrpcClassifier, P, InBody>;

/// How a gRPC call's permit settles: breaker-tokio's
/// [`Settle`] for [`GrpcBreakerService`](crate::GrpcBreakerService), which
/// is breaker-tokio's tower service with this in place of classifying when
/// the response future completes.
///
/// - The response **head** decides the call if it can: a `grpc-status`
///   header (a trailers-only response) or a non-200 HTTP status, classified
///   by the [`GrpcClassifier`]; a transport error (no response) is a
///   failure.
/// - Otherwise the permit moves into the response's [`GrpcBody`], which
///   records the outcome from the trailers.
/// - An admission counts in the breaker's metrics when the call starts (a
///   stream may last long, and metrics should show it meanwhile).
/// - A rejected call fails with [`rejection`]: `UNAVAILABLE`, the
///   [`CircuitBroken`] as its source.
#[derive(Debug, Clone, Copy, Default)]
pub struct InBody;

impl<B, E, H, C, const N: usize, L> Settle<GrpcClassifier, Response<B>, E, OwnedPermit<H, C, N, L>>
    for InBody
where
    H: Deref<Target = CircuitBreaker<C, N, L>>,
    C: Clock,
    L: Listener,
{
    type Response = Response<GrpcBody<B, OwnedPermit<H, C, N, L>>>;

    const COUNTS_AT_ADMISSION: bool = true;

    fn settle(
        classifier: &GrpcClassifier,
        result: Result<Response<B>, E>,
        permit: Option<OwnedPermit<H, C, N, L>>,
    ) -> Result<Self::Response, E> {
        let classifier = *classifier;
        match result {
            Ok(response) => match (classifier.classify_head(&response), permit) {
                (Some(outcome), Some(permit)) => {
                    permit.record(outcome);
                    Ok(response.map(|body| GrpcBody::new(body, None, classifier)))
                }
                (_, permit) => Ok(response.map(|body| GrpcBody::new(body, permit, classifier))),
            },
            Err(error) => {
                // The request never got an answer: connection refused,
                // reset, timed out below this layer.
                if let Some(permit) = permit {
                    permit.record(Outcome::Failure);
                }
                Err(error)
            }
        }
    }

    fn rejection(broken: CircuitBroken) -> BoxError {
        Box::new(rejection(broken))
    }
}
