//! Issue #9's operator controls, with exact timing on `MockClock`: the
//! listener, force_open / disable / reset, broken-time backoff and jitter,
//! and slow calls.
#![cfg(not(loom))]

use core::cell::{Cell, RefCell};
use core::time::Duration;

use breaker_core::{
    CircuitBreaker, CircuitBroken, Clock, Config, Error, Listener, MockClock, Mode, Nanos, Outcome,
    State, Transition,
};

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);
const S: Duration = Duration::from_secs(1);
const NS: Duration = Duration::from_nanos(1);

/// Trips on one failure at once: ratio 0.5, window 10 s, broken 1 s,
/// recovery 1 s, min_calls 1, no grace period.
fn eager() -> Config {
    Config::new(0.5, 10 * S)
        .broken_time(S)
        .recovery_time(S)
        .passing_time(Duration::ZERO)
        .min_calls(1)
}

/// What a listener heard: (from, to, from_mode, to_mode, at, broken_time).
type Heard = (State, State, Mode, Mode, Duration, Duration);

/// A listener that writes down every transition.
#[derive(Default)]
struct Log(RefCell<Vec<Transition>>);

impl Listener for &Log {
    fn on_transition(&self, t: Transition) {
        self.0.borrow_mut().push(t);
    }
}

impl Log {
    fn take(&self) -> Vec<Heard> {
        self.0
            .borrow_mut()
            .drain(..)
            .map(|t| {
                (
                    t.from,
                    t.to,
                    t.from_mode,
                    t.to_mode,
                    t.at.to_duration(),
                    t.broken_time,
                )
            })
            .collect()
    }
}

type Logged<'a> = CircuitBreaker<&'a MockClock, 10, &'a Log>;

fn logged<'a>(config: Config, clock: &'a MockClock, log: &'a Log) -> Logged<'a> {
    CircuitBreaker::with_listener(config, clock, log)
}

fn fail<L: Listener>(b: &CircuitBreaker<&MockClock, 10, L>) -> Result<(), Error<()>> {
    b.call(|| Err(()))
}

fn succeed<L: Listener>(b: &CircuitBreaker<&MockClock, 10, L>) -> Result<(), Error<()>> {
    b.call(|| Ok(()))
}

