use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use breaker_core::{Clock, DefaultClassifier, Listener, NoListener};
use tower_layer::Layer;

use super::CircuitBreakerService;
use super::settle::AtCompletion;
use crate::TokioClock;

type CoreBreaker<C, const N: usize, L> = breaker_core::CircuitBreaker<C, N, L>;

/// Wraps services in a [`CircuitBreakerService`] that shares one breaker.
///
/// `K` classifies each result (see [`with_classifier`](Self::with_classifier));
/// `C`, `N` and `L` are the breaker's clock, bucket count and listener:
/// [`TokioClock`], 10 and [`NoListener`] unless the breaker you pass says
/// otherwise. `H` is the handle on the breaker: an `Arc` (the default), or a
/// `&'static` reference to a `static` breaker, which saves two atomic
/// reference-count updates per request (see the
/// [module docs](super#cost-per-request)). `M` is how a call's permit
/// settles: [`AtCompletion`] unless a protocol layer built on this one says
/// otherwise (see [`Settle`](super::Settle)).
///
/// See the [module docs](super) for examples.
pub struct CircuitBreakerLayer<
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
    breaker: H,
    classifier: K,
    settle: PhantomData<fn() -> M>,
}

impl<C, const N: usize, L, H> CircuitBreakerLayer<DefaultClassifier, C, N, L, H, AtCompletion>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    /// A layer sending requests through `breaker` (an `Arc` or a `&'static`),
    /// counting `Ok` as a success and `Err` as a failure.
    pub fn new(breaker: H) -> Self {
        CircuitBreakerLayer {
            breaker,
            classifier: DefaultClassifier,
            settle: PhantomData,
        }
    }
}

impl<K, C, const N: usize, L, H, M> CircuitBreakerLayer<K, C, N, L, H, M>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    /// The same layer, classifying results with `classifier`: any
    /// [`Classify`](crate::Classify) over `Result<S::Response, S::Error>`,
    /// such as a closure `|r: &Result<Response, Error>| -> Outcome`.
    pub fn with_classifier<K2>(self, classifier: K2) -> CircuitBreakerLayer<K2, C, N, L, H, M> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier,
            settle: PhantomData,
        }
    }

    /// The same layer, settling each call's permit with `M2` (see
    /// [`Settle`](super::Settle)).
    pub fn with_settle<M2>(self) -> CircuitBreakerLayer<K, C, N, L, H, M2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier: self.classifier,
            settle: PhantomData,
        }
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &H {
        &self.breaker
    }
}

impl<S, K, C, const N: usize, L, H, M> Layer<S> for CircuitBreakerLayer<K, C, N, L, H, M>
where
    K: Clone,
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + Clone,
{
    type Service = CircuitBreakerService<S, K, C, N, L, H, M>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone())
            .with_classifier(self.classifier.clone())
            .with_settle()
    }
}

impl<K, C, const N: usize, L, H, M> Clone for CircuitBreakerLayer<K, C, N, L, H, M>
where
    K: Clone,
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + Clone,
{
    fn clone(&self) -> Self {
        CircuitBreakerLayer {
            breaker: self.breaker.clone(),
            classifier: self.classifier.clone(),
            settle: PhantomData,
        }
    }
}

impl<K, C, const N: usize, L, H, M> fmt::Debug for CircuitBreakerLayer<K, C, N, L, H, M>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}
