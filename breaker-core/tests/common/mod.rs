//! The reference model of SPEC §4/§5 and issue #9, and the harness that runs a
//! breaker and the model side by side.
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
//! - Passing starts at the first operation (any read, an acquire or an
//!   operator's control), and that start is not a transition anyone hears;
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
//! And issue #9 as `BRIEF-9.md` states it:
//!
//! - every transition is heard once, in order, as (from, to, from mode, to
//!   mode, entry time of the new state, broken time); the model keeps its own
//!   list and the harness compares it with a recording listener's after every
//!   step;
//! - backoff: a level `L` per automatic state. Broken lasts
//!   `min(broken_time * 2^L, broken_time_max)` before jitter. Passing trips to
//!   Broken(L), or Broken(0) if it has lasted `passing_time + window`;
//!   Broken(L) recovers into Recovering(L); Recovering(L) ends in Broken or
//!   Passing at `next(L)`, which is `L + 1` while `broken_time * 2^L <
//!   broken_time_max`, else `L`. First start and `reset` give level 0;
//! - jitter: the model does not know the core's hash. When it enters an
//!   automatic Broken it takes the duration the core's listener heard for
//!   that same transition, and the harness checks it lies within
//!   `base ± floor(base * ppm / 1e6)` (`ppm = round(jitter * 1e6)`, at most
//!   999,999). With jitter off the model computes the duration itself. A
//!   second run of the same case must hear exactly the same transitions;
//! - slow calls: a permit remembers the clock at admission; a `Success`
//!   recorded more than `slow_call` later (strictly, on raw clock readings,
//!   saturating) is a `Failure`;
//! - operators: `force_open` (Broken, every call rejected with no countdown
//!   and counted in `call_broken`, nothing recorded), `disable` (Passing,
//!   every call admitted and recorded, no verdict), `reset` (Passing, level
//!   0). Each one settles first, is a no-op when repeated (except `reset`),
//!   bumps the epoch (so held permits are `late`) and enters its state at
//!   `max(now, previous entry + 1 ns)`.
//!
//! Ramp rounding: the core computes `p` in 32-bit fixed point (truncating, off
//! by at most ~2^-28 per attempt), the model in `f64`. Their credit sums can
//! straddle 1 only when the exact sum is within that error of an integer. The
//! model therefore accepts the core's admission decision when its own credit
//! is within [`RAMP_TOLERANCE`] of 1, and follows the core from there (its
//! credit moves by exactly 1 either way, so the two stay within the tolerance).
//! Any other difference is a failure.
//!
//! Times: the core keeps state entry times modulo 2^54 ns and reads an elapsed
//! time of 2^53 ns or more as a clock that went backwards (a documented
//! limit, covered by its unit tests). The harness keeps every clock reading of
//! a case within `[lo, lo + 2^52)`, where `lo` is 0 or just below 2^54 (so
//! traces also cross the wrap of the entry times); the model uses plain u64.
//! Beyond that range the model has nothing to say, so a case whose start byte
//! has bit 6 set runs a second time in [`run_wild`], its clock moves made
//! wild (jumps of 2^63 ns either way, to the ends of `u64`, across the 2^53
//! and 2^54 ns limits), and is checked against what holds whatever the clock
//! does: no panic, exact counters, a consistent chain of transitions.

#![allow(dead_code)]

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use breaker_core::{
    Cause, CircuitBreaker, CircuitBroken, Config, ConfigError, Error, Listener, MAX_BACKOFF,
    MAX_SPAN, Metrics, MockClock, Mode, Outcome, Permit, State, Transition,
};

/// How far from 1 the model's ramp credit may be for the model to accept the
/// core's admission decision (see the module docs).
pub(crate) const RAMP_TOLERANCE: f64 = 1e-5;

/// Most operations decoded from one input (Miri interprets every one of them
/// a thousand times slower, so it gets short traces).
pub(crate) const MAX_OPS: usize = if cfg!(miri) { 24 } else { 400 };

/// Every clock reading of a case lies in `[lo, lo + TIME_SPAN)`. Half the
/// core's limit of 2^53 ns: an operator's transition enters its state 1 ns
/// after the previous one when the clock reads earlier, so entry times can
/// run ahead of the clock by up to 1 ns per operation.
const TIME_SPAN: u64 = 1 << 52;

/// The high time origin: 2^46 ns (about 20 hours) below 2^54, where the
/// core's entry times wrap.
const HIGH_LO: u64 = (1 << 54) - (1 << 46);

