//! The reference model of SPEC §4/§5 and the harness that runs a breaker and
//! the model side by side.
//!
//! Shared by `tests/model.rs` (proptest), `tests/corpus.rs` (replays the fuzz
//! corpus) and the `cargo fuzz` target in `fuzz/`, which includes this file by
//! path. Everything is driven by [`check`]: bytes in, a panic out if the
//! breaker panicked, broke an invariant or disagreed with the model.
//!
//! The model is written for clarity, not speed: every recorded outcome is kept
//! in a `Vec` with its state epoch and bucket, the window is a filter over it,
//! and the ramp credit is an `f64`. It mirrors these documented choices of the
//! core:
//!
//! - buckets are aligned to the clock's zero: bucket `i` is `[i*w, (i+1)*w)`
//!   with `w = window / BUCKETS` rounded down, and the window at bucket `i` is
//!   buckets `i-B+1 ..= i`;
//! - a clock reading earlier than the state's entry is read as the entry time
//!   (no time passes), and an outcome or read never goes back to a bucket
//!   before the newest one any outcome was filed in;
//! - Passing starts at the first operation (any read, or an acquire);
//! - the error ratio is compared in parts per million (`round(r * 1e6)`, at
//!   least 1), exactly, in integers;
//! - Recovering begins exactly at the broken deadline; its verdict (at
//!   `e >= recovery_time` with at least one call in the window) is taken on
//!   state reads, acquires and recorded outcomes (after filing the outcome);
//! - the ramp is a credit counter: add `p(e)` per attempt, admit at `>= 1` and
//!   take 1 away; an `Ignored` outcome (or a dropped permit) in the state it was
//!   admitted in gives 1 back in Recovering;
//! - an outcome for a state that has ended is `late` only, whatever it is.
//!
//! Ramp rounding: the core computes `p` in 32-bit fixed point (truncating, off
//! by at most ~2^-28 per attempt), the model in `f64`. Their credit sums can
//! straddle 1 only when the exact sum is within that error of an integer. The
//! model therefore accepts the core's admission decision when its own credit
//! is within [`RAMP_TOLERANCE`] of 1, and follows the core from there (its
//! credit moves by exactly 1 either way, so the two stay within the tolerance).
//! Any other difference is a failure.
//!
//! Times stay below 2^57 ns: the core keeps state entry times modulo 2^58 ns
//! (a documented limit), which its unit tests cover; the model uses plain u64.

#![allow(dead_code)]

use core::time::Duration;

use breaker_core::{
    CircuitBreaker, CircuitBroken, Config, Error, Metrics, MockClock, Outcome, State,
};

/// How far from 1 the model's ramp credit may be for the model to accept the
/// core's admission decision (see the module docs).
pub(crate) const RAMP_TOLERANCE: f64 = 1e-5;

/// Most operations decoded from one input (Miri interprets every one of them
/// a thousand times slower, so it gets short traces).
pub(crate) const MAX_OPS: usize = if cfg!(miri) { 24 } else { 400 };

// ---- decoding --------------------------------------------------------------

/// Reads bytes; past the end it reads zeros, so every input decodes.
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        (self.u32() as u64) | ((self.u32() as u64) << 32)
    }
}

/// One operation of a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    /// `try_acquire`; an admitted permit is kept.
    Acquire,
    /// The synchronous `call_with`, its callee giving this outcome.
    Call(Outcome),
    /// Reports an outcome for held permit `n % held` (the oldest if none fits).
    Finish(usize, Finish),
    /// Moves the clock forward (saturating).
    Advance(u64),
    /// Moves the clock back (never below zero).
    Back(u64),
    /// `state()`.
    State,
    /// `metrics()`.
    Metrics,
    /// `retry_after()`.
    RetryAfter,
}

/// How a held permit ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Finish {
    Success,
    Failure,
    Ignore,
    Drop,
}

/// A decoded input: a configuration, a start time and a trace.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) buckets: usize,
    pub(crate) config: Config,
    pub(crate) start: u64,
    /// Compare every observable after every step (which also settles the
    /// breaker each time), or only on the trace's own reads.
    pub(crate) observe: bool,
    pub(crate) ops: Vec<Op>,
}

const BUCKET_CHOICES: [usize; 4] = [1, 2, 3, 10];

fn ns(d: u64) -> Duration {
    Duration::from_nanos(d)
}

