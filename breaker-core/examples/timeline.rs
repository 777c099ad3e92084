//! A scripted day of a flaky dependency, simulated with `MockClock`: healthy,
//! degrading, down, back. One line per simulated second shows what the breaker
//! saw and did. Runs in milliseconds; the output is the same on every run.
//!
//! ```text
//! cargo run -p breaker-core --example timeline
//! ```

use std::time::Duration;

use breaker_core::{CircuitBreaker, Config, Error, MockClock, State};

/// Calls per simulated second, evenly spaced.
const RATE: u32 = 20;
/// Length of the simulation, in seconds.
const LENGTH: u32 = 120;

/// The dependency's failure probability at second `t` of the script.
fn failure_rate(t: u32) -> f64 {
    match t {
        0..20 => 0.02,                                    // healthy
        20..35 => 0.05 + 0.35 * f64::from(t - 20) / 15.0, // degrading
        35..60 => 1.0,                                    // down
        _ => 0.01,                                        // back
    }
}

fn phase(t: u32) -> &'static str {
    match t {
        0..20 => "healthy",
        20..35 => "degrading",
        35..60 => "down",
        _ => "back",
    }
}

/// A small deterministic generator (xorshift64*), so every run prints the same.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn main() {
    // aiomisc's example breaker: error_ratio 0.2 over 10 s, broken for 5 s,
    // a 10 s recovery ramp.
    let config = Config::new(0.2, Duration::from_secs(10))
        .broken_time(Duration::from_secs(5))
        .recovery_time(Duration::from_secs(10));
    let clock = MockClock::new();
    let breaker = CircuitBreaker::new(config, &clock);
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let mut seen = Vec::new();

    println!("breaker: {config:?}");
    println!(
        "{:>5}  {:<9}  {:>9}  {:<10}  {:>8}  {:>8}  {:>11}",
        "time", "upstream", "err rate", "state", "admitted", "rejected", "retry_after"
    );
    for second in 0..LENGTH {
        let (mut admitted, mut rejected, mut failed) = (0u32, 0u32, 0u32);
        for _ in 0..RATE {
            let fails = dice.roll() < failure_rate(second);
            match breaker.call(|| if fails { Err("upstream error") } else { Ok(()) }) {
                Ok(()) => admitted += 1,
                Err(Error::Inner(_)) => {
                    admitted += 1;
                    failed += 1;
                }
                Err(_) => rejected += 1,
            }
            clock.advance(Duration::from_secs(1) / RATE);
        }
        let m = breaker.metrics();
        if seen.last() != Some(&m.state) {
            seen.push(m.state);
        }
        let err_rate = if admitted == 0 {
            "-".to_string()
        } else {
            format!("{:.0}%", 100.0 * f64::from(failed) / f64::from(admitted))
        };
        println!(
            "{:>4}s  {:<9}  {:>9}  {:<10}  {:>8}  {:>8}  {:>11}",
            second + 1,
            phase(second),
            err_rate,
            m.state.to_string(),
            admitted,
            rejected,
            if m.retry_after.is_zero() {
                "-".to_string()
            } else {
                format!("{:.1?}", m.retry_after)
            },
        );
    }

    let m = breaker.metrics();
    println!(
        "\ncalls {}: passing {}, broken {}, recovering {} ({} admitted); \
         successes {}, failures {}; trips {}",
        m.call_count,
        m.call_passing,
        m.call_broken,
        m.call_recovering,
        m.call_recovering_ok,
        m.successes,
        m.failures,
        m.trips
    );
    let states: Vec<String> = seen.iter().map(State::to_string).collect();
    println!("states: {}", states.join(" -> "));
}
