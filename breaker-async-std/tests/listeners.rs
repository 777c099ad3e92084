//! The ready listeners behind this crate's `log` and `tracing` features,
//! captured by a hand-written `log::Log` and `tracing::Subscriber`. Run with
//! `cargo test -p breaker-async-std --all-features`; without the features
//! this binary is empty.
#![cfg(any(feature = "log", feature = "tracing"))]

use std::time::Duration;

use breaker_async_std::{Config, State};

/// Breaks on one failure at once; Broken for 5 s (nothing here waits that
/// long, so the real-time breakers below stay Broken until reset).
const CONFIG: Config = Config::new(0.5, Duration::from_secs(10))
    .min_calls(1)
    .passing_time(Duration::ZERO)
    .broken_time(Duration::from_secs(5));

#[cfg(feature = "log")]
mod log_listener {
    use std::sync::Mutex;

    use breaker_async_std::{CircuitBreaker, LogListener};
    use log::{Level, LevelFilter, Log, Metadata, Record};

    use super::{CONFIG, State};

    static LINES: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

    /// Keeps the breaker's lines; the runtimes log too, and are left out.
    struct Capture;

    impl Log for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn log(&self, record: &Record<'_>) {
            let line = record.args().to_string();
            if line.starts_with("circuit breaker") {
                LINES.lock().unwrap().push((record.level(), line));
            }
        }

        fn flush(&self) {}
    }

    static UPSTREAM: CircuitBreaker<10, LogListener> =
        breaker_async_std::with_listener(CONFIG, LogListener::new("upstream"));

    #[test]
    fn log_listener_logs_every_transition() {
        log::set_logger(&Capture).expect("the only logger of this binary");
        log::set_max_level(LevelFilter::Info);

        smol::block_on(async {
            let reply = breaker_async_std::call(&UPSTREAM, async { Err::<(), _>("down") }).await;
            assert!(reply.is_err());
        });
        assert_eq!(UPSTREAM.state(), State::Broken);
        UPSTREAM.force_open();
        UPSTREAM.reset();
        assert_eq!(UPSTREAM.listener().name(), "upstream");

        let lines = std::mem::take(&mut *LINES.lock().unwrap());
        assert_eq!(
            lines,
            [
                (
                    Level::Warn,
                    "circuit breaker \"upstream\": passing -> broken for 5s".to_owned()
                ),
                // Forced open reads Broken: a warning too.
                (
                    Level::Warn,
                    "circuit breaker \"upstream\": broken -> forced open".to_owned()
                ),
                (
                    Level::Info,
                    "circuit breaker \"upstream\": forced open -> passing".to_owned()
                ),
            ]
        );
    }
}

#[cfg(feature = "tracing")]
mod tracing_listener {
    use std::fmt::{self, Write};
    use std::sync::Mutex;

    use breaker_async_std::{CircuitBreaker, TracingListener};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::{CONFIG, State};

    static EVENTS: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());

    /// Keeps the breaker's events (those with a `breaker` field), each as
    /// `name=value` pairs without `at_ns` (real time).
    struct Capture;

    struct Fields {
        text: String,
        ours: bool,
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            match field.name() {
                "at_ns" => {}
                "breaker" => {
                    self.ours = true;
                    write!(self.text, " breaker={value:?}").unwrap();
                }
                name => write!(self.text, " {name}={value:?}").unwrap(),
            }
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }

        fn record(&self, _: &Id, _: &Record<'_>) {}

        fn record_follows_from(&self, _: &Id, _: &Id) {}

        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields {
                text: String::new(),
                ours: false,
            };
            event.record(&mut fields);
            if fields.ours {
                let level = *event.metadata().level();
                EVENTS.lock().unwrap().push((level, fields.text));
            }
        }

        fn enter(&self, _: &Id) {}

        fn exit(&self, _: &Id) {}
    }

    static DATABASE: CircuitBreaker<10, TracingListener> =
        breaker_async_std::with_listener(CONFIG, TracingListener::new("database"));

    #[test]
    fn tracing_listener_emits_an_event_per_transition() {
        tracing::subscriber::with_default(Capture, || {
            smol::block_on(async {
                let reply =
                    breaker_async_std::call(&DATABASE, async { Err::<(), _>("down") }).await;
                assert!(reply.is_err());
            });
            assert_eq!(DATABASE.state(), State::Broken);
            DATABASE.disable();
            DATABASE.reset();
        });

        let events = std::mem::take(&mut *EVENTS.lock().unwrap());
        let fields = |from: &str, to: &str, from_mode: &str, to_mode: &str, ms: u64| {
            // Every transition here is the machine's or the operator's.
            let cause = if from_mode == to_mode {
                "machine"
            } else {
                "operator"
            };
            format!(
                " message=circuit breaker transition breaker=\"database\" from={from} to={to} \
                 from_mode={from_mode} to_mode={to_mode} broken_ms={ms} cause={cause}"
            )
        };
        assert_eq!(
            events,
            [
                (
                    Level::WARN,
                    fields("passing", "broken", "automatic", "automatic", 5_000)
                ),
                (
                    Level::INFO,
                    fields("broken", "passing", "automatic", "disabled", 0)
                ),
                (
                    Level::INFO,
                    fields("passing", "passing", "disabled", "automatic", 0)
                ),
            ]
        );
    }
}
