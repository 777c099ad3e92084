//! Loom models of the breaker's atomic protocols.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p breaker-core --release --test loom`.
//! Each model is a handful of operations on a 2-bucket breaker, so loom can
//! explore every interleaving (up to the preemption bound) in seconds.
//!
//! Every model runs twice, in two orientations ([`model`]), to work around
//! a gap in loom's exploration; models with several outcomes check that each
//! was reached ([`explore`]). The models of listeners and operator controls
//! (issue #9) log what the listener heard under loom's own mutex, so loom
//! also runs racing listeners in either order.
#![cfg(loom)]

use core::ops::Deref;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{OnceLock, Weak};

use breaker_core::{
    Cause, CircuitBreaker, Clock, Config, Listener, Metrics, MockClock, Mode, Nanos, NoListener,
    OwnedPermit, State, Transition,
};
use loom::sync::{Arc, Mutex};

std::thread_local! {
    /// Whether [`thread::spawn`] yields the spawning thread (see [`model`]).
    static SPAWNED_FIRST: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Runs `f` under loom twice: as written, and with every spawning thread
/// yielding right after the spawn, so that loom's first schedule runs the
/// new thread first.
///
/// loom 0.7's DPOR remembers only the last access to each atomic: when one
/// thread loads a word and then another loads it and writes it (a CAS loop:
/// every breaker operation), the write is never tried before the first
/// thread's load (tokio-rs/loom#392, #166). So a model never sees the thread
/// that loom runs second by default win such a race. Each orientation has
/// that blind spot on a different thread; together they cover both, and
/// [`explore`] checks that the races of interest do happen.
fn model<F>(f: F)
where
    F: Fn() + Send + Sync + 'static,
{
    let f = std::sync::Arc::new(f);
    for spawned_first in [false, true] {
        let f = f.clone();
        SPAWNED_FIRST.with(|c| c.set(spawned_first));
        loom::model(move || f());
    }
    SPAWNED_FIRST.with(|c| c.set(false));
}

/// loom's threads; `spawn` yields afterwards in [`model`]'s second run.
mod thread {
    pub(crate) use loom::thread::JoinHandle;

    pub(crate) fn spawn<F, T>(f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = loom::thread::spawn(f);
        if super::SPAWNED_FIRST.with(|c| c.get()) {
            loom::thread::yield_now();
        }
        handle
    }
}

/// A `MockClock` shared between loom threads.
#[derive(Debug, Clone)]
struct Shared(Arc<MockClock>);

impl Clock for Shared {
    fn now(&self) -> Nanos {
        self.0.now()
    }
}

type Breaker<L = NoListener> = CircuitBreaker<Shared, 2, L>;
type Held<H = Arc<Breaker>, L = NoListener> = OwnedPermit<H, Shared, 2, L>;

const NS: Duration = Duration::from_nanos(1);
/// Broken lasts 100 ns, the ramp 8 ns.
const BROKEN: Duration = Duration::from_nanos(100);
const RECOVERY: Duration = Duration::from_nanos(8);

/// Window 1 µs (two 500 ns buckets), no grace period.
fn config(ratio: f32, min_calls: u32) -> Config {
    Config::new(ratio, Duration::from_micros(1))
        .broken_time(BROKEN)
        .recovery_time(RECOVERY)
        .passing_time(Duration::ZERO)
        .min_calls(min_calls)
}

fn breaker(config: Config) -> (Arc<MockClock>, Arc<Breaker>) {
    let clock = Arc::new(MockClock::new());
    let breaker = Arc::new(CircuitBreaker::with_buckets(config, Shared(clock.clone())));
    assert_eq!(breaker.state(), State::Passing);
    (clock, breaker)
}

fn acquire<H, L>(b: &H) -> Held<H, L>
where
    H: Deref<Target = Breaker<L>> + Clone,
    L: Listener,
{
    CircuitBreaker::try_acquire_owned(b.clone()).expect("admitted")
}

/// Trips a fresh breaker with `min_calls` failures; returns the deadline.
fn trip<H, L>(clock: &MockClock, b: &H, min_calls: u32) -> Duration
where
    H: Deref<Target = Breaker<L>> + Clone,
    L: Listener,
{
    for _ in 0..min_calls {
        acquire(b).failure();
    }
    assert_eq!(b.state(), State::Broken);
    clock.elapsed() + BROKEN
}

/// Trips the breaker and moves the clock `into` the ramp (Recovering).
fn recovering<H, L>(clock: &MockClock, b: &H, min_calls: u32, into: Duration)
where
    H: Deref<Target = Breaker<L>> + Clone,
    L: Listener,
{
    let deadline = trip(clock, b, min_calls);
    clock.set(deadline + into);
    assert_eq!(b.state(), State::Recovering);
}

/// Two threads record the failure that trips the breaker: one transition.
#[test]
fn racing_trips_trip_once() {
    explore::<2, _>(|reach| {
        let (_clock, b) = breaker(config(0.5, 1));
        let (p, q) = (acquire(&b), acquire(&b));
        let t = thread::spawn(move || p.failure());
        q.failure();
        t.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.state, State::Broken);
        assert_eq!(m.trips, 1);
        // Either both were recorded before the trip, or the loser is late.
        assert_eq!(m.failures + m.late, 2);
        assert_eq!(m.successes + m.ignored, 0);
        if m.late == 0 {
            // Both were filed before either transition: one won the CAS.
            assert_eq!(m.failures, 2);
        }
        reach(m.late as usize);
    });
}

