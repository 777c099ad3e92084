use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use breaker_core::{Classify, Clock, DefaultClassifier, Listener, NoListener, OwnedPermit};
use tower_service::Service;

use super::CircuitBreakerLayer;
use super::error::BoxError;
use super::future::ResponseFuture;
use crate::TokioClock;

type CoreBreaker<C, const N: usize, L> = breaker_core::CircuitBreaker<C, N, L>;

/// A service whose requests go through a shared circuit breaker; built by
/// [`CircuitBreakerLayer`] or [`new`](Self::new).
///
/// Cloning it clones the inner service and shares the breaker. See the
/// [module docs](super) for how it behaves. `H` is the handle on the breaker:
/// an `Arc` by default, or a `&'static` reference to a `static` breaker.
pub struct CircuitBreakerService<
    S,
    K = DefaultClassifier,
    C = TokioClock,
    const N: usize = 10,
    L = NoListener,
    H = Arc<CoreBreaker<C, N, L>>,
> where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    inner: S,
    breaker: H,
    classifier: K,
}

impl<S, C, const N: usize, L, H> CircuitBreakerService<S, DefaultClassifier, C, N, L, H>
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
        }
    }

    /// A [`CircuitBreakerLayer`] for `breaker`.
    pub fn layer(breaker: H) -> CircuitBreakerLayer<DefaultClassifier, C, N, L, H> {
        CircuitBreakerLayer::new(breaker)
    }
}

impl<S, K, C, const N: usize, L, H> CircuitBreakerService<S, K, C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    /// The same service, classifying results with `classifier`.
    pub fn with_classifier<K2>(self, classifier: K2) -> CircuitBreakerService<S, K2, C, N, L, H> {
        CircuitBreakerService {
            inner: self.inner,
            breaker: self.breaker,
            classifier,
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

impl<S, K, C, const N: usize, L, H, Request> Service<Request>
    for CircuitBreakerService<S, K, C, N, L, H>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
    K: Classify<S::Response, S::Error> + Clone,
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, K, OwnedPermit<H, C, N, L>>;

    /// The inner service's readiness, untouched by the breaker's state.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    /// Calls the inner service if the breaker admits the request; otherwise
    /// returns a future that fails at once with a boxed
    /// [`CircuitBroken`](super::error::CircuitBroken).
    ///
    /// A Passing admission is counted in the breaker's metrics when its
    /// response settles (see the [module docs](super#cost-per-request)).
    fn call(&mut self, request: Request) -> Self::Future {
        match CoreBreaker::try_acquire_owned_deferred(self.breaker.clone()) {
            Ok(permit) => {
                ResponseFuture::admitted(self.inner.call(request), permit, self.classifier.clone())
            }
            Err(broken) => ResponseFuture::rejected(broken),
        }
    }
}

impl<S, K, C, const N: usize, L, H> Clone for CircuitBreakerService<S, K, C, N, L, H>
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
        }
    }
}

impl<S, K, C, const N: usize, L, H> fmt::Debug for CircuitBreakerService<S, K, C, N, L, H>
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