impl Case {
    pub(crate) fn decode(data: &[u8]) -> Case {
        let mut b = Bytes::new(data);
        let buckets = BUCKET_CHOICES[(b.u8() % 4) as usize];
        let unit = [1u64, 1_000, 1_000_000, 1_000_000_000][(b.u8() % 4) as usize];
        let window = (1 + (b.u16() % 1000) as u64) * unit;
        let ratio = match b.u8() % 10 {
            0 | 1 => 0.5,
            2 => 1.0,
            3 => 0.2,
            4 => 0.3,
            5 => 0.1,
            6 => 1e-7, // rounds to 0 ppm, used as 1 ppm
            7 => b.u16() as f32 / u16::MAX as f32,
            8 => f32::from_bits(b.u32()),
            _ => 0.75,
        };
        let span = |b: &mut Bytes<'_>, zero_ok: bool| -> u64 {
            match b.u8() % 16 {
                0..=4 => window,
                5 | 6 => 1,
                7 | 8 => window / 3,
                9 => 2 * window,
                10 | 11 => 1 + b.u16() as u64,
                12 => 1 + b.u32() as u64,
                13 => window / 2 + 1,
                14 if zero_ok => 0,
                14 => 7,
                _ => 0,
            }
        };
        let broken = span(&mut b, false);
        let recovery = span(&mut b, false);
        let passing = match b.u8() % 4 {
            0 => window,
            1 | 2 => 0,
            _ => span(&mut b, true),
        };
        let min_calls = match b.u8() % 10 {
            0..=2 => 1,
            3 => 2,
            4 => 3,
            5 => 5,
            6 => 10,
            7 => 20,
            8 => b.u16() as u32,
            _ => 4,
        };
        let start = match b.u8() % 4 {
            0 => 0,
            1 => b.u16() as u64,
            2 => b.u32() as u64,
            _ => b.u64() >> 16,
        };
        let observe = !b.u8().is_multiple_of(4);
        let config = Config::new(ratio, ns(window))
            .broken_time(ns(broken))
            .recovery_time(ns(recovery))
            .passing_time(ns(passing))
            .min_calls(min_calls);
        let bucket = (window / buckets as u64).max(1);
        let mut ops = Vec::new();
        while !b.is_empty() && ops.len() < MAX_OPS {
            let op = b.u8();
            let arg = (op >> 4) as usize;
            ops.push(match op % 16 {
                0 | 1 => Op::Acquire,
                2 | 3 => Op::Call(Outcome::Success),
                4 => Op::Call(Outcome::Failure),
                5 => Op::Call(Outcome::Ignored),
                6 => Op::Finish(arg, Finish::Success),
                7 => Op::Finish(arg, Finish::Failure),
                8 => Op::Finish(arg, Finish::Ignore),
                9 => Op::Finish(arg, Finish::Drop),
                10 | 11 => {
                    let d = match arg {
                        0 => 0,
                        1 => 1,
                        2 => bucket,
                        3 => bucket - 1, // bucket >= 1
                        4 => bucket * (1 + b.u8() as u64 % 16),
                        5 => window,
                        6 => broken,
                        7 => broken.saturating_sub(1),
                        8 => recovery * (1 + b.u8() as u64 % 16) / 16,
                        9 => recovery,
                        10 => passing,
                        11 => b.u8() as u64,
                        12 => b.u32() as u64,
                        13 => b.u64() >> 16, // a large jump, up to 2^48 ns
                        14 => (b.u16() as u64) * unit,
                        _ => recovery.saturating_sub(1),
                    };
                    Op::Advance(d)
                }
                12 => Op::Back(match arg % 4 {
                    0 => 1,
                    1 => bucket,
                    2 => b.u16() as u64,
                    _ => b.u32() as u64 * (unit / 1000 + 1),
                }),
                13 => Op::State,
                14 => Op::Metrics,
                _ => Op::RetryAfter,
            });
        }
        Case {
            buckets,
            config,
            start,
            observe,
            ops,
        }
    }
}

// ---- the model -------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Unstarted,
    Passing,
    Broken,
    Recovering,
}

impl Phase {
    fn state(self) -> State {
        match self {
            Phase::Unstarted | Phase::Passing => State::Passing,
            Phase::Broken => State::Broken,
            Phase::Recovering => State::Recovering,
        }
    }
}

/// One outcome filed in the window.
#[derive(Debug, Clone, Copy)]
struct Record {
    epoch: u64,
    bucket: u64,
    failure: bool,
}