/// Two threads notice the broken deadline late: one Broken -> Recovering,
/// and Recovering starts at the deadline, not when it was noticed.
#[test]
fn racing_deadline_observers_agree_on_the_ramp_start() {
    model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        let deadline = trip(&clock, &b, 1);
        clock.set(deadline + RECOVERY / 2);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.state());
        // p(1/2) = 0.41: not admitted, in Recovering.
        let rejected = CircuitBreaker::try_acquire_owned(b.clone()).unwrap_err();
        assert_eq!(rejected.state(), State::Recovering);
        assert_eq!(t.join().unwrap(), State::Recovering);
        // At deadline + recovery_time the ramp admits everything; had it
        // started when noticed (deadline + 4 ns), p would be 0.41 and the
        // credit 0.83: a rejection.
        clock.set(deadline + RECOVERY);
        let m = b.metrics();
        assert_eq!(
            (m.state, m.trips, m.call_recovering_failed),
            (State::Recovering, 1, 1)
        );
        let admitted = acquire(&b);
        assert_eq!(admitted.state(), State::Recovering);
        drop(admitted);
    });
}

/// Admissions in Recovering under contention follow the credit counter:
/// four attempts at p = 0.41 admit exactly one call, whatever the order.
#[test]
fn contended_ramp_admissions_stay_within_the_bound() {
    model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY / 2);
        let b2 = b.clone();
        let attempt = |b: &Arc<Breaker>| CircuitBreaker::try_acquire_owned(b.clone()).ok();
        let t = thread::spawn(move || [attempt(&b2), attempt(&b2)]);
        let mine = [attempt(&b), attempt(&b)];
        let theirs = t.join().unwrap();
        let admitted = mine.iter().chain(theirs.iter()).flatten().count();
        // sum of p = 4 * 0.414 = 1.66: within 1 of it, and the credit
        // counter makes it exactly floor(1.66).
        assert_eq!(admitted, 1);
        let m = b.metrics();
        assert_eq!((m.call_recovering_ok, m.call_recovering_failed), (1, 3));
        drop((mine, theirs));
    });
}

/// A permit dropped in Recovering gives its admission back while another
/// thread asks for one: the admissions add up the same in every order.
#[test]
fn a_dropped_recovering_permit_gives_back_while_another_acquires() {
    model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY / 2);
        // Credit 0.41, 0.83, 1.24: the third attempt is admitted (0.24 left).
        let mut permit = None;
        for _ in 0..3 {
            permit = CircuitBreaker::try_acquire_owned(b.clone()).ok();
        }
        let permit = permit.expect("the third attempt is admitted");
        let t = thread::spawn(move || drop(permit));
        let racing = CircuitBreaker::try_acquire_owned(b.clone()).ok();
        t.join().unwrap();
        // Drop first: 1.24 + 0.41 admits, 0.66 left, +0.41 admits, 0.07 left.
        // Acquire first: 0.66 rejected, +1 = 1.66, +0.41 admits, 1.07 admits.
        let next = [
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
        ];
        let admitted = usize::from(racing.is_some()) + next.iter().flatten().count();
        assert_eq!(admitted, 2);
        let m = b.metrics();
        assert_eq!((m.ignored, m.call_recovering_ok), (1, 3));
        drop((racing, next));
    });
}

/// Admits two calls at the end of an empty ramp (p = 1, no verdict yet).
fn two_at_the_end_of_the_ramp(ratio: f32) -> (Arc<MockClock>, Arc<Breaker>, Held, Held) {
    let (clock, b) = breaker(config(ratio, 1));
    recovering(&clock, &b, 1, RECOVERY);
    let (p, q) = (acquire(&b), acquire(&b));
    (clock, b, p, q)
}

/// A success ends the ramp (Recovering -> Passing) while another outcome of
/// the ramp arrives: that outcome is recorded in the ramp or is late, never
/// in the new Passing window.
#[test]
fn a_late_outcome_never_lands_in_the_new_state() {
    model(|| {
        let (_clock, b, p, q) = two_at_the_end_of_the_ramp(1.0);
        let t = thread::spawn(move || p.success());
        q.success();
        t.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.state, State::Passing);
        assert_eq!((m.window_calls, m.window_failures), (0, 0));
        assert_eq!((m.successes + m.late, m.failures), (2, 1));
        assert_eq!(m.trips, 1);
    });
}

