use std::fmt;
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
/// otherwise.
///
/// See the [module docs](super) for an example.
pub struct CircuitBreakerLayer<
    K = DefaultClassifier,
    C = TokioClock,
    const N: usize = 10,
    L = NoListener,
> where
    C: Clock,
    L: Listener,
{
    breaker: Arc<CoreBreaker<C, N, L>>,
    classifier: K,
}

impl<C: Clock, const N: usize, L: Listener> CircuitBreakerLayer<DefaultClassifier, C, N, L> {
    /// A layer sending requests through `breaker`, counting `Ok` as a success
    /// and `Err` as a failure.
    pub fn new(breaker: Arc<CoreBreaker<C, N, L>>) -> Self {
        CircuitBreakerLayer {
            breaker,
            classifier: DefaultClassifier,
        }
    }
}

impl<K, C: Clock, const N: usize, L: Listener> CircuitBreakerLayer<K, C, N, L> {
    /// The same layer, classifying results with `classifier`: any
    /// [`Classify`](crate::Classify) over `Result<S::Response, S::Error>`,
    /// such as a closure `|r: &Result<Response, Error>| -> Outcome`.
    pub fn with_classifier<K2>(self, classifier: K2) -> CircuitBreakerLayer<K2, C, N, L> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier,
        }
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &Arc<CoreBreaker<C, N, L>> {
        &self.breaker
    }
}

impl<S, K: Clone, C: Clock, const N: usize, L: Listener> Layer<S>
    for CircuitBreakerLayer<K, C, N, L>
{
    type Service = CircuitBreakerService<S, K, C, N, L>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone())
            .with_classifier(self.classifier.clone())
    }
}

impl<K: Clone, C: Clock, const N: usize, L: Listener> Clone for CircuitBreakerLayer<K, C, N, L> {
    fn clone(&self) -> Self {
        CircuitBreakerLayer {
            breaker: self.breaker.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<K, C: Clock + fmt::Debug, const N: usize, L: Listener + fmt::Debug> fmt::Debug
    for CircuitBreakerLayer<K, C, N, L>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}