/// The model's view of a held permit: the state epoch it was admitted in.
#[derive(Debug, Clone, Copy)]
struct ModelPermit {
    epoch: u64,
    phase: Phase,
}

/// What an admission attempt gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Admission {
    Admitted(State),
    Rejected { state: State, retry_after: Duration },
}

/// The observable part of [`Metrics`], built by the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ModelMetrics {
    pub(crate) state: State,
    pub(crate) window_calls: u64,
    pub(crate) window_failures: u64,
    pub(crate) error_ratio: f32,
    pub(crate) retry_after: Duration,
    pub(crate) call_count: u64,
    pub(crate) call_passing: u64,
    pub(crate) call_broken: u64,
    pub(crate) call_recovering: u64,
    pub(crate) call_recovering_ok: u64,
    pub(crate) call_recovering_failed: u64,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) ignored: u64,
    pub(crate) late: u64,
    pub(crate) trips: u64,
}

impl ModelMetrics {
    pub(crate) fn of(m: &Metrics) -> ModelMetrics {
        ModelMetrics {
            state: m.state,
            window_calls: m.window_calls,
            window_failures: m.window_failures,
            error_ratio: m.error_ratio,
            retry_after: m.retry_after,
            call_count: m.call_count,
            call_passing: m.call_passing,
            call_broken: m.call_broken,
            call_recovering: m.call_recovering,
            call_recovering_ok: m.call_recovering_ok,
            call_recovering_failed: m.call_recovering_failed,
            successes: m.successes,
            failures: m.failures,
            ignored: m.ignored,
            late: m.late,
            trips: m.trips,
        }
    }
}

/// SPEC §4/§5 as a plain single-threaded state machine.
#[derive(Debug)]
pub(crate) struct Model {
    // configuration
    ratio_ppm: u64,
    min_calls: u64,
    buckets: u64,
    bucket: u64,
    broken: u64,
    recovery: u64,
    passing: u64,
    // the clock
    now: u64,
    // the state
    phase: Phase,
    epoch: u64,
    since: u64,
    records: Vec<Record>,
    newest: u64,
    credit: f64,
    credit_epoch: Option<u64>,
    permits: Vec<ModelPermit>,
    // counters
    call_passing: u64,
    call_broken: u64,
    call_recovering_ok: u64,
    call_recovering_failed: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    late: u64,
    trips: u64,
}

const MAX_SPAN: u64 = 1 << 52;

impl Model {
    /// The model for `config`, or `None` if SPEC §3 says it is invalid.
    pub(crate) fn new(config: &Config, buckets: usize, start: u64) -> Option<Model> {
        let r = config.error_ratio;
        let span = |d: Duration| d.as_nanos() <= MAX_SPAN as u128;
        let window = config.window.as_nanos() as u64;
        let valid = !r.is_nan()
            && r > 0.0
            && r <= 1.0
            && span(config.window)
            && window > 0
            && window / buckets as u64 >= 1
            && !config.broken_time.is_zero()
            && span(config.broken_time)
            && !config.recovery_time.is_zero()
            && span(config.recovery_time)
            && span(config.passing_time)
            && config.min_calls >= 1
            && config.min_calls <= 1 << 24;
        if !valid {
            return None;
        }
        Some(Model {
            ratio_ppm: ((r as f64 * 1e6).round() as u64).max(1),
            min_calls: config.min_calls as u64,
            buckets: buckets as u64,
            bucket: window / buckets as u64,
            broken: config.broken_time.as_nanos() as u64,
            recovery: config.recovery_time.as_nanos() as u64,
            passing: config.passing_time.as_nanos() as u64,
            now: start,
            phase: Phase::Unstarted,
            epoch: 0,
            since: 0,
            records: Vec::new(),
            newest: 0,
            credit: 0.0,
            credit_epoch: None,
            permits: Vec::new(),
            call_passing: 0,
            call_broken: 0,
            call_recovering_ok: 0,
            call_recovering_failed: 0,
            successes: 0,
            failures: 0,
            ignored: 0,
            late: 0,
            trips: 0,
        })
    }

    pub(crate) fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    pub(crate) fn held(&self) -> usize {
        self.permits.len()
    }

    /// Time in the current state (zero if the clock reads earlier).
    fn elapsed(&self) -> u64 {
        self.now.saturating_sub(self.since)
    }

