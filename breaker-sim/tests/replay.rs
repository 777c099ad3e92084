//! Exact numbers on small hand-made traces, and the replay checked against
//! the core driven directly with its own listener.

use std::cell::RefCell;
use std::time::Duration;

use breaker_core::{CircuitBreaker, Config, ConfigError, MockClock, State, Transition};
use breaker_sim::{Options, ReplayError, Report, Scenario, TraceReader, TransitionRecord, replay};

const MS: Duration = Duration::from_millis(1);

fn run(trace: &str, configs: &[Config]) -> Result<Vec<Report>, ReplayError> {
    replay(
        TraceReader::new(trace.as_bytes()),
        configs,
        Options::default(),
    )
}

fn t(at_ms: f64, from: &'static str, to: &'static str) -> TransitionRecord {
    TransitionRecord { at_ms, from, to }
}

/// Breaks at 2 failures of 4 calls, no grace; 1 s Broken, 1 s ramp.
fn small() -> Config {
    Config::new(0.5, 1000 * MS)
        .passing_time(Duration::ZERO)
        .min_calls(4)
}

#[test]
fn trips_at_the_failure_that_reaches_the_ratio_then_ramps_back() {
    let trace = "time_ms,outcome\n\
        0,ok\n100,ok\n200,err\n300,err\n\
        400,ok\n1299,ok\n\
        1300,ok\n1550,ok\n1800,ok\n2050,ok\n\
        2300,ok\n2400,ok\n";
    let r = &run(trace, &[small()]).unwrap()[0];
    // 2 of 4 at 300 ms: Broken until 1300, Recovering until 2300.
    assert_eq!(
        r.transitions,
        [
            t(300.0, "passing", "broken"),
            t(1300.0, "broken", "recovering"),
            t(2300.0, "recovering", "passing"),
        ]
    );
    assert_eq!(
        (r.trips, r.listener_trips, r.first_trip_at_ms),
        (1, 1, Some(300.0))
    );
    // The ramp: p = 2^(e/1s) - 1 at e = 0, 250, 500, 750 ms is 0, 0.189,
    // 0.414, 0.682; the credit first reaches 1 at 2050 ms. Then Passing.
    // Admitted: 4 before the trip, 2050, 2300 and 2400.
    assert_eq!((r.events, r.admitted, r.rejected), (12, 7, 5));
    assert_eq!(
        (r.admitted_failures, r.failures_recorded, r.late),
        (2, 2, 0)
    );
    assert_eq!(r.first_failure_to_trip_ms, Some(100.0));
    assert_eq!(r.last_failure_to_passing_ms, Some(2000.0));
    assert_eq!(
        (
            r.time_in_state_ms.passing,
            r.time_in_state_ms.broken,
            r.time_in_state_ms.recovering
        ),
        (400.0, 1000.0, 1000.0)
    );
    assert_eq!((r.end_ms, r.final_state.as_str()), (2400.0, "passing"));
}

#[test]
fn outcomes_land_when_due_in_time_order() {
    // The call at 0 fails only at 500; the call at 200 fails at 300 and,
    // with the success recorded at 100, trips the breaker there. The call
    // at 300 asks after that outcome is recorded, and is rejected; the
    // outcome due at 500 belongs to the ended Passing: late.
    let config = Config::new(0.5, Duration::from_secs(10))
        .passing_time(Duration::ZERO)
        .min_calls(2)
        .broken_time(Duration::from_secs(1));
    let trace = "time_ms,outcome,latency_ms\n\
        0,err,500\n100,ok,0\n200,err,100\n300,ok,0\n400,ok,0\n600,ok,0\n";
    let r = &run(trace, &[config]).unwrap()[0];
    assert_eq!(r.transitions, [t(300.0, "passing", "broken")]);
    assert_eq!((r.admitted, r.rejected), (3, 3));
    assert_eq!(
        (r.admitted_failures, r.failures_recorded, r.late),
        (2, 1, 1)
    );
    assert_eq!(r.first_failure_at_ms, Some(300.0));
    assert_eq!(r.last_failure_at_ms, Some(500.0));
    assert_eq!(r.last_failure_to_passing_ms, None);
    assert_eq!((r.end_ms, r.final_state.as_str()), (600.0, "broken"));
    assert_eq!(
        (r.time_in_state_ms.passing, r.time_in_state_ms.broken),
        (300.0, 300.0)
    );
}

#[test]
fn a_broken_period_that_ends_after_the_last_call_is_closed_at_its_deadline() {
    // A latency carries the end of the trace past Broken's deadline.
    let trace = "time_ms,outcome,latency_ms\n0,err,0\n10,err,0\n20,err,0\n30,err,0\n40,ok,1500\n";
    let r = &run(trace, &[small()]).unwrap()[0];
    // Tripped at 30 (the call at 40 is rejected: its latency is never run).
    assert_eq!(
        r.transitions,
        [
            t(30.0, "passing", "broken"),
            t(1030.0, "broken", "recovering")
        ]
    );
    assert_eq!((r.admitted, r.rejected, r.end_ms), (4, 1, 1540.0));
    assert_eq!(r.time_in_state_ms.recovering, 510.0);
}

#[test]
fn ignored_calls_are_admitted_and_recorded_nowhere() {
    let trace = "time_ms,outcome\n0,ignore\n1,ignore\n2,err\n3,err\n4,ignore\n5,err\n6,err\n";
    let r = &run(trace, &[small()]).unwrap()[0];
    // Four recorded failures are needed; the ignored calls do not count.
    assert_eq!(r.transitions, [t(6.0, "passing", "broken")]);
    assert_eq!(
        (r.admitted, r.admitted_failures, r.failures_recorded),
        (7, 4, 4)
    );
}

