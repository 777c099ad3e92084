//! [`ResponseFuture`], the future of
//! [`GrpcBreakerService`](crate::GrpcBreakerService).

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use breaker_core::{CircuitBreaker, CircuitBroken, Clock, Listener, Outcome, OwnedPermit};
use http::Response;
use pin_project_lite::pin_project;

use crate::{BoxError, GrpcBody, GrpcClassifier, rejection};

pin_project! {
    /// The response of a [`GrpcBreakerService`](crate::GrpcBreakerService):
    /// the inner service's future holding the call's permit, or a rejection
    /// that is ready at once.
    ///
    /// When the response head arrives it decides the call if it can (a
    /// trailers-only response, a transport error, a non-200 HTTP status);
    /// otherwise the permit moves into the response's [`GrpcBody`], which
    /// records the outcome from the trailers. Dropping this future earlier
    /// records [`Outcome::Ignored`].
    pub struct ResponseFuture<F, P> {
        #[pin]
        kind: Kind<F, P>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, P> {
        Admitted {
            #[pin]
            future: F,
            permit: Option<P>,
            classifier: GrpcClassifier,
        },
        Rejected {
            broken: CircuitBroken,
        },
    }
}

impl<F, P> ResponseFuture<F, P> {
    pub(crate) fn admitted(future: F, permit: P, classifier: GrpcClassifier) -> Self {
        ResponseFuture {
            kind: Kind::Admitted {
                future,
                permit: Some(permit),
                classifier,
            },
        }
    }

    pub(crate) fn rejected(broken: CircuitBroken) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { broken },
        }
    }
}

impl<F, B, E, H, C, const N: usize, L> Future for ResponseFuture<F, OwnedPermit<H, C, N, L>>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
    C: Clock,
    L: Listener,
{
    type Output = Result<Response<GrpcBody<B, OwnedPermit<H, C, N, L>>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted {
                future,
                permit,
                classifier,
            } => {
                let result = ready!(future.poll(cx));
                let permit = permit.take();
                let classifier = *classifier;
                Poll::Ready(match result {
                    Ok(response) => match (classifier.classify_head(&response), permit) {
                        (Some(outcome), Some(permit)) => {
                            permit.record(outcome);
                            Ok(response.map(|body| GrpcBody::new(body, None, classifier)))
                        }
                        (_, permit) => {
                            Ok(response.map(|body| GrpcBody::new(body, permit, classifier)))
                        }
                    },
                    Err(error) => {
                        // The request never got an answer: connection refused,
                        // reset, timed out below this layer.
                        if let Some(permit) = permit {
                            permit.record(Outcome::Failure);
                        }
                        Err(error.into())
                    }
                })
            }
            KindProj::Rejected { broken } => Poll::Ready(Err(Box::new(rejection(*broken)))),
        }
    }
}

impl<F, P> fmt::Debug for ResponseFuture<F, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Admitted { permit, .. } => f
                .debug_struct("ResponseFuture")
                .field("pending", &permit.is_some())
                .finish_non_exhaustive(),
            Kind::Rejected { broken } => f
                .debug_struct("ResponseFuture")
                .field("rejected", broken)
                .finish(),
        }
    }
}