    /// The bucket the current state files outcomes in now.
    fn bucket_now(&self) -> u64 {
        (self.now.max(self.since) / self.bucket).max(self.newest)
    }

    /// Calls and failures of the current state in the window now.
    fn tally(&self) -> (u64, u64) {
        let i = self.bucket_now();
        if i - self.newest >= self.buckets {
            return (0, 0);
        }
        let mut calls = 0;
        let mut failures = 0;
        for r in &self.records {
            if r.epoch == self.epoch && r.bucket + self.buckets > i {
                calls += 1;
                failures += r.failure as u64;
            }
        }
        (calls, failures)
    }

    fn ratio_reached(&self, failures: u64, calls: u64) -> bool {
        failures * 1_000_000 >= self.ratio_ppm * calls
    }

    fn enter(&mut self, phase: Phase, since: u64) {
        self.phase = phase;
        self.epoch += 1;
        self.since = since;
        if phase == Phase::Broken {
            self.trips += 1;
        }
    }

    /// The Recovering verdict, if due.
    fn ramp_verdict(&self) -> Option<Phase> {
        if self.elapsed() < self.recovery {
            return None;
        }
        let (calls, failures) = self.tally();
        if calls == 0 {
            return None;
        }
        Some(if self.ratio_reached(failures, calls) {
            Phase::Broken
        } else {
            Phase::Passing
        })
    }

    /// Applies every transition time alone has caused.
    fn settle(&mut self) {
        loop {
            match self.phase {
                Phase::Unstarted => {
                    self.phase = Phase::Passing;
                    self.since = self.now;
                }
                Phase::Passing => return,
                Phase::Broken => {
                    if self.elapsed() < self.broken {
                        return;
                    }
                    let deadline = self.since + self.broken;
                    self.enter(Phase::Recovering, deadline);
                }
                Phase::Recovering => match self.ramp_verdict() {
                    Some(next) => {
                        let at = self.now.max(self.since);
                        self.enter(next, at);
                    }
                    None => return,
                },
            }
        }
    }

    fn retry_after_now(&self) -> Duration {
        if self.phase == Phase::Broken {
            Duration::from_nanos(self.broken.saturating_sub(self.elapsed()))
        } else {
            Duration::ZERO
        }
    }

    pub(crate) fn state(&mut self) -> State {
        self.settle();
        self.phase.state()
    }

    pub(crate) fn retry_after(&mut self) -> Duration {
        self.settle();
        self.retry_after_now()
    }

    /// An admission attempt. `core_admitted` is the core's decision, used only
    /// to break a tie within [`RAMP_TOLERANCE`] of the ramp credit boundary.
    pub(crate) fn acquire(&mut self, core_admitted: bool) -> Admission {
        self.settle();
        match self.phase {
            Phase::Unstarted | Phase::Passing => {
                self.call_passing += 1;
                self.permits.push(ModelPermit {
                    epoch: self.epoch,
                    phase: self.phase,
                });
                Admission::Admitted(State::Passing)
            }
            Phase::Broken => {
                self.call_broken += 1;
                Admission::Rejected {
                    state: State::Broken,
                    retry_after: self.retry_after_now(),
                }
            }
            Phase::Recovering => {
                let e = self.elapsed();
                let p = if e >= self.recovery {
                    1.0
                } else {
                    (2f64.powf(e as f64 / self.recovery as f64) - 1.0).min(1.0)
                };
                if self.credit_epoch != Some(self.epoch) {
                    self.credit = 0.0;
                    self.credit_epoch = Some(self.epoch);
                }
                self.credit += p;
                let mut admitted = self.credit >= 1.0;
                if admitted != core_admitted && (self.credit - 1.0).abs() <= RAMP_TOLERANCE {
                    admitted = core_admitted;
                }
                if admitted {
                    self.credit -= 1.0;
                    self.call_recovering_ok += 1;
                    self.permits.push(ModelPermit {
                        epoch: self.epoch,
                        phase: self.phase,
                    });
                    Admission::Admitted(State::Recovering)
                } else {
                    self.call_recovering_failed += 1;
                    Admission::Rejected {
                        state: State::Recovering,
                        retry_after: Duration::ZERO,
                    }
                }
            }
        }
    }

