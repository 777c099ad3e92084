//! The tokio breaker type and its constructors.

use breaker_core::{Config, ConfigError, Listener, NoListener};

use crate::clock::TokioClock;

/// The core breaker on tokio's clock: what most tokio users want.
///
/// `N` is the number of buckets of the statistics window (10 unless you ask
/// for another count with [`with_buckets`]). `L` is the [`Listener`] told
/// about every transition: [`NoListener`] (free) unless the breaker was built
/// with [`with_listener`].
///
/// A type alias cannot get inherent constructors of its own, and the core's
/// `CircuitBreaker::new` takes the clock as its second argument. So build one
/// with the free functions [`new`](crate::new) / [`try_new`] (which read like
/// aiomisc's `CircuitBreaker(error_ratio=0.2, response_time=20)`), or with the
/// core constructor and [`TokioClock::new`]:
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{CircuitBreaker, Config, TokioClock};
///
/// let config = Config::new(0.2, Duration::from_secs(20)).broken_time(Duration::from_secs(5));
/// let a: CircuitBreaker = breaker_tokio::new(config);
/// let b = CircuitBreaker::new(config, TokioClock::new());
/// assert_eq!(a.config(), b.config());
/// ```
pub type CircuitBreaker<const N: usize = 10, L = NoListener> =
    breaker_core::CircuitBreaker<TokioClock, N, L>;

/// A breaker on tokio's clock with the default 10 buckets.
///
/// `const`, so it can initialise a `static`.
///
/// # Panics
///
/// If `config` is invalid, with the [`ConfigError`] message naming the field
/// and the rule (a compile error in a `static`). [`try_new`] returns the
/// error instead.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{CircuitBreaker, Config, State};
///
/// static GISTS: CircuitBreaker =
///     breaker_tokio::new(Config::new(0.2, Duration::from_secs(20)).broken_time(Duration::from_secs(5)));
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(GISTS.state(), State::Passing);
/// # }
/// ```
pub const fn new(config: Config) -> CircuitBreaker {
    CircuitBreaker::new(config, TokioClock::new())
}

/// A breaker on tokio's clock with the default 10 buckets, or why `config`
/// is invalid.
///
/// # Errors
///
/// [`ConfigError`] naming the first invalid field and the rule it broke.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::Config;
///
/// assert!(breaker_tokio::try_new(Config::new(1.5, Duration::from_secs(20))).is_err());
/// ```
pub const fn try_new(config: Config) -> Result<CircuitBreaker, ConfigError> {
    CircuitBreaker::try_new(config, TokioClock::new())
}

/// A breaker on tokio's clock whose window has `N` buckets.
///
/// # Panics
///
/// As [`new`](crate::new).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use breaker_tokio::{CircuitBreaker, Config};
///
/// let fine: CircuitBreaker<60> = breaker_tokio::with_buckets(Config::new(0.2, Duration::from_secs(60)));
/// # let _ = fine;
/// ```
pub const fn with_buckets<const N: usize>(config: Config) -> CircuitBreaker<N> {
    CircuitBreaker::with_buckets(config, TokioClock::new())
}

/// A breaker on tokio's clock whose window has `N` buckets, or why `config`
/// is invalid.
///
/// # Errors
///
/// As [`try_new`].
pub const fn try_with_buckets<const N: usize>(
    config: Config,
) -> Result<CircuitBreaker<N>, ConfigError> {
    CircuitBreaker::try_with_buckets(config, TokioClock::new())
}

/// A breaker on tokio's clock with the default 10 buckets that tells
/// `listener` about every transition: a closure `Fn(Transition)`, a
/// `LogListener` or `TracingListener` (features `log`, `tracing`), or any
/// [`Listener`].
///
/// `const`, so it can initialise a `static` (with a listener type you can
/// name: a closure's type cannot be written in a `static`).
///
/// # Panics
///
/// As [`new`](crate::new).
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use breaker_tokio::{Config, State, Transition};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let heard = Mutex::new(Vec::new());
/// let config = Config::new(0.5, Duration::from_secs(10))
///     .broken_time(Duration::from_secs(5))
///     .passing_time(Duration::ZERO)
///     .min_calls(1);
/// let breaker = breaker_tokio::with_listener(config, |t: Transition| {
///     heard.lock().unwrap().push(t.to_string());
/// });
/// let _ = breaker_tokio::call(&breaker, async { Err::<(), _>("refused") }).await;
/// assert_eq!(breaker.state(), State::Broken);
/// assert_eq!(*heard.lock().unwrap(), ["passing -> broken for 5s"]);
/// # }
/// ```
pub const fn with_listener<L: Listener>(config: Config, listener: L) -> CircuitBreaker<10, L> {
    CircuitBreaker::with_listener(config, TokioClock::new(), listener)
}

/// [`with_listener`], or why `config` is invalid.
///
/// # Errors
///
/// As [`try_new`]. The listener is not dropped in that case (a `const fn`
/// cannot drop a generic value; the core forgets it).
pub const fn try_with_listener<L: Listener>(
    config: Config,
    listener: L,
) -> Result<CircuitBreaker<10, L>, ConfigError> {
    CircuitBreaker::try_with_listener(config, TokioClock::new(), listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use breaker_core::State;
    use core::time::Duration;

    static STATIC: CircuitBreaker = new(Config::new(0.2, Duration::from_secs(20)));
    static FINE: CircuitBreaker<60> = with_buckets(Config::new(0.2, Duration::from_secs(60)));

    #[tokio::test(start_paused = true)]
    async fn constructors_are_const_and_keep_the_config() {
        assert_eq!(STATIC.state(), State::Passing);
        assert_eq!(STATIC.config().broken_time, Duration::from_secs(20));
        assert_eq!(FINE.state(), State::Passing);
    }

    #[test]
    fn invalid_configs_are_refused_with_the_field_named() {
        let err = try_new(Config::new(0.0, Duration::from_secs(1))).unwrap_err();
        assert_eq!(err, ConfigError::ErrorRatioOutOfRange);
        assert!(err.to_string().contains("error_ratio"));
        let err = try_with_buckets::<4>(Config::new(0.5, Duration::ZERO)).unwrap_err();
        assert!(err.to_string().contains("window"));
    }

    static NAMED: CircuitBreaker<10, Trips> =
        with_listener(Config::new(0.2, Duration::from_secs(20)), Trips);

    /// A listener whose type can be named in a `static`.
    #[derive(Debug)]
    struct Trips;

    impl Listener for Trips {
        fn on_transition(&self, _: breaker_core::Transition) {}
    }

    #[tokio::test(start_paused = true)]
    async fn with_listener_is_const_and_keeps_the_listener() {
        assert_eq!(NAMED.state(), State::Passing);
        let _: &Trips = NAMED.listener();
        let err = try_with_listener(Config::new(0.2, Duration::ZERO), Trips).unwrap_err();
        assert!(err.to_string().contains("window"));
        // Another bucket count: the core constructor through the alias.
        let fine = CircuitBreaker::<60, _>::with_listener(
            Config::new(0.2, Duration::from_secs(60)),
            TokioClock::new(),
            |_: breaker_core::Transition| {},
        );
        assert_eq!(fine.state(), State::Passing);
    }

    #[test]
    #[should_panic(expected = "error_ratio")]
    fn new_panics_on_an_invalid_config() {
        let _ = new(Config::new(2.0, Duration::from_secs(1)));
    }
}