const MAX_SPAN_NS: u64 = MAX_SPAN.as_nanos() as u64;

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
    /// `CircuitBreaker::try_acquire_owned(&breaker)`; an admitted permit is
    /// kept.
    AcquireOwned,
    /// `CircuitBreaker::try_acquire_owned_deferred(&breaker)`: a Passing
    /// admission is counted when the kept permit ends.
    AcquireDeferred,
    /// `call_async_with`, polled once, its callee moving the clock on by the
    /// given ns and then giving this outcome, or (`None`) never completing:
    /// the call is dropped after that poll.
    CallAsync(Option<Outcome>, u64),
    /// The synchronous `call_with`, its callee giving this outcome after
    /// moving the clock on by the given ns (a call that takes time).
    Call(Outcome, u64),
    /// Reports an outcome for held permit `n % held` (the oldest if none fits).
    Finish(usize, Finish),
    /// Moves the clock forward (saturating at the end of the case's time).
    Advance(u64),
    /// Moves the clock back (never below the case's time origin).
    Back(u64),
    /// Moves the clock to the current Broken state's deadline, plus this many
    /// ns (-1, 0 or 1); by 0 or 1 ns when not Broken.
    Skip(i8),
    /// `state()`.
    State,
    /// `mode()`.
    Mode,
    /// `metrics()`.
    Metrics,
    /// `retry_after()`.
    RetryAfter,
    /// `force_open()`.
    ForceOpen,
    /// `disable()`.
    Disable,
    /// `reset()`.
    Reset,
    /// `advise_broken()` for this many ns.
    Advise(u64),
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
    /// The time origin: no clock reading of the case is earlier, none is
    /// `TIME_SPAN` or more later.
    pub(crate) lo: u64,
    pub(crate) start: u64,
    /// Also run the trace with wild clock moves ([`run_wild`]).
    pub(crate) wild: bool,
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
        let s = b.u8();
        let lo = if s & 0x80 != 0 { HIGH_LO } else { 0 };
        let wild = s & 0x40 != 0;
        let start = lo
            + match s % 4 {
                0 => 0,
                1 => b.u16() as u64,
                2 => b.u32() as u64,
                _ => b.u64() >> 16,
            };
        // The low two bits say whether to observe every step; the others
        // choose issue #9's settings, each read only if chosen.
        let x = b.u8();
        let observe = !x.is_multiple_of(4);
        let controls = x & 0x80 != 0;
        let mut config = Config::new(ratio, ns(window))
            .broken_time(ns(broken))
            .recovery_time(ns(recovery))
            .passing_time(ns(passing))
            .min_calls(min_calls);
        match (x >> 2) & 3 {
            0 | 1 => {}
            2 => {
                // Anywhere from no doubling to three doublings.
                let max = broken + broken * 7 * b.u16() as u64 / u16::MAX as u64;
                config = config.broken_time_max(ns(max));
            }
            _ => {
                let max = match b.u8() % 16 {
                    0..=4 => broken * MAX_BACKOFF as u64,
                    5 | 6 => broken,
                    7 | 8 => 2 * broken,
                    9 => (3 * broken).saturating_sub(1),
                    10 => broken * 100,
                    11 => MAX_SPAN_NS, // valid for a broken_time of 2^37 ns or more
                    12 => broken.saturating_sub(1), // too short
                    13 => broken * MAX_BACKOFF as u64 + 1, // too far
                    14 => MAX_SPAN_NS + 1, // too long
                    _ => broken + b.u32() as u64,
                };
                config = config.broken_time_max(ns(max));
            }
        }
        match (x >> 4) & 3 {
            0 | 1 => {}
            2 => {
                let jitter = b.u16() as f32 / u16::MAX as f32 * 0.9;
                config = config.jitter(jitter).jitter_seed(b.u32());
            }
            _ => {
                let jitter = match b.u8() % 16 {
                    0..=2 => 0.5,
                    3 | 4 => 0.999_999_9, // 999,999.88 ppm: capped at 999,999
                    5 => 0.999_999_4,     // 999,999 ppm
                    6 => 1e-7,            // 0 ppm: no jitter at all
                    7 => 2.5e-6,          // 3 ppm: visible on long broken times only
                    8 | 9 => 0.05,
                    10 => 0.0,
                    11 => f32::NAN,
                    12 => 1.0,
                    13 => -0.25,
                    _ => f32::from_bits(b.u32()),
                };
                config = config.jitter(jitter).jitter_seed(b.u32());
            }
        }
        if x & 0x40 != 0 {
            let slow = match b.u8() % 16 {
                0..=2 => 1,
                3 | 4 => (window / buckets as u64).max(1),
                5 | 6 => window,
                7..=9 => 1 + b.u16() as u64,
                10 | 11 => 1 + b.u32() as u64,
                12 => unit * (1 + b.u8() as u64),
                13 => MAX_SPAN_NS,
                14 => 0,              // invalid
                _ => MAX_SPAN_NS + 1, // invalid
            };
            config = config.slow_call(ns(slow));
        }
        let slow = config.slow_call.map(|d| d.as_nanos() as u64);
        let bucket = (window / buckets as u64).max(1);
        let mut ops = Vec::new();
        while !b.is_empty() && ops.len() < MAX_OPS {
            let op = b.u8();
            let arg = (op >> 4) as usize;
            // How long a synchronous call takes.
            let took = |b: &mut Bytes<'_>| match arg {
                0..=10 => 0,
                11 => 1,
                12 => slow.unwrap_or(1),
                13 => slow.map_or(bucket, |s| s + 1),
                14 => bucket,
                _ => b.u16() as u64,
            };
            ops.push(match op % 16 {
                0 | 1 => match arg {
                    0..=9 => Op::Acquire,
                    10 | 11 => Op::AcquireOwned,
                    12 => Op::AcquireDeferred,
                    _ => {
                        let t = b.u8();
                        let outcome = match arg {
                            13 => Some(Outcome::Success),
                            14 => Some(Outcome::Failure),
                            _ if t & 0x80 == 0 => Some(Outcome::Ignored),
                            _ => None,
                        };
                        let took = match t % 8 {
                            0..=3 => 0,
                            4 => slow.unwrap_or(1),
                            5 => slow.map_or(bucket, |s| s + 1),
                            6 => bucket,
                            _ => t as u64,
                        };
                        Op::CallAsync(outcome, took)
                    }
                },
                2 | 3 => Op::Call(Outcome::Success, took(&mut b)),
                4 => Op::Call(Outcome::Failure, took(&mut b)),
                5 => Op::Call(Outcome::Ignored, took(&mut b)),
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
                12 => match arg {
                    0..=7 => Op::Back(match arg % 4 {
                        0 => 1,
                        1 => bucket,
                        2 => b.u16() as u64,
                        _ => b.u32() as u64 * (unit / 1000 + 1),
                    }),
                    8 | 9 => Op::Skip(-1),
                    10..=12 => Op::Skip(0),
                    13 => Op::Skip(1),
                    14 => Op::Advance(slow.unwrap_or(passing + window)),
                    _ => Op::Advance(slow.map_or(window, |s| s + 1)),
                },
                13 => match arg {
                    0 if controls => Op::Advise(broken),
                    1 if controls => Op::Advise(1 + b.u8() as u64 % 4),
                    2 if controls => Op::Advise(match b.u8() % 4 {
                        0 => 0,
                        1 => 3 * broken, // past the bound unless backoff allows it
                        2 => recovery,
                        _ => u64::MAX,
                    }),
                    3 if controls => Op::Advise(b.u32() as u64 * unit),
                    12 if controls => Op::ForceOpen,
                    13 if controls => Op::Disable,
                    14 | 15 if controls => Op::Reset,
                    8..=11 => Op::Mode,
                    _ => Op::State,
                },
                14 => Op::Metrics,
                _ => Op::RetryAfter,
            });
        }
        Case {
            buckets,
            config,
            lo,
            start,
            wild,
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
    /// `force_open`: reads as Broken.
    ForcedOpen,
    /// `disable`: reads as Passing.
    Disabled,
    /// `advise_broken`: Broken for the advised time, then Recovering.
    Advised,
}