    /// The outcome of held permit `index`. Reads no state first: an outcome
    /// is filed under the state stored now, as the core's `finish` does.
    pub(crate) fn finish(&mut self, index: usize, outcome: Outcome) {
        let permit = self.permits.remove(index);
        if permit.epoch != self.epoch {
            self.late += 1;
            return;
        }
        let failure = match outcome {
            Outcome::Ignored => {
                self.ignored += 1;
                if permit.phase == Phase::Recovering && self.credit_epoch == Some(self.epoch) {
                    self.credit += 1.0;
                }
                return;
            }
            Outcome::Success => false,
            Outcome::Failure => true,
        };
        let bucket = self.bucket_now();
        self.newest = bucket;
        self.records.push(Record {
            epoch: self.epoch,
            bucket,
            failure,
        });
        if failure {
            self.failures += 1;
        } else {
            self.successes += 1;
        }
        let at = self.now.max(self.since);
        let trip = |m: &Model| {
            let (calls, failures) = m.tally();
            calls >= m.min_calls && m.ratio_reached(failures, calls)
        };
        match self.phase {
            Phase::Passing | Phase::Unstarted => {
                if failure && self.elapsed() >= self.passing && trip(self) {
                    self.enter(Phase::Broken, at);
                }
            }
            Phase::Recovering => {
                if let Some(next) = self.ramp_verdict() {
                    self.enter(next, at);
                } else if failure && trip(self) {
                    self.enter(Phase::Broken, at);
                }
            }
            Phase::Broken => unreachable!("no permit is admitted in Broken"),
        }
    }

    pub(crate) fn metrics(&mut self) -> ModelMetrics {
        self.settle();
        let (calls, failures) = match self.phase {
            Phase::Passing | Phase::Recovering => self.tally(),
            _ => (0, 0),
        };
        let recovering = self.call_recovering_ok + self.call_recovering_failed;
        ModelMetrics {
            state: self.phase.state(),
            window_calls: calls,
            window_failures: failures,
            error_ratio: if calls == 0 {
                0.0
            } else {
                failures as f32 / calls as f32
            },
            retry_after: self.retry_after_now(),
            call_count: self.call_passing + self.call_broken + recovering,
            call_passing: self.call_passing,
            call_broken: self.call_broken,
            call_recovering: recovering,
            call_recovering_ok: self.call_recovering_ok,
            call_recovering_failed: self.call_recovering_failed,
            successes: self.successes,
            failures: self.failures,
            ignored: self.ignored,
            late: self.late,
            trips: self.trips,
        }
    }
}

// ---- the harness -------------------------------------------------------------

/// Checks the invariants that hold for any breaker at rest, with `held`
/// permits outstanding.
pub(crate) fn check_invariants(m: &Metrics, held: u64, broken_time: Duration) {
    assert_eq!(
        m.call_count,
        m.call_passing + m.call_broken + m.call_recovering_ok + m.call_recovering_failed,
        "every attempt lands in exactly one admission counter: {m:?}"
    );
    assert_eq!(
        m.call_recovering,
        m.call_recovering_ok + m.call_recovering_failed,
        "{m:?}"
    );
    assert_eq!(
        m.successes + m.failures + m.ignored + m.late + held,
        m.call_passing + m.call_recovering_ok,
        "every admitted call ends in exactly one outcome counter or is held: {m:?}"
    );
    assert!(m.window_failures <= m.window_calls, "{m:?}");
    assert!(
        m.window_calls <= m.successes + m.failures,
        "the window holds recorded outcomes only: {m:?}"
    );
    assert_eq!(
        m.state == State::Broken,
        m.retry_after > Duration::ZERO,
        "retry_after is positive exactly in Broken: {m:?}"
    );
    assert!(m.retry_after <= broken_time, "{m:?}");
    if m.state == State::Broken {
        assert_eq!(m.window_calls, 0, "Broken records nothing: {m:?}");
    }
    let ratio = if m.window_calls == 0 {
        0.0
    } else {
        m.window_failures as f32 / m.window_calls as f32
    };
    assert_eq!(m.error_ratio, ratio, "{m:?}");
    assert!(m.trips <= m.failures, "every trip follows a failure: {m:?}");
}

/// Decodes `data` and runs it through a breaker and the model; panics on any
/// disagreement or broken invariant.
pub(crate) fn check(data: &[u8]) {
    let case = Case::decode(data);
    match case.buckets {
        1 => run::<1>(&case),
        2 => run::<2>(&case),
        3 => run::<3>(&case),
        _ => run::<10>(&case),
    }
}

