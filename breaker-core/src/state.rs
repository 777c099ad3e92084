//! The three states and the packed state word.

use core::fmt;

/// Where a circuit breaker is in its cycle.
///
/// | here | aiomisc | Resilience4j / Polly |
/// |---|---|---|
/// | `Passing` | PASSING | CLOSED |
/// | `Broken` | BROKEN | OPEN |
/// | `Recovering` | RECOVERING | HALF_OPEN |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// Every call is admitted and its outcome counted.
    Passing,
    /// Every call is rejected at once.
    Broken,
    /// A growing share of calls is admitted to test the dependency.
    Recovering,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            State::Passing => "passing",
            State::Broken => "broken",
            State::Recovering => "recovering",
        })
    }
}

/// What the state word can say: a [`State`], or "not used yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Passing = 0,
    Broken = 1,
    Recovering = 2,
    /// A `const`-built breaker cannot read its clock; Passing starts at the
    /// first operation instead, so `passing_time` counts from first use.
    Unstarted = 3,
}

impl Phase {
    pub(crate) const fn state(self) -> State {
        match self {
            Phase::Passing | Phase::Unstarted => State::Passing,
            Phase::Broken => State::Broken,
            Phase::Recovering => State::Recovering,
        }
    }
}

const PHASE_MASK: u64 = 0b11;
const EPOCH_SHIFT: u32 = 2;
/// Epochs are counted modulo 16.
pub(crate) const EPOCH_MASK: u64 = 0xF;
const SINCE_SHIFT: u32 = 6;
/// Entry times are kept modulo 2^58 ns (about 9.1 years).
const SINCE_MASK: u64 = (1 << 58) - 1;
/// Elapsed times at or past half the modulus are read as a clock that went
/// backwards (no time passed); real elapsed times stay below `MAX_SPAN`.
const BACKWARDS: u64 = 1 << 57;

/// The breaker's state word: everything a call needs to decide, in one atomic
/// load, and every transition, in one compare-and-swap.
///
/// ```text
///  63                                               6 5        2 1       0
/// +--------------------------------------------------+----------+---------+
/// |  since: state entry time, ns modulo 2^58          | epoch: 4 | phase: 2|
/// +--------------------------------------------------+----------+---------+
/// ```
///
/// - `phase`: Passing, Broken, Recovering, or Unstarted (see [`Phase`]).
/// - `epoch`: incremented by every transition. It labels the state's window
///   buckets and its ramp credit, so a new state starts from an empty window.
/// - `since`: when the state began. Broken's deadline, Recovering's ramp and
///   Passing's grace period are measured from it, modulo 2^58 ns.
///
/// No two states of a breaker's life share a word: a state begins no earlier
/// than its predecessor, and a later state of the same kind strictly later
/// (Broken lasts `broken_time > 0` between any two). So comparing words tells
/// whether a permit's state is still current, and CAS on the word cannot
/// suffer ABA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) const UNSTARTED: Word = Word(Phase::Unstarted as u64);

    const fn new(phase: Phase, epoch: u64, since: u64) -> Word {
        Word(
            ((since & SINCE_MASK) << SINCE_SHIFT)
                | ((epoch & EPOCH_MASK) << EPOCH_SHIFT)
                | phase as u64,
        )
    }

    pub(crate) const fn phase(self) -> Phase {
        match self.0 & PHASE_MASK {
            0 => Phase::Passing,
            1 => Phase::Broken,
            2 => Phase::Recovering,
            _ => Phase::Unstarted,
        }
    }

    pub(crate) const fn epoch(self) -> u64 {
        (self.0 >> EPOCH_SHIFT) & EPOCH_MASK
    }

    const fn since(self) -> u64 {
        self.0 >> SINCE_SHIFT
    }

    /// Nanoseconds from the state's entry to `now`; zero if `now` reads earlier.
    pub(crate) const fn elapsed(self, now: u64) -> u64 {
        let d = now.wrapping_sub(self.since()) & SINCE_MASK;
        if d >= BACKWARDS { 0 } else { d }
    }

    /// `now` as this state sees it: a reading from before the state began
    /// (a clock that went backwards) is moved up to the state's entry.
    pub(crate) const fn effective(self, now: u64) -> u64 {
        let back = self.since().wrapping_sub(now) & SINCE_MASK;
        if back != 0 && back < BACKWARDS {
            now.saturating_add(back)
        } else {
            now
        }
    }

    /// The word after a transition to `phase`, `after` ns past this state's entry.
    pub(crate) const fn next(self, phase: Phase, after: u64) -> Word {
        Word::new(phase, self.epoch() + 1, self.since().wrapping_add(after))
    }

    /// The first Passing state, entered at `now`.
    pub(crate) const fn started(now: u64) -> Word {
        Word::new(Phase::Passing, 0, now)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let w = Word::started(123_456_789);
        assert_eq!(
            (w.phase(), w.epoch(), w.elapsed(123_456_789 + 5)),
            (Phase::Passing, 0, 5)
        );
        let b = w.next(Phase::Broken, 10);
        assert_eq!(
            (b.phase(), b.epoch(), b.elapsed(123_456_799)),
            (Phase::Broken, 1, 0)
        );
        assert_eq!(b.elapsed(123_456_800), 1);
    }

    #[test]
    fn backwards_clocks_read_as_no_time() {
        let w = Word::started(1_000);
        assert_eq!(w.elapsed(999), 0);
        assert_eq!(w.elapsed(0), 0);
        let far = Word::started(u64::MAX - 3);
        assert_eq!(far.elapsed(u64::MAX), 3);
        assert_eq!(far.elapsed(u64::MAX - 10), 0);
        assert_eq!(w.effective(400), 1_000);
        assert_eq!(w.effective(1_500), 1_500);
        assert_eq!(far.effective(u64::MAX - 10), u64::MAX - 3);
    }

    #[test]
    fn entry_times_wrap_without_losing_elapsed_time() {
        let w = Word::started((1 << 58) - 2);
        assert_eq!(w.elapsed(1 << 58), 2);
        assert_eq!(w.elapsed((1 << 58) + 1_000), 1_002);
        let n = w.next(Phase::Broken, 5);
        assert_eq!(n.elapsed((1 << 58) + 3), 0);
        assert_eq!(n.elapsed((1 << 58) + 4), 1);
    }

    #[test]
    fn epochs_wrap_modulo_16() {
        let mut w = Word::started(0);
        for _ in 0..16 {
            w = w.next(Phase::Broken, 1);
        }
        assert_eq!(w.epoch(), 0);
        assert_ne!(w, Word::started(0));
    }

    #[test]
    fn state_display_is_lowercase() {
        extern crate std;
        assert_eq!(std::format!("{}", State::Recovering), "recovering");
        assert_eq!(std::format!("{:>8}", State::Broken), "  broken");
    }
}
