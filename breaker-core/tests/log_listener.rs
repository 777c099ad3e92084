//! `LogListener` (feature `log`): every transition is one line through the
//! `log` facade, at `warn` when the breaker breaks and `info` otherwise,
//! naming the breaker. A test binary of its own: the logger is global.
#![cfg(all(feature = "log", not(loom)))]

use core::time::Duration;
use std::sync::Mutex;

use breaker_core::{CircuitBreaker, Config, LogListener, MockClock};

/// Keeps every record this binary logs.
struct Capture(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = (record.level(), record.args().to_string());
        self.0.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn transitions_are_logged_by_name_warning_when_broken() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let listener = LogListener::new("upstream");
    assert_eq!(listener.name(), "upstream");
    let clock = MockClock::new();
    let config = Config::new(0.5, Duration::from_secs(10))
        .broken_time(Duration::from_secs(5))
        .passing_time(Duration::ZERO)
        .min_calls(1);
    let b = CircuitBreaker::<_, 10, _>::with_listener(config, &clock, listener);
    let _ = b.call(|| Err::<(), _>(()));
    b.reset();
    assert_eq!(
        *CAPTURE.0.lock().unwrap(),
        [
            (
                log::Level::Warn,
                "circuit breaker \"upstream\": passing -> broken for 5s".to_string()
            ),
            (
                log::Level::Info,
                "circuit breaker \"upstream\": broken -> passing".to_string()
            ),
        ]
    );
}