/// The demo's script, played straight into a core breaker whose listener is
/// a closure, with no replay code in between.
fn direct(config: Config, scenario: &Scenario) -> (Vec<Transition>, u64, u64) {
    let seen = RefCell::new(Vec::new());
    let clock = MockClock::new();
    let breaker = CircuitBreaker::<_, 10, _>::with_listener(config, &clock, |t: Transition| {
        seen.borrow_mut().push(t)
    });
    let (mut admitted, mut rejected) = (0, 0);
    let _ = breaker.state();
    for e in scenario.events() {
        clock.set(Duration::from_nanos(e.at_ns));
        let failed = e.answer == breaker_sim::Answer::Err;
        match breaker.call(|| if failed { Err(()) } else { Ok(()) }) {
            Err(breaker_core::Error::Broken(_)) => rejected += 1,
            _ => admitted += 1,
        }
    }
    let _ = breaker.state();
    let seen = seen.borrow().clone();
    (seen, admitted, rejected)
}

#[test]
fn the_replay_agrees_with_the_core_driven_directly() {
    let scenario = Scenario::parse(
        "6s 50/s 0%, 2s 50/s 10%, 2s 50/s 20%, 2s 50/s 30%, 6s 50/s 100%, 12s 50/s 0%",
    )
    .unwrap();
    let configs = [
        Config::new(0.2, Duration::from_secs(4)).broken_time(Duration::from_secs(2)),
        Config::new(0.5, Duration::from_secs(10)).min_calls(20),
        Config::new(0.2, Duration::from_secs(2))
            .broken_time(Duration::from_millis(500))
            .broken_time_max(Duration::from_secs(4))
            .jitter(0.3)
            .jitter_seed(5),
    ];
    let reports = replay(scenario.events().map(Ok), &configs, Options::default()).unwrap();
    let mut tripped = 0;
    for (config, report) in configs.iter().zip(&reports) {
        let (transitions, admitted, rejected) = direct(*config, &scenario);
        let expected: Vec<TransitionRecord> = transitions
            .iter()
            .map(|t| {
                let name = |s: State| match s {
                    State::Passing => "passing",
                    State::Broken => "broken",
                    State::Recovering => "recovering",
                };
                TransitionRecord {
                    at_ms: t.at.as_nanos() as f64 / 1e6,
                    from: name(t.from),
                    to: name(t.to),
                }
            })
            .collect();
        assert_eq!(report.transitions, expected, "{config:?}");
        assert_eq!(
            (report.admitted, report.rejected),
            (admitted, rejected),
            "{config:?}"
        );
        let trips = transitions.iter().filter(|t| t.to == State::Broken).count() as u64;
        assert_eq!((report.trips, report.listener_trips), (trips, trips));
        tripped += usize::from(trips > 0);
        // Alone or side by side, a configuration replays the same.
        let alone = replay(scenario.events().map(Ok), &[*config], Options::default()).unwrap();
        assert_eq!(alone[0], *report);
    }
    assert_eq!(tripped, 3, "every configuration should trip on this script");
    // The demo's configuration: first trip in the 30% phase.
    assert_eq!(reports[0].first_trip_at_ms, Some(10_860.0));
    assert_eq!(reports[0].trips, 3);
}

#[test]
fn bad_input_stops_the_replay() {
    let bad = "time_ms,outcome\n0,ok\n5,maybe\n";
    let e = run(bad, &[small()]).unwrap_err();
    let ReplayError::Trace(e) = e else {
        panic!("{e:?}")
    };
    assert_eq!((e.line, e.column), (3, 3));
    assert_eq!(
        run(
            "time_ms,outcome\n0,ok\n",
            &[small(), small().broken_time(Duration::ZERO)]
        )
        .unwrap_err(),
        ReplayError::Config(1, ConfigError::BrokenTimeZero)
    );
}

#[test]
fn calls_in_flight_are_bounded() {
    let trace = "time_ms,outcome,latency_ms\n0,ok,100\n10,ok,100\n20,ok,100\n";
    let limited = Options {
        max_in_flight: 2,
        ..Options::default()
    };
    let e = replay(TraceReader::new(trace.as_bytes()), &[small()], limited).unwrap_err();
    assert_eq!(
        e,
        ReplayError::InFlight {
            at_ns: 20_000_000,
            limit: 2
        }
    );
    // Once an outcome is due, its slot is free again.
    let spaced = "time_ms,outcome,latency_ms\n0,ok,100\n10,ok,100\n100,ok,100\n";
    let r = replay(TraceReader::new(spaced.as_bytes()), &[small()], limited).unwrap();
    assert_eq!(r[0].admitted, 3);
}

#[test]
fn latency_is_measured_on_the_clock_for_slow_calls() {
    // slow_call 100 ms: a success that takes 150 ms is recorded as a failure,
    // one that takes 100 ms is not.
    let config = small().min_calls(2).slow_call(100 * MS);
    let trace = "time_ms,outcome,latency_ms\n0,ok,150\n10,ok,100\n20,ok,0\n";
    let r = &run(trace, &[config]).unwrap()[0];
    assert_eq!((r.admitted_failures, r.failures_recorded), (0, 1));
    // Recorded: 20 ok at 20, 10 ok at 110, 0 slow at 150: 1 failure of 3,
    // below 0.5: no trip; at or above 0.3: a trip at 150.
    assert!(r.transitions.is_empty());
    let mut lower = config;
    lower.error_ratio = 0.3;
    let r = &run(trace, &[lower]).unwrap()[0];
    assert_eq!(r.transitions, [t(150.0, "passing", "broken")]);
}