/// Bucket roll-over racing a record: one thread moves the clock into the
/// next bucket and records there (rolling out an old bucket) while another
/// records: nothing lost, nothing counted twice.
#[test]
fn bucket_rollover_racing_a_record_loses_nothing() {
    model(|| {
        let (clock, b) = breaker(config(0.5, 100));
        // Bucket 0 (slot 0) holds an old success; bucket 1 (slot 1) is now.
        acquire(&b).success();
        clock.set(Duration::from_nanos(500));
        let (p, q) = (acquire(&b), acquire(&b));
        let c2 = clock.clone();
        let t = thread::spawn(move || {
            c2.advance(500 * NS); // bucket 2: slot 0 rolls, bucket 0 leaves
            p.failure();
        });
        q.success();
        t.join().unwrap();
        let m = b.metrics();
        assert_eq!((m.successes, m.failures, m.late), (2, 1, 0));
        // The window at bucket 2 is buckets 1 and 2: both new outcomes.
        assert_eq!((m.window_calls, m.window_failures), (2, 1));
    });
}

/// The Recovering verdict raced by a success and a failure: exactly one of
/// Passing / Broken, entered once.
#[test]
fn the_ramp_verdict_is_taken_once() {
    explore::<3, _>(|reach| {
        let (_clock, b, p, q) = two_at_the_end_of_the_ramp(0.5);
        let t = thread::spawn(move || p.success());
        q.failure();
        t.join().unwrap();
        let m = b.metrics();
        // The trip before the ramp recorded one failure.
        assert_eq!(m.successes + m.failures + m.late, 3);
        match m.state {
            // The success decided before the failure was recorded; the
            // failure is late, or was filed in the ramp's window too late to
            // change a verdict already taken.
            State::Passing => {
                assert_eq!((m.trips, m.successes, m.failures + m.late), (1, 1, 2));
                assert_eq!(m.window_calls, 0);
                reach(0);
            }
            // The failure decided (alone or with the success: 1/2 >= 0.5).
            State::Broken => {
                assert_eq!((m.trips, m.failures), (2, 2));
                reach(1 + m.late as usize);
            }
            State::Recovering => panic!("the verdict was not taken: {m:?}"),
        }
    });
}

/// A synchronous `call` (its Passing admission counted by its outcome)
/// racing a trip: every admission is still counted exactly once.
#[test]
fn a_sync_call_racing_a_trip_is_counted_once() {
    explore::<2, _>(|reach| {
        let (_clock, b) = breaker(config(0.5, 1));
        let p = acquire(&b);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.call(|| Ok::<_, ()>(())).is_ok());
        p.failure();
        let admitted = t.join().unwrap();
        let m = b.metrics();
        assert_eq!((m.state, m.trips), (State::Broken, 1));
        assert_eq!(m.call_passing, 1 + u64::from(admitted));
        assert_eq!(m.call_broken, u64::from(!admitted));
        assert_eq!(m.successes + m.failures + m.late, m.call_passing);
        reach(usize::from(admitted));
    });
}

/// An attempt that loaded its state word in one Recovering period and adds
/// its share to the ramp credit after the breaker has moved on to a later
/// Recovering period must not wipe that period's credit.
#[test]
fn a_stale_ramp_attempt_keeps_a_later_ramps_credit() {
    model(|| {
        let (clock, b) = breaker(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY);
        // The end of an empty ramp admits everything, without a verdict.
        let p = acquire(&b);
        let b2 = b.clone();
        let t = thread::spawn(move || drop(CircuitBreaker::try_acquire_owned(b2)));
        // The ramp fails: Broken again, then a new ramp, half way up.
        p.failure();
        assert_eq!(b.state(), State::Broken);
        clock.advance(BROKEN + RECOVERY / 2);
        // p = 0.41 twice: credit 0.83, nothing admitted yet.
        let first = [
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
            CircuitBreaker::try_acquire_owned(b.clone()).ok(),
        ];
        t.join().unwrap();
        // A third 0.41 makes the credit 1.24 (or more, if the other thread's
        // attempt landed in this ramp and gave its admission back).
        let last = CircuitBreaker::try_acquire_owned(b.clone());
        assert!(
            last.is_ok() || first.iter().any(Option::is_some),
            "the new ramp's credit was lost: {:?}",
            b.metrics()
        );
    });
}

// ---- listeners and operator controls (issue #9) ---------------------------

/// A listener that logs every transition it hears, under loom's own mutex:
/// so loom sees the listeners' calls and runs them in every order it can.
#[derive(Debug, Default)]
struct Log(Mutex<Vec<Transition>>);

impl Listener for Log {
    fn on_transition(&self, t: Transition) {
        self.0.lock().unwrap().push(t);
    }
}

type Logged = Breaker<Log>;

fn logged(config: Config) -> (Arc<MockClock>, Arc<Logged>) {
    let clock = Arc::new(MockClock::new());
    let breaker = Arc::new(CircuitBreaker::<_, 2, _>::with_listener(
        config,
        Shared(clock.clone()),
        Log::default(),
    ));
    assert_eq!(breaker.state(), State::Passing);
    (clock, breaker)
}

