//! The circuit breaker: admission, outcomes, and the state machine.

use core::borrow::BorrowMut;
use core::fmt;
use core::future::Future;
use core::task::Poll;
use core::time::Duration;

use crate::clock::{Clock, Nanos};
use crate::config::{Config, ConfigError};
use crate::div::duration_from_nanos;
use crate::error::{CircuitBroken, Error};
use crate::listener::{Cause, Listener, NoListener, Transition};
use crate::metrics::Metrics;
use crate::outcome::{Classify, DefaultClassifier, Outcome};
use crate::params::Params;
use crate::permit::{OwnedPermit, Permit};
use crate::ramp;
use crate::state::{Mode, Phase, State, Word};
use crate::sync::{AtomicU64, Ordering};
use crate::window::Window;

/// The shortest sleep between two checks of a breaker whose clock lags the
/// runtime's timer, in [`CircuitBreaker::ready_with`].
const RECHECK: Duration = Duration::from_millis(1);

/// How often [`CircuitBreaker::ready_with`] looks again at a breaker forced
/// open: it has no deadline to sleep until, only an operator's `reset`.
const FORCED_RECHECK: Duration = Duration::from_millis(100);

/// Declares a constructor that is `const` except under loom, whose atomics
/// cannot be built in const context.
macro_rules! constructor {
    ($(#[$meta:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$meta])* $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$meta])* $vis fn $($rest)*
    };
}

/// A circuit breaker: aiomisc's Passing / Broken / Recovering state machine over
/// a sliding window of `BUCKETS` buckets, on atomics only.
///
/// Build it with [`new`](CircuitBreaker::new) (a `const fn`, so it can be a
/// `static`) or [`try_new`](CircuitBreaker::try_new); share it by reference;
/// call through it with [`call`](Self::call), [`call_async`](Self::call_async)
/// or [`try_acquire`](Self::try_acquire). It is `Sync` when its clock is.
///
/// `L` hears every transition ([`Listener`]); the default hears nothing and
/// costs nothing. See the [crate docs](crate) for the rules it follows.
pub struct CircuitBreaker<C: Clock, const BUCKETS: usize = 10, L: Listener = NoListener> {
    /// The state word ([`Word`]). `SeqCst` throughout: a Recovering admission
    /// is valid only if this word did not change around its credit CAS, which
    /// needs the store-load order only `SeqCst` gives. On the hot path it is a
    /// plain load on x86 and `ldar` on AArch64, the same as `Acquire`.
    state: AtomicU64,
    /// Recovering ramp credit ([`Credit`]).
    credit: AtomicU64,
    window: Window<BUCKETS>,
    counters: Counters,
    params: Params,
    clock: C,
    listener: L,
}

/// Prints the breaker's parts, and the listener by its type name only: a
/// closure listener has no `Debug`, and a breaker should print anyway.
impl<C: Clock + fmt::Debug, const BUCKETS: usize, L: Listener> fmt::Debug
    for CircuitBreaker<C, BUCKETS, L>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &Word(self.state.load(Ordering::Relaxed)))
            .field("credit", &self.credit)
            .field("window", &self.window)
            .field("counters", &self.counters)
            .field("params", &self.params)
            .field("clock", &self.clock)
            .field("listener", &core::any::type_name::<L>())
            .finish()
    }
}

/// Admission and outcome counters. `Relaxed`: each is an independent tally
/// that orders nothing else; exact totals come from the RMWs alone.
///
/// A synchronous `call` in Passing does not count its admission on its own:
/// the outcome it records in the window is the count, which keeps it to one
/// atomic RMW. (Another thread reading metrics while that call runs does not
/// see it yet.) Permits and async calls, which may be held for long, are
/// counted when admitted. So
///
/// `call_passing = passing_offset + successes + failures`
#[derive(Debug)]
struct Counters {
    /// What `call_passing` adds to the recorded successes and failures, as a
    /// two's complement `i64`: plus the Passing admissions that no recorded
    /// outcome stands for (permits still held, calls whose outcome was
    /// ignored or late), minus the recorded outcomes of Recovering calls.
    passing_offset: AtomicU64,
    broken: AtomicU64,
    recovering_ok: AtomicU64,
    recovering_failed: AtomicU64,
    ignored: AtomicU64,
    late: AtomicU64,
    trips: AtomicU64,
}

impl Counters {
    constructor! {
        fn new() -> Counters {
            Counters {
                passing_offset: AtomicU64::new(0),
                broken: AtomicU64::new(0),
                recovering_ok: AtomicU64::new(0),
                recovering_failed: AtomicU64::new(0),
                ignored: AtomicU64::new(0),
                late: AtomicU64::new(0),
                trips: AtomicU64::new(0),
            }
        }
    }
}

/// Out of line on 32-bit targets, where a 64-bit add takes a call and two
/// more arguments at each of a dozen places.
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn unbump(counter: &AtomicU64) {
    counter.fetch_sub(1, Ordering::Relaxed);
}

/// Who makes a transition, with what it brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// The automatic machine: time, or a recorded outcome.
    Machine,
    /// An operator: `force_open`, `disable`, `reset`. The new state's window
    /// is cleared, as the machine's own rhythm no longer keeps old buckets
    /// within a few epochs of the new one (see `Window::clear`).
    Operator,
    /// `advise_broken`, for this many ns (already bounded).
    Advice(u64),
}

impl By {
    const fn cause(self) -> Cause {
        match self {
            By::Machine => Cause::Machine,
            By::Operator => Cause::Operator,
            By::Advice(_) => Cause::Advice,
        }
    }
}

/// When a call's admission in Passing is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counting {
    /// When the permit is handed out: a caller may hold it for long, and
    /// metrics must show it meanwhile.
    AtAdmission,
    /// By the outcome it records: the synchronous `call` holds its permit
    /// only while the callee runs on the calling thread.
    AtOutcome,
}

/// The Recovering ramp's credit word:
///
/// ```text
///  63      60 59                                                       0
/// +----------+----------------------------------------------------------+
/// | epoch: 4 |  credit: calls owed, Q32 fixed point (saturating)         |
/// +----------+----------------------------------------------------------+
/// ```
///
/// Every attempt adds `p(e)`; an attempt that brings the credit to 1 is
/// admitted and takes 1 away. So the admitted count never strays 1 from the
/// sum of `p` over the attempts. The epoch tag resets the credit for each
/// Recovering state without a separate reset step racing the first attempts.
///
/// An advised Broken state, which has no ramp, keeps its duration here
/// instead, marked by bit 59 (a balance never comes near it): see
/// [`advise_broken`](CircuitBreaker::advise_broken).
struct Credit;