fn rejection(r: Result<(), Error<()>>) -> CircuitBroken {
    match r {
        Err(Error::Broken(b)) => b,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

const AUTO: Mode = Mode::Automatic;
use State::{Broken, Passing, Recovering};

// ---- listener ---------------------------------------------------------------

#[test]
fn the_listener_hears_each_transition_once_dated_when_it_was_due() {
    let clock = MockClock::new();
    let log = Log::default();
    let b = logged(eager(), &clock, &log);
    clock.set(3 * S);
    assert_eq!(b.state(), Passing);
    assert_eq!(log.take(), [], "the lazy start is not a transition");
    let _ = fail(&b);
    assert_eq!(log.take(), [(Passing, Broken, AUTO, AUTO, 3 * S, S)]);
    // Noticed 2.5 s late, Recovering is still dated at the deadline.
    clock.advance(3500 * MS);
    assert_eq!(b.state(), Recovering);
    assert_eq!(b.state(), Recovering);
    assert_eq!(
        log.take(),
        [(Broken, Recovering, AUTO, AUTO, 4 * S, Duration::ZERO)]
    );
    // Past the ramp (it ended at 5 s): the first success decides.
    assert_eq!(succeed(&b), Ok(()));
    assert_eq!(
        log.take(),
        [(Recovering, Passing, AUTO, AUTO, 6500 * MS, Duration::ZERO)]
    );
}

#[test]
fn a_silent_breaker_has_no_listener_to_pay_for() {
    let clock = MockClock::new();
    let plain = CircuitBreaker::new(eager(), &clock);
    let closure = CircuitBreaker::<_, 10, _>::with_listener(eager(), &clock, |_: Transition| {});
    assert_eq!(size_of_val(&plain), size_of_val(&closure));
    let printed = format!("{closure:?}");
    assert!(printed.contains("listener: \"controls::"), "{printed}");
}

/// A listener that reads the breaker it listens to.
struct Reentrant;

static REENTRANT_CLOCK: MockClock = MockClock::new();
static REENTRANT: CircuitBreaker<&MockClock, 10, Reentrant> =
    CircuitBreaker::with_listener(eager_const(), &REENTRANT_CLOCK, Reentrant);
static SEEN: std::sync::Mutex<Vec<(State, State, u64)>> = std::sync::Mutex::new(Vec::new());

const fn eager_const() -> Config {
    Config::new(0.5, Duration::from_secs(10))
        .broken_time(Duration::from_secs(1))
        .recovery_time(Duration::from_secs(1))
        .passing_time(Duration::ZERO)
        .min_calls(1)
}

impl Listener for Reentrant {
    fn on_transition(&self, t: Transition) {
        let m = REENTRANT.metrics();
        SEEN.lock()
            .unwrap()
            .push((t.to, REENTRANT.state(), m.trips));
    }
}

#[test]
fn the_listener_may_read_the_breaker() {
    let _ = REENTRANT.call(|| Err::<(), _>(()));
    REENTRANT_CLOCK.advance(S);
    assert_eq!(REENTRANT.state(), Recovering);
    assert_eq!(
        *SEEN.lock().unwrap(),
        [(Broken, Broken, 1), (Recovering, Recovering, 1)],
        "the new state and its counters are in place when the listener runs"
    );
}

// ---- force_open ---------------------------------------------------------------

#[test]
fn forced_open_rejects_everything_with_no_countdown_until_reset() {
    let clock = MockClock::new();
    let log = Log::default();
    let b = logged(eager(), &clock, &log);
    let held = b.try_acquire().unwrap();
    clock.set(2 * S);
    b.force_open();
    b.force_open(); // again: nothing changes, nobody is told
    assert_eq!(
        log.take(),
        [(
            Passing,
            Broken,
            AUTO,
            Mode::ForcedOpen,
            2 * S,
            Duration::ZERO
        )]
    );
    held.success();
    for _ in 0..3 {
        let r = rejection(succeed(&b));
        assert_eq!(
            (r.state(), r.mode(), r.retry_after()),
            (Broken, Mode::ForcedOpen, Duration::ZERO)
        );
        assert_eq!(r.to_string(), "circuit broken: forced open");
        clock.advance(1000 * S);
    }
    let m = b.metrics();
    assert_eq!(
        (m.state, m.mode, m.retry_after, m.trips),
        (Broken, Mode::ForcedOpen, Duration::ZERO, 0)
    );
    assert_eq!((m.call_count, m.call_passing, m.call_broken), (4, 1, 3));
    assert_eq!((m.successes, m.late), (0, 1), "the held permit was late");
    assert_eq!(b.retry_after(), Duration::ZERO);
    b.reset();
    assert_eq!(
        log.take(),
        [(
            Broken,
            Passing,
            Mode::ForcedOpen,
            AUTO,
            3002 * S,
            Duration::ZERO
        )]
    );
    assert_eq!((b.state(), b.mode()), (Passing, AUTO));
    assert_eq!(succeed(&b), Ok(()));
}

#[test]
fn forcing_open_a_broken_breaker_stops_its_countdown() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    let _ = fail(&b);
    b.force_open();
    clock.advance(10 * S);
    assert_eq!((b.state(), b.mode()), (Broken, Mode::ForcedOpen));
    assert_eq!(b.metrics().trips, 1, "forcing open is not a trip");
}

// ---- disable -------------------------------------------------------------------

#[test]
fn disabled_admits_and_counts_everything_and_never_moves() {
    let clock = MockClock::new();
    let log = Log::default();
    let b = logged(eager(), &clock, &log);
    let _ = fail(&b);
    assert_eq!(b.state(), Broken);
    b.disable();
    b.disable();
    assert_eq!(
        log.take(),
        [
            (Passing, Broken, AUTO, AUTO, Duration::ZERO, S),
            (Broken, Passing, AUTO, Mode::Disabled, NS, Duration::ZERO),
        ],
        "an operator's state begins at least 1 ns after the one it replaces"
    );
    for _ in 0..7 {
        assert_eq!(fail(&b), Err(Error::Inner(())));
    }
    let permit = b.try_acquire().unwrap();
    assert_eq!(permit.state(), Passing);
    permit.record(Outcome::Success);
    clock.advance(5 * S);
    let m = b.metrics();
    assert_eq!((m.state, m.mode, m.trips), (Passing, Mode::Disabled, 1));
    assert_eq!(
        (m.window_calls, m.window_failures, m.error_ratio),
        (8, 7, 0.875)
    );
    assert_eq!((m.call_passing, m.failures, m.successes), (9, 8, 1));
    assert_eq!(log.take(), []);
    b.reset();
    assert_eq!(b.metrics().window_calls, 0, "reset starts a fresh window");
    let _ = fail(&b);
    assert_eq!(b.state(), Broken);
}

// ---- reset ---------------------------------------------------------------------

#[test]
fn reset_is_passing_with_a_fresh_window_and_a_new_grace_period() {
    let clock = MockClock::new();
    let log = Log::default();
    let graceful = eager().passing_time(2 * S).min_calls(2);
    let b = logged(graceful, &clock, &log);
    clock.set(3 * S);
    assert_eq!(b.state(), Passing, "Passing begins at first use");
    clock.set(5 * S);
    let _ = fail(&b);
    let _ = fail(&b);
    assert_eq!(b.state(), Broken);
    clock.advance(100 * MS);
    b.reset();
    let _ = fail(&b);
    let _ = fail(&b);
    assert_eq!(b.state(), Passing, "a new passing_time grace");
    assert_eq!(b.metrics().window_calls, 2);
    b.reset(); // from Passing too: the window is new
    assert_eq!(b.metrics().window_calls, 0);
    // That Passing began 1 ns after the first reset's: its grace ends 1 ns later.
    clock.advance(2 * S);
    let _ = fail(&b);
    assert_eq!(b.state(), Passing);
    clock.advance(NS);
    let _ = fail(&b);
    let _ = fail(&b);
    assert_eq!(b.state(), Broken);
    let t = 5100 * MS;
    assert_eq!(
        log.take(),
        [
            (Passing, Broken, AUTO, AUTO, 5 * S, S),
            (Broken, Passing, AUTO, AUTO, t, Duration::ZERO),
            (Passing, Passing, AUTO, AUTO, t + NS, Duration::ZERO),
            (Passing, Broken, AUTO, AUTO, t + 2 * S + NS, S),
        ]
    );
}

#[test]
fn operators_acting_faster_than_the_clock_never_repeat_a_state() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(3), &clock);
    let _ = fail(&b);
    let _ = fail(&b);
    let early = b.try_acquire().unwrap();
    // 40 operator transitions at one clock reading: 16-valued epochs wrap
    // more than twice, and no record happens in between.
    for _ in 0..20 {
        b.force_open();
        b.reset();
    }
    early.failure();
    let m = b.metrics();
    assert_eq!(m.late, 1, "a permit from 40 states ago is late");
    assert_eq!((m.window_calls, m.window_failures), (0, 0));
    assert_eq!(succeed(&b), Ok(()));
    assert_eq!(fail(&b), Err(Error::Inner(())));
    let m = b.metrics();
    assert_eq!((m.window_calls, m.window_failures), (2, 1));
    assert_eq!((m.successes, m.failures, m.call_count), (1, 3, 5));
}

