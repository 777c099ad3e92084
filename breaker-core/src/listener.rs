//! State-change listeners: who hears about a transition, and what they hear.
//! Ready-made listeners for `log`, `tracing` and `defmt` live in the
//! submodules, each behind the feature of the same name.

#[cfg(feature = "defmt")]
mod to_defmt;
#[cfg(feature = "log")]
mod to_log;
#[cfg(feature = "tracing")]
mod to_tracing;

#[cfg(feature = "defmt")]
pub use self::to_defmt::DefmtListener;
#[cfg(feature = "log")]
pub use self::to_log::LogListener;
#[cfg(feature = "tracing")]
pub use self::to_tracing::TracingListener;

use core::fmt;
use core::time::Duration;

use crate::clock::Nanos;
use crate::state::{Mode, State};

/// One change of a breaker's state or mode, as a [`Listener`] hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// The mode before ([`Mode::Automatic`] unless an operator had taken over).
    pub from_mode: Mode,
    /// The mode after.
    pub to_mode: Mode,
    /// When the new state began, on the breaker's clock. Time-driven
    /// transitions are dated when they were due, not when they were noticed:
    /// Recovering begins at Broken's deadline.
    pub at: Nanos,
    /// How long the new state stays Broken, after backoff and jitter (or as
    /// advised); zero unless the new state is an automatic Broken.
    pub broken_time: Duration,
    /// Who made the transition.
    pub cause: Cause,
}

/// Who made a [`Transition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Cause {
    /// The breaker's own machine: its window's error ratio, or time.
    Machine,
    /// An operator: [`force_open`](crate::CircuitBreaker::force_open),
    /// [`disable`](crate::CircuitBreaker::disable) or
    /// [`reset`](crate::CircuitBreaker::reset).
    Operator,
    /// [`advise_broken`](crate::CircuitBreaker::advise_broken): others (a
    /// fleet of instances) report the dependency down.
    Advice,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |f: &mut fmt::Formatter<'_>, state: State, mode: Mode| match mode {
            Mode::Automatic => write!(f, "{state}"),
            _ => write!(f, "{mode}"),
        };
        show(f, self.from, self.from_mode)?;
        f.write_str(" -> ")?;
        show(f, self.to, self.to_mode)?;
        if !self.broken_time.is_zero() {
            write!(f, " for {:?}", self.broken_time)?;
        }
        if self.cause == Cause::Advice {
            f.write_str(" (advised)")?;
        }
        Ok(())
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Cause::Machine => "machine",
            Cause::Operator => "operator",
            Cause::Advice => "advice",
        })
    }
}

/// The same short form as `Display` ("passing -> broken for 5000 ms"), so a
/// firmware log reads like a server's.
#[cfg(feature = "defmt")]
impl defmt::Format for Transition {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.from_mode {
            Mode::Automatic => defmt::write!(f, "{} -> ", self.from),
            mode => defmt::write!(f, "{} -> ", mode),
        }
        match self.to_mode {
            Mode::Automatic => defmt::write!(f, "{}", self.to),
            mode => defmt::write!(f, "{}", mode),
        }
        if !self.broken_time.is_zero() {
            defmt::write!(f, " for {=u64} ms", self.broken_time.as_millis() as u64);
        }
        if self.cause == Cause::Advice {
            defmt::write!(f, " (advised)");
        }
    }
}

/// Hears every transition of a breaker, exactly once each.
///
/// Called by the thread whose operation made the transition, after the new
/// state is in place and nothing is held: it may read the breaker's
/// [`state`](crate::CircuitBreaker::state) and
/// [`metrics`](crate::CircuitBreaker::metrics), or even call through it. Keep
/// it short; it runs inside that thread's call.
///
/// Two transitions made by two threads in quick succession may be heard in
/// either order (each thread tells after its own compare-and-swap): order
/// them by [`Transition::at`], which never goes back along the breaker's
/// history, with the `from` of each equal to the `to` of the one before.
///
/// Closures `Fn(Transition)` are listeners. The default, [`NoListener`],
/// costs nothing: it is zero-sized and its calls compile away.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use core::time::Duration;
/// use breaker_core::{CircuitBreaker, Config, Listener, MockClock, State, Transition};
///
/// /// Counts trips, e.g. for a metrics gauge.
/// struct Trips(AtomicU32);
///
/// impl Listener for Trips {
///     fn on_transition(&self, t: Transition) {
///         if t.to == State::Broken {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// static CLOCK: MockClock = MockClock::new();
/// static BREAKER: CircuitBreaker<&MockClock, 10, Trips> = CircuitBreaker::with_listener(
///     Config::new(0.5, Duration::from_secs(1)).min_calls(1).passing_time(Duration::ZERO),
///     &CLOCK,
///     Trips(AtomicU32::new(0)),
/// );
///
/// let _ = BREAKER.call(|| Err::<(), _>("down"));
/// assert_eq!(BREAKER.listener().0.load(Ordering::Relaxed), 1);
/// ```
pub trait Listener {
    /// Called once per transition.
    fn on_transition(&self, transition: Transition);

    /// Whether this listener hears transitions at all. Only [`NoListener`]
    /// says no: the breaker then skips building each [`Transition`] (its
    /// times cost a clock read and 64-bit arithmetic, and flash on an MCU).
    /// Leave it as it is unless `on_transition` does nothing.
    #[inline(always)]
    fn hears(&self) -> bool {
        true
    }
}

/// The listener that hears nothing: the default, free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoListener;

impl Listener for NoListener {
    #[inline(always)]
    fn hears(&self) -> bool {
        false
    }

    #[inline(always)]
    fn on_transition(&self, _: Transition) {}
}

impl<F: Fn(Transition)> Listener for F {
    fn on_transition(&self, transition: Transition) {
        self(transition)
    }
}
