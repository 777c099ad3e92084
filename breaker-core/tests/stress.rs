//! Two threads hammer one breaker with a mix of calls, held permits, drops and
//! reads while a third moves the `MockClock`, so the breaker trips, recovers
//! and rolls buckets all the time. Afterwards every counter must add up
//! exactly.

use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use breaker_core::{CircuitBreaker, Config, MockClock, Outcome, Permit};

/// Operations per worker thread (1M in all, or a few hundred under Miri).
const OPS: u64 = if cfg!(miri) { 300 } else { 500_000 };
const WORKERS: usize = 2;

/// xorshift64: deterministic per-thread randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn counters_add_up_exactly_under_contention() {
    let clock = MockClock::new();
    // 10 buckets of 20 µs; short Broken and ramp so all states come round.
    let config = Config::new(0.5, Duration::from_micros(200))
        .broken_time(Duration::from_micros(50))
        .recovery_time(Duration::from_micros(50))
        .passing_time(Duration::ZERO)
        .min_calls(5);
    let breaker = CircuitBreaker::new(config, &clock);
    let done = AtomicBool::new(false);

    let held: Vec<Permit<'_, &MockClock>> = std::thread::scope(|s| {
        let ticker = s.spawn(|| {
            let mut ticks = 0u64;
            while !done.load(Ordering::Relaxed) {
                clock.advance(Duration::from_micros(2));
                ticks += 1;
                if ticks.is_multiple_of(64) {
                    std::thread::yield_now();
                }
            }
            // Under Miri, make sure time moved at all.
            clock.advance(Duration::from_micros(1));
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let breaker = &breaker;
                let clock = &clock;
                s.spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1));
                    let mut held: Vec<Permit<'_, &MockClock>> = Vec::new();
                    for _ in 0..OPS {
                        let r = rng.next();
                        // Bad periods (mostly failures) alternate with good ones.
                        let bad = (clock.elapsed().as_micros() / 300).is_multiple_of(2);
                        let fails = if bad {
                            r % 10 < 8
                        } else {
                            r.is_multiple_of(10)
                        };
                        match (r >> 8) % 16 {
                            0..=9 => {
                                let _ = breaker.call(|| if fails { Err(()) } else { Ok(()) });
                            }
                            10 | 11 => {
                                if held.len() < 8 {
                                    if let Ok(p) = breaker.try_acquire() {
                                        held.push(p);
                                    }
                                }
                            }
                            12 | 13 => {
                                if !held.is_empty() {
                                    let p = held.swap_remove((r >> 16) as usize % held.len());
                                    match (r >> 24) % 4 {
                                        0 => drop(p),
                                        1 => p.record(Outcome::Ignored),
                                        _ if fails => p.failure(),
                                        _ => p.success(),
                                    }
                                }
                            }
                            14 => {
                                let _ = breaker.state();
                            }
                            _ => {
                                let m = breaker.metrics();
                                assert!(m.window_failures <= m.window_calls);
                            }
                        }
                    }
                    held
                })
            })
            .collect();
        let held = workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect();
        done.store(true, Ordering::Relaxed);
        ticker.join().expect("ticker");
        held
    });

    let m = breaker.metrics();
    assert_eq!(
        m.call_count,
        m.call_passing + m.call_broken + m.call_recovering_ok + m.call_recovering_failed,
        "{m:?}"
    );
    assert_eq!(
        m.successes + m.failures + m.ignored + m.late + held.len() as u64,
        m.call_passing + m.call_recovering_ok,
        "{m:?}"
    );
    assert!(m.call_count >= OPS * WORKERS as u64 * 10 / 16 / 2, "{m:?}");
    if !cfg!(miri) {
        // The run went round the whole cycle many times.
        assert!(m.trips > 10 && m.call_recovering_ok > 0, "{m:?}");
    }
    let admitted = m.call_passing + m.call_recovering_ok;
    drop(held);
    let m = breaker.metrics();
    assert_eq!(
        m.successes + m.failures + m.ignored + m.late,
        admitted,
        "{m:?}"
    );
}
