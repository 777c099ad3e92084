// What the macro cannot see (a window shorter than one clock tick per bucket,
// a min_calls above the core's limit, a backoff cap below broken_time) the const constructor rejects: a
// `static` whose initializer panics is a compile error carrying the message.
use breaker_macros::tokio_cutout as cutout;

mod adapter {
    pub mod __cutout {
        pub use breaker_core;
        pub type Clock = breaker_core::MockClock;
        pub const CLOCK: Clock = breaker_core::MockClock::new();
    }
}

#[cutout(crate = adapter, error_ratio = 0.2, window = "5ns")]
fn tiny_window() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(crate = adapter, error_ratio = 0.2, window = "30s", min_calls = 100_000_000)]
fn huge_min_calls() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(crate = adapter, error_ratio = 0.2, window = "30s", broken_time_max = "1s")]
fn backoff_below_broken_time() -> Result<u32, ()> {
    Ok(1)
}

fn main() {
    let _ = tiny_window();
    let _ = huge_min_calls();
    let _ = backoff_below_broken_time();
}
