//! [`GrpcBreakerLayer`] and [`GrpcBreakerService`].

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use breaker_core::{CircuitBreaker, Clock, Listener, NoListener, OwnedPermit};
use breaker_tokio::TokioClock;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::{BoxError, GrpcBody, GrpcClassifier, ResponseFuture};

/// Wraps a gRPC client's service (a tonic `Channel`, say) in a
/// [`GrpcBreakerService`] that sends every call through one breaker.
///
/// `H` is the handle on the breaker: an `Arc` (the default), a `&'static`
/// reference to a `static` breaker, or a breaker-keyed `KeyedBreaker` for
/// one breaker per host. `C`, `N` and `L` are the breaker's clock, bucket
/// count and listener. Clones share the breaker.
///
/// See the [crate docs](crate) for an example.
pub struct GrpcBreakerLayer<
    C = TokioClock,
    const N: usize = 10,
    L = NoListener,
    H = Arc<CircuitBreaker<C, N, L>>,
> where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
{
    breaker: H,
    classifier: GrpcClassifier,
}

impl<C, const N: usize, L, H> GrpcBreakerLayer<C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
{
    /// A layer sending calls through `breaker`, with the default failure
    /// codes ([`GrpcClassifier::new`]).
    pub fn new(breaker: H) -> Self {
        GrpcBreakerLayer {
            breaker,
            classifier: GrpcClassifier::new(),
        }
    }

    /// The same layer, counting the codes of `classifier` as failures.
    pub fn with_classifier(mut self, classifier: GrpcClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &H {
        &self.breaker
    }
}

impl<S, C, const N: usize, L, H> Layer<S> for GrpcBreakerLayer<C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + Clone,
{
    type Service = GrpcBreakerService<S, C, N, L, H>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcBreakerService::new(inner, self.breaker.clone()).with_classifier(self.classifier)
    }
}

impl<C, const N: usize, L, H> Clone for GrpcBreakerLayer<C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + Clone,
{
    fn clone(&self) -> Self {
        GrpcBreakerLayer {
            breaker: self.breaker.clone(),
            classifier: self.classifier,
        }
    }
}

impl<C, const N: usize, L, H> fmt::Debug for GrpcBreakerLayer<C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcBreakerLayer")
            .field("breaker", &self.breaker)
            .field("classifier", &self.classifier)
            .finish()
    }
}

/// A gRPC client service behind a circuit breaker: see
/// [`GrpcBreakerLayer`] and the [crate docs](crate).
pub struct GrpcBreakerService<
    S,
    C = TokioClock,
    const N: usize = 10,
    L = NoListener,
    H = Arc<CircuitBreaker<C, N, L>>,
> where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
{
    inner: S,
    breaker: H,
    classifier: GrpcClassifier,
}

impl<S, C, const N: usize, L, H> GrpcBreakerService<S, C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
{
    /// Wraps `inner`, with the default failure codes.
    pub fn new(inner: S, breaker: H) -> Self {
        GrpcBreakerService {
            inner,
            breaker,
            classifier: GrpcClassifier::new(),
        }
    }

    /// The same service, counting the codes of `classifier` as failures.
    pub fn with_classifier(mut self, classifier: GrpcClassifier) -> Self {
        self.classifier = classifier;
        self
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

impl<S, C, const N: usize, L, H, ReqBody, ResBody> Service<Request<ReqBody>>
    for GrpcBreakerService<S, C, N, L, H>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + Clone,
{
    type Response = Response<GrpcBody<ResBody, OwnedPermit<H, C, N, L>>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, OwnedPermit<H, C, N, L>>;

    /// The inner service's readiness, untouched by the breaker's state (as
    /// breaker-tokio's layer: a broken upstream is a per-call condition,
    /// not a dead service).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    /// Calls the inner service if the breaker admits the call; otherwise
    /// fails at once with a `tonic::Status` (see [`rejection`](crate::rejection)).
    ///
    /// The admission is counted in the breaker's metrics at once (a
    /// streaming call may last long, and metrics should show it meanwhile).
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match CircuitBreaker::try_acquire_owned(self.breaker.clone()) {
            Ok(permit) => {
                ResponseFuture::admitted(self.inner.call(request), permit, self.classifier)
            }
            Err(broken) => ResponseFuture::rejected(broken),
        }
    }
}

impl<S, C, const N: usize, L, H> Clone for GrpcBreakerService<S, C, N, L, H>
where
    S: Clone,
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + Clone,
{
    fn clone(&self) -> Self {
        GrpcBreakerService {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            classifier: self.classifier,
        }
    }
}

impl<S, C, const N: usize, L, H> fmt::Debug for GrpcBreakerService<S, C, N, L, H>
where
    S: fmt::Debug,
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .field("classifier", &self.classifier)
            .finish()
    }
}
