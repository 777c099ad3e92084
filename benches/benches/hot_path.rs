//! ns per call of every core path, next to the hardware floor.
//!
//! Each path runs with `MockClock` (time frozen: the cost of the breaker
//! alone), with `StdClock` (plus a precise clock read) and, for the paths a
//! service takes most, with `TokioClock` as a service builds it (no
//! `test-util`: `CoarseClock`, the std adapters' default), on one thread and
//! on two threads hammering one breaker. Every sample gets a fresh breaker in
//! its scenario's state (set up outside the timed part), and checks after the
//! timed part that the breaker is still in that state.
//!
//! Two threads: each thread makes `iters` calls; the time reported is from
//! the first thread's start to the last one's end, divided by `iters`: what
//! one call costs a thread while another thread uses the same breaker.

use std::hint::black_box;
use std::time::{Duration, Instant};

use breaker_benches::{Floor, JumpStdClock, broken, never_trips, passing, recovering, two_threads};
use breaker_clock::CoarseClock;
use breaker_core::{CircuitBreaker, Clock, MockClock, State, StdClock};
use breaker_tokio::TokioClock;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

/// Benchmarks `op` on a fresh breaker from `make`, on one thread and on two.
fn path<C, M, O>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    clock: &str,
    make: M,
    expected: State,
    op: O,
) where
    C: Clock + Sync,
    M: Fn() -> CircuitBreaker<C>,
    O: Fn(&CircuitBreaker<C>) + Sync + Copy,
{
    group.bench_function(format!("{clock}/1 thread"), |b| {
        b.iter_custom(|iters| {
            let breaker = make();
            let start = Instant::now();
            for _ in 0..iters {
                op(black_box(&breaker));
            }
            let elapsed = start.elapsed();
            assert_eq!(breaker.state(), expected, "the scenario left its state");
            elapsed
        })
    });
    group.bench_function(format!("{clock}/2 threads"), |b| {
        b.iter_custom(|iters| {
            let breaker = make();
            let elapsed = two_threads(&breaker, iters, |breaker, n| {
                for _ in 0..n {
                    op(black_box(breaker));
                }
            });
            assert_eq!(breaker.state(), expected, "the scenario left its state");
            elapsed
        })
    });
}

fn call_ok<C: Clock>(breaker: &CircuitBreaker<C>) {
    let _ = black_box(breaker.call(|| Ok::<u64, u64>(black_box(1))));
}

fn call_err<C: Clock>(breaker: &CircuitBreaker<C>) {
    let _ = black_box(breaker.call(|| Err::<u64, u64>(black_box(1))));
}

fn permit_success<C: Clock>(breaker: &CircuitBreaker<C>) {
    if let Ok(permit) = breaker.try_acquire() {
        permit.success();
    }
}

fn floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("floor");
    group.bench_function("1 thread", |b| {
        b.iter_custom(|iters| {
            let floor = Floor::new();
            let start = Instant::now();
            for _ in 0..iters {
                black_box(black_box(&floor).call());
            }
            start.elapsed()
        })
    });
    group.bench_function("2 threads", |b| {
        b.iter_custom(|iters| {
            let floor = Floor::new();
            two_threads(&floor, iters, |floor, n| {
                for _ in 0..n {
                    black_box(black_box(floor).call());
                }
            })
        })
    });
    group.finish();
}

/// What one clock reading costs: `StdClock` is the difference between the
/// MockClock and StdClock rows of every path that records an outcome.
fn clock_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock_read");
    let mock = MockClock::new();
    group.bench_function("MockClock", |b| b.iter(|| black_box(&mock).now()));
    group.bench_function("StdClock", |b| b.iter(|| black_box(StdClock).now()));
    group.bench_function("Instant::now", |b| b.iter(Instant::now));
    group.bench_function("CoarseClock", |b| b.iter(|| black_box(CoarseClock).now()));
    group.bench_function("TokioClock", |b| b.iter(|| black_box(TokioClock).now()));
    group.finish();
}

fn passing_success(c: &mut Criterion) {
    let mut group = c.benchmark_group("passing_success_call");
    path(
        &mut group,
        "MockClock",
        || passing(MockClock::new()),
        State::Passing,
        call_ok,
    );
    path(
        &mut group,
        "StdClock",
        || passing(StdClock),
        State::Passing,
        call_ok,
    );
    path(
        &mut group,
        "TokioClock",
        || passing(TokioClock),
        State::Passing,
        call_ok,
    );
    group.finish();

    let mut group = c.benchmark_group("passing_success_permit");
    path(
        &mut group,
        "MockClock",
        || passing(MockClock::new()),
        State::Passing,
        permit_success,
    );
    path(
        &mut group,
        "StdClock",
        || passing(StdClock),
        State::Passing,
        permit_success,
    );
    path(
        &mut group,
        "TokioClock",
        || passing(TokioClock),
        State::Passing,
        permit_success,
    );
    group.finish();
}

fn passing_failure(c: &mut Criterion) {
    let mut group = c.benchmark_group("passing_failure_call");
    path(
        &mut group,
        "MockClock",
        || never_trips(MockClock::new()),
        State::Passing,
        call_err,
    );
    path(
        &mut group,
        "StdClock",
        || never_trips(StdClock),
        State::Passing,
        call_err,
    );
    group.finish();
}

fn broken_rejection(c: &mut Criterion) {
    let mut group = c.benchmark_group("broken_rejection_call");
    path(
        &mut group,
        "MockClock",
        || broken(MockClock::new()),
        State::Broken,
        call_ok,
    );
    path(
        &mut group,
        "StdClock",
        || broken(StdClock),
        State::Broken,
        call_ok,
    );
    path(
        &mut group,
        "TokioClock",
        || broken(TokioClock),
        State::Broken,
        call_ok,
    );
    group.finish();
}

fn recovering_admission(c: &mut Criterion) {
    let mut group = c.benchmark_group("recovering_attempt_call");
    path(
        &mut group,
        "MockClock",
        || recovering(MockClock::new()),
        State::Recovering,
        call_ok,
    );
    path(
        &mut group,
        "StdClock+jump",
        || recovering(JumpStdClock::new()),
        State::Recovering,
        call_ok,
    );
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = floor, clock_read, passing_success, passing_failure, broken_rejection, recovering_admission
}
criterion_main!(benches);
