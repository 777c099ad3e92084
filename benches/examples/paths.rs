//! Runs one path N times, for instruction counts under callgrind:
//!
//! ```text
//! cargo build --release -p breaker-benches --example paths
//! valgrind --tool=callgrind target/release/examples/paths success 1000000
//! ```
//!
//! Paths: `floor`, `success`, `permit`, `failure`, `rejection`, `recovering`,
//! each with `MockClock`, or with `StdClock` if the name ends in `-std`;
//! `success-tokio` and `rejection-tokio` with `TokioClock` as a service builds
//! it (`CoarseClock`).
//! Running it with N and with 2N and subtracting the totals gives the
//! instructions of N calls without the setup.

use std::hint::black_box;

use breaker_benches::{Floor, JumpStdClock, broken, never_trips, passing, recovering};
use breaker_core::{CircuitBreaker, Clock, MockClock, StdClock};
use breaker_tokio::TokioClock;

fn run<C: Clock>(breaker: &CircuitBreaker<C>, n: u64, op: fn(&CircuitBreaker<C>)) {
    for _ in 0..n {
        op(black_box(breaker));
    }
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

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "success".into());
    let n: u64 = args
        .next()
        .map(|n| n.parse().expect("N is a number"))
        .unwrap_or(1_000_000);
    match path.as_str() {
        "floor" => {
            let floor = Floor::new();
            for _ in 0..n {
                black_box(black_box(&floor).call());
            }
        }
        "success" => run(&passing(MockClock::new()), n, call_ok),
        "success-std" => run(&passing(StdClock), n, call_ok),
        "success-tokio" => run(&passing(TokioClock), n, call_ok),
        "permit" => run(&passing(MockClock::new()), n, permit_success),
        "permit-std" => run(&passing(StdClock), n, permit_success),
        "failure" => run(&never_trips(MockClock::new()), n, call_err),
        "failure-std" => run(&never_trips(StdClock), n, call_err),
        "rejection" => run(&broken(MockClock::new()), n, call_ok),
        "rejection-std" => run(&broken(StdClock), n, call_ok),
        "rejection-tokio" => run(&broken(TokioClock), n, call_ok),
        "recovering" => run(&recovering(MockClock::new()), n, call_ok),
        "recovering-std" => run(&recovering(JumpStdClock::new()), n, call_ok),
        other => panic!("unknown path {other:?}"),
    }
}