// ---- backoff -------------------------------------------------------------------

/// Waits out Broken and the whole ramp, then records `outcome`: the ramp's
/// verdict.
fn finish_recovery<L: Listener>(
    b: &CircuitBreaker<&MockClock, 10, L>,
    clock: &MockClock,
    success: bool,
) {
    clock.advance(b.retry_after());
    assert_eq!(b.state(), Recovering);
    clock.advance(S);
    let _ = if success { succeed(b) } else { fail(b) };
}

#[test]
fn failed_recoveries_double_the_broken_time_up_to_the_cap() {
    let clock = MockClock::new();
    let log = Log::default();
    let b = logged(eager().broken_time_max(4 * S), &clock, &log);
    let _ = fail(&b);
    let mut broken = vec![b.retry_after()];
    for _ in 0..3 {
        finish_recovery(&b, &clock, false);
        assert_eq!(b.state(), Broken);
        broken.push(b.retry_after());
    }
    assert_eq!(broken, [S, 2 * S, 4 * S, 4 * S]);
    let heard: Vec<Duration> = log
        .take()
        .into_iter()
        .filter(|h| h.1 == Broken)
        .map(|h| h.5)
        .collect();
    assert_eq!(heard, broken, "the listener hears the backed-off times");
    assert_eq!(rejection(succeed(&b)).retry_after(), 4 * S);
}

