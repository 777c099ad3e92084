//! Compile-fail tests: each bad argument is an error pointing at itself.
//!
//! The `.stderr` files pin rustc 1.95's rendering; regenerate them with
//! `TRYBUILD=overwrite cargo test -p breaker-macros --test ui` after a
//! toolchain change and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
