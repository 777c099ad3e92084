//! One scenario through every way of driving a breaker: the core with
//! `MockClock`, breaker-tokio on tokio's paused clock, breaker-async-std under
//! smol, and breaker-embassy on embassy-time's mock driver. Each must see the
//! same states, admit the same calls and end with the same counters: the
//! adapters add clocks and futures, never behaviour.

use std::future::Future;
use std::time::Duration;

use breaker_core::{Config, Error, Metrics, State};

const S: Duration = Duration::from_secs(1);

fn config() -> Config {
    Config::new(0.5, 10 * S)
        .broken_time(5 * S)
        .recovery_time(4 * S)
        .passing_time(Duration::ZERO)
        .min_calls(4)
}

/// What the scenario observed: the state after each step, how many calls of
/// each step were admitted, and the final metrics.
#[derive(Debug, PartialEq)]
struct Trace {
    states: Vec<State>,
    admitted: Vec<usize>,
    metrics: Metrics,
}

/// The scenario, for any breaker: `attempt(ok)` makes one call through the
/// adapter's `call` and tells whether it was admitted; `advance` moves the
/// breaker's clock.
async fn scenario<A, F>(
    mut attempt: A,
    mut advance: impl FnMut(Duration),
    state: impl Fn() -> State,
    metrics: impl Fn() -> Metrics,
) -> Trace
where
    A: FnMut(bool) -> F,
    F: Future<Output = Result<(), Error<()>>>,
{
    let mut trace = Trace {
        states: vec![],
        admitted: vec![],
        metrics: metrics(),
    };
    let step = |admitted: usize, trace: &mut Trace| {
        trace.admitted.push(admitted);
        trace.states.push(state());
    };
    // 1. Two successes and two failures at t = 0: 2 of 4 = 0.5 breaks it.
    let mut n = 0;
    for ok in [true, true, false, false] {
        n += usize::from(!matches!(attempt(ok).await, Err(Error::Broken(_))));
    }
    step(n, &mut trace);
    // 2. Broken: ten calls rejected; 4.999 s later still Broken.
    let mut n = 0;
    for _ in 0..10 {
        n += usize::from(!matches!(attempt(true).await, Err(Error::Broken(_))));
    }
    advance(5 * S - Duration::from_millis(1));
    step(n, &mut trace);
    // 3. Half way through the ramp (p = 0.414): 4 of 10 admitted, all healthy.
    advance(Duration::from_millis(1) + 2 * S);
    let mut n = 0;
    for _ in 0..10 {
        n += usize::from(attempt(true).await.is_ok());
    }
    step(n, &mut trace);
    // 4. The end of the ramp: healthy calls close the breaker.
    advance(2 * S);
    step(usize::from(attempt(true).await.is_ok()), &mut trace);
    trace.metrics = metrics();
    trace
}

fn expected() -> (Vec<State>, Vec<usize>) {
    (
        vec![
            State::Broken,
            State::Broken,
            State::Recovering,
            State::Passing,
        ],
        vec![4, 0, 4, 1],
    )
}

fn check(trace: &Trace) {
    let (states, admitted) = expected();
    assert_eq!(trace.states, states);
    assert_eq!(trace.admitted, admitted);
    let m = &trace.metrics;
    assert_eq!(m.state, State::Passing);
    assert_eq!((m.call_count, m.call_passing, m.call_broken), (25, 5, 10));
    assert_eq!((m.call_recovering_ok, m.call_recovering_failed), (4, 6));
    assert_eq!((m.successes, m.failures, m.trips), (7, 2, 1));
}

fn outcome(ok: bool) -> Result<(), ()> {
    if ok { Ok(()) } else { Err(()) }
}

fn core_trace() -> Trace {
    let clock = breaker_core::MockClock::new();
    let b = breaker_core::CircuitBreaker::new(config(), &clock);
    embassy_futures::block_on(scenario(
        |ok| std::future::ready(b.call(|| outcome(ok))),
        |d| clock.advance(d),
        || b.state(),
        || b.metrics(),
    ))
}

#[test]
fn core_with_a_mock_clock() {
    check(&core_trace());
}

#[tokio::test(start_paused = true)]
async fn tokio_on_its_paused_clock() {
    let b = breaker_tokio::new(config());
    let trace = scenario(
        |ok| breaker_tokio::call(&b, async move { outcome(ok) }),
        advance_paused_clock,
        || b.state(),
        || b.metrics(),
    )
    .await;
    check(&trace);
    assert_eq!(trace, core_trace());
}

/// Moves tokio's paused clock forward from synchronous code (the scenario's
/// `advance` is a plain closure): `tokio::time::advance` moves the clock when
/// first polled, then only yields.
fn advance_paused_clock(d: Duration) {
    let mut advance = std::pin::pin!(tokio::time::advance(d));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = advance.as_mut().poll(&mut cx);
}

#[test]
fn async_std_adapter_under_smol() {
    let clock = breaker_core::MockClock::new();
    let b = breaker_core::CircuitBreaker::new(config(), &clock);
    let trace = smol::block_on(scenario(
        |ok| breaker_async_std::call(&b, async move { outcome(ok) }),
        |d| clock.advance(d),
        || b.state(),
        || b.metrics(),
    ));
    check(&trace);
    assert_eq!(trace, core_trace());
}

#[test]
fn embassy_on_the_mock_driver() {
    let driver = embassy_time::MockDriver::get();
    driver.reset();
    let b = breaker_embassy::new(config());
    let trace = embassy_futures::block_on(scenario(
        |ok| breaker_embassy::call(&b, async move { outcome(ok) }),
        |d| driver.advance(embassy_time::Duration::from_micros(d.as_micros() as u64)),
        || b.state(),
        || b.metrics(),
    ));
    check(&trace);
    assert_eq!(trace, core_trace());
}