impl Credit {
    const SHIFT: u32 = 60;
    const MASK: u64 = (1 << Self::SHIFT) - 1;
    const ADVICE: u64 = 1 << 59;
    /// Balances saturate here, below the advice mark.
    const MAX_BALANCE: u64 = Self::ADVICE - 1;

    const fn balance(word: u64, epoch: u64) -> u64 {
        if word >> Self::SHIFT == epoch && word & Self::ADVICE == 0 {
            word & Self::MASK
        } else {
            0
        }
    }

    const fn word(epoch: u64, balance: u64) -> u64 {
        (epoch << Self::SHIFT) | balance
    }

    /// The credit word of an advised Broken state of epoch `epoch` lasting
    /// `duration` ns (below 2^53).
    const fn advice(epoch: u64, duration: u64) -> u64 {
        Self::word(epoch, Self::ADVICE | duration)
    }

    /// The duration the credit word `word` holds for the advised Broken
    /// state of epoch `epoch`, if it holds one.
    const fn advised(word: u64, epoch: u64) -> Option<u64> {
        if word >> Self::SHIFT == epoch && word & Self::ADVICE != 0 {
            Some(word & Self::MASK & !Self::ADVICE)
        } else {
            None
        }
    }
}

/// How a fast path hands its [`Now`] to its out-of-line slow path: a copy on
/// 64-bit hosts, where a `Now` whose address is taken would stay in memory
/// on the fast path too (4 to 5 more instructions per call); a reference on
/// 32-bit MCUs, where a copy is 24 bytes moved by `memcpy` on riscv32imc.
#[cfg(target_pointer_width = "64")]
type Handed<'n, 'a, C> = Now<'a, C>;
#[cfg(not(target_pointer_width = "64"))]
type Handed<'n, 'a, C> = &'n mut Now<'a, C>;

/// Reads the clock at most once per operation, and only if needed.
struct Now<'a, C: Clock> {
    clock: &'a C,
    read: Option<u64>,
}

impl<'a, C: Clock> Now<'a, C> {
    #[inline(always)]
    fn new(clock: &'a C) -> Self {
        Now { clock, read: None }
    }

    /// This `Now` for a slow path to go on with (see [`Handed`]).
    #[cfg(target_pointer_width = "64")]
    #[inline(always)]
    fn hand<'n>(&'n mut self) -> Handed<'n, 'a, C> {
        Now {
            clock: self.clock,
            read: self.read,
        }
    }

    /// This `Now` for a slow path to go on with (see [`Handed`]).
    #[cfg(not(target_pointer_width = "64"))]
    #[inline(always)]
    fn hand<'n>(&'n mut self) -> Handed<'n, 'a, C> {
        self
    }

    /// The time since `word`'s state began (see [`Word::elapsed`]). Out of
    /// line on 32-bit targets with its 64-bit arithmetic.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn elapsed_in(&mut self, word: Word) -> u64 {
        word.elapsed(self.get())
    }

    /// The reading as `word`'s state sees it (see [`Word::effective`]). Out
    /// of line on 32-bit targets with its 64-bit arithmetic.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn effective_in(&mut self, word: Word) -> u64 {
        word.effective(self.get())
    }

    /// The clock's reading, taken on the first call.
    ///
    /// Inline on 64-bit hosts. Out of line on 32-bit MCUs: each inlined copy
    /// is a test, a call to the clock and a 64-bit store, at a dozen places
    /// (150 B of flash on thumbv7m).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn get(&mut self) -> u64 {
        *self.read.get_or_insert_with(|| self.clock.now().as_nanos())
    }
}

impl<C: Clock> CircuitBreaker<C> {
    constructor! {
        /// A breaker with the default 10 buckets.
        ///
        /// # Panics
        ///
        /// If `config` is invalid, with the [`ConfigError`] message naming the
        /// field and the rule. In a `static` or `const`, that is a compile
        /// error. Use [`try_new`](Self::try_new) to handle it instead.
        ///
        /// # Examples
        ///
        /// ```
        /// use core::time::Duration;
        /// use breaker_core::{CircuitBreaker, Config, MockClock, State};
        ///
        /// static CLOCK: MockClock = MockClock::new();
        /// static BREAKER: CircuitBreaker<&MockClock> =
        ///     CircuitBreaker::new(Config::new(0.2, Duration::from_secs(20)), &CLOCK);
        /// assert_eq!(BREAKER.state(), State::Passing);
        /// ```
        pub fn new(config: Config, clock: C) -> Self {
            Self::with_buckets(config, clock)
        }
    }

    constructor! {
        /// A breaker with the default 10 buckets, or the reason `config` is
        /// invalid.
        ///
        /// # Errors
        ///
        /// [`ConfigError`] naming the first invalid field and the rule it
        /// broke. The clock is not dropped in that case (a `const fn` cannot
        /// drop a generic value); clocks are usually references or zero-sized.
        pub fn try_new(config: Config, clock: C) -> Result<Self, ConfigError> {
            Self::try_with_buckets(config, clock)
        }
    }
}

impl<C: Clock, const BUCKETS: usize> CircuitBreaker<C, BUCKETS> {
    constructor! {
        /// A breaker whose window has `BUCKETS` buckets (1 to 1024).
        ///
        /// # Panics
        ///
        /// As [`new`](CircuitBreaker::new).
        pub fn with_buckets(config: Config, clock: C) -> Self {
            CircuitBreaker::with_listener(config, clock, NoListener)
        }
    }

    constructor! {
        /// A breaker whose window has `BUCKETS` buckets, or the reason `config`
        /// is invalid.
        ///
        /// # Errors
        ///
        /// As [`try_new`](CircuitBreaker::try_new).
        pub fn try_with_buckets(config: Config, clock: C) -> Result<Self, ConfigError> {
            CircuitBreaker::try_with_listener(config, clock, NoListener)
        }
    }
}

