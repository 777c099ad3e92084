//! The soak with injected faults (issue #18), in `cargo test`: 16 clients for
//! 5 seconds through an axum proxy and its breaker, in front of a loopback
//! upstream that answers late, fails, hangs, resets connections and panics on
//! a schedule. Real sockets and real time: it asserts exact counts, never
//! speeds. The machinery and the list of checks are in `support/soak.rs`;
//! `cargo run --release -p breaker-tokio --example soak` is the 60 s run.

use std::time::Duration;

#[path = "support/soak.rs"]
mod soak;

#[test]
fn the_soak_loses_nothing() {
    // Two worker threads: the machine this must pass on has two cores, shared.
    let report = soak::run(soak::Settings::new(16, Duration::from_secs(5), Some(2)));
    println!("{report}");
    let problems = report.problems();
    assert!(
        problems.is_empty(),
        "the soak lost something:\n- {}",
        problems.join("\n- ")
    );
}
