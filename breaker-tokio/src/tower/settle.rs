//! [`Settle`]: what the service does with a call's permit once the inner
//! service has answered.

use std::ops::Deref;

use breaker_core::{CircuitBroken, Classify, Clock, Listener, OwnedPermit};

use super::error::BoxError;

type CoreBreaker<C, const N: usize, L> = breaker_core::CircuitBreaker<C, N, L>;

/// How a call's permit settles: the `M` parameter of
/// [`CircuitBreakerLayer`](super::CircuitBreakerLayer) and
/// [`CircuitBreakerService`](super::CircuitBreakerService).
///
/// The service admits each call, calls the inner service and, when the inner
/// future completes, hands its result and the call's permit to
/// [`settle`](Self::settle), which returns the service's response.
/// [`AtCompletion`], the default, records the classifier's outcome there and
/// returns the result as it is. A protocol whose outcome arrives later, such
/// as gRPC's status in the trailers after the response body, moves the
/// permit into the response instead, so the response type changes
/// (breaker-tonic's layer is this service with its own `Settle`).
///
/// `K` is the service's classifier, `T` and `E` the inner service's
/// response and error, `P` the call's permit (an [`OwnedPermit`] on the
/// service's handle on the breaker). Implementors are marker types: the
/// service holds no value of `M`.
///
/// # Examples
///
/// A `Settle` that hands the permit to the caller with the response, for a
/// caller that learns the outcome only later:
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::Arc;
/// use std::time::Duration;
/// use breaker_tokio::tower::{CircuitBreakerLayer, Settle};
/// use breaker_tokio::{Config, Outcome};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// struct ByCaller;
///
/// impl<K, T, E, P> Settle<K, T, E, P> for ByCaller {
///     type Response = (T, Option<P>);
///     // The call may last long: show it in the metrics while it does.
///     const COUNTS_AT_ADMISSION: bool = true;
///
///     fn settle(_: &K, result: Result<T, E>, permit: Option<P>) -> Result<(T, Option<P>), E> {
///         // An error drops the permit: `Outcome::Ignored`.
///         result.map(|response| (response, permit))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = Arc::new(breaker_tokio::new(Config::new(0.5, Duration::from_secs(10))));
/// let service = CircuitBreakerLayer::new(breaker.clone())
///     .with_settle::<ByCaller>()
///     .layer(service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }));
///
/// let (reply, permit) = service.oneshot(7).await.unwrap();
/// assert_eq!(reply, 7);
/// assert_eq!(breaker.metrics().call_count, 1, "counted when admitted");
/// assert_eq!(breaker.metrics().successes, 0, "not settled yet");
/// permit.expect("a first poll has the permit").record(Outcome::Success);
/// assert_eq!(breaker.metrics().successes, 1);
/// # }
/// ```
pub trait Settle<K, T, E, P> {
    /// The service's response.
    type Response;

    /// When a Passing admission shows in the breaker's metrics: `false` (the
    /// default), when its permit settles, which saves two atomic updates per
    /// call (see the [module docs](super#cost-per-request)); `true`, when
    /// the call is admitted, so that metrics show long calls (streams) while
    /// they are in flight.
    const COUNTS_AT_ADMISSION: bool = false;

    /// Settles `permit` for `result`, or moves it into the response to
    /// settle later; a permit dropped unsettled records
    /// [`Outcome::Ignored`](crate::Outcome::Ignored). `permit` is `None` only
    /// if the response future is polled again after it completed.
    fn settle(classifier: &K, result: Result<T, E>, permit: Option<P>)
    -> Result<Self::Response, E>;

    /// The error a rejected call fails with: by default the boxed
    /// [`CircuitBroken`].
    fn rejection(broken: CircuitBroken) -> BoxError {
        Box::new(broken)
    }
}

/// The default [`Settle`]: when the inner future completes, its result is
/// classified by the service's [`Classify`](crate::Classify), the outcome
/// recorded, and the result returned unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtCompletion;

impl<K, T, E, H, C, const N: usize, L> Settle<K, T, E, OwnedPermit<H, C, N, L>> for AtCompletion
where
    K: Classify<T, E>,
    H: Deref<Target = CoreBreaker<C, N, L>>,
    C: Clock,
    L: Listener,
{
    type Response = T;

    #[inline]
    fn settle(
        classifier: &K,
        result: Result<T, E>,
        permit: Option<OwnedPermit<H, C, N, L>>,
    ) -> Result<T, E> {
        if let Some(permit) = permit {
            permit.record(classifier.classify(&result));
        }
        result
    }
}