impl<C: Clock, const BUCKETS: usize, L: Listener> CircuitBreaker<C, BUCKETS, L> {
    constructor! {
        /// A breaker that tells `listener` about every transition.
        ///
        /// `BUCKETS` comes from the type you name (a default type parameter
        /// is not inferred): `static B: CircuitBreaker<Clk, 10, MyListener> =
        /// CircuitBreaker::with_listener(..)`, or
        /// `CircuitBreaker::<_, 10, _>::with_listener(..)` for a local. See
        /// [`Listener`] for an example.
        ///
        /// # Panics
        ///
        /// As [`new`](CircuitBreaker::new).
        pub fn with_listener(config: Config, clock: C, listener: L) -> Self {
            match config.validate(BUCKETS, C::RESOLUTION) {
                Ok(params) => Self::from_params(params, clock, listener),
                Err(e) => {
                    core::mem::forget(clock);
                    core::mem::forget(listener);
                    panic!("{}", e.message())
                }
            }
        }
    }

    constructor! {
        /// [`with_listener`](Self::with_listener), or the reason `config` is
        /// invalid.
        ///
        /// # Errors
        ///
        /// As [`try_new`](CircuitBreaker::try_new); the clock and the listener
        /// are not dropped in that case.
        pub fn try_with_listener(config: Config, clock: C, listener: L) -> Result<Self, ConfigError> {
            match config.validate(BUCKETS, C::RESOLUTION) {
                Ok(params) => Ok(Self::from_params(params, clock, listener)),
                Err(e) => {
                    core::mem::forget(clock);
                    core::mem::forget(listener);
                    Err(e)
                }
            }
        }
    }

    constructor! {
        fn from_params(params: Params, clock: C, listener: L) -> Self {
            CircuitBreaker {
                state: AtomicU64::new(Word::UNSTARTED.0),
                credit: AtomicU64::new(0),
                window: Window::new(),
                counters: Counters::new(),
                params,
                clock,
                listener,
            }
        }
    }

    /// The configuration, with defaults made explicit.
    pub fn config(&self) -> Config {
        self.params.config()
    }

    /// The clock the breaker reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The listener that hears the breaker's transitions.
    pub fn listener(&self) -> &L {
        &self.listener
    }

    /// The state now. Reading it applies any transition that time alone has
    /// caused (Broken to Recovering at the deadline, the end of the ramp).
    ///
    /// A breaker [forced open](Self::force_open) is Broken, a
    /// [disabled](Self::disable) one Passing; [`mode`](Self::mode) says so.
    pub fn state(&self) -> State {
        self.settle(&mut Now::new(&self.clock)).phase().state()
    }

    /// Whether the automatic machine or an operator decides the state now.
    pub fn mode(&self) -> Mode {
        self.settle(&mut Now::new(&self.clock)).phase().mode()
    }

    // ---- operator controls -------------------------------------------------

    /// Rejects every call until [`reset`](Self::reset), whatever the window
    /// says: for maintenance, or a dependency known to be down.
    ///
    /// [`state`](Self::state) reads Broken and [`mode`](Self::mode)
    /// [`Mode::ForcedOpen`]; rejections carry [`Mode::ForcedOpen`] and no
    /// countdown (`retry_after` is zero: nobody knows when the operator will
    /// be done). Nothing is recorded meanwhile. The listener hears it; doing
    /// it again while forced open changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, Mode, MockClock, State};
    ///
    /// let breaker = CircuitBreaker::new(Config::new(0.5, Duration::from_secs(10)), MockClock::new());
    /// breaker.force_open();
    /// let rejected = breaker.call(|| Ok::<_, ()>(1)).unwrap_err();
    /// let rejected = rejected.broken().unwrap();
    /// assert_eq!((rejected.mode(), rejected.retry_after()), (Mode::ForcedOpen, Duration::ZERO));
    /// assert_eq!(breaker.state(), State::Broken);
    /// breaker.reset();
    /// assert_eq!(breaker.call(|| Ok::<_, ()>(1)), Ok(1));
    /// ```
    pub fn force_open(&self) {
        self.take_over(Phase::ForcedOpen);
    }

