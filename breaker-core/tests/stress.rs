//! Two threads hammer one breaker with a mix of calls, held permits, drops and
//! reads while a third moves the `MockClock`, so the breaker trips, recovers
//! and rolls buckets all the time (and, in the second test, a fourth plays
//! operator with `force_open`, `disable` and `reset`). Afterwards every
//! counter must add up exactly, and the listener must have heard every
//! transition once.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::sync::Mutex;

use breaker_core::{
    CircuitBreaker, Config, Listener, Metrics, MockClock, Mode, Outcome, Permit, State, Transition,
};

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

/// What [`work`] leaves to the test: a read of the state, or of the metrics.
enum Other {
    State,
    Metrics,
}

/// One random worker operation, decided by `r`: a call, a permit taken, a
/// held permit reported (or dropped); 1 in 8 is a read left to the caller.
/// Bad periods (mostly failures) alternate with good ones on the clock.
fn work<'b, 'c, L: Listener>(
    breaker: &'b CircuitBreaker<&'c MockClock, 10, L>,
    clock: &MockClock,
    r: u64,
    held: &mut Vec<Permit<'b, &'c MockClock, 10, L>>,
) -> Option<Other> {
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
        14 => return Some(Other::State),
        _ => return Some(Other::Metrics),
    }
    None
}

