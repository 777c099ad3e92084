//! Decodes (config, trace) from the input and runs it through breaker-core and
//! the reference model of `tests/common/mod.rs`: no panic, every invariant,
//! agreement on every observable at every step.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check(data);
});
