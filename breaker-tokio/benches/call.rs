//! The overhead of `breaker_tokio::call` over a bare `.await`.
//!
//! `cargo bench -p breaker-tokio --bench call`. A plain harness (no
//! criterion): each case runs 1,000,000 awaits inside one `block_on`, five
//! times, and the best run is reported in ns per call (with the extra cost
//! over the bare `.await` in parentheses). Numbers are for
//! comparison on one machine; nothing is asserted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use breaker_tokio::{CircuitBreaker, Config, MockClock, call, call_with_timeout};

/// Iterations per run and runs per case under `cargo bench` (which passes
/// `--bench`); anything else (`cargo test --benches`) only smoke-tests the
/// cases with one short run.
fn plan() -> (u32, u32) {
    if std::env::args().any(|a| a == "--bench") {
        (1_000_000, 5)
    } else {
        (1_000, 1)
    }
}

fn config() -> Config {
    Config::new(0.5, Duration::from_secs(10))
}

/// The best of `runs` runs of `iters` iterations of `body`, in ns per call.
fn measure<F, Fut>(rt: &tokio::runtime::Runtime, name: &str, baseline: Option<f64>, body: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let (iters, runs) = plan();
    let best = (0..runs)
        .map(|_| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    body().await;
                }
                start.elapsed()
            })
        })
        .min()
        .unwrap();
    let ns = best.as_nanos() as f64 / f64::from(iters);
    match baseline {
        Some(base) => println!("{name:<44} {ns:>8.1} ns/call  (+{:.1} ns)", ns - base),
        None => println!("{name:<44} {ns:>8.1} ns/call"),
    }
    ns
}

async fn upstream(n: u64) -> Result<u64, ()> {
    Ok(black_box(n))
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    let tokio_breaker: CircuitBreaker = breaker_tokio::new(config());
    let clock = MockClock::new();
    let mock_breaker = breaker_core::CircuitBreaker::new(config(), &clock);
    // This crate's dev-dependencies turn on its `test-util` feature, so here
    // `TokioClock` reads tokio's (test) clock. What `TokioClock` is in a
    // service, without `test-util`: `CoarseClock`. And `StdClock`, what it
    // cost before it was.
    let coarse_breaker = breaker_core::CircuitBreaker::new(config(), breaker_clock::CoarseClock);
    let std_breaker = breaker_core::CircuitBreaker::new(config(), breaker_core::StdClock::new());
    let broken: CircuitBreaker =
        breaker_tokio::new(config().min_calls(1).passing_time(Duration::ZERO));
    rt.block_on(async {
        let _ = call(&broken, async { Err::<(), _>(()) }).await;
    });
    assert_eq!(broken.state(), breaker_tokio::State::Broken);

    let (iters, runs) = plan();
    println!("breaker-tokio call overhead ({iters} calls, best of {runs} runs)");
    let base = measure(&rt, "bare .await", None, || async {
        black_box(upstream(1).await).unwrap();
    });
    measure(
        &rt,
        "call, TokioClock under test-util, success",
        Some(base),
        || async {
            black_box(call(&tokio_breaker, upstream(1)).await).unwrap();
        },
    );
    measure(
        &rt,
        "call, CoarseClock (= TokioClock in a service)",
        Some(base),
        || async {
            black_box(call(&coarse_breaker, upstream(1)).await).unwrap();
        },
    );
    measure(
        &rt,
        "call, StdClock (TokioClock in a service, before)",
        Some(base),
        || async {
            black_box(call(&std_breaker, upstream(1)).await).unwrap();
        },
    );
    measure(
        &rt,
        "call, MockClock, Passing, success",
        Some(base),
        || async {
            black_box(call(&mock_breaker, upstream(1)).await).unwrap();
        },
    );
    measure(
        &rt,
        "(a Permit around the .await, MockClock)",
        Some(base),
        || async {
            let permit = mock_breaker.try_acquire().unwrap();
            let result = black_box(upstream(1).await);
            permit.record(breaker_tokio::Outcome::of(&result));
            result.unwrap();
        },
    );
    measure(
        &rt,
        "(core's sync call, MockClock, for reference)",
        Some(base),
        || async {
            black_box(mock_breaker.call(|| Ok::<_, ()>(black_box(1)))).unwrap();
        },
    );
    measure(
        &rt,
        "call, TokioClock, Broken, rejected",
        Some(base),
        || async {
            black_box(call(&broken, upstream(1)).await).unwrap_err();
        },
    );
    measure(
        &rt,
        "call_with_timeout(1s), TokioClock, success",
        Some(base),
        || async {
            black_box(call_with_timeout(&tokio_breaker, Duration::from_secs(1), upstream(1)).await)
                .unwrap();
        },
    );
    measure(
        &rt,
        "tokio::time::timeout(1s) alone",
        Some(base),
        || async {
            black_box(tokio::time::timeout(Duration::from_secs(1), upstream(1)).await)
                .unwrap()
                .unwrap();
        },
    );
}
