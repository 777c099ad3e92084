//! [`ResponseFuture`], the future of
//! [`CircuitBreakerService`](super::CircuitBreakerService).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use breaker_core::{CircuitBroken, Clock, Listener, OwnedPermit};
use pin_project_lite::pin_project;

use super::error::BoxError;
use super::settle::{AtCompletion, Settle};

type CoreBreaker<C, const N: usize, L> = breaker_core::CircuitBreaker<C, N, L>;

pin_project! {
    /// The response of a [`CircuitBreakerService`](super::CircuitBreakerService):
    /// the inner service's future holding the call's permit, or a rejection
    /// that is ready at once.
    ///
    /// When the inner future completes, its result and the permit go to the
    /// service's [`Settle`] `M`: by default ([`AtCompletion`]) the result is
    /// classified and the outcome recorded. Dropping it earlier records
    /// [`Outcome::Ignored`](crate::Outcome::Ignored).
    ///
    /// `P` is the call's permit: an [`OwnedPermit`] on the service's handle
    /// on the breaker (`Arc` or `&'static`). (It stands in for the breaker's
    /// clock, bucket count and listener, because `pin-project-lite` does not
    /// take const generics.)
    pub struct ResponseFuture<F, K, P, M = AtCompletion> {
        #[pin]
        kind: Kind<F, K, P>,
        settle: PhantomData<fn() -> M>,
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

impl<F, K, P, M> ResponseFuture<F, K, P, M> {
    pub(super) fn admitted(future: F, permit: P, classifier: K) -> Self {
        ResponseFuture {
            kind: Kind::Admitted {
                future,
                permit: Some(permit),
                classifier,
            },
            settle: PhantomData,
        }
    }

    pub(super) fn rejected(broken: CircuitBroken) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { broken },
            settle: PhantomData,
        }
    }
}

impl<F, K, P, M, T, E> Future for ResponseFuture<F, K, P, M>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    M: Settle<K, T, E, P>,
{
    type Output = Result<M::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted {
                future,
                permit,
                classifier,
            } => {
                let result = ready!(future.poll(cx));
                Poll::Ready(M::settle(classifier, result, permit.take()).map_err(Into::into))
            }
            KindProj::Rejected { broken } => Poll::Ready(Err(M::rejection(*broken))),
        }
    }
}

impl<F, K, H, C, const N: usize, L, M> fmt::Debug
    for ResponseFuture<F, K, OwnedPermit<H, C, N, L>, M>
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