#[test]
fn a_relapse_after_recovering_doubles_and_a_healthy_passing_resets() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().broken_time_max(8 * S), &clock);
    let _ = fail(&b);
    finish_recovery(&b, &clock, true);
    assert_eq!(b.state(), Passing);
    // Quick relapse: this Passing never became healthy.
    clock.advance(10 * S - NS);
    let _ = fail(&b);
    assert_eq!(b.retry_after(), 2 * S);
    finish_recovery(&b, &clock, true);
    // Healthy after passing_time (0) + window (10 s).
    clock.advance(10 * S);
    let _ = fail(&b);
    assert_eq!(b.retry_after(), S);
    // reset() forgets the level too.
    finish_recovery(&b, &clock, false);
    assert_eq!(b.retry_after(), 2 * S);
    b.reset();
    let _ = fail(&b);
    assert_eq!(b.retry_after(), S);
}

// ---- jitter --------------------------------------------------------------------

fn jittered(seed: u32) -> Config {
    eager().jitter(0.5).jitter_seed(seed)
}

/// Trips a fresh breaker at `at` and returns its broken time.
fn broken_time_of(config: Config, at: Duration) -> Duration {
    let clock = MockClock::new();
    clock.set(at);
    let b = CircuitBreaker::new(config, &clock);
    let _ = fail(&b);
    b.retry_after()
}

#[test]
fn jitter_spreads_the_broken_time_and_tells_it_exactly() {
    let clock = MockClock::new();
    let log = Log::default();
    let b = logged(jittered(7), &clock, &log);
    clock.set(12_345 * MS);
    let _ = fail(&b);
    let broken = b.retry_after();
    assert!((S / 2..=3 * S / 2).contains(&broken), "{broken:?}");
    assert_eq!(log.take()[0].5, broken);
    assert_eq!(rejection(succeed(&b)).retry_after(), broken);
    assert_eq!(
        broken,
        broken_time_of(jittered(7), 12_345 * MS),
        "deterministic"
    );
    // Recovering begins exactly at the jittered deadline.
    clock.advance(broken - NS);
    assert_eq!((b.state(), b.retry_after()), (Broken, NS));
    clock.advance(NS);
    assert_eq!(b.state(), Recovering);
}

