//! Permits: the right to make one call, and the duty to report its outcome.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;

use crate::breaker::{Admission, CircuitBreaker};
use crate::clock::Clock;
use crate::listener::{Listener, NoListener};
use crate::outcome::Outcome;
use crate::state::State;

/// An admitted call borrowed from a breaker: report its outcome with
/// [`success`](OwnedPermit::success), [`failure`](OwnedPermit::failure) or
/// [`record`](OwnedPermit::record).
///
/// Dropping it unreported records [`Outcome::Ignored`] and, in Recovering,
/// gives the admission back to the ramp; with the `std` feature, a drop during
/// a panic records [`Outcome::Failure`]. This makes it aiomisc's `context()`,
/// usable across `.await`.
pub type Permit<'a, C, const BUCKETS: usize = 10, L = NoListener> =
    OwnedPermit<&'a CircuitBreaker<C, BUCKETS, L>, C, BUCKETS, L>;

/// An admitted call that keeps its breaker alive through a handle (`&`, `Arc`,
/// ...). [`Permit`] is this with a plain reference; an `Arc` handle makes a
/// `'static` permit, as a tower service's response future needs.
#[must_use = "a permit must be given the call's outcome; dropping it records `Ignored`"]
pub struct OwnedPermit<H, C, const BUCKETS: usize = 10, L = NoListener>
where
    H: Deref<Target = CircuitBreaker<C, BUCKETS, L>>,
    C: Clock,
    L: Listener,
{
    breaker: H,
    admission: Admission,
    reported: bool,
    types: PhantomData<fn() -> (C, L)>,
}

impl<H, C, const BUCKETS: usize, L> OwnedPermit<H, C, BUCKETS, L>
where
    H: Deref<Target = CircuitBreaker<C, BUCKETS, L>>,
    C: Clock,
    L: Listener,
{
    pub(crate) fn new(breaker: H, admission: Admission) -> Self {
        OwnedPermit {
            breaker,
            admission,
            reported: false,
            types: PhantomData,
        }
    }

    /// The state the call was admitted in: Passing or Recovering.
    pub fn state(&self) -> State {
        self.admission.state()
    }

    /// The breaker this permit belongs to.
    pub fn breaker(&self) -> &CircuitBreaker<C, BUCKETS, L> {
        &self.breaker
    }

    /// Records a success.
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a failure.
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// Records `outcome`.
    #[inline(always)]
    pub fn record(mut self, outcome: Outcome) {
        self.report(outcome);
    }

    #[inline(always)]
    fn report(&mut self, outcome: Outcome) {
        if !self.reported {
            self.reported = true;
            self.breaker.finish(self.admission, outcome);
        }
    }
}

impl<H, C, const BUCKETS: usize, L> fmt::Debug for OwnedPermit<H, C, BUCKETS, L>
where
    H: Deref<Target = CircuitBreaker<C, BUCKETS, L>> + fmt::Debug,
    C: Clock,
    L: Listener,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("breaker", &self.breaker)
            .field("admission", &self.admission)
            .field("reported", &self.reported)
            .finish()
    }
}

impl<H, C, const BUCKETS: usize, L> Drop for OwnedPermit<H, C, BUCKETS, L>
where
    H: Deref<Target = CircuitBreaker<C, BUCKETS, L>>,
    C: Clock,
    L: Listener,
{
    fn drop(&mut self) {
        // Checked here too, so that a reported permit does not ask whether
        // the thread is panicking.
        if !self.reported {
            self.report(outcome_of_drop());
        }
    }
}

/// A permit dropped unreported was cancelled, or its holder panicked.
fn outcome_of_drop() -> Outcome {
    #[cfg(feature = "std")]
    if std::thread::panicking() {
        return Outcome::Failure;
    }
    Outcome::Ignored
}
