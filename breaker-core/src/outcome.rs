//! How a finished call counts: [`Outcome`] and the classifiers that choose it.

/// How a finished call counts in the breaker's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// The dependency worked.
    Success,
    /// The dependency failed; counts towards the error ratio.
    Failure,
    /// Recorded nowhere: the call says nothing about the dependency (a
    /// cancelled call, a client-side error). In Recovering, the call's
    /// admission is given back to the ramp.
    Ignored,
}

impl Outcome {
    /// The default classification: `Ok` is a success, `Err` a failure.
    pub const fn of<T, E>(result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}

/// Decides how a call's result counts. aiomisc's `exceptions` and
/// `exception_inspector` in one.
///
/// Implemented for every `Fn(&Result<T, E>) -> Outcome`, for [`FailureIf`]
/// (a predicate over the error) and for [`DefaultClassifier`].
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use breaker_core::{failure_if, CircuitBreaker, Config, MockClock, Outcome};
///
/// #[derive(Debug)]
/// enum HttpError { Status(u16), Io }
///
/// let clock = MockClock::new();
/// let breaker = CircuitBreaker::new(Config::new(0.5, Duration::from_secs(10)), &clock);
///
/// // Only server errors and I/O errors count against the dependency; like an
/// // exception aiomisc does not list, a 404 counts as a success.
/// let server_fault = failure_if(|e: &HttpError| matches!(e, HttpError::Io | HttpError::Status(500..)));
/// let _ = breaker.call_with(server_fault, || Err::<(), _>(HttpError::Status(404)));
/// assert_eq!(breaker.metrics().successes, 1);
///
/// // A function over the whole result can also ignore a call.
/// let _ = breaker.call_with(|_: &Result<(), HttpError>| Outcome::Ignored, || Ok(()));
/// assert_eq!(breaker.metrics().ignored, 1);
/// ```
pub trait Classify<T, E> {
    /// How `result` counts.
    fn classify(&self, result: &Result<T, E>) -> Outcome;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// `Ok` is a success, `Err` a failure: [`Outcome::of`] as a [`Classify`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl<T, E> Classify<T, E> for DefaultClassifier {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        Outcome::of(result)
    }
}

/// Counts an error as a failure only when the predicate says so; every other
/// result, `Ok` included, is a success. Built by [`failure_if`].
#[derive(Debug, Clone, Copy)]
pub struct FailureIf<P>(P);

/// A classifier from a predicate over the error: `true` means the error is the
/// dependency's fault (a failure), `false` that it is not (a success).
pub const fn failure_if<P>(predicate: P) -> FailureIf<P> {
    FailureIf(predicate)
}

impl<T, E, P> Classify<T, E> for FailureIf<P>
where
    P: Fn(&E) -> bool,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        match result {
            Err(e) if (self.0)(e) => Outcome::Failure,
            _ => Outcome::Success,
        }
    }
}