/// The tests here run one at a time: each needs every core it can get for
/// its threads to interleave (and its clock to move) as intended.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn counters_add_up_exactly_under_contention() {
    let _serial = serial();
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
                    for n in 0..OPS {
                        // Never run ahead of the ticker by more than 40 ns of
                        // clock per operation: on a loaded machine it may get
                        // little CPU, and the breaker must still go round.
                        if n % 64 == 0 {
                            let due = Duration::from_nanos(40 * n);
                            while clock.elapsed() < due {
                                std::thread::yield_now();
                            }
                        }
                        match work(breaker, clock, rng.next(), &mut held) {
                            None => {}
                            Some(Other::State) => {
                                let _ = breaker.state();
                            }
                            Some(Other::Metrics) => {
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
    check_counters(&m, held.len() as u64);
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

/// Logs every transition it hears.
#[derive(Debug, Default)]
struct Log(Mutex<Vec<Transition>>);

impl Listener for Log {
    fn on_transition(&self, t: Transition) {
        self.0.lock().unwrap().push(t);
    }
}

type Place = (State, Mode);
const PASSING: Place = (State::Passing, Mode::Automatic);
const TRIPPED: Place = (State::Broken, Mode::Automatic);
const FORCED: Place = (State::Broken, Mode::ForcedOpen);
const DISABLED: Place = (State::Passing, Mode::Disabled);

/// Checks that `heard` (in the order the listeners ran, which racing threads
/// may swap) is one chain of transitions from a fresh breaker's automatic
/// Passing to `end`: ordered by entry time (never going back along the
/// chain), each step starting where the previous one ended. Entries of the
/// same time are tried in every order. So no transition was heard twice,
/// and none was missed.
fn check_chain(heard: &[Transition], end: Place) {
    fn place_to(t: &Transition) -> Place {
        (t.to, t.to_mode)
    }
    fn place_from(t: &Transition) -> Place {
        (t.from, t.from_mode)
    }
    /// Orders a group of transitions with one entry time, starting at
    /// `at`; returns where it ends.
    fn group(ts: &[Transition], used: &mut [bool], at: Place, left: usize) -> Option<Place> {
        if left == 0 {
            return Some(at);
        }
        for i in 0..ts.len() {
            if !used[i] && place_from(&ts[i]) == at {
                used[i] = true;
                if let Some(end) = group(ts, used, place_to(&ts[i]), left - 1) {
                    return Some(end);
                }
                used[i] = false;
            }
        }
        None
    }
    let mut sorted = heard.to_vec();
    sorted.sort_by_key(|t| t.at);
    let mut at = PASSING;
    for ts in sorted.chunk_by(|a, b| a.at == b.at) {
        let mut used = vec![false; ts.len()];
        at = group(ts, &mut used, at, ts.len())
            .unwrap_or_else(|| panic!("no order of {ts:#?} follows from {at:?}"));
    }
    assert_eq!(
        at, end,
        "the transitions heard do not end in the final state"
    );
}

#[test]
fn operator_controls_keep_counters_and_listener_exact() {
    let _serial = serial();
    let ops = OPS / 2;
    let clock = MockClock::new();
    let config = Config::new(0.5, Duration::from_micros(200))
        .broken_time(Duration::from_micros(50))
        .recovery_time(Duration::from_micros(50))
        .passing_time(Duration::ZERO)
        .min_calls(5);
    let breaker = CircuitBreaker::<_, 10, _>::with_listener(config, &clock, Log::default());
    let done = AtomicBool::new(false);
    // The operator acts once per STEP operations of the workers, and the
    // workers wait for it if they get two steps ahead: the run interleaves
    // the same amount of operator work however the threads are scheduled.
    const STEP: u64 = 4_000;
    let progress: [AtomicU64; WORKERS] = [const { AtomicU64::new(0) }; WORKERS];
    let acted = AtomicU64::new(0);
    // What the operator did: transitions it made, per kind.
    let mut forced = 0u64;
    let mut disabled = 0u64;
    let mut reset = 0u64;

    let held: Vec<Permit<'_, &MockClock, 10, Log>> = std::thread::scope(|s| {
        let operator = s.spawn(|| {
            let mut rng = Rng(0x2545_F491_4F6C_DD1D);
            // Only the operator changes the mode, so it knows it exactly.
            let mut mode = Mode::Automatic;
            let (mut forced, mut disabled, mut reset) = (0, 0, 0);
            while !done.load(Ordering::Relaxed) {
                let steps = acted.load(Ordering::Relaxed);
                let slowest = progress.iter().map(|p| p.load(Ordering::Relaxed)).min();
                if slowest < Some((steps + 1) * STEP) {
                    std::thread::yield_now();
                    continue;
                }
                let r = rng.next();
                match (r >> 16) % 4 {
                    0 => {
                        breaker.force_open();
                        if mode != Mode::ForcedOpen {
                            forced += 1;
                        }
                        mode = Mode::ForcedOpen;
                    }
                    1 => {
                        breaker.disable();
                        if mode != Mode::Disabled {
                            disabled += 1;
                        }
                        mode = Mode::Disabled;
                    }
                    _ => {
                        breaker.reset();
                        reset += 1;
                        mode = Mode::Automatic;
                    }
                }
                assert_eq!(breaker.mode(), mode);
                acted.store(steps + 1, Ordering::Relaxed);
            }
            (forced, disabled, reset)
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let breaker = &breaker;
                let clock = &clock;
                let (progress, acted) = (&progress[w], &acted);
                s.spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1));
                    let mut held: Vec<Permit<'_, &MockClock, 10, Log>> = Vec::new();
                    for n in 0..ops {
                        if n % 64 == 0 {
                            progress.store(n, Ordering::Relaxed);
                            while (acted.load(Ordering::Relaxed) + 2) * STEP < n {
                                std::thread::yield_now();
                            }
                        }
                        // Time moves with the work (20 µs per 400 operations),
                        // however the threads are scheduled.
                        clock.advance(Duration::from_nanos(50));
                        match work(breaker, clock, rng.next(), &mut held) {
                            None => {}
                            Some(Other::State) => {
                                if let Err(e) = breaker.try_acquire().map(drop) {
                                    if e.mode() == Mode::ForcedOpen {
                                        assert_eq!(e.retry_after(), Duration::ZERO);
                                    }
                                }
                            }
                            Some(Other::Metrics) => {
                                let m = breaker.metrics();
                                assert!(m.window_failures <= m.window_calls);
                                if m.mode == Mode::ForcedOpen {
                                    assert_eq!((m.state, m.window_calls), (State::Broken, 0));
                                }
                            }
                        }
                    }
                    progress.store(ops, Ordering::Relaxed);
                    held
                })
            })
            .collect();
        let held = workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect();
        done.store(true, Ordering::Relaxed);
        (forced, disabled, reset) = operator.join().expect("operator");
        held
    });

    let m = breaker.metrics();
    check_counters(&m, held.len() as u64);
    let heard = breaker.listener().0.lock().unwrap().clone();
    check_chain(&heard, (m.state, m.mode));
    let count = |f: &dyn Fn(&Transition) -> bool| heard.iter().filter(|t| f(t)).count() as u64;
    let to = |t: &Transition| (t.to, t.to_mode);
    let from = |t: &Transition| (t.from, t.from_mode);
    // Every automatic Broken entry is a trip, and only those.
    assert_eq!(count(&|t| to(t) == TRIPPED), m.trips, "{m:?}");
    // The operator's transitions, each heard once.
    assert_eq!(count(&|t| to(t) == FORCED), forced);
    assert_eq!(count(&|t| to(t) == DISABLED), disabled);
    // Resets: from an override, or from an automatic state other than
    // Recovering (the machine's own Recovering -> Passing looks the same).
    let resets_seen = count(&|t| {
        to(t) == PASSING && (from(t).1 != Mode::Automatic || from(t).0 != State::Recovering)
    });
    let ramp_passes =
        count(&|t| to(t) == PASSING && from(t) == (State::Recovering, Mode::Automatic));
    assert!(
        resets_seen <= reset && reset <= resets_seen + ramp_passes,
        "{reset} resets, heard {resets_seen} + some of {ramp_passes}"
    );
    if !cfg!(miri) {
        // The run went round every state and every override many times.
        assert!(m.trips > 10 && m.call_recovering_ok > 0, "{m:?}");
        assert!(
            forced > 5 && disabled > 5 && reset > 5,
            "{forced} {disabled} {reset}"
        );
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

/// The identities every run must keep: each admission attempt counted once,
/// and every admitted call ended once (or still `held`).
fn check_counters(m: &Metrics, held: u64) {
    assert_eq!(
        m.call_count,
        m.call_passing + m.call_broken + m.call_recovering_ok + m.call_recovering_failed,
        "{m:?}"
    );
    assert_eq!(
        m.successes + m.failures + m.ignored + m.late + held,
        m.call_passing + m.call_recovering_ok,
        "{m:?}"
    );
}