#[test]
fn seeds_and_trip_times_spread_a_fleet() {
    let by_seed: std::collections::BTreeSet<Duration> = (0..16)
        .map(|seed| broken_time_of(jittered(seed), S))
        .collect();
    let by_time: std::collections::BTreeSet<Duration> = (0..16)
        .map(|k| broken_time_of(jittered(0), S + k * NS))
        .collect();
    assert!(by_seed.len() >= 12, "{by_seed:?}");
    assert!(by_time.len() >= 12, "{by_time:?}");
    assert!(
        by_seed
            .iter()
            .chain(&by_time)
            .all(|d| (S / 2..=3 * S / 2).contains(d))
    );
    assert_eq!(broken_time_of(eager(), S), S, "no jitter: exact");
}

#[test]
fn backoff_and_jitter_combine() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(jittered(3).broken_time_max(2 * S), &clock);
    let _ = fail(&b);
    finish_recovery(&b, &clock, false);
    let broken = b.retry_after();
    assert!((S..=3 * S).contains(&broken), "2 s +- 50%: {broken:?}");
}

// ---- slow calls ----------------------------------------------------------------

#[test]
fn a_slow_success_is_a_failure_to_the_breaker_only() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(3).slow_call(100 * MS), &clock);
    let took = |d: Duration| {
        b.call(|| {
            clock.advance(d);
            Ok::<_, ()>("answer")
        })
    };
    assert_eq!(
        took(100 * MS),
        Ok("answer"),
        "exactly the threshold is not slow"
    );
    assert_eq!(took(100 * MS + NS), Ok("answer"));
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (1, 1));
    // A permit is timed from its admission too.
    let permit = b.try_acquire().unwrap();
    clock.advance(S);
    permit.success();
    assert_eq!(b.state(), Broken, "2 slow calls of 3");
}

#[test]
fn slow_calls_keep_failures_and_ignored_outcomes_as_they_are() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(10).slow_call(MS), &clock);
    let slow = |outcome: Outcome| {
        let permit = b.try_acquire().unwrap();
        clock.advance(S);
        permit.record(outcome);
    };
    slow(Outcome::Ignored);
    slow(Outcome::Failure);
    drop(b.try_acquire().unwrap());
    let m = b.metrics();
    assert_eq!((m.ignored, m.failures, m.successes), (2, 1, 0));
}

/// Counts its readings.
struct Counting<'a> {
    clock: &'a MockClock,
    reads: Cell<u32>,
}

impl Clock for Counting<'_> {
    fn now(&self) -> Nanos {
        self.reads.set(self.reads.get() + 1);
        self.clock.now()
    }
}

#[test]
fn the_clock_is_read_at_admission_only_for_timed_calls() {
    let reads_per_call = |config: Config| {
        let clock = MockClock::new();
        let b = CircuitBreaker::new(
            config,
            Counting {
                clock: &clock,
                reads: Cell::new(0),
            },
        );
        assert_eq!(b.state(), Passing);
        b.clock().reads.set(0);
        assert_eq!(b.call(|| Ok::<_, ()>(())), Ok(()));
        b.clock().reads.get()
    };
    assert_eq!(reads_per_call(eager()), 1, "the outcome's bucket only");
    // A timed call adds a precise reading at admission and at its outcome
    // (`now_precise`, which defaults to `now`).
    assert_eq!(reads_per_call(eager().slow_call(S)), 3);
}

/// A clock whose window tick is 4 ms (readings rounded down to it), with an
/// exact `now_precise`: a coarse production clock, made deterministic.
struct Coarse<'a>(&'a MockClock);

impl Clock for Coarse<'_> {
    const RESOLUTION: Nanos = Nanos::from_nanos(4_000_000);

    fn now(&self) -> Nanos {
        let n = self.0.now().as_nanos();
        Nanos::from_nanos(n - n % Self::RESOLUTION.as_nanos())
    }

    fn now_precise(&self) -> Nanos {
        self.0.now()
    }
}

