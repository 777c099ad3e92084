//! Allocations per call: exactly zero on every core path, and for
//! breaker-tokio's `call` and tower layer.
//!
//! `allocation-counter` replaces the global allocator with one that counts
//! the allocations of the measuring thread; each check runs a path many
//! times inside `measure` and asserts the exact count.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use allocation_counter::measure;
use breaker_benches::{JumpStdClock, broken, never_trips, passing, recovering};
use breaker_core::{CircuitBreaker, Clock, Config, Error, MockClock, State, StdClock};

const CALLS: usize = 1_000;

/// Runs `f` `CALLS` times under the counting allocator; returns the count.
fn allocations(mut f: impl FnMut()) -> u64 {
    measure(|| {
        for _ in 0..CALLS {
            f();
        }
    })
    .count_total
}

fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

fn every_sync_path<C: Clock>(name: &str, clock: impl Fn() -> C) {
    let b = passing(clock());
    assert_eq!(
        allocations(|| b.call(|| Ok::<u8, u8>(1)).map(drop).unwrap()),
        0,
        "{name}: success"
    );
    assert_eq!(
        allocations(|| b.try_acquire().expect("passing").success()),
        0,
        "{name}: try_acquire + success"
    );
    assert_eq!(
        allocations(|| drop(b.try_acquire().expect("passing"))),
        0,
        "{name}: dropped permit (ignored)"
    );

    let b = never_trips(clock());
    assert_eq!(
        allocations(|| assert_eq!(b.call(|| Err::<u8, u8>(1)), Err(Error::Inner(1)))),
        0,
        "{name}: failure"
    );
    assert_eq!(b.state(), State::Passing);

    let b = broken(clock());
    assert_eq!(
        allocations(|| assert!(b.call(|| Ok::<u8, u8>(1)).unwrap_err().is_broken())),
        0,
        "{name}: rejection"
    );
    assert_eq!(
        allocations(|| assert!(b.retry_after() > Duration::ZERO)),
        0,
        "{name}: retry_after"
    );
    assert_eq!(
        allocations(|| assert_eq!(b.metrics().state, State::Broken)),
        0,
        "{name}: metrics"
    );
}

#[test]
fn no_sync_path_allocates() {
    every_sync_path("MockClock", MockClock::new);
    every_sync_path("StdClock", || StdClock);
    // The std adapters' default clock (`TokioClock` outside tests).
    every_sync_path("CoarseClock", || breaker_clock::CoarseClock);
}

#[test]
fn recovering_attempts_do_not_allocate() {
    fn attempts<C: breaker_benches::Jump>(clock: C) -> (u64, usize) {
        let b = recovering(clock);
        let mut admitted = 0;
        let count = allocations(|| admitted += b.call(|| Ok::<u8, u8>(1)).is_ok() as usize);
        assert_eq!(b.state(), State::Recovering);
        (count, admitted)
    }
    let (count, admitted) = attempts(MockClock::new());
    assert_eq!(count, 0);
    // Both outcomes of an attempt were exercised: about 41 % admitted.
    assert!((400..430).contains(&admitted), "{admitted}");
    assert_eq!(attempts(JumpStdClock::new()).0, 0);
}

#[test]
fn a_whole_life_cycle_does_not_allocate() {
    let count = measure(|| {
        let config = Config::new(0.5, Duration::from_secs(10))
            .min_calls(2)
            .passing_time(Duration::ZERO);
        let b = CircuitBreaker::new(config, MockClock::new());
        for _ in 0..2 {
            let _ = b.call(|| Err::<(), ()>(()));
        }
        assert_eq!(b.state(), State::Broken);
        b.clock().advance(Duration::from_secs(20));
        assert_eq!(b.state(), State::Recovering);
        for _ in 0..2 {
            assert_eq!(b.call(|| Ok::<(), ()>(())), Ok(()));
        }
        assert_eq!(b.state(), State::Passing);
    })
    .count_total;
    assert_eq!(count, 0);
}

#[test]
fn call_async_polled_by_hand_does_not_allocate() {
    let b = passing(MockClock::new());
    let count = allocations(|| {
        let call = pin!(b.call_async(async { Ok::<u8, u8>(1) }));
        assert_eq!(poll_once(call), Poll::Ready(Ok(1)));
    });
    assert_eq!(count, 0, "success");
    let count = allocations(|| {
        // Pending, then cancelled: the permit records Ignored on drop.
        let call = pin!(b.call_async(std::future::pending::<Result<u8, u8>>()));
        assert!(poll_once(call).is_pending());
    });
    assert_eq!(count, 0, "cancelled");
    assert_eq!(b.metrics().ignored, CALLS as u64);

    let b = broken(MockClock::new());
    let count = allocations(|| {
        let call = pin!(b.call_async(async { Ok::<u8, u8>(1) }));
        assert!(matches!(
            poll_once(call),
            Poll::Ready(Err(Error::Broken(_)))
        ));
    });
    assert_eq!(count, 0, "rejection");
}

#[test]
fn breaker_tokio_call_does_not_allocate() {
    // Outside a runtime, tokio's clock is the operating system's.
    let b = breaker_tokio::new(Config::new(0.5, Duration::from_secs(3600)));
    let count = allocations(|| {
        let call = pin!(breaker_tokio::call(&b, async { Ok::<u8, u8>(1) }));
        assert_eq!(poll_once(call), Poll::Ready(Ok(1)));
    });
    assert_eq!(count, 0);
    assert_eq!(b.metrics().successes, CALLS as u64);
}

/// Allocations of `CALLS` requests through breaker-tokio's tower layer on
/// the breaker `handle` (an `Arc` or a `&'static`).
fn tower_layer_allocations<H>(handle: H) -> u64
where
    H: std::ops::Deref<Target = breaker_tokio::CircuitBreaker> + Clone,
{
    use tower::{Layer, Service, service_fn};
    let mut service =
        breaker_tokio::tower::CircuitBreakerLayer::new(handle).layer(service_fn(|x: u8| {
            std::future::ready(Ok::<u8, std::io::Error>(x))
        }));
    allocations(|| {
        let ready = service.poll_ready(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(ready, Poll::Ready(Ok(()))));
        let response = pin!(service.call(7));
        assert!(matches!(poll_once(response), Poll::Ready(Ok(7))));
    })
}

#[test]
fn breaker_tokio_tower_layer_does_not_allocate() {
    let config = Config::new(0.5, Duration::from_secs(3600));
    let b = Arc::new(breaker_tokio::new(config));
    assert_eq!(tower_layer_allocations(b.clone()), 0, "Arc");
    assert_eq!(b.metrics().successes, CALLS as u64);
    static B: breaker_tokio::CircuitBreaker =
        breaker_tokio::new(Config::new(0.5, Duration::from_secs(3600)));
    assert_eq!(tower_layer_allocations(&B), 0, "static");
    assert_eq!(B.metrics().successes, CALLS as u64);
}

#[test]
fn the_counter_counts() {
    // A control: the counting allocator is installed and sees this thread.
    let count = allocations(|| drop(std::hint::black_box(Box::new(1u8))));
    assert_eq!(count, CALLS as u64);
}
