//! What both benches share: a shuffled walk over the keys, and the
//! two-thread driver.

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// `items` in a shuffled order (a fixed Fisher-Yates on an LCG), so
/// consecutive calls do not hit neighbouring slots.
pub(crate) fn shuffled<T>(mut items: Vec<T>) -> Vec<T> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..items.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items.swap(i, (state >> 33) as usize % (i + 1));
    }
    items
}

/// Runs `work(thread, iters)` on two threads (`thread` is 0 and 1) and
/// returns the span from the first start to the last end.
pub(crate) fn two_threads(iters: u64, work: impl Fn(usize, u64) + Sync) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let run = |thread: usize| {
            barrier.wait();
            let t = Instant::now();
            work(thread, iters);
            (t, Instant::now())
        };
        let other = s.spawn(move || run(1));
        let mine = run(0);
        let other = other.join().expect("bench thread");
        mine.1.max(other.1) - mine.0.min(other.0)
    })
}
