//! What the two examples share: the upstream's script, the breaker's
//! configuration and the state timeline. The runtimes' own code (sockets,
//! tasks, sleeps) lives in each example.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use breaker_async_std::{CircuitBreaker, Config, Error, State};

/// Small windows so the whole story fits in 20 seconds: break at 50 % failed
/// calls over the last 2 s (at least 5 calls), stay Broken 1 s, ramp back up
/// over 2 s. `passing_time` defaults to the window: no verdict in the first
/// 2 s of Passing.
pub(crate) static BREAKER: CircuitBreaker = breaker_async_std::new(
    Config::new(0.5, Duration::from_secs(2))
        .broken_time(Duration::from_secs(1))
        .min_calls(5),
);

/// The client's pace and its per-call deadline.
pub(crate) const PACE: Duration = Duration::from_millis(25);
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_millis(150);
/// How long a "slow" answer takes: longer than the client waits.
pub(crate) const SLOW: Duration = Duration::from_millis(300);
/// The example stops after this long.
pub(crate) const RUN_FOR: Duration = Duration::from_secs(18);

/// How the upstream answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// `200 ok` at once.
    Ok,
    /// `200 ok`, after [`SLOW`]: the client times out first.
    Slow,
    /// `503 unavailable` at once.
    Error,
}

/// One stretch of the upstream's script.
#[derive(Debug)]
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    /// When the phase ends, from the start.
    until: Duration,
    /// Out of every 10 requests, how many fail...
    failing_in_10: u64,
    /// ...and how.
    failure: Answer,
}

/// Healthy, degrading (3 in 10 requests hang), down (every request gets a
/// 503), healed.
const SCRIPT: [Phase; 4] = [
    Phase {
        name: "healthy",
        until: Duration::from_secs(4),
        failing_in_10: 0,
        failure: Answer::Ok,
    },
    Phase {
        name: "degrading",
        until: Duration::from_secs(8),
        failing_in_10: 3,
        failure: Answer::Slow,
    },
    Phase {
        name: "down",
        until: Duration::from_secs(13),
        failing_in_10: 10,
        failure: Answer::Error,
    },
    Phase {
        name: "healed",
        until: Duration::MAX,
        failing_in_10: 0,
        failure: Answer::Ok,
    },
];

/// The upstream's script, played against the clock from `start`.
#[derive(Debug)]
pub(crate) struct Script {
    start: Instant,
    requests: AtomicU64,
}

impl Script {
    pub(crate) fn new(start: Instant) -> Script {
        Script {
            start,
            requests: AtomicU64::new(0),
        }
    }

    pub(crate) fn phase(&self) -> &'static Phase {
        let elapsed = self.start.elapsed();
        SCRIPT
            .iter()
            .find(|p| elapsed < p.until)
            .unwrap_or(&SCRIPT[SCRIPT.len() - 1])
    }

    /// How to answer the next request: failures spread evenly, so that
    /// exactly `failing_in_10` of every 10 requests fail.
    pub(crate) fn answer(&self) -> Answer {
        let phase = self.phase();
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let due = |n: u64| n * phase.failing_in_10 / 10;
        if due(n + 1) > due(n) {
            phase.failure
        } else {
            Answer::Ok
        }
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Counts what the client saw and prints one line per state change (and per
/// change of the upstream's phase).
#[derive(Debug)]
pub(crate) struct Timeline {
    start: Instant,
    states: Vec<State>,
    phase: &'static str,
    ok: u64,
    failed: u64,
    timed_out: u64,
    rejected: u64,
}

impl Timeline {
    pub(crate) fn new(start: Instant) -> Timeline {
        let state = BREAKER.state();
        println!("[{:6.2}s] breaker starts {state}", 0.0);
        Timeline {
            start,
            states: vec![state],
            phase: "",
            ok: 0,
            failed: 0,
            timed_out: 0,
            rejected: 0,
        }
    }

    /// Records one call's result, then prints whatever changed.
    pub(crate) fn record<T, E>(&mut self, result: &Result<T, Error<E>>, script: &Script) {
        match result {
            Ok(_) => self.ok += 1,
            Err(Error::Inner(_)) => self.failed += 1,
            Err(Error::Timeout) => self.timed_out += 1,
            Err(Error::Broken(_)) => self.rejected += 1,
        }
        self.observe(script);
    }

    /// Prints a line if the upstream's phase or the breaker's state changed.
    pub(crate) fn observe(&mut self, script: &Script) {
        let t = self.start.elapsed().as_secs_f64();
        let phase = script.phase();
        if phase.name != self.phase {
            self.phase = phase.name;
            println!(
                "[{t:6.2}s] upstream is {} ({} in 10 requests {})",
                phase.name,
                phase.failing_in_10,
                match phase.failure {
                    Answer::Slow => "hang",
                    _ => "fail",
                }
            );
        }
        let m = BREAKER.metrics();
        let last = self.states[self.states.len() - 1];
        if m.state != last {
            self.states.push(m.state);
            println!(
                "[{t:6.2}s] {last:>10} -> {:<10} trips {}, retry after {:.2}s; so far {} ok, {} failed, {} timed out, {} rejected",
                m.state,
                m.trips,
                m.retry_after.as_secs_f64(),
                self.ok,
                self.failed,
                self.timed_out,
                self.rejected
            );
        }
    }

    /// Prints the summary. Fails unless the breaker went Passing, Broken,
    /// Recovering and Passing again, in that order.
    pub(crate) fn finish(self, script: &Script) -> ExitCode {
        let m = BREAKER.metrics();
        let calls = self.ok + self.failed + self.timed_out + self.rejected;
        println!(
            "summary after {:.1}s: {calls} calls: {} ok, {} failed, {} timed out, {} rejected; \
             the upstream served {} requests; {} trips",
            self.start.elapsed().as_secs_f64(),
            self.ok,
            self.failed,
            self.timed_out,
            self.rejected,
            script.requests(),
            m.trips,
        );
        let path: Vec<String> = self.states.iter().map(State::to_string).collect();
        println!("states: {}", path.join(" -> "));
        let wanted = [
            State::Passing,
            State::Broken,
            State::Recovering,
            State::Passing,
        ];
        let mut seen = self.states.iter();
        if wanted.iter().all(|w| seen.any(|s| s == w)) {
            println!("ok: saw passing, broken, recovering and passing again");
            ExitCode::SUCCESS
        } else {
            println!("FAILED: expected passing -> broken -> recovering -> passing");
            ExitCode::FAILURE
        }
    }
}
