//! The core against the reference model in `common/mod.rs`: random configs
//! and random traces, compared at every step.
//!
//! `PROPTEST_CASES` sets the number of cases (default 10,000; 4 under Miri).
//! Failures found are kept in `model.proptest-regressions` and replayed first
//! on every run.

mod common;

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