/// Where a transition starts or ends: the state and who decides it.
type Place = (State, Mode);
const PASSING: Place = (State::Passing, Mode::Automatic);
const TRIPPED: Place = (State::Broken, Mode::Automatic);
const RAMP: Place = (State::Recovering, Mode::Automatic);
const FORCED: Place = (State::Broken, Mode::ForcedOpen);
const DISABLED: Place = (State::Passing, Mode::Disabled);

fn place(m: &Metrics) -> Place {
    (m.state, m.mode)
}

/// Puts the transitions `heard` (in the order their listeners ran, which
/// racing threads may swap) in the order they happened: one chain from a
/// fresh breaker's automatic Passing to `end`, each step starting where the
/// previous one ended, entry times never going back. Panics if there is no
/// such chain: a transition heard twice, or one never heard.
fn chain(heard: &[Transition], end: Place) -> Vec<(Place, Place)> {
    fn search(
        heard: &[Transition],
        path: &mut Vec<usize>,
        at: Place,
        since: Nanos,
        end: Place,
    ) -> bool {
        if path.len() == heard.len() {
            return at == end;
        }
        for (i, t) in heard.iter().enumerate() {
            if path.contains(&i) || (t.from, t.from_mode) != at || t.at < since {
                continue;
            }
            path.push(i);
            if search(heard, path, (t.to, t.to_mode), t.at, end) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    assert!(
        search(heard, &mut path, PASSING, Nanos::from_nanos(0), end),
        "no chain of transitions leads to {end:?}: {heard:#?}"
    );
    path.iter()
        .map(|&i| {
            (
                (heard[i].from, heard[i].from_mode),
                (heard[i].to, heard[i].to_mode),
            )
        })
        .collect()
}

/// The breaker at rest: its metrics, the chain of transitions its listener
/// heard (checked against the final state), and the raw log. Every automatic
/// Broken entry the machine made is a trip, and only those (advice is not).
fn settled(b: &Logged) -> (Metrics, Vec<(Place, Place)>, Vec<Transition>) {
    let m = b.metrics();
    let heard = b.listener().0.lock().unwrap().clone();
    let steps = chain(&heard, place(&m));
    let trips = heard
        .iter()
        .filter(|t| (t.to, t.to_mode) == TRIPPED && t.cause == Cause::Machine)
        .count();
    assert_eq!(m.trips, trips as u64, "{heard:#?}");
    (m, steps, heard)
}

/// Runs `f` under loom, and checks that the interleavings explored reach
/// each of the `N` outcomes `f` tells apart (it calls `reach(i)` for the
/// one it ends in): a model whose race never happens proves nothing. Like
/// [`model`], it runs both orientations; the outcomes may come from either.
fn explore<const N: usize, F>(f: F)
where
    F: Fn(&dyn Fn(usize)) + Send + Sync + 'static,
{
    let reached: std::sync::Arc<[AtomicBool; N]> =
        std::sync::Arc::new(core::array::from_fn(|_| AtomicBool::new(false)));
    let seen = reached.clone();
    model(move || f(&|i| seen[i].store(true, Ordering::Relaxed)));
    for (i, r) in reached.iter().enumerate() {
        assert!(r.load(Ordering::Relaxed), "outcome {i} never reached");
    }
}

/// Two threads record the failure that trips the breaker: the listener hears
/// Passing -> Broken once, with its entry time and broken time.
#[test]
fn racing_trips_are_heard_once() {
    explore::<2, _>(|reach| {
        let (_clock, b) = logged(config(0.5, 1));
        let (p, q) = (acquire(&b), acquire(&b));
        let t = thread::spawn(move || p.failure());
        q.failure();
        t.join().unwrap();
        let (m, steps, heard) = settled(&b);
        assert_eq!(steps, [(PASSING, TRIPPED)]);
        assert_eq!((heard[0].at.as_nanos(), heard[0].broken_time), (0, BROKEN));
        assert_eq!((m.trips, m.failures + m.late), (1, 2));
        reach(m.late as usize);
    });
}

/// Two threads notice Broken's deadline: Broken -> Recovering is heard once,
/// dated at the deadline rather than when it was noticed.
#[test]
fn racing_deadline_observers_are_heard_once() {
    model(|| {
        let (clock, b) = logged(config(0.5, 1));
        let deadline = trip(&clock, &b, 1);
        clock.set(deadline + RECOVERY / 2);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.state());
        assert_eq!(b.mode(), Mode::Automatic);
        assert_eq!(t.join().unwrap(), State::Recovering);
        let (_, steps, heard) = settled(&b);
        assert_eq!(steps, [(PASSING, TRIPPED), (TRIPPED, RAMP)]);
        let ramp = heard.iter().find(|t| t.to == State::Recovering).unwrap();
        assert_eq!(
            (ramp.at.to_duration(), ramp.broken_time),
            (deadline, Duration::ZERO)
        );
    });
}

/// A trip, its expiry, and a late outcome, raced from two threads: each
/// transition heard once (the listeners possibly in the other order), in a
/// chain that leads to the final state.
#[test]
fn a_trip_and_its_expiry_are_heard_once_each() {
    explore::<4, _>(|reach| {
        let (clock, b) = logged(config(0.5, 1));
        let (p, q) = (acquire(&b), acquire(&b));
        let b2 = b.clone();
        let t = thread::spawn(move || {
            p.failure();
            b2.state()
        });
        q.failure(); // trips at 0, unless p already has
        clock.advance(BROKEN);
        assert_eq!(b.state(), State::Recovering);
        let theirs = t.join().unwrap();
        let (m, steps, heard) = settled(&b);
        assert_eq!(steps, [(PASSING, TRIPPED), (TRIPPED, RAMP)]);
        assert_eq!((m.failures + m.late, m.call_passing), (2, 2));
        let ats: Vec<u64> = heard.iter().map(|t| t.at.as_nanos()).collect();
        match (theirs, ats.as_slice()) {
            (State::Broken, [0, 100]) => reach(0),
            (State::Recovering, [0, 100]) => reach(1),
            // The trip's listener ran after the expiry's.
            (_, [100, 0]) => reach(2),
            other => panic!("{other:?}"),
        }
        if m.late == 1 {
            reach(3);
        }
    });
}

/// A listener that reads the breaker it listens to from inside
/// `on_transition`, and (if `pin`) forces it open whenever it trips. It
/// reaches the breaker through a `Weak` set after construction (`std`'s
/// `Arc`: loom's has no `Weak`; the breaker's atomics are loom's either way).
#[derive(Default)]
struct Reentrant {
    breaker: OnceLock<Weak<Breaker<Reentrant>>>,
    pin: bool,
    saw: Mutex<Vec<Saw>>,
}

/// A transition, and what the listener read from inside it: `state()`,
/// `retry_after()`, `metrics()`.
type Saw = (Transition, State, Duration, Metrics);

impl Listener for Reentrant {
    fn on_transition(&self, t: Transition) {
        let b = self.breaker.get().and_then(Weak::upgrade).expect("alive");
        if self.pin && (t.to, t.to_mode) == TRIPPED {
            b.force_open();
        }
        let seen = (t, b.state(), b.retry_after(), b.metrics());
        self.saw.lock().unwrap().push(seen);
    }
}

fn reentrant(config: Config, pin: bool) -> (Arc<MockClock>, std::sync::Arc<Breaker<Reentrant>>) {
    let clock = Arc::new(MockClock::new());
    let listener = Reentrant {
        pin,
        ..Reentrant::default()
    };
    let b = std::sync::Arc::new(CircuitBreaker::<_, 2, _>::with_listener(
        config,
        Shared(clock.clone()),
        listener,
    ));
    b.listener()
        .breaker
        .set(std::sync::Arc::downgrade(&b))
        .unwrap();
    (clock, b)
}

fn saw(b: &Breaker<Reentrant>) -> Vec<Saw> {
    b.listener().saw.lock().unwrap().clone()
}

/// The listener reads `state()`, `retry_after()` and `metrics()` while
/// racing threads trip the breaker: no deadlock, and it sees the state it
/// was told about.
#[test]
fn a_listener_reads_the_new_state() {
    model(|| {
        let (_clock, b) = reentrant(config(0.5, 1), false);
        let (p, q) = (acquire(&b), acquire(&b));
        let t = thread::spawn(move || p.failure());
        q.failure();
        t.join().unwrap();
        let saw = saw(&b);
        assert_eq!(saw.len(), 1);
        let (t, now, retry_after, m) = saw[0];
        assert_eq!(
            ((t.from, t.from_mode), (t.to, t.to_mode)),
            (PASSING, TRIPPED)
        );
        assert_eq!((now, retry_after), (State::Broken, BROKEN));
        assert_eq!((place(&m), m.retry_after, m.trips), (TRIPPED, BROKEN, 1));
        // (Its other counters are not one snapshot while the other thread
        // is still recording; see `Metrics`.)
    });
}

/// The listener hears Broken -> Recovering from either of two threads that
/// notice the deadline, and reads Recovering (an empty ramp: no verdict).
#[test]
fn a_listener_reads_the_ramp_it_was_told_about() {
    model(|| {
        let (clock, b) = reentrant(config(0.5, 1), false);
        let deadline = trip(&clock, &b, 1);
        clock.set(deadline + RECOVERY);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.state());
        let m = b.metrics();
        assert_eq!((t.join().unwrap(), place(&m)), (State::Recovering, RAMP));
        let saw = saw(&b);
        assert_eq!(saw.len(), 2);
        let (t, now, retry_after, m) = saw[1];
        assert_eq!(
            (t.from, t.to, t.at.to_duration()),
            (State::Broken, State::Recovering, deadline)
        );
        assert_eq!((now, retry_after), (State::Recovering, Duration::ZERO));
        assert_eq!((place(&m), m.trips, m.window_calls), (RAMP, 1, 0));
    });
}

