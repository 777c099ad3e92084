//! What a call through a breaker can fail with.

use core::fmt;
use core::time::Duration;

use crate::state::{Mode, State};

/// A call was not admitted: the breaker is Broken, or Recovering and this call
/// was not in the sample let through.
///
/// Carries what the caller needs next: how long until the breaker starts
/// Recovering ([`retry_after`](Self::retry_after)) and the state that rejected
/// the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CircuitBroken {
    retry_after: Duration,
    state: State,
    mode: Mode,
}

impl CircuitBroken {
    pub(crate) const fn new(retry_after: Duration, state: State) -> CircuitBroken {
        CircuitBroken {
            retry_after,
            state,
            mode: Mode::Automatic,
        }
    }

    /// A rejection by a breaker an operator forced open: no countdown.
    pub(crate) const fn forced_open() -> CircuitBroken {
        CircuitBroken {
            retry_after: Duration::ZERO,
            state: State::Broken,
            mode: Mode::ForcedOpen,
        }
    }

    /// Time left until the breaker starts Recovering; zero when it already is
    /// (a Recovering rejection only means this call was not sampled), and
    /// zero when an operator forced it open (see [`mode`](Self::mode)).
    pub const fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// [`Mode::ForcedOpen`] when an operator forced the breaker open, else
    /// [`Mode::Automatic`].
    pub const fn mode(&self) -> Mode {
        self.mode
    }

    /// The state the call was rejected in: [`State::Broken`] or
    /// [`State::Recovering`].
    pub const fn state(&self) -> State {
        self.state
    }
}

impl fmt::Display for CircuitBroken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.state, self.mode) {
            (_, Mode::ForcedOpen) => f.pad("circuit broken: forced open"),
            (State::Recovering, _) => f.pad("circuit broken: recovering, call not sampled"),
            _ => write!(f, "circuit broken: retry after {:?}", self.retry_after),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CircuitBroken {}

/// The error of a call made through a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<E> {
    /// The breaker rejected the call; the callee was not run.
    Broken(CircuitBroken),
    /// The callee ran and returned this error, untouched.
    Inner(E),
    /// The callee did not finish in time (only the adapters'
    /// `call_with_timeout` produces this). Counted as a failure.
    Timeout,
}

impl<E> Error<E> {
    /// The callee's own error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Inner(e) => Some(e),
            _ => None,
        }
    }

    /// The rejection, if the breaker rejected the call.
    pub const fn broken(&self) -> Option<&CircuitBroken> {
        match self {
            Error::Broken(b) => Some(b),
            _ => None,
        }
    }

    /// Whether the breaker rejected the call without running it.
    pub const fn is_broken(&self) -> bool {
        matches!(self, Error::Broken(_))
    }

    /// Whether the call timed out.
    pub const fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }

    /// Maps the callee's error, keeping rejections and timeouts.
    pub fn map_inner<F, E2>(self, f: F) -> Error<E2>
    where
        F: FnOnce(E) -> E2,
    {
        match self {
            Error::Broken(b) => Error::Broken(b),
            Error::Inner(e) => Error::Inner(f(e)),
            Error::Timeout => Error::Timeout,
        }
    }
}

impl<E> From<CircuitBroken> for Error<E> {
    fn from(b: CircuitBroken) -> Self {
        Error::Broken(b)
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Broken(b) => fmt::Display::fmt(b, f),
            Error::Inner(e) => fmt::Display::fmt(e, f),
            Error::Timeout => f.pad("call timed out"),
        }
    }
}

#[cfg(feature = "std")]
impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Broken(b) => Some(b),
            Error::Inner(e) => Some(e),
            Error::Timeout => None,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn display_is_lowercase_without_a_final_period() {
        let b = CircuitBroken::new(Duration::from_millis(1500), State::Broken);
        assert_eq!(b.to_string(), "circuit broken: retry after 1.5s");
        let r = CircuitBroken::new(Duration::ZERO, State::Recovering);
        assert_eq!(
            r.to_string(),
            "circuit broken: recovering, call not sampled"
        );
        assert_eq!(Error::<&str>::Timeout.to_string(), "call timed out");
        assert_eq!(
            CircuitBroken::forced_open().to_string(),
            "circuit broken: forced open"
        );
        assert_eq!(Error::Inner("boom").to_string(), "boom");
        assert_eq!(Error::<&str>::Broken(b).to_string(), b.to_string());
    }

    #[test]
    fn accessors() {
        let b = CircuitBroken::new(Duration::from_secs(2), State::Broken);
        let e: Error<u8> = b.into();
        assert!(e.is_broken() && !e.is_timeout());
        assert_eq!(
            e.broken().map(|b| b.retry_after()),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            Error::Inner(3u8).map_inner(u16::from).into_inner(),
            Some(3u16)
        );
        assert_eq!(e.into_inner(), None);
    }
}
