use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use breaker_core::{Clock, DefaultClassifier, Listener, NoListener};
use tower_layer::Layer;

use super::CircuitBreakerService;
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
/// [module docs](super#cost-per-request)).
///
/// See the [module docs](super) for examples.
pub struct CircuitBreakerLayer<
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
    breaker: H,
    classifier: K,
}

impl<C, const N: usize, L, H> CircuitBreakerLayer<DefaultClassifier, C, N, L, H>
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
        }
    }
}

impl<K, C, const N: usize, L, H> CircuitBreakerLayer<K, C, N, L, H>
where
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>>,
{
    /// The same layer, classifying results with `classifier`: any
    /// [`Classify`](crate::Classify) over `Result<S::Response, S::Error>`,
    /// such as a closure `|r: &Result<Response, Error>| -> Outcome`.
    pub fn with_classifier<K2>(self, classifier: K2) -> CircuitBreakerLayer<K2, C, N, L, H> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier,
        }
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &H {
        &self.breaker
    }
}

impl<S, K, C, const N: usize, L, H> Layer<S> for CircuitBreakerLayer<K, C, N, L, H>
where
    K: Clone,
    C: Clock,
    L: Listener,
    H: Deref<Target = CoreBreaker<C, N, L>> + Clone,
{
    type Service = CircuitBreakerService<S, K, C, N, L, H>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone())
            .with_classifier(self.classifier.clone())
    }
}

impl<K, C, const N: usize, L, H> Clone for CircuitBreakerLayer<K, C, N, L, H>
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
        }
    }
}

impl<K, C, const N: usize, L, H> fmt::Debug for CircuitBreakerLayer<K, C, N, L, H>
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