/// A listener that acts: it forces the breaker open when it hears a trip,
/// while the main thread resets it. Whichever operator comes last wins, and
/// every transition, nested in a listener or not, is heard once.
#[test]
fn a_listener_may_force_open_while_an_operator_resets() {
    explore::<2, _>(|reach| {
        let (_clock, b) = reentrant(config(0.5, 1), true);
        let (p, q) = (acquire(&b), acquire(&b));
        let t = thread::spawn(move || p.failure());
        q.failure();
        b.reset();
        t.join().unwrap();
        let m = b.metrics();
        let heard: Vec<Transition> = saw(&b).iter().map(|s| s.0).collect();
        let steps = chain(&heard, place(&m));
        assert_eq!(m.trips, 1);
        match place(&m) {
            // The trip, pinned open by its listener, then reset.
            PASSING => {
                assert_eq!(
                    steps,
                    [(PASSING, TRIPPED), (TRIPPED, FORCED), (FORCED, PASSING)]
                );
                reach(0);
            }
            // The reset came between the trip and its listener's force_open.
            FORCED => {
                assert_eq!(
                    steps,
                    [(PASSING, TRIPPED), (TRIPPED, PASSING), (PASSING, FORCED)]
                );
                reach(1);
            }
            other => panic!("ended {other:?}: {heard:#?}"),
        }
        // What the listener read after forcing open (one `metrics()` word):
        // forced open, or the reset that followed.
        let after_pin = saw(&b)
            .iter()
            .find(|s| (s.0.to, s.0.to_mode) == TRIPPED)
            .map(|s| place(&s.3))
            .unwrap();
        assert!(after_pin == FORCED || after_pin == PASSING, "{after_pin:?}");
    });
}

