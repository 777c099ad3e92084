use std::fmt;
use std::sync::Arc;

use breaker_core::{Clock, DefaultClassifier};
use tower_layer::Layer;

use super::CircuitBreakerService;
use crate::TokioClock;

type CoreBreaker<C, const N: usize> = breaker_core::CircuitBreaker<C, N>;

/// Wraps services in a [`CircuitBreakerService`] that shares one breaker.
///
/// `K` classifies each result (see [`with_classifier`](Self::with_classifier));
/// `C` and `N` are the breaker's clock and bucket count, [`TokioClock`] and 10
/// unless the breaker you pass says otherwise.
///
/// See the [module docs](super) for an example.
pub struct CircuitBreakerLayer<K = DefaultClassifier, C = TokioClock, const N: usize = 10>
where
    C: Clock,
{
    breaker: Arc<CoreBreaker<C, N>>,
    classifier: K,
}

impl<C: Clock, const N: usize> CircuitBreakerLayer<DefaultClassifier, C, N> {
    /// A layer sending requests through `breaker`, counting `Ok` as a success
    /// and `Err` as a failure.
    pub fn new(breaker: Arc<CoreBreaker<C, N>>) -> Self {
        CircuitBreakerLayer {
            breaker,
            classifier: DefaultClassifier,
        }
    }
}

impl<K, C: Clock, const N: usize> CircuitBreakerLayer<K, C, N> {
    /// The same layer, classifying results with `classifier`: any
    /// [`Classify`](crate::Classify) over `Result<S::Response, S::Error>`,
    /// such as a closure `|r: &Result<Response, Error>| -> Outcome`.
    pub fn with_classifier<K2>(self, classifier: K2) -> CircuitBreakerLayer<K2, C, N> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classifier,
        }
    }

    /// The shared breaker (for its state and metrics).
    pub fn breaker(&self) -> &Arc<CoreBreaker<C, N>> {
        &self.breaker
    }
}

impl<S, K: Clone, C: Clock, const N: usize> Layer<S> for CircuitBreakerLayer<K, C, N> {
    type Service = CircuitBreakerService<S, K, C, N>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService::new(inner, self.breaker.clone())
            .with_classifier(self.classifier.clone())
    }
}

impl<K: Clone, C: Clock, const N: usize> Clone for CircuitBreakerLayer<K, C, N> {
    fn clone(&self) -> Self {
        CircuitBreakerLayer {
            breaker: self.breaker.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<K, C: Clock + fmt::Debug, const N: usize> fmt::Debug for CircuitBreakerLayer<K, C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}