#[test]
fn slow_calls_are_timed_on_the_precise_reading_of_a_coarse_clock() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().min_calls(100).slow_call(5 * MS), Coarse(&clock));
    let took = |d: Duration| {
        let _ = b.call(|| {
            clock.advance(d);
            Ok::<_, ()>(())
        });
    };
    // Starting 0.1 ms before a tick, 4.9 ms spans two ticks: the coarse
    // readings would say 8 ms (slow), the precise ones 4.9 ms (not slow).
    clock.set(3_900 * US);
    took(4_900 * US);
    // Starting just after a tick, 5.5 ms reads as 4 ms coarse: still slow.
    clock.set(12_000 * US + NS);
    took(5_500 * US);
    // Exactly the threshold is not slow, wherever the ticks fall.
    clock.set(21_000 * US);
    took(5 * MS);
    let m = b.metrics();
    assert_eq!((m.successes, m.failures), (2, 1));
}

#[test]
fn ready_with_checks_a_forced_open_breaker_every_100_ms_until_reset() {
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager(), &clock);
    b.force_open();
    let slept = RefCell::new(Vec::new());
    let mut fut = pin!(b.ready_with(|d| {
        slept.borrow_mut().push(d);
        clock.advance(d);
        // The operator is done after the third check.
        if slept.borrow().len() == 3 {
            b.reset();
        }
        core::future::ready(())
    }));
    let poll = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    assert_eq!(poll, Poll::Ready(()));
    assert_eq!(*slept.borrow(), [100 * MS; 3]);
    assert_eq!(b.state(), Passing);
}

// ---- advice (issue #19: fleets) ----------------------------------------------

#[test]
fn advice_breaks_for_the_advised_time_then_ramps_as_usual() {
    let clock = MockClock::new();
    let log = Log::default();
    let b = logged(eager().broken_time(10 * S), &clock, &log);
    clock.set(2 * S);
    let _ = succeed(&b);
    assert!(b.advise_broken(3 * S));
    assert_eq!(log.take(), [(Passing, Broken, AUTO, AUTO, 2 * S, 3 * S)]);
    let m = b.metrics();
    assert_eq!((m.state, m.mode, m.retry_after), (Broken, AUTO, 3 * S));
    assert_eq!((m.trips, m.window_calls), (0, 0), "advice is not a trip");
    let rejected = rejection(succeed(&b));
    assert_eq!((rejected.state(), rejected.retry_after()), (Broken, 3 * S));
    clock.advance(3 * S - NS);
    assert_eq!((b.state(), b.retry_after()), (Broken, NS));
    clock.advance(NS);
    assert_eq!(b.state(), Recovering);
    assert_eq!(
        log.take(),
        [(Broken, Recovering, AUTO, AUTO, 5 * S, Duration::ZERO)]
    );
    // The ramp after advice: past recovery_time, one success decides.
    clock.advance(S);
    assert_eq!(succeed(&b), Ok(()));
    assert_eq!(b.state(), Passing);
    assert_eq!(b.metrics().call_broken, 1);
}

#[test]
fn the_listener_hears_who_made_each_transition() {
    use breaker_core::Cause;
    let clock = MockClock::new();
    let causes = RefCell::new(Vec::new());
    let b: CircuitBreaker<_, 10, _> =
        CircuitBreaker::with_listener(eager(), &clock, |t: Transition| {
            causes.borrow_mut().push((t.to, t.cause));
        });
    let _ = b.call(|| Err::<(), _>(()));
    clock.advance(S);
    assert_eq!(b.state(), Recovering);
    assert!(b.advise_broken(S));
    b.reset();
    assert_eq!(
        *causes.borrow(),
        [
            (Broken, Cause::Machine),
            (Recovering, Cause::Machine),
            (Broken, Cause::Advice),
            (Passing, Cause::Operator),
        ]
    );
}