/// `force_open` racing the failure that would trip: forced open afterwards
/// either way (it loops until its state is in place), the trip heard only if
/// it came first, and the outcome recorded or late.
#[test]
fn force_open_racing_a_trip_ends_forced_open() {
    explore::<3, _>(|reach| {
        let (_clock, b) = logged(config(0.5, 1));
        let p = acquire(&b);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.force_open());
        p.failure();
        t.join().unwrap();
        let (m, steps, _) = settled(&b);
        assert_eq!((place(&m), m.retry_after), (FORCED, Duration::ZERO));
        assert_eq!(
            (m.window_calls, m.failures + m.late, m.call_passing),
            (0, 1, 1)
        );
        if m.trips == 1 {
            assert_eq!(steps, [(PASSING, TRIPPED), (TRIPPED, FORCED)]);
            assert_eq!(m.failures, 1);
            reach(0);
        } else {
            assert_eq!(steps, [(PASSING, FORCED)]);
            // Recorded before the force_open, too late to trip; or late.
            reach(1 + m.late as usize);
        }
        let rejected = CircuitBreaker::try_acquire_owned(b.clone()).unwrap_err();
        assert_eq!(
            (rejected.mode(), rejected.retry_after()),
            (Mode::ForcedOpen, Duration::ZERO)
        );
    });
}

/// `reset` racing a call whose failure trips: reset last (Passing with an
/// empty window; the trip heard before it, or never), or the call admitted
/// after the reset and tripping the new Passing.
#[test]
fn reset_racing_a_trip_is_heard_in_order() {
    explore::<3, _>(|reach| {
        let (_clock, b) = logged(config(0.5, 1));
        let b2 = b.clone();
        let t = thread::spawn(move || acquire(&b2).failure());
        b.reset();
        t.join().unwrap();
        let (m, steps, _) = settled(&b);
        assert_eq!((m.call_passing, m.failures + m.late), (1, 1));
        match place(&m) {
            PASSING if m.trips == 1 => {
                assert_eq!(steps, [(PASSING, TRIPPED), (TRIPPED, PASSING)]);
                assert_eq!((m.window_calls, m.failures), (0, 1));
                reach(0);
            }
            PASSING => {
                assert_eq!(steps, [(PASSING, PASSING)]);
                assert_eq!(m.window_calls, 0);
                reach(1);
            }
            TRIPPED => {
                assert_eq!(steps, [(PASSING, PASSING), (PASSING, TRIPPED)]);
                assert_eq!((m.failures, m.retry_after), (1, BROKEN));
                reach(2);
            }
            other => panic!("ended {other:?}"),
        }
    });
}

