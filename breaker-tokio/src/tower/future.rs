//! [`ResponseFuture`], the future of
//! [`CircuitBreakerService`](super::CircuitBreakerService).

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use breaker_core::{CircuitBroken, Classify, Clock, Listener, OwnedPermit};
use pin_project_lite::pin_project;

use super::error::BoxError;

type CoreBreaker<C, const N: usize, L> = breaker_core::CircuitBreaker<C, N, L>;

pin_project! {
    /// The response of a [`CircuitBreakerService`](super::CircuitBreakerService):
    /// the inner service's future holding the call's permit, or a rejection
    /// that is ready at once.
    ///
    /// When the inner future completes, its result is classified and the
    /// outcome recorded. Dropping it earlier records
    /// [`Outcome::Ignored`](crate::Outcome::Ignored).
    ///
    /// `P` is the call's permit: an [`OwnedPermit`] on the service's handle
    /// on the breaker (`Arc` or `&'static`). (It stands in for the breaker's
    /// clock, bucket count and listener, because `pin-project-lite` does not
    /// take const generics.)
    pub struct ResponseFuture<F, K, P> {
        #[pin]
        kind: Kind<F, K, P>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, K, P> {
        Admitted {
            #[pin]
            future: F,
            permit: Option<P>,
            classifier: K,
        },
        Rejected {
            broken: CircuitBroken,
        },
    }
}

impl<F, K, H, C, const N: usize, L> ResponseFuture<F, K, OwnedPermit<H, C, N, L>>
where
    H: Deref<Target = CoreBreaker<C, N, L>>,
    C: Clock,
    L: Listener,
{
    pub(super) fn admitted(future: F, permit: OwnedPermit<H, C, N, L>, classifier: K) -> Self {
        ResponseFuture {
            kind: Kind::Admitted {
                future,
                permit: Some(permit),
                classifier,
            },
        }
    }

    pub(super) fn rejected(broken: CircuitBroken) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { broken },
        }
    }
}

impl<F, K, H, C, const N: usize, L, T, E> Future for ResponseFuture<F, K, OwnedPermit<H, C, N, L>>
where
    H: Deref<Target = CoreBreaker<C, N, L>>,
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    K: Classify<T, E>,
    C: Clock,
    L: Listener,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted {
                future,
                permit,
                classifier,
            } => {
                let result = ready!(future.poll(cx));
                if let Some(permit) = permit.take() {
                    permit.record(classifier.classify(&result));
                }
                Poll::Ready(result.map_err(Into::into))
            }
            KindProj::Rejected { broken } => Poll::Ready(Err(Box::new(*broken))),
        }
    }
}

impl<F, K, H, C, const N: usize, L> fmt::Debug for ResponseFuture<F, K, OwnedPermit<H, C, N, L>>
where
    H: Deref<Target = CoreBreaker<C, N, L>>,
    C: Clock,
    L: Listener,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Admitted { permit, .. } => f
                .debug_struct("ResponseFuture")
                .field("admitted_in", &permit.as_ref().map(|p| p.state()))
                .finish_non_exhaustive(),
            Kind::Rejected { broken } => f
                .debug_struct("ResponseFuture")
                .field("rejected", broken)
                .finish(),
        }
    }
}
