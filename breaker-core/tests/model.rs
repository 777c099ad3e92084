//! The core against the reference model in `common/mod.rs`: random configs
//! and random traces, compared at every step.
//!
//! `PROPTEST_CASES` sets the number of cases (default 10,000; 4 under Miri).
//! Failures found are kept in `model.proptest-regressions` and replayed first
//! on every run.

mod common;

use breaker_core::Mode;
use proptest::prelude::*;

fn cases() -> u32 {
    if cfg!(miri) {
        return 4;
    }
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases());
    config.max_shrink_iters = 20_000;
    if cfg!(miri) {
        // Miri's isolation forbids reading the regressions file.
        config.failure_persistence = None;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes decode to (config, trace); the core must agree with the
    /// model on every observable at every step.
    #[test]
    fn core_agrees_with_the_model(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        common::check(&data);
    }
}

/// Hand-written traces that must take the paths random bytes find rarely.
#[test]
fn model_smoke_traces() {
    // buckets 10, window 1000 s, ratio 0.5, broken 1 ns, recovery 1 ns,
    // passing 0, min_calls 1, start 0, observe; then many failures and reads.
    let mut data = vec![3, 3, 0xE7, 0x03, 0, 5, 5, 1, 0, 0, 1];
    for _ in 0..50 {
        data.extend_from_slice(&[4, 0x1A, 2, 13, 0x1A, 2, 0, 2, 0x66]);
    }
    common::check(&data);
}

// Trace bytes for `Case::decode` (see `common/mod.rs`).
const FAIL: u8 = 0x04; // a failing synchronous call
const SUCCEED: u8 = 0x02; // a succeeding synchronous call
const SLOW: u8 = 0xD2; // a succeeding call one ns slower than `slow_call`
const SKIP: u8 = 0xAC; // the clock to the broken deadline
const TICK: u8 = 0x1A; // the clock on by 1 ns
const HEALTHY: u8 = 0xEC; // the clock on by `slow_call` (here `window`)
const ACQUIRE: u8 = 0x00;
const FINISH: u8 = 0x06; // the oldest held permit succeeds
const FORCE: u8 = 0xCD;
const DISABLE: u8 = 0xDD;
const RESET: u8 = 0xED;
const METRICS: u8 = 0x0E;
const RETRY: u8 = 0x0F;

/// Issue #9 in one trace: backoff up to its cap and back, jitter, slow calls
/// and the operator's controls. 10 buckets, window 10 s, ratio 0.5, broken
/// 10 s, recovery 1 ns, no grace, min_calls 1; times start 2^46 ns below
/// 2^54, so the entry times wrap; broken_time_max 2^15 times broken_time,
/// jitter 0.9, slow_call 10 s; every step observed.
#[test]
#[cfg_attr(
    miri,
    ignore = "under miri the decoder keeps only 24 operations of a trace"
)]
fn issue_9_trace() {
    let mut data = vec![3, 3, 9, 0, 0, 0, 5, 1, 0, 0x80, 0xED, 0, 0xFF, 0xFF];
    data.extend_from_slice(&0x9E37_79B9u32.to_le_bytes()); // jitter_seed
    data.push(5); // slow_call = window
    data.push(FAIL); // Broken, level 0
    for _ in 0..20 {
        // Each failed recovery doubles the broken time, up to the cap.
        data.extend_from_slice(&[RETRY, SKIP, TICK, FAIL]);
    }
    // A recovery, then a quick relapse: still at the cap.
    data.extend_from_slice(&[SKIP, TICK, SUCCEED, FAIL, SKIP, TICK, SUCCEED]);
    // A healthy Passing starts again at broken_time.
    data.extend_from_slice(&[HEALTHY, FAIL, RETRY]);
    // Operator controls, with a permit held across each.
    data.extend_from_slice(&[ACQUIRE, FORCE, ACQUIRE, FINISH, METRICS, FORCE, DISABLE]);
    data.extend_from_slice(&[FAIL, FAIL, ACQUIRE, DISABLE, FINISH, METRICS, RESET, RESET]);
    data.extend_from_slice(&[SUCCEED, SLOW, RETRY, SKIP, TICK, SLOW, METRICS]);
    let case = common::Case::decode(&data);
    let heard = common::run::<10>(&case);
    let broken: Vec<u64> = heard
        .iter()
        .filter(|t| !t.broken_time.is_zero())
        .map(|t| t.broken_time.as_secs())
        .collect();
    // Each within 90 % of 10 s * 2^level; the cap is 10 s * 2^15 = 327,680 s.
    // Levels 0 to 15, then the cap 5 times and once more after the relapse,
    // then 0 (healthy), 0 (after the reset: a slow call) and 1 (a slow call
    // in Recovering).
    let within = |d: u64, level: u32| d.abs_diff(10 << level) <= 9 << level;
    assert_eq!(broken.len(), 25, "{broken:?}");
    for (i, &d) in broken.iter().enumerate() {
        let level = [i.min(15), 0, 0, 1][i.saturating_sub(21)] as u32;
        assert!(within(d, level), "trip {i}: {broken:?}");
    }
    let mode = |m: Mode| heard.iter().filter(|t| t.to_mode == m).count();
    assert_eq!((mode(Mode::ForcedOpen), mode(Mode::Disabled)), (1, 1));
}

/// The Recovering ramp's credit is tagged with the state epoch modulo 16. An
/// operator's transitions move the epoch on without a Recovering attempt
/// rewriting the credit, so before the fix a Recovering state 16 epochs after
/// one that left credit over inherited it and admitted a call the ramp does
/// not allow (here at `p = 2^0.1 - 1 = 0.07`; with 12 or 14 resets instead of
/// 13 it was rejected). The model found it (`core_agrees_with_the_model`,
/// about once in 300,000 cases; the fuzzer in under a minute). Operator
/// transitions now zero the credit.
#[test]
fn ramp_credit_does_not_survive_sixteen_epochs() {
    use breaker_core::{CircuitBreaker, Config, MockClock, State};
    use core::time::Duration;

    const S: Duration = Duration::from_secs(1);
    let clock = MockClock::new();
    let breaker = CircuitBreaker::new(
        Config::new(0.5, 10 * S)
            .broken_time(S)
            .recovery_time(10 * S)
            .passing_time(Duration::ZERO)
            .min_calls(1),
        &clock,
    );
    let _ = breaker.call(|| Err::<(), ()>(())); // Broken (epoch 1)
    clock.advance(11 * S); // Recovering (epoch 2), the ramp at p = 1
    drop(breaker.try_acquire().unwrap()); // ignored: the admission goes back
    breaker.call(|| Ok::<(), ()>(())).unwrap(); // Passing (epoch 3), 1 call of credit left
    for _ in 0..13 {
        breaker.reset(); // epochs 4 ..= 16
    }
    let _ = breaker.call(|| Err::<(), ()>(())); // Broken (epoch 17)
    clock.advance(2 * S); // Recovering (epoch 18 = 2 mod 16) for about 1 s
    assert_eq!(breaker.state(), State::Recovering);
    assert!(
        breaker.try_acquire().is_err(),
        "p = 0.07 admits no first call"
    );
}