/// `disable` racing an admission at the end of an empty ramp, whose failure
/// would decide it: disabled afterwards, and the call counted exactly once,
/// in Recovering or (re-decided after the ramp ended) while disabled.
#[test]
fn disable_racing_a_recovering_admission() {
    explore::<4, _>(|reach| {
        let (clock, b) = logged(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.disable());
        let p = CircuitBreaker::try_acquire_owned(b.clone()).expect("admitted either way");
        let admitted_in = p.state();
        p.failure();
        t.join().unwrap();
        let (m, steps, _) = settled(&b);
        assert_eq!(place(&m), DISABLED);
        assert_eq!(
            (
                m.call_passing + m.call_recovering_ok,
                m.call_recovering_failed
            ),
            (2, 0)
        );
        assert_eq!(m.failures + m.late, 2);
        assert_eq!(steps[..2], [(PASSING, TRIPPED), (TRIPPED, RAMP)]);
        match &steps[2..] {
            [(RAMP, DISABLED)] if admitted_in == State::Passing => {
                // Admitted while disabled: its failure is in the new window.
                assert_eq!(
                    (m.call_passing, m.window_calls, m.window_failures),
                    (2, 1, 1)
                );
                reach(0);
            }
            [(RAMP, DISABLED)] => {
                // Admitted in the ramp: recorded there before any verdict,
                // or late; either way not in the disabled state's window.
                assert_eq!((m.call_recovering_ok, m.window_calls), (1, 0));
                reach(1 + m.late as usize);
            }
            [(RAMP, TRIPPED), (TRIPPED, DISABLED)] => {
                assert_eq!(
                    (m.call_recovering_ok, m.failures, m.window_calls),
                    (1, 2, 0)
                );
                reach(3);
            }
            other => panic!("{other:?}"),
        }
    });
}

/// Outcomes of permits admitted before `disable` race it: each is recorded
/// in the old window or late, never in the disabled state's fresh window.
#[test]
fn permits_racing_disable_never_land_in_its_window() {
    explore::<3, _>(|reach| {
        let (_clock, b) = logged(config(0.5, 3));
        let (p, q) = (acquire(&b), acquire(&b));
        let b2 = b.clone();
        let t = thread::spawn(move || b2.disable());
        p.success();
        q.failure();
        t.join().unwrap();
        let (m, steps, _) = settled(&b);
        assert_eq!(steps, [(PASSING, DISABLED)]);
        assert_eq!((m.window_calls, m.window_failures), (0, 0));
        assert_eq!((m.successes + m.failures + m.late, m.trips), (2, 0));
        reach(m.late as usize);
        // The disabled state's window holds its own calls only.
        acquire(&b).failure();
        let m = b.metrics();
        assert_eq!((m.window_calls, m.window_failures), (1, 1));
    });
}

/// A Recovering permit's success races `force_open`: recorded in the ramp
/// (whose verdict is heard only if it came first) or late; the window after
/// a reset starts empty.
#[test]
fn a_ramp_permit_racing_force_open_never_lands_after_it() {
    explore::<3, _>(|reach| {
        let (clock, b) = logged(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY);
        let p = acquire(&b);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.force_open());
        p.success();
        t.join().unwrap();
        let (m, steps, _) = settled(&b);
        assert_eq!(place(&m), FORCED);
        assert_eq!((m.successes + m.late, m.trips), (1, 1));
        match &steps[2..] {
            // Recorded in the ramp too late for its verdict, or late.
            [(RAMP, FORCED)] => reach(m.late as usize),
            [(RAMP, PASSING), (PASSING, FORCED)] => {
                assert_eq!(m.successes, 1);
                reach(2);
            }
            other => panic!("{other:?}"),
        }
        b.reset();
        let m = b.metrics();
        assert_eq!((place(&m), m.window_calls), (PASSING, 0));
        acquire(&b).success();
        assert_eq!(b.metrics().window_calls, 1);
    });
}

/// Two failures race the Recovering verdict with backoff on: one Broken, at
/// the doubled level, and `retry_after` and the listener say exactly so.
#[test]
fn racing_ramp_failures_back_off_once() {
    explore::<2, _>(|reach| {
        let (clock, b) = logged(config(0.5, 1).broken_time_max(BROKEN * 4));
        recovering(&clock, &b, 1, RECOVERY);
        let (p, q) = (acquire(&b), acquire(&b));
        let t = thread::spawn(move || p.failure());
        q.failure();
        t.join().unwrap();
        let (m, steps, heard) = settled(&b);
        assert_eq!(
            steps,
            [(PASSING, TRIPPED), (TRIPPED, RAMP), (RAMP, TRIPPED)]
        );
        let relapse = heard.iter().max_by_key(|t| t.at).unwrap();
        assert_eq!(
            (relapse.from, relapse.to),
            (State::Recovering, State::Broken)
        );
        assert_eq!(
            (relapse.at.to_duration(), relapse.broken_time),
            (clock.elapsed(), BROKEN * 2)
        );
        assert_eq!((m.retry_after, b.retry_after()), (BROKEN * 2, BROKEN * 2));
        assert_eq!((m.trips, m.failures + m.late), (2, 3));
        reach(m.late as usize);
    });
}