#[test]
fn causes_and_advised_transitions_read_as_words() {
    use breaker_core::Cause;
    let words = [Cause::Machine, Cause::Operator, Cause::Advice].map(|c| format!("{c:>9}"));
    assert_eq!(words, ["  machine", " operator", "   advice"]);
    let clock = MockClock::new();
    let lines = RefCell::new(Vec::new());
    let b: CircuitBreaker<_, 10, _> =
        CircuitBreaker::with_listener(eager(), &clock, |t: Transition| {
            lines.borrow_mut().push(t.to_string());
        });
    assert!(b.advise_broken(S / 2));
    b.force_open();
    assert_eq!(
        *lines.borrow(),
        [
            "passing -> broken for 500ms (advised)",
            "broken -> forced open"
        ]
    );
}

#[test]
fn advice_is_bounded_by_the_breakers_own_longest_broken_time() {
    let clock = MockClock::new();
    let plain = CircuitBreaker::new(eager().broken_time(5 * S), &clock);
    assert!(plain.advise_broken(Duration::MAX));
    assert_eq!(plain.retry_after(), 5 * S);
    let backoff = CircuitBreaker::new(eager().broken_time(5 * S).broken_time_max(40 * S), &clock);
    assert!(backoff.advise_broken(60 * S));
    assert_eq!(backoff.retry_after(), 40 * S);
    let jittered = CircuitBreaker::new(eager().broken_time(5 * S).jitter(0.5), &clock);
    assert!(jittered.advise_broken(4 * S));
    assert_eq!(jittered.retry_after(), 4 * S, "advice is not jittered");
}

#[test]
fn advice_applies_only_where_the_machine_would_admit_calls() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().broken_time_max(8 * S), &clock);
    assert!(!b.advise_broken(Duration::ZERO), "zero is no advice");
    assert_eq!(b.state(), Passing);
    // Its own Broken keeps its own deadline.
    let _ = fail(&b);
    assert!(!b.advise_broken(5 * S));
    assert_eq!(b.retry_after(), S);
    // Advised Broken is not extended by more advice.
    clock.advance(S);
    assert!(b.advise_broken(2 * S), "from Recovering");
    assert!(!b.advise_broken(5 * S));
    assert_eq!(b.retry_after(), 2 * S);
    // Operators' modes stand.
    b.force_open();
    assert!(!b.advise_broken(S));
    assert_eq!(b.mode(), Mode::ForcedOpen);
    b.disable();
    assert!(!b.advise_broken(S));
    assert_eq!((b.state(), b.mode()), (Passing, Mode::Disabled));
    assert_eq!(b.metrics().trips, 1);
}

#[test]
fn a_breaker_not_used_yet_takes_advice_before_its_first_call() {
    static CLOCK: MockClock = MockClock::new();
    static B: CircuitBreaker<&MockClock> =
        CircuitBreaker::new(Config::new(0.5, Duration::from_secs(10)), &CLOCK);
    CLOCK.set(7 * S);
    assert!(B.advise_broken(3 * S));
    assert_eq!(rejection(B.call(|| Ok(()))).retry_after(), 3 * S);
}

#[test]
fn permits_from_before_advice_are_late_and_its_ramp_starts_the_backoff_at_level_0() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(eager().broken_time_max(8 * S), &clock);
    // Two failed recoveries: level 2 (4 s).
    let _ = fail(&b);
    for _ in 0..2 {
        finish_recovery(&b, &clock, false);
    }
    assert_eq!(b.retry_after(), 4 * S);
    clock.advance(4 * S);
    let held = b.try_acquire().map_err(|_| ()).or_else(|()| {
        clock.advance(S);
        b.try_acquire().map_err(|_| ())
    });
    let held = held.expect("the ramp admits within its recovery time");
    assert!(b.advise_broken(3 * S));
    held.success();
    assert_eq!(
        b.metrics().late,
        1,
        "a permit from before the advice is late"
    );
    finish_recovery(&b, &clock, false);
    assert_eq!(b.state(), Broken);
    assert_eq!(
        b.retry_after(),
        2 * S,
        "a failed ramp after advice backs off from level 0"
    );
}
