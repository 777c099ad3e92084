//! breaker-core with its `std` feature: panics count as failures, errors are
//! `std::error::Error`s, and `StdClock` drives a breaker in real time.

use std::error::Error as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use breaker_core::{
    CircuitBreaker, CircuitBroken, Config, ConfigError, Error, MockClock, State, StdClock,
};

fn eager() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .passing_time(Duration::ZERO)
        .min_calls(2)
}

#[test]
fn a_panic_while_a_permit_is_held_is_a_failure() {
    let b = CircuitBreaker::new(eager(), MockClock::new());
    for _ in 0..2 {
        let r = catch_unwind(AssertUnwindSafe(|| {
            b.call(|| -> Result<(), ()> { panic!("the callee blew up") })
        }));
        assert!(r.is_err());
    }
    let m = b.metrics();
    assert_eq!((m.failures, m.ignored, m.state), (2, 0, State::Broken));
}

#[test]
fn a_panic_across_an_explicit_permit_is_a_failure() {
    let b = CircuitBreaker::new(eager(), MockClock::new());
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _permit = b.try_acquire().unwrap();
        panic!("boom");
    }));
    assert!(r.is_err());
    assert_eq!(b.metrics().failures, 1);
}

#[test]
fn errors_are_std_errors_with_sources() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    let io = std::io::Error::other("refused");
    let e: Error<std::io::Error> = Error::Inner(io);
    is_error(&e);
    assert_eq!(e.source().unwrap().to_string(), "refused");
    is_error(&ConfigError::MinCallsZero);
    let b = CircuitBreaker::new(eager(), MockClock::new());
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    let rejected: CircuitBroken = *b.call(|| Ok::<(), &str>(())).unwrap_err().broken().unwrap();
    is_error(&rejected);
    let boxed: Box<dyn std::error::Error> = Box::new(Error::<std::io::Error>::Broken(rejected));
    assert_eq!(boxed.to_string(), "circuit broken: retry after 10s");
}

#[test]
fn std_clock_drives_a_breaker() {
    // Real time, but nothing waits on it: only that it reads and moves forward.
    let b = CircuitBreaker::new(eager(), StdClock::new());
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), ()>(()));
    }
    assert_eq!(b.state(), State::Broken);
    let left = b.retry_after();
    assert!(
        left <= Duration::from_secs(10) && left > Duration::from_secs(9),
        "{left:?}"
    );
}
