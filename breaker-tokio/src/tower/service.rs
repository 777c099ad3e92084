use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use breaker_core::{Clock, DefaultClassifier, Listener, NoListener, OwnedPermit};
use tower_service::Service;

use super::CircuitBreakerLayer;
use super::error::BoxError;
use super::future::ResponseFuture;
use super::settle::{AtCompletion, Settle};
use crate::TokioClock;

type CoreBreaker<C, const N: usize, L> = breaker_core::CircuitBreaker<C, N, L>;

/// A service whose requests go through a shared circuit breaker; built by
/// [`CircuitBreakerLayer`] or [`new`](Self::new).
///
/// Cloning it clones the inner service and shares the breaker. See the
/// [module docs](super) for how it behaves. `H` is the handle on the breaker:
/// an `Arc` by default, or a `&'static` reference to a `static` breaker. `M`
/// is how a call's permit settles: [`AtCompletion`] unless a protocol layer
/// built on this one says otherwise (see [`Settle`]).
pub struct CircuitBreakerService<
    S,
    K = DefaultClassifier,
    C = TokioClock,
    const N: usize = 10,
    L = NoListener,
    H = Arc<CoreBreaker<C, N, L>>,
    M = AtCompletion,
> where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    inner: S,
    breaker: H,
    classifier: K,
    settle: PhantomData<fn() -> M>,
}

impl<S, C, const N: usize, L, H>
    CircuitBreakerService<S, DefaultClassifier, C, N, L, H, AtCompletion>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    /// Wraps `inner`, counting `Ok` as a success and `Err` as a failure.
    pub fn new(inner: S, breaker: H) -> Self {
        CircuitBreakerService {
            inner,
            breaker,
            classifier: DefaultClassifier,
            settle: PhantomData,
        }
    }

    /// A [`CircuitBreakerLayer`] for `breaker`.
    pub fn layer(breaker: H) -> CircuitBreakerLayer<DefaultClassifier, C, N, L, H> {
        CircuitBreakerLayer::new(breaker)
    }
}

impl<S, K, C, const N: usize, L, H, M> CircuitBreakerService<S, K, C, N, L, H, M>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    /// The same service, classifying results with `classifier`.
    pub fn with_classifier<K2>(
        self,
        classifier: K2,
    ) -> CircuitBreakerService<S, K2, C, N, L, H, M> {
        CircuitBreakerService {
            inner: self.inner,
            breaker: self.breaker,
            classifier,
            settle: PhantomData,
        }
    }

    /// The same service, settling each call's permit with `M2` (see
    /// [`Settle`]).
    pub fn with_settle<M2>(self) -> CircuitBreakerService<S, K, C, N, L, H, M2> {
        CircuitBreakerService {
            inner: self.inner,
            breaker: self.breaker,
            classifier: self.classifier,
            settle: PhantomData,
        }
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &H {
        &self.breaker
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, K, C, const N: usize, L, H, M, Request> Service<Request>
    for CircuitBreakerService<S, K, C, N, L, H, M>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    K: Clone,
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + Clone,
    M: Settle<K, S::Response, S::Error, OwnedPermit<H, C, N, L>>,
{
    type Response = M::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, K, OwnedPermit<H, C, N, L>, M>;

    /// The inner service's readiness, untouched by the breaker's state.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    /// Calls the inner service if the breaker admits the request; otherwise
    /// returns a future that fails at once with a boxed
    /// [`CircuitBroken`](super::error::CircuitBroken) (or `M`'s
    /// [`rejection`](Settle::rejection)).
    ///
    /// A Passing admission is counted in the breaker's metrics when its
    /// response settles (see the [module docs](super#cost-per-request)),
    /// unless `M` [counts at admission](Settle::COUNTS_AT_ADMISSION).
    fn call(&mut self, request: Request) -> Self::Future {
        let admission = if M::COUNTS_AT_ADMISSION {
            CoreBreaker::try_acquire_owned(self.breaker.clone())
        } else {
            CoreBreaker::try_acquire_owned_deferred(self.breaker.clone())
        };
        match admission {
            Ok(permit) => {
                ResponseFuture::admitted(self.inner.call(request), permit, self.classifier.clone())
            }
            Err(broken) => ResponseFuture::rejected(broken),
        }
    }
}

impl<S, K, C, const N: usize, L, H, M> Clone for CircuitBreakerService<S, K, C, N, L, H, M>
where
    S: Clone,
    K: Clone,
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + Clone,
{
    fn clone(&self) -> Self {
        CircuitBreakerService {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            classifier: self.classifier.clone(),
            settle: PhantomData,
        }
    }
}

impl<S, K, C, const N: usize, L, H, M> fmt::Debug for CircuitBreakerService<S, K, C, N, L, H, M>
where
    S: fmt::Debug,
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}