fn admission<const B: usize>(
    r: &Result<breaker_core::Permit<'_, &MockClock, B>, CircuitBroken>,
) -> Admission {
    match r {
        Ok(p) => Admission::Admitted(p.state()),
        Err(e) => Admission::Rejected {
            state: e.state(),
            retry_after: e.retry_after(),
        },
    }
}

/// Runs `case` with a `B`-bucket breaker.
pub(crate) fn run<const B: usize>(case: &Case) {
    let clock = MockClock::new();
    clock.set(ns(case.start));
    let core = CircuitBreaker::<&MockClock, B>::try_with_buckets(case.config, &clock);
    let model = Model::new(&case.config, B, case.start);
    let (core, mut model) = match (core, model) {
        (Ok(core), Some(model)) => (core, model),
        (Err(_), None) => return,
        (core, model) => panic!(
            "validity differs: core {:?}, model valid {}\n{case:?}",
            core.err(),
            model.is_some()
        ),
    };
    let broken_time = case.config.broken_time;
    let mut permits = Vec::new();
    let mut now = case.start;
    for (step, &op) in case.ops.iter().enumerate() {
        let ctx = || format!("step {step}: {op:?}\n{case:?}");
        match op {
            Op::Acquire => {
                let got = core.try_acquire();
                let want = model.acquire(got.is_ok());
                assert_eq!(admission(&got), want, "{}", ctx());
                if let Ok(permit) = got {
                    permits.push(permit);
                }
            }
            Op::Call(outcome) => {
                // The synchronous `call`, which counts a Passing admission by
                // its outcome: its result says whether `f` ran.
                let mut ran = false;
                let got = core.call_with(
                    |_: &Result<(), ()>| outcome,
                    || {
                        ran = true;
                        if outcome == Outcome::Failure {
                            Err(())
                        } else {
                            Ok(())
                        }
                    },
                );
                let want = model.acquire(ran);
                match (&got, want) {
                    (Err(Error::Broken(e)), Admission::Rejected { state, retry_after }) => {
                        assert_eq!(
                            (e.state(), e.retry_after()),
                            (state, retry_after),
                            "{}",
                            ctx()
                        );
                        assert!(!ran, "{}", ctx());
                    }
                    (Ok(()) | Err(Error::Inner(())), Admission::Admitted(_)) => {
                        assert!(ran, "{}", ctx());
                        model.finish(model.held() - 1, outcome);
                    }
                    _ => panic!("core {got:?}, model {want:?}: {}", ctx()),
                }
            }
            Op::Finish(n, how) => {
                if permits.is_empty() {
                    continue;
                }
                let i = n % permits.len();
                let permit = permits.remove(i);
                let outcome = match how {
                    Finish::Success => Outcome::Success,
                    Finish::Failure => Outcome::Failure,
                    Finish::Ignore => Outcome::Ignored,
                    Finish::Drop => Outcome::Ignored,
                };
                match how {
                    Finish::Drop => drop(permit),
                    _ => permit.record(outcome),
                }
                model.finish(i, outcome);
            }
            Op::Advance(d) => {
                now = now.saturating_add(d);
                clock.advance(ns(d));
                model.set_now(now);
            }
            Op::Back(d) => {
                now = now.saturating_sub(d);
                clock.set(ns(now));
                model.set_now(now);
            }
            Op::State => assert_eq!(core.state(), model.state(), "{}", ctx()),
            Op::RetryAfter => assert_eq!(core.retry_after(), model.retry_after(), "{}", ctx()),
            Op::Metrics => {}
        }
        let observe = case.observe || op == Op::Metrics || step + 1 == case.ops.len();
        if observe {
            let m = core.metrics();
            check_invariants(&m, permits.len() as u64, broken_time);
            assert_eq!(ModelMetrics::of(&m), model.metrics(), "{}", ctx());
        }
    }
    // Everything still held ends now, as a mix of outcomes.
    let held = permits.len();
    for (k, permit) in permits.into_iter().enumerate() {
        let outcome = [Outcome::Success, Outcome::Failure, Outcome::Ignored][k % 3];
        permit.record(outcome);
        model.finish(0, outcome);
    }
    let m = core.metrics();
    check_invariants(&m, 0, broken_time);
    assert_eq!(
        ModelMetrics::of(&m),
        model.metrics(),
        "after ending {held} held permits\n{case:?}"
    );
}