    /// Admits every call and keeps counting, but never changes state until
    /// [`reset`](Self::reset): for a dependency the breaker must not cut off
    /// (or while tuning a configuration on live traffic).
    ///
    /// [`state`](Self::state) reads Passing and [`mode`](Self::mode)
    /// [`Mode::Disabled`]. Outcomes go into a fresh window, so
    /// [`metrics`](Self::metrics) shows the error ratio the breaker would act
    /// on. The listener hears it; doing it again while disabled changes
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, MockClock, State};
    ///
    /// let breaker = CircuitBreaker::new(
    ///     Config::new(0.5, Duration::from_secs(10)).min_calls(1).passing_time(Duration::ZERO),
    ///     MockClock::new(),
    /// );
    /// breaker.disable();
    /// for _ in 0..5 {
    ///     let _ = breaker.call(|| Err::<(), _>("down"));
    /// }
    /// let m = breaker.metrics();
    /// assert_eq!((m.state, m.window_failures, m.trips), (State::Passing, 5, 0));
    /// ```
    pub fn disable(&self) {
        self.take_over(Phase::Disabled);
    }

    /// Passing, with a fresh window, a new `passing_time` grace and no
    /// backoff, from any state or mode: ends [`force_open`](Self::force_open)
    /// and [`disable`](Self::disable), or cuts a Broken state short. The
    /// listener hears it, also from Passing (the window is new).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, MockClock, State};
    ///
    /// let breaker = CircuitBreaker::new(
    ///     Config::new(0.5, Duration::from_secs(10)).min_calls(1).passing_time(Duration::ZERO),
    ///     MockClock::new(),
    /// );
    /// let _ = breaker.call(|| Err::<(), _>("down"));
    /// assert_eq!(breaker.state(), State::Broken);
    /// breaker.reset(); // the dependency was fixed by hand
    /// assert_eq!(breaker.state(), State::Passing);
    /// assert_eq!(breaker.metrics().window_calls, 0);
    /// ```
    pub fn reset(&self) {
        self.take_over(Phase::Passing);
    }

    /// Goes Broken for `for_` because others report the dependency down (for
    /// example a quorum of a fleet's instances: see `breaker-fleet`), then
    /// Recovering with the usual ramp, which tests the dependency from here.
    /// Returns whether it did.
    ///
    /// It applies to an automatic Passing or Recovering breaker (or one not
    /// used yet) and to nothing else: a Broken breaker already rejects every
    /// call and ends on its own schedule, and an operator's
    /// [`force_open`](Self::force_open) or [`disable`](Self::disable) stands.
    /// A zero `for_` changes nothing.
    ///
    /// Advice is bounded: it lasts at most the breaker's own longest broken
    /// time, `broken_time_max` (or `broken_time` without backoff), however
    /// long it asks for, so a faulty adviser cannot hold a breaker open. It
    /// is not a trip: [`Metrics::trips`] counts the breaker's own. The
    /// listener hears it with [`Cause::Advice`] and the advised time as
    /// `broken_time`; the window starts afresh, and the Recovering that
    /// follows starts the backoff at level 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, MockClock, State};
    ///
    /// let clock = MockClock::new();
    /// let breaker = CircuitBreaker::new(
    ///     Config::new(0.5, Duration::from_secs(10)).broken_time(Duration::from_secs(30)),
    ///     &clock,
    /// );
    /// assert!(breaker.advise_broken(Duration::from_secs(12)));
    /// assert_eq!(breaker.state(), State::Broken);
    /// assert_eq!(breaker.retry_after(), Duration::from_secs(12));
    /// assert!(!breaker.advise_broken(Duration::from_secs(5)), "already Broken");
    /// clock.advance(Duration::from_secs(12));
    /// assert_eq!(breaker.state(), State::Recovering);
    /// // Asking for more than the breaker's own longest broken time gets that.
    /// clock.advance(Duration::from_secs(60));
    /// let _ = breaker.call(|| Ok::<_, ()>(()));
    /// assert_eq!(breaker.state(), State::Passing);
    /// assert!(breaker.advise_broken(Duration::from_secs(3600)));
    /// assert_eq!(breaker.retry_after(), Duration::from_secs(30));
    /// ```
    pub fn advise_broken(&self, for_: Duration) -> bool {
        let duration = match u64::try_from(for_.as_nanos()) {
            Ok(0) => return false,
            Ok(ns) => ns.min(self.params.longest_advice()),
            Err(_) => self.params.longest_advice(),
        };
        let mut now = Now::new(&self.clock);
        loop {
            let word = self.settle(&mut now);
            if !matches!(word.phase(), Phase::Passing | Phase::Recovering) {
                return false;
            }
            let next = word.next(Phase::Advised, 0, now.elapsed_in(word));
            if self.transition(word, next, By::Advice(duration), &mut now) == next {
                return true;
            }
        }
    }

    /// Installs the operator's `phase`, whatever the machine is doing.
    fn take_over(&self, phase: Phase) {
        let mut now = Now::new(&self.clock);
        loop {
            let word = self.settle(&mut now);
            if word.phase() == phase && phase != Phase::Passing {
                return;
            }
            let next = word.manual(phase, now.get());
            if self.transition(word, next, By::Operator, &mut now) == next {
                return;
            }
        }
    }

    /// Asks to make one call. On admission, the returned [`Permit`] must be
    /// given the call's outcome; dropping it records [`Outcome::Ignored`].
    ///
    /// # Errors
    ///
    /// [`CircuitBroken`] when the breaker is Broken, or Recovering and this
    /// attempt is not in the admitted sample.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, MockClock};
    ///
    /// let breaker = CircuitBreaker::new(Config::new(0.5, Duration::from_secs(1)), MockClock::new());
    /// let permit = breaker.try_acquire().expect("a new breaker admits");
    /// let reply: Result<u32, &str> = Ok(7); // the call itself, made while holding the permit
    /// match reply {
    ///     Ok(_) => permit.success(),
    ///     Err(_) => permit.failure(),
    /// }
    /// assert_eq!(breaker.metrics().successes, 1);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_, C, BUCKETS, L>, CircuitBroken> {
        let admission = self.admit(Counting::AtAdmission)?;
        Ok(Permit::new(self, admission))
    }

    /// [`try_acquire`](Self::try_acquire) for a breaker behind a handle such as
    /// `Arc` or `&'static`: the permit owns the handle, so it can be kept in a
    /// `'static` future (a tower service's response future, say).
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_owned<H>(handle: H) -> Result<OwnedPermit<H, C, BUCKETS, L>, CircuitBroken>
    where
        H: core::ops::Deref<Target = Self>,
    {
        let admission = handle.admit(Counting::AtAdmission)?;
        Ok(OwnedPermit::new(handle, admission))
    }

    /// [`try_acquire_owned`](Self::try_acquire_owned) for a hot path of short
    /// calls, such as a tower service's requests: a Passing admission is
    /// counted in [`metrics`](Self::metrics) by the outcome its permit
    /// records (or by its drop), as [`call`](Self::call) counts, instead of
    /// when the permit is handed out. That saves two atomic read-modify-writes
    /// on a shared counter per call. The price: `call_count` and
    /// `call_passing` do not show a Passing call until its permit is settled.
    /// Once every permit is settled, the totals are the same exact figures.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, MockClock};
    ///
    /// static CLOCK: MockClock = MockClock::new();
    /// static BREAKER: CircuitBreaker<&MockClock> =
    ///     CircuitBreaker::new(Config::new(0.5, Duration::from_secs(1)), &CLOCK);
    ///
    /// let permit = CircuitBreaker::try_acquire_owned_deferred(&BREAKER).unwrap();
    /// assert_eq!(BREAKER.metrics().call_count, 0, "in flight: not counted yet");
    /// permit.success();
    /// assert_eq!(BREAKER.metrics().call_count, 1);
    /// ```
    #[inline]
    pub fn try_acquire_owned_deferred<H>(
        handle: H,
    ) -> Result<OwnedPermit<H, C, BUCKETS, L>, CircuitBroken>
    where
        H: core::ops::Deref<Target = Self>,
    {
        let admission = handle.admit(Counting::AtOutcome)?;
        Ok(OwnedPermit::new(handle, admission))
    }

    /// Calls `f` if the breaker admits it, and records its outcome (`Ok` is a
    /// success, `Err` a failure).
    ///
    /// # Errors
    ///
    /// [`Error::Broken`] without calling `f` when the breaker rejects the call;
    /// [`Error::Inner`] with `f`'s own error, untouched, when `f` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use breaker_core::{CircuitBreaker, Config, Error, MockClock};
    ///
    /// let breaker = CircuitBreaker::new(
    ///     Config::new(0.5, Duration::from_secs(10)).min_calls(2).passing_time(Duration::ZERO),
    ///     MockClock::new(),
    /// );
    /// assert_eq!(breaker.call(|| Err::<(), _>("timeout")), Err(Error::Inner("timeout")));
    /// assert_eq!(breaker.call(|| Err::<(), _>("timeout")), Err(Error::Inner("timeout")));
    /// let rejected = breaker.call(|| Ok::<_, &str>(1)).unwrap_err();
    /// assert_eq!(rejected.broken().unwrap().retry_after(), Duration::from_secs(10));
    /// ```
    #[inline]
    pub fn call<T, E, F>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        self.call_with(DefaultClassifier, f)
    }

    /// [`call`](Self::call) with a classifier deciding how the result counts.
    /// The caller still gets `f`'s result as it was.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    #[inline]
    pub fn call_with<T, E, K, F>(&self, classifier: K, f: F) -> Result<T, Error<E>>
    where
        K: Classify<T, E>,
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.acquire_for_call()?;
        let result = f();
        permit.record(classifier.classify(&result));
        result.map_err(Error::Inner)
    }

    /// Awaits `future` if the breaker admits it, and records its outcome.
    ///
    /// Admission happens at the first poll. The runtime adapters build their
    /// `call` on this and add timers.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before it completes records
    /// [`Outcome::Ignored`]: nothing is counted against the dependency, and in
    /// Recovering the admission goes back to the ramp.
    pub async fn call_async<T, E, Fut>(&self, future: Fut) -> Result<T, Error<E>>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_async_with(DefaultClassifier, future).await
    }

    /// [`call_async`](Self::call_async) with a classifier.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Cancel safety
    ///
    /// As [`call_async`](Self::call_async).
    pub async fn call_async_with<T, E, K, Fut>(
        &self,
        classifier: K,
        future: Fut,
    ) -> Result<T, Error<E>>
    where
        K: Classify<T, E>,
        Fut: Future<Output = Result<T, E>>,
    {
        // Counted at admission: an async call may be in flight for long, and
        // metrics must show it meanwhile.
        let permit = self.try_acquire()?;
        let result = future.await;
        permit.record(classifier.classify(&result));
        result.map_err(Error::Inner)
    }

    /// [`call_async_with`](Self::call_async_with) with a time limit, for any
    /// runtime. Once the call is admitted, `timer()` is called and its future
    /// raced against `future`; `timer` is a runtime's sleep for the limit. If
    /// the timer completes first, `future` is dropped, the call is recorded
    /// as a [`Outcome::Failure`] and the result is [`Error::Timeout`]. The
    /// adapters' `call_with_timeout` is this with their runtime's timer.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call), plus [`Error::Timeout`].
    ///
    /// # Cancel safety
    ///
    /// As [`call_async`](Self::call_async). A rejected call starts no timer.
    pub async fn call_async_with_timer<T, E, K, Fut, D>(
        &self,
        classifier: K,
        future: Fut,
        timer: impl FnOnce() -> D,
    ) -> Result<T, Error<E>>
    where
        K: Classify<T, E>,
        Fut: Future<Output = Result<T, E>>,
        D: Future<Output = ()>,
    {
        let permit = self.try_acquire()?;
        let mut future = core::pin::pin!(future);
        let mut timer = core::pin::pin!(timer());
        // The call wins a tie: a result that is ready is never thrown away.
        let finished = core::future::poll_fn(|cx| {
            if let Poll::Ready(result) = future.as_mut().poll(cx) {
                return Poll::Ready(Some(result));
            }
            timer.as_mut().poll(cx).map(|()| None)
        })
        .await;
        // One `record` for both ends: each copy of it inlines the hot path.
        let (outcome, result) = match finished {
            Some(result) => (classifier.classify(&result), result.map_err(Error::Inner)),
            None => (Outcome::Failure, Err(Error::Timeout)),
        };
        permit.record(outcome);
        result
    }

    /// Waits until the breaker is no longer Broken, for any runtime: `sleep`
    /// makes a future that completes after the given time (a runtime's
    /// sleep). It sleeps exactly until the broken deadline, then checks again:
    /// one sleep suffices unless the breaker broke again meanwhile, or its
    /// clock lags the timer (then it checks once a millisecond, never spins).
    /// In Recovering a call may still be rejected: only a share of calls is
    /// admitted there. A breaker [forced open](Self::force_open) has no
    /// deadline: it is checked every 100 ms until reset.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it holds no permit and changes nothing.
    pub async fn ready_with<S, F>(&self, mut sleep: F)
    where
        F: FnMut(Duration) -> S,
        S: Future<Output = ()>,
    {
        let mut at_least = Duration::ZERO;
        loop {
            let mut now = Now::new(&self.clock);
            let word = self.settle(&mut now);
            let wait = match word.phase() {
                Phase::ForcedOpen => FORCED_RECHECK,
                _ => self.remaining_broken(word, &mut now),
            };
            if wait.is_zero() {
                return;
            }
            sleep(wait.max(at_least)).await;
            // Still Broken after sleeping the whole wait: the breaker's clock
            // lags the timer (a mock clock nobody advances). Check at most once
            // a millisecond from now on rather than spin.
            at_least = RECHECK;
        }
    }

    /// A permit for the synchronous `call`: held only while the callee runs.
    #[inline]
    fn acquire_for_call(&self) -> Result<Permit<'_, C, BUCKETS, L>, CircuitBroken> {
        let admission = self.admit(Counting::AtOutcome)?;
        Ok(Permit::new(self, admission))
    }

    /// Time left until the breaker starts Recovering; zero unless it is Broken
    /// (and zero when forced open: that ends only with an operator's reset).
    /// What a caller waiting to retry should sleep for. It is exact: backoff
    /// and jitter are settled when the breaker trips.
    pub fn retry_after(&self) -> Duration {
        let mut now = Now::new(&self.clock);
        let word = self.settle(&mut now);
        self.remaining_broken(word, &mut now)
    }

    /// The state, the current window and every counter.
    pub fn metrics(&self) -> Metrics {
        let mut now = Now::new(&self.clock);
        let word = self.settle(&mut now);
        let tally = match word.phase() {
            Phase::Passing | Phase::Recovering | Phase::Disabled => {
                self.window.tally(word.epoch(), self.bucket(word, &mut now))
            }
            Phase::Broken | Phase::Advised | Phase::Unstarted | Phase::ForcedOpen => {
                Default::default()
            }
        };
        let c = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let offset = load(&c.passing_offset) as i64;
        let totals = self.window.totals();
        // At rest the sum is exact and not negative; under way, the counters
        // are read one by one and a moment's difference must not wrap.
        let passing = (offset + (totals.successes + totals.failures) as i64).max(0) as u64;
        let broken = load(&c.broken);
        let (recovering_ok, recovering_failed) =
            (load(&c.recovering_ok), load(&c.recovering_failed));
        Metrics {
            state: word.phase().state(),
            mode: word.phase().mode(),
            window_calls: tally.calls,
            window_failures: tally.failures,
            error_ratio: if tally.calls == 0 {
                0.0
            } else {
                tally.failures as f32 / tally.calls as f32
            },
            retry_after: self.remaining_broken(word, &mut now),
            call_count: passing + broken + recovering_ok + recovering_failed,
            call_passing: passing,
            call_broken: broken,
            call_recovering: recovering_ok + recovering_failed,
            call_recovering_ok: recovering_ok,
            call_recovering_failed: recovering_failed,
            successes: totals.successes,
            failures: totals.failures,
            ignored: load(&c.ignored),
            late: load(&c.late),
            trips: load(&c.trips),
        }
    }

    // ---- the state machine -------------------------------------------------

    /// The bucket the state `word` files an outcome under now. Out of line on
    /// 32-bit targets: `verdict` and `finish_slow` share its 64-bit
    /// arithmetic there.
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn bucket(&self, word: Word, now: &mut Now<'_, C>) -> u64 {
        self.params.bucket_of(now.effective_in(word))
    }

    fn remaining_broken(&self, word: Word, now: &mut Now<'_, C>) -> Duration {
        duration_from_nanos(self.broken_left_in(word, now).unwrap_or(0))
    }

    /// How long the Broken state `word` lasts: `broken_time` backed off to
    /// its level, then jittered. A function of the word alone, so every
    /// thread agrees on the deadline.
    #[inline(always)]
    fn broken_for(&self, word: Word) -> u64 {
        let p = &self.params;
        let base = p.backed_off(word.level());
        if p.jitter_ppm == 0 {
            base
        } else {
            p.jittered(base, word.0)
        }
    }

    /// How long `word` stays Broken, if it is a Broken state: its own
    /// backed-off, jittered time, or the advised one.
    ///
    /// Inline on 64-bit hosts, where it is a few instructions on the
    /// rejection path. Out of line on 32-bit MCUs, where its 64-bit shifts
    /// and compares are long: the rejection path, `settle` and `admit_slow`
    /// share one copy (300 B less flash on riscv32imc, 160 B on thumbv7m).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn broken_span(&self, word: Word) -> Option<u64> {
        match word.phase() {
            Phase::Broken => Some(self.broken_for(word)),
            Phase::Advised => Some(self.advised_for(word)),
            _ => None,
        }
    }

    /// How long the advised Broken state `word` lasts: what its adviser
    /// stored in the credit word right after installing it, or, in the moment
    /// before, the longest an advice may last (so no reader ends it early).
    fn advised_for(&self, word: Word) -> u64 {
        Credit::advised(self.credit.load(Ordering::SeqCst), word.epoch())
            .unwrap_or(self.params.longest_advice())
    }

    /// Loads the state word and applies every transition that is due by time
    /// alone, returning the word that holds now.
    ///
    /// Terminates: each pass either returns or follows a transition, and with
    /// the clock read once, at most three can follow each other (start, Broken
    /// to Recovering, the end of the ramp; a Recovering state entered now has
    /// an empty window, so no verdict is due in it).
    fn settle(&self, now: &mut Now<'_, C>) -> Word {
        let mut word = Word(self.state.load(Ordering::SeqCst));
        loop {
            let next = match word.phase() {
                Phase::Passing | Phase::ForcedOpen | Phase::Disabled => return word,
                Phase::Unstarted => {
                    // Not a transition anyone hears: it was Passing already.
                    let started = Word::started(now.get());
                    word = match self.state.compare_exchange(
                        word.0,
                        started.0,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    ) {
                        Ok(_) => started,
                        Err(current) => Word(current),
                    };
                    continue;
                }
                Phase::Broken | Phase::Advised => {
                    let broken = self.broken_span(word).unwrap_or_default();
                    if now.elapsed_in(word) < broken {
                        return word;
                    }
                    // Recovering begins at the deadline, not when it is
                    // noticed; after an advised Broken, at level 0.
                    word.next(Phase::Recovering, word.level(), broken)
                }
                // Most looks at a Recovering state come before the ramp's
                // end: on 64-bit hosts they skip the call to `verdict`, and
                // its prologue (a fifth of an attempt's instructions). On
                // 32-bit MCUs the test inside `verdict` suffices; a second
                // copy of it here would cost flash.
                Phase::Recovering
                    if cfg!(target_pointer_width = "64")
                        && now.elapsed_in(word) < self.params.recovery =>
                {
                    return word;
                }
                Phase::Recovering => match self.verdict(word, false, now) {
                    Some(next) => next,
                    None => return word,
                },
            };
            word = self.transition(word, next, By::Machine, now);
        }
    }

    /// Replaces `from` with `to` if `from` still holds, and returns whatever
    /// holds afterwards. Exactly one of any number of racing callers wins the
    /// CAS, so each transition happens, is counted and is heard once; the
    /// winner tells the listener after the new state is complete.
    fn transition(&self, from: Word, to: Word, by: By, now: &mut Now<'_, C>) -> Word {
        if let Err(current) =
            self.state
                .compare_exchange(from.0, to.0, Ordering::SeqCst, Ordering::SeqCst)
        {
            return Word(current);
        }
        if matches!(by, By::Operator | By::Advice(_)) {
            // Operators and advice may come faster than the machine's own
            // rhythm, which no longer keeps old buckets within a few epochs
            // of the new state's (see `Window::clear`): a fresh window.
            self.window.clear(to.epoch());
        }
        if let By::Advice(duration) = by {
            // Until this write, readers of the new word take the longest an
            // advice may last (`advised_for`); a ramp attempt racing it is
            // as harmless as with an operator's store below. (A swap, which
            // is a store here, so that loom orders it against the ramp's CAS
            // as a read-modify-write.)
            self.credit
                .swap(Credit::advice(to.epoch(), duration), Ordering::SeqCst);
        }
        if by == By::Operator {
            // The ramp credit is tagged with 4 bits of its Recovering state's
            // epoch. The machine's own Recovering states always make an
            // attempt, which replaces any older credit; an operator can end
            // one before that, and 16 epochs later its leftover would count
            // for a new Recovering. (A ramp attempt racing this store either
            // fails its CAS or finds the state word changed and gives back
            // nothing: `give_back` writes only under its own tag.)
            self.credit
                .store(Credit::word(to.epoch(), 0), Ordering::SeqCst);
        }
        if to.phase() == Phase::Broken {
            bump(&self.counters.trips);
        }
        if self.listener.hears() {
            self.tell(from, to, by, now);
        }
        to
    }

    /// Tells the listener about the transition from `from` to `to`.
    fn tell(&self, from: Word, to: Word, by: By, now: &mut Now<'_, C>) {
        let broken_time = match (to.phase(), by) {
            (Phase::Broken, _) => duration_from_nanos(self.broken_for(to)),
            (_, By::Advice(duration)) => duration_from_nanos(duration),
            _ => Duration::ZERO,
        };
        // The entry time in full width: `to` keeps it modulo 2^54.
        let t = now.effective_in(to);
        self.listener.on_transition(Transition {
            from: from.phase().state(),
            to: to.phase().state(),
            from_mode: from.phase().mode(),
            to_mode: to.phase().mode(),
            at: Nanos::from_nanos(t.wrapping_sub(to.elapsed(t))),
            broken_time,
            cause: by.cause(),
        });
    }

    /// The admission decision, counted: the word the call was admitted under
    /// (its permit's state) and, for slow-call timing, when.
    ///
    /// The hot path, Passing, is one load of the state word (and one
    /// `fetch_add` for a permit), and reads no clock unless calls are timed:
    /// nothing in Passing depends on time until an outcome is recorded. A
    /// rejection while Broken is a load, a clock read and one `fetch_add`
    /// (on 64-bit hosts; 32-bit MCUs take the slow path).
    #[inline(always)]
    fn admit(&self, counting: Counting) -> Result<Admission, CircuitBroken> {
        let mut now = Now::new(&self.clock);
        let word = Word(self.state.load(Ordering::SeqCst));
        let word = if word.is_passing() {
            if counting == Counting::AtAdmission {
                bump(&self.counters.passing_offset);
            }
            word
        } else {
            // On 64-bit hosts a Broken word is rejected here, without the
            // slow path's second load and `settle`. 32-bit MCUs leave it to
            // the slow path: inlined into every caller, this copy costs more
            // flash than the rejection saves time there.
            if cfg!(target_pointer_width = "64") {
                if let Some(left) = self.broken_left_in(word, &mut now) {
                    return Err(self.reject_broken(left));
                }
            }
            self.admit_slow(counting, now.hand())?
        };
        Ok(self.admission(word, counting))
    }

    /// The admission of a call under `word`, timed if slow calls are counted
    /// (on the clock's precise reading: its window tick may be coarse).
    #[inline(always)]
    fn admission(&self, word: Word, counting: Counting) -> Admission {
        let started = if self.params.slow_call != 0 {
            self.clock.now_precise().as_nanos()
        } else {
            0
        };
        Admission {
            word,
            started,
            counting,
        }
    }

    /// Counts and builds the rejection of a call with `left` ns of Broken to go.
    #[inline]
    fn reject_broken(&self, left: u64) -> CircuitBroken {
        bump(&self.counters.broken);
        CircuitBroken::new(duration_from_nanos(left), State::Broken)
    }

    /// The time left in `word`, if it is a Broken state whose deadline has
    /// not passed.
    #[inline(always)]
    fn broken_left_in(&self, word: Word, now: &mut Now<'_, C>) -> Option<u64> {
        let broken = self.broken_span(word)?;
        let elapsed = now.elapsed_in(word);
        (elapsed < broken).then(|| broken - elapsed)
    }

    #[cold]
    #[inline(never)]
    fn admit_slow(
        &self,
        counting: Counting,
        mut now: Handed<'_, '_, C>,
    ) -> Result<Word, CircuitBroken> {
        let now: &mut Now<'_, C> = BorrowMut::borrow_mut(&mut now);
        let mut word = self.settle(now);
        loop {
            match word.phase() {
                Phase::Passing | Phase::Unstarted | Phase::Disabled => {
                    if counting == Counting::AtAdmission {
                        bump(&self.counters.passing_offset);
                    }
                    return Ok(word);
                }
                // `settle` left it Broken: its deadline has not passed.
                Phase::Broken | Phase::Advised => {
                    let left = self.broken_left_in(word, now).unwrap_or(0);
                    return Err(self.reject_broken(left));
                }
                Phase::ForcedOpen => {
                    bump(&self.counters.broken);
                    return Err(CircuitBroken::forced_open());
                }
                Phase::Recovering => {
                    let admitted = self.ramp_admit(word, now);
                    // The decision stands only if the state did not change
                    // around the credit CAS (SeqCst orders the CAS before this
                    // load); otherwise undo it and decide again in the new state.
                    let current = Word(self.state.load(Ordering::SeqCst));
                    if current != word {
                        if admitted {
                            self.give_back(word);
                        }
                        word = self.settle(now);
                        continue;
                    }
                    return if admitted {
                        bump(&self.counters.recovering_ok);
                        Ok(word)
                    } else {
                        bump(&self.counters.recovering_failed);
                        Err(CircuitBroken::new(Duration::ZERO, State::Recovering))
                    };
                }
            }
        }
    }

    /// Adds this attempt's share to the ramp credit; admits if that makes a
    /// whole call.
    fn ramp_admit(&self, word: Word, now: &mut Now<'_, C>) -> bool {
        let share = ramp::share(now.elapsed_in(word), self.params.recovery);
        self.add_credit(word, share, true)
    }

    /// Returns one admission to the ramp of the Recovering state `word`, if
    /// that state's credit is still the one in place.
    fn give_back(&self, word: Word) {
        self.add_credit(word, ramp::ONE, false);
    }

    /// Adds `amount` to the ramp credit of the Recovering state `word` and,
    /// for an attempt (`attempt`), takes one admission out if the credit
    /// holds one; returns whether it did. An attempt may replace another
    /// period's credit (see below); a give-back writes only its own period's.
    ///
    /// One loop for both: inline on 64-bit hosts, where each caller's copy
    /// folds `attempt`; out of line on 32-bit MCUs, to keep one copy.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn add_credit(&self, word: Word, amount: u64, attempt: bool) -> bool {
        let epoch = word.epoch();
        let mut seen = self.credit.load(Ordering::SeqCst);
        loop {
            // Another period's credit is replaced only while this period still
            // holds: an attempt that loaded its word before the breaker moved
            // on to a later Recovering period must not wipe that period's
            // credit. (A period writes its credit only after its word is in
            // place, so having seen that credit, SeqCst shows the new word.)
            if seen >> Credit::SHIFT != epoch
                && (!attempt || self.state.load(Ordering::SeqCst) != word.0)
            {
                return false;
            }
            let credit = (Credit::balance(seen, epoch) + amount).min(Credit::MAX_BALANCE);
            let admitted = attempt && credit >= ramp::ONE;
            let left = if admitted { credit - ramp::ONE } else { credit };
            match self.credit.compare_exchange_weak(
                seen,
                Credit::word(epoch, left),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return admitted,
                Err(actual) => seen = actual,
            }
        }
    }

    /// Records the outcome of the call `admission`.
    ///
    /// The hot path, a success in Passing, is a load of the state word (is the
    /// call's state still current?), a clock read, and one CAS on the bucket.
    #[inline(always)]
    pub(crate) fn finish(&self, admission: Admission, outcome: Outcome) {
        let Admission {
            word: admitted,
            started,
            counting,
        } = admission;
        let mut now = Now::new(&self.clock);
        let slow = self.params.slow_call;
        // A success that took too long is a failure (`Config::slow_call`),
        // timed on the precise reading, as at admission.
        let outcome = if slow != 0
            && outcome == Outcome::Success
            && self.clock.now_precise().as_nanos().saturating_sub(started) > slow
        {
            Outcome::Failure
        } else {
            outcome
        };
        if outcome == Outcome::Success
            && admitted.is_passing()
            && self.state.load(Ordering::SeqCst) == admitted.0
        {
            // `effective()` is needed even here: a reading from before the
            // state began could otherwise match a slot that was never written
            // (all zero: epoch 0, round 0) and be counted in bucket 0.
            let time = now.effective_in(admitted);
            if self
                .window
                .try_add(admitted.epoch(), time, self.params.bucket, true)
            {
                self.recorded(admitted, counting);
                return;
            }
        }
        // The slow path reuses this clock reading, if one was taken.
        self.finish_slow(admitted, outcome, counting, now.hand());
    }

    #[cold]
    #[inline(never)]
    fn finish_slow(
        &self,
        admitted: Word,
        outcome: Outcome,
        counting: Counting,
        mut now: Handed<'_, '_, C>,
    ) {
        let now: &mut Now<'_, C> = BorrowMut::borrow_mut(&mut now);
        let current = Word(self.state.load(Ordering::SeqCst));
        let failure = match outcome {
            _ if current != admitted => {
                self.unrecorded(admitted, counting, &self.counters.late);
                return;
            }
            Outcome::Ignored => {
                self.unrecorded(admitted, counting, &self.counters.ignored);
                if admitted.phase() == Phase::Recovering {
                    self.give_back(admitted);
                }
                return;
            }
            Outcome::Success => false,
            Outcome::Failure => true,
        };
        self.window
            .record(admitted.epoch(), self.bucket(admitted, now), !failure);
        self.recorded(admitted, counting);
        let verdict = match admitted.phase() {
            Phase::Passing | Phase::Unstarted | Phase::Recovering => {
                self.verdict(admitted, failure, now)
            }
            _ => None,
        };
        if let Some(next) = verdict {
            self.transition(admitted, next, By::Machine, now);
        }
    }

    /// Keeps `call_passing` exact after an outcome landed in the window
    /// (see [`Counters`]): a Recovering call is not a Passing one, and a
    /// permit counted at admission no longer needs counting apart.
    #[inline]
    fn recorded(&self, admitted: Word, counting: Counting) {
        if admitted.phase() == Phase::Recovering || counting == Counting::AtAdmission {
            unbump(&self.counters.passing_offset);
        }
    }

    /// Counts an outcome that is recorded nowhere in the window (ignored or
    /// late); a Passing admission it stood for must now be counted apart.
    fn unrecorded(&self, admitted: Word, counting: Counting, counter: &AtomicU64) {
        bump(counter);
        if admitted.phase() != Phase::Recovering && counting == Counting::AtOutcome {
            bump(&self.counters.passing_offset);
        }
    }

    /// The transition the window calls for in `word` (Passing or Recovering)
    /// after an outcome (`failure` says which) or, with `failure` false, on a
    /// mere look at a Recovering state. One tally serves both rules:
    ///
    /// - the end of the ramp: once `recovery_time` has passed and the window
    ///   holds a call, Passing if the ratio is below `error_ratio`, else
    ///   Broken;
    /// - a trip on a failure: Broken if the window is decided and bad enough,
    ///   at least `min_calls` calls and `failures / calls >= error_ratio`, and
    ///   in Passing only after the `passing_time` grace period.
    fn verdict(&self, word: Word, failure: bool, now: &mut Now<'_, C>) -> Option<Word> {
        let p = &self.params;
        let elapsed = now.elapsed_in(word);
        let recovering = word.phase() == Phase::Recovering;
        let ramp_over = recovering && elapsed >= p.recovery;
        if !ramp_over && !(failure && (recovering || elapsed >= p.passing)) {
            return None;
        }
        let tally = self.window.tally(word.epoch(), self.bucket(word, now));
        let reached = p.ratio_reached(tally.failures, tally.calls);
        let phase = if ramp_over && tally.calls != 0 {
            if reached {
                Phase::Broken
            } else {
                Phase::Passing
            }
        } else if failure && tally.calls >= p.min_calls as u64 && reached {
            Phase::Broken
        } else {
            return None;
        };
        // Leaving Recovering either way backs off further: a Passing entered
        // from Recovering carries the level its next trip gets until it is
        // healthy. A trip from Passing keeps the level the Passing carries,
        // or starts again if it was healthy.
        let level = match () {
            _ if recovering => p.next_level(word.level()),
            _ if elapsed >= p.healthy() => 0,
            _ => word.level(),
        };
        Some(word.next(phase, level, elapsed))
    }
}

/// What a permit remembers of its admission.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    /// The state word the call was admitted under.
    pub(crate) word: Word,
    /// The clock reading at admission, when calls are timed
    /// (`Config::slow_call`); 0 otherwise.
    pub(crate) started: u64,
    pub(crate) counting: Counting,
}

impl Admission {
    pub(crate) const fn state(&self) -> State {
        self.word.phase().state()
    }
}
