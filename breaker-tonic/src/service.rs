//! [`GrpcBreakerLayer`] and [`GrpcBreakerService`]: breaker-tokio's tower
//! layer and service, settling each call's permit with [`InBody`].

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use breaker_core::{CircuitBreaker, Clock, Listener, NoListener, OwnedPermit};
use breaker_tokio::TokioClock;
use breaker_tokio::tower::{CircuitBreakerLayer, CircuitBreakerService};
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::{BoxError, GrpcBody, GrpcClassifier, InBody, ResponseFuture};

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
>(CircuitBreakerLayer<GrpcClassifier, C, N, L, H, InBody>)
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>;

impl<C, const N: usize, L, H> GrpcBreakerLayer<C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
{
    /// A layer sending calls through `breaker`, with the default failure
    /// codes ([`GrpcClassifier::new`]).
    pub fn new(breaker: H) -> Self {
        GrpcBreakerLayer(
            CircuitBreakerLayer::new(breaker)
                .with_classifier(GrpcClassifier::new())
                .with_settle(),
        )
    }

    /// The same layer, counting the codes of `classifier` as failures.
    pub fn with_classifier(self, classifier: GrpcClassifier) -> Self {
        GrpcBreakerLayer(self.0.with_classifier(classifier))
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &H {
        self.0.breaker()
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
        GrpcBreakerService(self.0.layer(inner))
    }
}

impl<C, const N: usize, L, H> Clone for GrpcBreakerLayer<C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + Clone,
{
    fn clone(&self) -> Self {
        GrpcBreakerLayer(self.0.clone())
    }
}

impl<C, const N: usize, L, H> fmt::Debug for GrpcBreakerLayer<C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GrpcBreakerLayer").field(&self.0).finish()
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
>(CircuitBreakerService<S, GrpcClassifier, C, N, L, H, InBody>)
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>;

impl<S, C, const N: usize, L, H> GrpcBreakerService<S, C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CircuitBreaker<C, N, L>>,
{
    /// Wraps `inner`, with the default failure codes.
    pub fn new(inner: S, breaker: H) -> Self {
        GrpcBreakerService(
            CircuitBreakerService::new(inner, breaker)
                .with_classifier(GrpcClassifier::new())
                .with_settle(),
        )
    }

    /// The same service, counting the codes of `classifier` as failures.
    pub fn with_classifier(self, classifier: GrpcClassifier) -> Self {
        GrpcBreakerService(self.0.with_classifier(classifier))
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &H {
        self.0.breaker()
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        self.0.get_ref()
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.0.get_mut()
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.0.into_inner()
    }
}

/// breaker-tokio's service: readiness is the inner service's, untouched by
/// the breaker (a broken upstream is a per-call condition, not a dead
/// service); a call the breaker rejects fails at once with a
/// `tonic::Status` (see [`rejection`](crate::rejection)); an admission is
/// counted in the breaker's metrics at once (see [`InBody`]).
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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        self.0.call(request)
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
        GrpcBreakerService(self.0.clone())
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
        f.debug_tuple("GrpcBreakerService").field(&self.0).finish()
    }
}