impl Phase {
    fn state(self) -> State {
        match self {
            Phase::Unstarted | Phase::Passing | Phase::Disabled => State::Passing,
            Phase::Broken | Phase::ForcedOpen | Phase::Advised => State::Broken,
            Phase::Recovering => State::Recovering,
        }
    }

    fn mode(self) -> Mode {
        match self {
            Phase::ForcedOpen => Mode::ForcedOpen,
            Phase::Disabled => Mode::Disabled,
            _ => Mode::Automatic,
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

/// The model's view of a held permit: the state epoch it was admitted in, and
/// the clock reading at its admission.
#[derive(Debug, Clone, Copy)]
struct ModelPermit {
    epoch: u64,
    phase: Phase,
    admitted_at: u64,
    /// A Passing admission counted by its outcome, not yet in `call_passing`
    /// (`try_acquire_owned_deferred`).
    deferred: bool,
}

/// What an admission attempt gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Admission {
    Admitted(State),
    Rejected {
        state: State,
        mode: Mode,
        retry_after: Duration,
    },
}

/// A transition as the model makes it: what a listener must hear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ModelTransition {
    pub(crate) from: State,
    pub(crate) to: State,
    pub(crate) from_mode: Mode,
    pub(crate) to_mode: Mode,
    pub(crate) at: u64,
    pub(crate) broken_time: Duration,
    pub(crate) cause: Cause,
}

impl ModelTransition {
    pub(crate) fn of(t: &Transition) -> ModelTransition {
        ModelTransition {
            from: t.from,
            to: t.to,
            from_mode: t.from_mode,
            to_mode: t.to_mode,
            at: t.at.as_nanos(),
            broken_time: t.broken_time,
            cause: t.cause,
        }
    }
}

/// The observable part of [`Metrics`], built by the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ModelMetrics {
    pub(crate) state: State,
    pub(crate) mode: Mode,
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
            mode: m.mode,
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

/// The largest valid `min_calls`: what a full window's halved buckets still
/// hold, 2^24 with 64-bit slots and 2^11 with the 32-bit ones of targets
/// without 64-bit atomics (on the host, `--cfg breaker_32bit`).
const MODEL_MAX_MIN_CALLS: u32 = if cfg!(breaker_32bit) {
    1 << 11
} else {
    1 << 24
};

/// `round(f * 1e6)`, in parts per million.
fn ppm(f: f32) -> u64 {
    (f as f64 * 1e6).round() as u64
}

/// The first rule of the configuration table (`Config`'s docs) that `config`
/// breaks, checked in field order, or `Ok`.
pub(crate) fn validate(config: &Config, buckets: usize) -> Result<(), ConfigError> {
    use ConfigError as E;
    let long = |d: Duration| d > MAX_SPAN;
    let r = config.error_ratio;
    let window = config.window.as_nanos();
    let broken = config.broken_time.as_nanos();
    let rules = [
        (r.is_nan(), E::ErrorRatioNan),
        (!(r > 0.0 && r <= 1.0), E::ErrorRatioOutOfRange),
        (window == 0, E::WindowZero),
        (long(config.window), E::WindowTooLong),
        (window / (buckets as u128) < 1, E::WindowTooShortForBuckets),
        (broken == 0, E::BrokenTimeZero),
        (long(config.broken_time), E::BrokenTimeTooLong),
        (config.recovery_time.is_zero(), E::RecoveryTimeZero),
        (long(config.recovery_time), E::RecoveryTimeTooLong),
        (long(config.passing_time), E::PassingTimeTooLong),
        (config.min_calls == 0, E::MinCallsZero),
        (config.min_calls > MODEL_MAX_MIN_CALLS, E::MinCallsTooLarge),
    ];
    let max_rules = match config.broken_time_max {
        None => [(false, E::BrokenTimeMaxShort); 3],
        Some(max) => [
            (max.as_nanos() < broken, E::BrokenTimeMaxShort),
            (long(max), E::BrokenTimeMaxTooLong),
            (
                max.as_nanos() > broken * MAX_BACKOFF as u128,
                E::BrokenTimeMaxTooFar,
            ),
        ],
    };
    let j = config.jitter;
    let slow = config.slow_call;
    let rest = [
        (j.is_nan(), E::JitterNan),
        (!(0.0..1.0).contains(&j), E::JitterOutOfRange),
        (slow.is_some_and(|d| d.is_zero()), E::SlowCallZero),
        (slow.is_some_and(long), E::SlowCallTooLong),
    ];
    match rules
        .iter()
        .chain(&max_rules)
        .chain(&rest)
        .find(|(broken, _)| *broken)
    {
        Some(&(_, e)) => Err(e),
        None => Ok(()),
    }
}

/// SPEC §4/§5 and issue #9 as a plain single-threaded state machine.
#[derive(Debug)]
pub(crate) struct Model<'h> {
    // configuration
    ratio_ppm: u64,
    min_calls: u64,
    buckets: u64,
    bucket: u64,
    window: u64,
    broken: u64,
    /// 0: no backoff.
    broken_max: u64,
    jitter_ppm: u64,
    recovery: u64,
    passing: u64,
    /// 0: calls are not timed.
    slow: u64,
    // the clock
    now: u64,
    // the state
    phase: Phase,
    level: u32,
    /// How long the current Broken state lasts (after jitter).
    broken_for: u64,
    epoch: u64,
    since: u64,
    records: Vec<Record>,
    newest: u64,
    credit: f64,
    credit_epoch: Option<u64>,
    permits: Vec<ModelPermit>,
    /// Every transition so far, in order.
    transitions: Vec<ModelTransition>,
    /// For each transition into an automatic Broken, its duration before
    /// jitter (0 for the others).
    bases: Vec<u64>,
    /// What the core's listener heard: read only for the jittered broken
    /// time of a transition into Broken (see the module docs).
    heard: &'h RefCell<Vec<Transition>>,
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

impl<'h> Model<'h> {
    /// The model for `config`, or the [`ConfigError`] the configuration table
    /// gives.
    pub(crate) fn new(
        config: &Config,
        buckets: usize,
        start: u64,
        heard: &'h RefCell<Vec<Transition>>,
    ) -> Result<Model<'h>, ConfigError> {
        validate(config, buckets)?;
        let nanos = |d: Duration| d.as_nanos() as u64;
        let window = nanos(config.window);
        Ok(Model {
            ratio_ppm: ppm(config.error_ratio).max(1),
            min_calls: config.min_calls as u64,
            buckets: buckets as u64,
            bucket: window / buckets as u64,
            window,
            broken: nanos(config.broken_time),
            broken_max: config.broken_time_max.map_or(0, nanos),
            jitter_ppm: ppm(config.jitter).min(999_999),
            recovery: nanos(config.recovery_time),
            passing: nanos(config.passing_time),
            slow: config.slow_call.map_or(0, nanos),
            now: start,
            phase: Phase::Unstarted,
            level: 0,
            broken_for: 0,
            epoch: 0,
            since: 0,
            records: Vec::new(),
            newest: 0,
            credit: 0.0,
            credit_epoch: None,
            permits: Vec::new(),
            transitions: Vec::new(),
            bases: Vec::new(),
            heard,
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

    /// Permits held whose admission is counted already.
    pub(crate) fn held_counted(&self) -> u64 {
        self.permits.iter().filter(|p| !p.deferred).count() as u64
    }

    pub(crate) fn transitions(&self) -> &[ModelTransition] {
        &self.transitions
    }

    /// The duration before jitter of each transition's new state (0 unless it
    /// is an automatic Broken).
    pub(crate) fn bases(&self) -> &[u64] {
        &self.bases
    }

    /// How long a Broken state at backoff `level` lasts before jitter.
    pub(crate) fn base(&self, level: u32) -> u64 {
        let doubled = (self.broken as u128) << level;
        if self.broken_max != 0 && doubled > self.broken_max as u128 {
            self.broken_max
        } else {
            doubled as u64
        }
    }

    /// How far jitter may move a broken time of `base` either way.
    pub(crate) fn spread(&self, base: u64) -> u64 {
        (base as u128 * self.jitter_ppm as u128 / 1_000_000) as u64
    }

    /// The longest an advised Broken state lasts: the breaker's own longest
    /// broken time before jitter.
    pub(crate) fn longest_advice(&self) -> u64 {
        self.broken.max(self.broken_max)
    }

    /// The longest any Broken state can last.
    pub(crate) fn longest_broken(&self) -> u64 {
        let base = self.broken.max(self.broken_max);
        base + self.spread(base)
    }

    /// The backoff level after `level`.
    fn next_level(&self, level: u32) -> u32 {
        if ((self.broken as u128) << level) < self.broken_max as u128 {
            level + 1
        } else {
            level
        }
    }

    /// Time in the current state (zero if the clock reads earlier).
    fn elapsed(&self) -> u64 {
        self.now.saturating_sub(self.since)
    }

    /// Time left in the current Broken state as stored, without settling.
    pub(crate) fn broken_left(&self) -> u64 {
        if matches!(self.phase, Phase::Broken | Phase::Advised) {
            self.broken_for.saturating_sub(self.elapsed())
        } else {
            0
        }
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

    /// Enters `phase` at backoff `level`, beginning at `since`, by the
    /// machine's own rule, and writes the transition down.
    fn enter(&mut self, phase: Phase, level: u32, since: u64) {
        self.enter_by(phase, level, since, Cause::Machine);
    }

    /// [`enter`](Self::enter), by `cause`. An advised Broken lasts
    /// `self.broken_for`, set by the caller.
    fn enter_by(&mut self, phase: Phase, level: u32, since: u64, cause: Cause) {
        let base = match phase {
            Phase::Broken => self.base(level),
            Phase::Advised => self.broken_for,
            _ => 0,
        };
        let broken_for = if self.jitter_ppm == 0 || phase == Phase::Advised {
            base
        } else {
            // The core's own choice, checked by the harness against `base`.
            self.heard
                .borrow()
                .get(self.transitions.len())
                .map_or(base, |t| t.broken_time.as_nanos() as u64)
        };
        self.transitions.push(ModelTransition {
            from: self.phase.state(),
            to: phase.state(),
            from_mode: self.phase.mode(),
            to_mode: phase.mode(),
            at: since,
            broken_time: Duration::from_nanos(broken_for),
            cause,
        });
        self.bases.push(base);
        self.phase = phase;
        self.level = level;
        self.broken_for = broken_for;
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
                Phase::Passing | Phase::ForcedOpen | Phase::Disabled => return,
                Phase::Broken | Phase::Advised => {
                    if self.elapsed() < self.broken_for {
                        return;
                    }
                    let deadline = self.since + self.broken_for;
                    // An advised Broken keeps no backoff level.
                    self.enter(Phase::Recovering, self.level, deadline);
                }
                Phase::Recovering => match self.ramp_verdict() {
                    Some(next) => {
                        let at = self.now.max(self.since);
                        self.enter(next, self.next_level(self.level), at);
                    }
                    None => return,
                },
            }
        }
    }

    fn retry_after_now(&self) -> Duration {
        Duration::from_nanos(self.broken_left())
    }

    pub(crate) fn state(&mut self) -> State {
        self.settle();
        self.phase.state()
    }

    pub(crate) fn mode(&mut self) -> Mode {
        self.settle();
        self.phase.mode()
    }

    pub(crate) fn retry_after(&mut self) -> Duration {
        self.settle();
        self.retry_after_now()
    }

    /// `force_open`, `disable` or `reset`: `phase` is `ForcedOpen`,
    /// `Disabled` or `Passing`.
    fn operator(&mut self, phase: Phase) {
        self.settle();
        if self.phase == phase && phase != Phase::Passing {
            return;
        }
        let since = self.now.max(self.since + 1);
        self.enter_by(phase, 0, since, Cause::Operator);
    }

    /// `advise_broken(d)`: Broken for `d`, at most [`longest_advice`], from
    /// an automatic Passing or Recovering state; says whether it applied.
    ///
    /// [`longest_advice`]: Self::longest_advice
    pub(crate) fn advise(&mut self, d: u64) -> bool {
        if d == 0 {
            return false;
        }
        self.settle();
        if !matches!(self.phase, Phase::Passing | Phase::Recovering) {
            return false;
        }
        self.broken_for = d.min(self.longest_advice());
        let since = self.now.max(self.since);
        self.enter_by(Phase::Advised, 0, since, Cause::Advice);
        true
    }

    pub(crate) fn force_open(&mut self) {
        self.operator(Phase::ForcedOpen);
    }

    pub(crate) fn disable(&mut self) {
        self.operator(Phase::Disabled);
    }

    pub(crate) fn reset(&mut self) {
        self.operator(Phase::Passing);
    }

    fn admit(&mut self, deferred: bool) {
        self.permits.push(ModelPermit {
            epoch: self.epoch,
            phase: self.phase,
            admitted_at: self.now,
            deferred,
        });
    }

    /// An admission attempt. `core_admitted` is the core's decision, used only
    /// to break a tie within [`RAMP_TOLERANCE`] of the ramp credit boundary.
    pub(crate) fn acquire(&mut self, core_admitted: bool) -> Admission {
        self.acquire_counted(core_admitted, false)
    }

    /// An admission attempt whose Passing admission, if `deferred`, is
    /// counted only when its permit ends.
    pub(crate) fn acquire_counted(&mut self, core_admitted: bool, deferred: bool) -> Admission {
        self.settle();
        match self.phase {
            Phase::Unstarted | Phase::Passing | Phase::Disabled => {
                if !deferred {
                    self.call_passing += 1;
                }
                self.admit(deferred);
                Admission::Admitted(State::Passing)
            }
            Phase::Broken | Phase::ForcedOpen | Phase::Advised => {
                self.call_broken += 1;
                Admission::Rejected {
                    state: State::Broken,
                    mode: self.phase.mode(),
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
                    self.admit(false);
                    Admission::Admitted(State::Recovering)
                } else {
                    self.call_recovering_failed += 1;
                    Admission::Rejected {
                        state: State::Recovering,
                        mode: Mode::Automatic,
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
        if permit.deferred {
            self.call_passing += 1;
        }
        let slow = self.slow != 0 && self.now.saturating_sub(permit.admitted_at) > self.slow;
        let outcome = match outcome {
            Outcome::Success if slow => Outcome::Failure,
            other => other,
        };
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
        let trip = |m: &Model<'_>| {
            let (calls, failures) = m.tally();
            calls >= m.min_calls && m.ratio_reached(failures, calls)
        };
        match self.phase {
            Phase::Passing | Phase::Unstarted => {
                let elapsed = self.elapsed();
                if failure && elapsed >= self.passing && trip(self) {
                    // A healthy Passing starts the backoff again.
                    let healthy = elapsed >= self.passing + self.window;
                    let level = if healthy { 0 } else { self.level };
                    self.enter(Phase::Broken, level, at);
                }
            }
            Phase::Recovering => {
                let level = self.next_level(self.level);
                if let Some(next) = self.ramp_verdict() {
                    self.enter(next, level, at);
                } else if failure && trip(self) {
                    self.enter(Phase::Broken, level, at);
                }
            }
            // Counted and kept in the window, never judged.
            Phase::Disabled => {}
            Phase::Broken | Phase::ForcedOpen | Phase::Advised => {
                unreachable!("no permit is admitted in Broken")
            }
        }
    }

    pub(crate) fn metrics(&mut self) -> ModelMetrics {
        self.settle();
        let (calls, failures) = match self.phase {
            Phase::Passing | Phase::Recovering | Phase::Disabled => self.tally(),
            _ => (0, 0),
        };
        let recovering = self.call_recovering_ok + self.call_recovering_failed;
        ModelMetrics {
            state: self.phase.state(),
            mode: self.phase.mode(),
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
/// permits outstanding; no Broken state lasts longer than `longest`.
pub(crate) fn check_invariants(m: &Metrics, held: u64, longest: Duration) {
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
    match m.mode {
        Mode::Automatic => assert_eq!(
            m.state == State::Broken,
            m.retry_after > Duration::ZERO,
            "retry_after is positive exactly in Broken: {m:?}"
        ),
        Mode::ForcedOpen => assert!(
            m.state == State::Broken && m.retry_after.is_zero(),
            "forced open: Broken with no countdown: {m:?}"
        ),
        Mode::Disabled => assert!(
            m.state == State::Passing && m.retry_after.is_zero(),
            "disabled: Passing: {m:?}"
        ),
    }
    assert!(m.retry_after <= longest, "{m:?}");
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
/// disagreement or broken invariant. A case with jitter runs twice: the two
/// breakers must hear exactly the same transitions.
pub(crate) fn check(data: &[u8]) {
    let case = Case::decode(data);
    let run = match case.buckets {
        1 => run::<1>,
        2 => run::<2>,
        3 => run::<3>,
        _ => run::<10>,
    };
    let heard = run(&case);
    if case.config.jitter > 0.0 && !heard.is_empty() {
        assert_eq!(heard, run(&case), "jitter is deterministic\n{case:?}");
    }
    if case.wild {
        match case.buckets {
            1 => run_wild::<1>(&case),
            2 => run_wild::<2>(&case),
            3 => run_wild::<3>(&case),
            _ => run_wild::<10>(&case),
        }
    }
}

fn admission<const B: usize, L: Listener>(
    r: &Result<Permit<'_, &MockClock, B, L>, CircuitBroken>,
) -> Admission {
    match r {
        Ok(p) => Admission::Admitted(p.state()),
        Err(e) => Admission::Rejected {
            state: e.state(),
            mode: e.mode(),
            retry_after: e.retry_after(),
        },
    }
}

/// The acquire operation `op`: `try_acquire`, or the owned and deferred
/// forms on a borrowed breaker.
fn acquire<'b, const B: usize, L: Listener>(
    core: &'b CircuitBreaker<&MockClock, B, L>,
    op: Op,
) -> Result<Permit<'b, &'b MockClock, B, L>, CircuitBroken> {
    match op {
        Op::Acquire => core.try_acquire(),
        Op::AcquireOwned => CircuitBreaker::try_acquire_owned(core),
        _ => CircuitBreaker::try_acquire_owned_deferred(core),
    }
}

/// The synchronous `call_with`, its callee moving the clock to `after` and
/// then giving `outcome`; also says whether the callee ran.
fn call_taking<const B: usize, L: Listener>(
    core: &CircuitBreaker<&MockClock, B, L>,
    clock: &MockClock,
    outcome: Outcome,
    after: u64,
) -> (Result<(), Error<()>>, bool) {
    let mut ran = false;
    let got = core.call_with(
        |_: &Result<(), ()>| outcome,
        || {
            ran = true;
            clock.set(ns(after));
            if outcome == Outcome::Failure {
                Err(())
            } else {
                Ok(())
            }
        },
    );
    (got, ran)
}

/// Runs `case` with a `B`-bucket breaker; returns every transition its
/// listener heard.
pub(crate) fn run<const B: usize>(case: &Case) -> Vec<Transition> {
    let clock = MockClock::new();
    clock.set(ns(case.start));
    // A listener that borrows its log: a breaker refusing its configuration
    // forgets (does not drop) its listener.
    let heard = RefCell::new(Vec::new());
    let listener = |t: Transition| heard.borrow_mut().push(t);
    let core = CircuitBreaker::<&MockClock, B, _>::try_with_listener(case.config, &clock, listener);
    let model = Model::new(&case.config, B, case.start, &heard);
    let (core, mut model) = match (core, model) {
        (Ok(core), Ok(model)) => (core, model),
        (Err(core), Err(model)) => {
            assert_eq!(core, model, "the same rule is broken\n{case:?}");
            return Vec::new();
        }
        (core, model) => panic!(
            "validity differs: core {:?}, model {:?}\n{case:?}",
            core.err(),
            model.err()
        ),
    };
    // `config()` reads back what the breaker uses: ratios to the millionth.
    let got = core.config();
    let millionths = |ppm: u64| ppm as f32 / 1e6;
    assert_eq!(
        (got.error_ratio, got.jitter, got.jitter_seed),
        (
            millionths(model.ratio_ppm),
            millionths(model.jitter_ppm),
            case.config.jitter_seed
        ),
        "{case:?}"
    );
    assert_eq!(
        (got.broken_time_max, got.slow_call),
        (case.config.broken_time_max, case.config.slow_call),
        "{case:?}"
    );
    let longest = Duration::from_nanos(model.longest_broken());
    let (lo, hi) = (case.lo, case.lo + (TIME_SPAN - 1));
    let mut permits = Vec::new();
    let mut now = case.start;
    // Transitions compared so far.
    let mut compared = 0;
    for (step, &op) in case.ops.iter().enumerate() {
        let ctx = || format!("step {step}: {op:?}\n{case:?}");
        match op {
            Op::Acquire | Op::AcquireOwned | Op::AcquireDeferred => {
                let got = acquire(&core, op);
                let want = model.acquire_counted(got.is_ok(), op == Op::AcquireDeferred);
                assert_eq!(admission(&got), want, "{}", ctx());
                if let Ok(permit) = got {
                    permits.push(permit);
                }
            }
            Op::Call(outcome, took) => {
                // The synchronous `call`, which counts a Passing admission by
                // its outcome: its result says whether `f` ran. The callee
                // takes `took` ns of the breaker's clock.
                let after = now.saturating_add(took).min(hi);
                let (got, ran) = call_taking(&core, &clock, outcome, after);
                let want = model.acquire(ran);
                match (&got, want) {
                    (
                        Err(Error::Broken(e)),
                        Admission::Rejected {
                            state,
                            mode,
                            retry_after,
                        },
                    ) => {
                        assert_eq!(
                            (e.state(), e.mode(), e.retry_after()),
                            (state, mode, retry_after),
                            "{}",
                            ctx()
                        );
                        assert!(!ran, "{}", ctx());
                    }
                    (Ok(()) | Err(Error::Inner(())), Admission::Admitted(_)) => {
                        assert!(ran, "{}", ctx());
                        now = after;
                        model.set_now(now);
                        model.finish(model.held() - 1, outcome);
                    }
                    _ => panic!("core {got:?}, model {want:?}: {}", ctx()),
                }
            }
            Op::CallAsync(outcome, took) => {
                // Admission at the first poll; a call dropped before it
                // completes is `Ignored`.
                let ran = Cell::new(false);
                let after = now.saturating_add(took).min(hi);
                let callee = async {
                    ran.set(true);
                    clock.set(ns(after));
                    match outcome {
                        None => core::future::pending().await,
                        Some(Outcome::Failure) => Err(()),
                        Some(_) => Ok(()),
                    }
                };
                let classify = |_: &Result<(), ()>| outcome.unwrap_or(Outcome::Ignored);
                let mut call = Box::pin(core.call_async_with(classify, callee));
                let polled = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                drop(call);
                let want = model.acquire(ran.get());
                match (&polled, want) {
                    (
                        Poll::Ready(Err(Error::Broken(e))),
                        Admission::Rejected {
                            state,
                            mode,
                            retry_after,
                        },
                    ) => {
                        assert_eq!(
                            (e.state(), e.mode(), e.retry_after()),
                            (state, mode, retry_after),
                            "{}",
                            ctx()
                        );
                        assert!(!ran.get(), "{}", ctx());
                    }
                    (Poll::Ready(Ok(()) | Err(Error::Inner(()))), Admission::Admitted(_))
                    | (Poll::Pending, Admission::Admitted(_))
                        if ran.get() && polled.is_pending() == outcome.is_none() =>
                    {
                        now = after;
                        model.set_now(now);
                        model.finish(model.held() - 1, outcome.unwrap_or(Outcome::Ignored));
                    }
                    _ => panic!("core {polled:?}, model {want:?}: {}", ctx()),
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
                    Finish::Success => permit.success(),
                    Finish::Failure => permit.failure(),
                    Finish::Ignore => permit.record(outcome),
                    Finish::Drop => drop(permit),
                }
                model.finish(i, outcome);
            }
            Op::Advance(_) | Op::Back(_) | Op::Skip(_) => {
                now = match op {
                    Op::Advance(d) => now.saturating_add(d).min(hi),
                    Op::Back(d) => now.saturating_sub(d).max(lo),
                    Op::Skip(delta) => {
                        let left = model.broken_left();
                        let d = if delta < 0 {
                            left.saturating_sub(1)
                        } else {
                            left + delta as u64
                        };
                        now.saturating_add(d).min(hi)
                    }
                    _ => unreachable!(),
                };
                clock.set(ns(now));
                model.set_now(now);
            }
            Op::State => assert_eq!(core.state(), model.state(), "{}", ctx()),
            Op::Mode => assert_eq!(core.mode(), model.mode(), "{}", ctx()),
            Op::RetryAfter => assert_eq!(core.retry_after(), model.retry_after(), "{}", ctx()),
            Op::Metrics => {}
            Op::ForceOpen => {
                core.force_open();
                model.force_open();
            }
            Op::Disable => {
                core.disable();
                model.disable();
            }
            Op::Reset => {
                core.reset();
                model.reset();
            }
            Op::Advise(d) => {
                let applied = core.advise_broken(ns(d));
                assert_eq!(applied, model.advise(d), "{}", ctx());
            }
        }
        let observe = case.observe || op == Op::Metrics || step + 1 == case.ops.len();
        if observe {
            let m = core.metrics();
            assert_eq!(model.held(), permits.len(), "{}", ctx());
            check_invariants(&m, model.held_counted(), longest);
            assert_eq!(ModelMetrics::of(&m), model.metrics(), "{}", ctx());
        }
        compared = compare_transitions(&heard.borrow(), &model, compared, &ctx);
    }
    // Everything still held ends now, as a mix of outcomes.
    let held = permits.len();
    for (k, permit) in permits.into_iter().enumerate() {
        let outcome = [Outcome::Success, Outcome::Failure, Outcome::Ignored][k % 3];
        permit.record(outcome);
        model.finish(0, outcome);
    }
    let m = core.metrics();
    check_invariants(&m, 0, longest);
    let ctx = || format!("after ending {held} held permits\n{case:?}");
    assert_eq!(ModelMetrics::of(&m), model.metrics(), "{}", ctx());
    compare_transitions(&heard.borrow(), &model, compared, &ctx);
    heard.borrow().clone()
}

/// Checks the transitions the listener heard against the model's, from the
/// `from`th on; returns how many are now compared. A jittered broken time,
/// which the model took from the core, must lie within the jitter's spread
/// around the model's backed-off duration.
fn compare_transitions(
    heard: &[Transition],
    model: &Model<'_>,
    from: usize,
    ctx: &dyn Fn() -> String,
) -> usize {
    let want = model.transitions();
    let got: Vec<ModelTransition> = heard[from.min(heard.len())..]
        .iter()
        .map(ModelTransition::of)
        .collect();
    assert_eq!(
        got,
        want[from.min(want.len())..],
        "the listener heard every transition once, in order: {}",
        ctx()
    );
    for (t, &base) in want[from..].iter().zip(&model.bases()[from..]) {
        let d = t.broken_time.as_nanos() as u64;
        let spread = model.spread(base);
        assert!(
            base - spread <= d && d <= base + spread,
            "broken time {d} ns is not {base} ns +- {spread} ns: {t:?}: {}",
            ctx()
        );
    }
    want.len()
}

/// Where a wild clock move takes the clock from `now`: `Advance` and `Back`
/// pick a jump by their argument, `Skip` lands on the Broken deadline
/// `left` away, plus `delta`. Jumps saturate at the ends of `u64`, as
/// `MockClock::advance` does.
fn wild_move(op: Op, now: u64, left: u64) -> u64 {
    const HALF: u64 = 1 << 63;
    match op {
        Op::Advance(d) => match d % 8 {
            0 => now.saturating_add(HALF),
            1 => now.saturating_add(HALF - 1),
            2 => now.saturating_add(1 << 54),
            3 => now.saturating_add(1 << 53),
            4 => now.saturating_add((1 << 53) - 1),
            5 => u64::MAX,
            6 => now.saturating_add(d << 20),
            _ => now.saturating_add(d),
        },
        Op::Back(d) => match d % 4 {
            0 => now.saturating_sub(HALF),
            1 => now.saturating_sub(HALF - 1),
            2 => 0,
            _ => now.saturating_sub(d),
        },
        Op::Skip(delta) => now.saturating_add(left).saturating_add_signed(delta as i64),
        _ => now,
    }
}

/// Checks that the listener heard a chain (each transition leaves the state
/// and mode the previous one entered) and that `trips` counts the automatic
/// Broken states the machine entered (advice is not a trip).
fn check_chain(heard: &[Transition], m: &Metrics, ctx: &dyn Fn() -> String) {
    for pair in heard.windows(2) {
        assert_eq!(
            (pair[0].to, pair[0].to_mode),
            (pair[1].from, pair[1].from_mode),
            "transitions form a chain: {}",
            ctx()
        );
    }
    let trips = heard
        .iter()
        .filter(|t| {
            t.to == State::Broken && t.to_mode == Mode::Automatic && t.cause == Cause::Machine
        })
        .count() as u64;
    assert_eq!(m.trips, trips, "{}", ctx());
    if let Some(last) = heard.last() {
        assert_eq!((last.to, last.to_mode), (m.state, m.mode), "{}", ctx());
    }
}

/// Checks a rejection: Broken with a countdown within the longest broken
/// time, forced open with none, or Recovering with none.
fn check_rejection(e: &CircuitBroken, longest: Duration, ctx: &dyn Fn() -> String) {
    match (e.state(), e.mode()) {
        (State::Broken, Mode::Automatic) => assert!(
            !e.retry_after().is_zero() && e.retry_after() <= longest,
            "{e:?}: {}",
            ctx()
        ),
        (State::Broken, Mode::ForcedOpen) | (State::Recovering, Mode::Automatic) => {
            assert!(e.retry_after().is_zero(), "{e:?}: {}", ctx())
        }
        _ => panic!("a rejection in {e:?}: {}", ctx()),
    }
}

/// Runs `case` with its clock moves made wild (see [`wild_move`]) and no
/// model: whatever the clock reads, nothing panics, every rejection and
/// countdown is well formed, retry_after is exact (a clock moved by it is no
/// longer Broken), the counters add up exactly and the listener hears a chain.
pub(crate) fn run_wild<const B: usize>(case: &Case) {
    let clock = MockClock::new();
    clock.set(ns(case.start));
    let heard = RefCell::new(Vec::new());
    let listener = |t: Transition| heard.borrow_mut().push(t);
    let Ok(core) =
        CircuitBreaker::<&MockClock, B, _>::try_with_listener(case.config, &clock, listener)
    else {
        return;
    };
    let longest = {
        let unheard = RefCell::new(Vec::new());
        let model = Model::new(&case.config, B, case.start, &unheard).expect("a valid config");
        Duration::from_nanos(model.longest_broken())
    };
    // Each held permit, and whether its admission is counted already (all
    // but deferred Passing admissions).
    let mut permits = Vec::new();
    let mut now = case.start;
    for (step, &op) in case.ops.iter().enumerate() {
        let at = now;
        let ctx = || format!("wild step {step}: {op:?} from {at} ns\n{case:?}");
        match op {
            Op::Acquire | Op::AcquireOwned | Op::AcquireDeferred => {
                let got = acquire(&core, op);
                match got {
                    Ok(permit) => {
                        let deferred =
                            op == Op::AcquireDeferred && permit.state() == State::Passing;
                        permits.push((permit, !deferred));
                    }
                    Err(e) => check_rejection(&e, longest, &ctx),
                }
            }
            Op::Call(outcome, took) | Op::CallAsync(Some(outcome), took) => {
                let after = now.saturating_add(took);
                let (got, ran) = call_taking(&core, &clock, outcome, after);
                match got {
                    Err(Error::Broken(e)) => {
                        assert!(!ran, "{}", ctx());
                        check_rejection(&e, longest, &ctx);
                    }
                    Ok(()) | Err(Error::Inner(())) => {
                        assert!(ran, "{}", ctx());
                        now = after;
                    }
                    Err(Error::Timeout) => panic!("no timer runs: {}", ctx()),
                }
            }
            Op::CallAsync(None, _) => {
                let mut call = Box::pin(core.call_async(core::future::pending::<Result<(), ()>>()));
                let polled = call.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                if let Poll::Ready(Err(Error::Broken(e))) = &polled {
                    check_rejection(e, longest, &ctx);
                } else {
                    assert!(polled.is_pending(), "{}", ctx());
                }
            }
            Op::Finish(n, how) => {
                if permits.is_empty() {
                    continue;
                }
                let (permit, _) = permits.remove(n % permits.len());
                match how {
                    Finish::Success => permit.success(),
                    Finish::Failure => permit.failure(),
                    Finish::Ignore => permit.record(Outcome::Ignored),
                    Finish::Drop => drop(permit),
                }
            }
            Op::Advance(_) | Op::Back(_) | Op::Skip(_) => {
                let left = core.retry_after();
                // The documented countdown: a Broken state entered at `at`
                // for `broken_time`, `d` ns ago as read modulo 2^54 ns, and
                // no time at all if that reads 2^53 ns or more (a clock
                // behind the entry).
                let last = heard.borrow().last().copied();
                // (An entry the clock's end cut short, `at` = u64::MAX, is
                // not the state's own: the listener reports the clock's end.)
                if let Some(t) =
                    last.filter(|t| t.to == State::Broken && t.to_mode == Mode::Automatic)
                    && t.at.as_nanos() != u64::MAX
                    && core.state() == State::Broken
                {
                    let d = now.wrapping_sub(t.at.as_nanos()) & ((1 << 54) - 1);
                    let d = if d >= 1 << 53 { 0 } else { d };
                    let t_at = t.at;
                    assert_eq!(
                        left,
                        t.broken_time - ns(d),
                        "entered at {t_at:?}: {}",
                        ctx()
                    );
                }
                now = wild_move(op, now, left.as_nanos() as u64);
                clock.set(ns(now));
            }
            Op::State | Op::Mode | Op::RetryAfter | Op::Metrics => {
                let (state, mode, left) = (core.state(), core.mode(), core.retry_after());
                assert_eq!(
                    state == State::Broken && mode == Mode::Automatic,
                    !left.is_zero(),
                    "a countdown exactly while Broken: {}",
                    ctx()
                );
            }
            Op::ForceOpen => {
                core.force_open();
                assert_eq!(
                    (core.state(), core.mode()),
                    (State::Broken, Mode::ForcedOpen)
                );
            }
            Op::Disable => {
                core.disable();
                assert_eq!(
                    (core.state(), core.mode()),
                    (State::Passing, Mode::Disabled)
                );
            }
            Op::Reset => {
                core.reset();
                assert_eq!(
                    (core.state(), core.mode()),
                    (State::Passing, Mode::Automatic)
                );
            }
            Op::Advise(d) => {
                if core.advise_broken(ns(d)) {
                    assert_eq!(
                        (core.state(), core.mode()),
                        (State::Broken, Mode::Automatic),
                        "{}",
                        ctx()
                    );
                }
            }
        }
        if case.observe || op == Op::Metrics || step + 1 == case.ops.len() {
            let held = permits.iter().filter(|(_, counted)| *counted).count() as u64;
            let m = core.metrics();
            check_invariants(&m, held, longest);
            check_chain(&heard.borrow(), &m, &ctx);
        }
    }
    let held = permits.len();
    for (k, (permit, _)) in permits.into_iter().enumerate() {
        permit.record([Outcome::Success, Outcome::Failure, Outcome::Ignored][k % 3]);
    }
    let m = core.metrics();
    check_invariants(&m, 0, longest);
    check_chain(&heard.borrow(), &m, &|| {
        format!("after ending {held} held permits, wild\n{case:?}")
    });
}