/// An operator's transition is heard after its fresh window is in place:
/// a listener reading `metrics()` inside `disable` finds it empty, though a
/// permit of the old state records its outcome meanwhile.
#[test]
fn a_listener_hears_disable_with_its_window_cleared() {
    explore::<2, _>(|reach| {
        let (_clock, b) = reentrant(config(0.5, 3), false);
        let p = acquire(&b);
        acquire(&b).failure();
        let b2 = b.clone();
        let t = thread::spawn(move || b2.disable());
        p.failure();
        t.join().unwrap();
        let saw = saw(&b);
        assert_eq!(saw.len(), 1);
        let (t, now, _, m) = saw[0];
        assert_eq!(
            ((t.from, t.from_mode), (t.to, t.to_mode)),
            (PASSING, DISABLED)
        );
        assert_eq!((now, place(&m)), (State::Passing, DISABLED));
        assert_eq!((m.window_calls, m.window_failures), (0, 0));
        let m = b.metrics();
        assert_eq!((m.window_calls, m.failures + m.late, m.trips), (0, 2, 0));
        reach(m.late as usize);
    });
}

// ---- advice (issue #19) -------------------------------------------------------

/// What `advise_broken` asks for in these models: less than `BROKEN`, the
/// longest an advice may last here.
const ADVICE: Duration = Duration::from_nanos(40);

/// Advice racing the failure that would trip: one Broken entry either way,
/// a trip with its own broken time or advice with the advised time; the
/// failure recorded, late, or the trip itself.
#[test]
fn advice_racing_a_trip_breaks_once() {
    explore::<3, _>(|reach| {
        let (_clock, b) = logged(config(0.5, 1));
        let p = acquire(&b);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.advise_broken(ADVICE));
        p.failure();
        let advised = t.join().unwrap();
        let (m, steps, heard) = settled(&b);
        assert_eq!(steps, [(PASSING, TRIPPED)]);
        assert_eq!((m.call_passing, m.failures + m.late), (1, 1));
        let cause = heard[0].cause;
        if advised {
            assert_eq!(cause, Cause::Advice);
            assert_eq!(
                (m.trips, m.retry_after, heard[0].broken_time),
                (0, ADVICE, ADVICE)
            );
            // Recorded before the advice (too late to trip), or late.
            reach(1 + m.late as usize);
        } else {
            assert_eq!(cause, Cause::Machine);
            assert_eq!((m.trips, m.failures, m.retry_after), (1, 1, BROKEN));
            reach(0);
        }
    });
}

/// A reader racing the advice sees Passing, or Broken with the advised time
/// or, in the moment between the state change and the advised time's store,
/// with the longest an advice may last: never a shorter Broken, never
/// Recovering. Afterwards, exactly the advised time.
#[test]
fn advice_is_never_read_shorter_than_advised() {
    explore::<3, _>(|reach| {
        let (clock, b) = logged(config(0.5, 1));
        clock.set(ADVICE / 2);
        let b2 = b.clone();
        let t = thread::spawn(move || assert!(b2.advise_broken(ADVICE)));
        let m = b.metrics();
        t.join().unwrap();
        match (m.state, m.retry_after) {
            (State::Passing, _) => reach(0),
            (State::Broken, left) if left == ADVICE => reach(1),
            (State::Broken, left) if left == BROKEN => reach(2),
            other => panic!("read {other:?}"),
        }
        assert_eq!(b.retry_after(), ADVICE);
        clock.set(ADVICE / 2 + ADVICE);
        assert_eq!(b.state(), State::Recovering);
        let (_, steps, heard) = settled(&b);
        assert_eq!(steps, [(PASSING, TRIPPED), (TRIPPED, RAMP)]);
        assert_eq!(
            heard.iter().map(|t| t.cause).collect::<Vec<_>>(),
            [Cause::Advice, Cause::Machine]
        );
    });
}

/// Advice racing a ramp admission: the admission stands only if it came
/// first (its outcome then late), and the ramp's credit never reads the
/// advice as calls owed: after the advice, the next ramp starts from zero.
#[test]
fn advice_racing_a_ramp_admission() {
    explore::<2, _>(|reach| {
        let (clock, b) = logged(config(0.5, 1));
        recovering(&clock, &b, 1, RECOVERY);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.advise_broken(ADVICE));
        let admitted = CircuitBreaker::try_acquire_owned(b.clone()).ok();
        let admitted_in = admitted.as_ref().map(|p| p.state());
        assert!(t.join().unwrap(), "a Recovering breaker takes advice");
        if let Some(p) = admitted {
            p.success();
        }
        let (m, steps, heard) = settled(&b);
        assert_eq!(m.retry_after, ADVICE, "{m:?} {heard:#?} {admitted_in:?}");
        assert_eq!(steps[2..], [(RAMP, TRIPPED)]);
        reach(m.call_recovering_ok as usize);
        // The advised Broken's end: a ramp at p(0) = 0 admits nothing.
        clock.set(clock.elapsed() + ADVICE);
        let rejected = CircuitBreaker::try_acquire_owned(b.clone()).unwrap_err();
        assert_eq!(rejected.state(), State::Recovering);
    });
}
