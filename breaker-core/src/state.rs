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

/// Who is deciding the state: the automatic machine, or an operator.
///
/// An operator's override does not add states: a breaker forced open reports
/// [`State::Broken`] and a disabled one [`State::Passing`], so code that only
/// asks "may I call?" keeps working. The mode says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// The Passing / Broken / Recovering machine decides.
    Automatic,
    /// [`force_open`](crate::CircuitBreaker::force_open): Broken until
    /// [`reset`](crate::CircuitBreaker::reset), every call rejected.
    ForcedOpen,
    /// [`disable`](crate::CircuitBreaker::disable): every call admitted and
    /// counted, no transition until [`reset`](crate::CircuitBreaker::reset).
    Disabled,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Mode::Automatic => "automatic",
            Mode::ForcedOpen => "forced open",
            Mode::Disabled => "disabled",
        })
    }
}

/// What the state word can say: a [`State`] of the automatic machine, an
/// operator's override, or "not used yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Passing,
    Broken,
    Recovering,
    /// A `const`-built breaker cannot read its clock; Passing starts at the
    /// first operation instead, so `passing_time` counts from first use.
    Unstarted,
    ForcedOpen,
    Disabled,
    /// [`advise_broken`](crate::CircuitBreaker::advise_broken): Broken for
    /// the advised time, which the credit word holds (`Credit::advice`).
    Advised,
}

impl Phase {
    pub(crate) const fn state(self) -> State {
        match self {
            Phase::Passing | Phase::Unstarted | Phase::Disabled => State::Passing,
            Phase::Broken | Phase::ForcedOpen | Phase::Advised => State::Broken,
            Phase::Recovering => State::Recovering,
        }
    }

    pub(crate) const fn mode(self) -> Mode {
        match self {
            Phase::ForcedOpen => Mode::ForcedOpen,
            Phase::Disabled => Mode::Disabled,
            _ => Mode::Automatic,
        }
    }

    /// The `tag` and `aux` fields that say this phase (`aux` is the backoff
    /// level for the automatic states, the kind for the others).
    const fn tag_and_kind(self) -> (u64, Option<u64>) {
        match self {
            Phase::Passing => (0, None),
            Phase::Broken => (1, None),
            Phase::Recovering => (2, None),
            Phase::Unstarted => (SPECIAL, Some(0)),
            Phase::ForcedOpen => (SPECIAL, Some(1)),
            Phase::Disabled => (SPECIAL, Some(2)),
            Phase::Advised => (SPECIAL, Some(3)),
        }
    }
}

const TAG_MASK: u64 = 0b11;
/// The tag of the phases outside the automatic machine; `aux` says which.
const SPECIAL: u64 = 0b11;
const AUX_SHIFT: u32 = 2;
const AUX_MASK: u64 = 0xF;
/// The most doublings of `broken_time` the backoff level can say.
pub(crate) const MAX_LEVEL: u32 = AUX_MASK as u32;
const EPOCH_SHIFT: u32 = 6;
/// Epochs are counted modulo 16.
pub(crate) const EPOCH_MASK: u64 = 0xF;
const SINCE_SHIFT: u32 = 10;
/// Entry times are kept modulo 2^54 ns (about 208 days).
const SINCE_MASK: u64 = (1 << 54) - 1;
/// Elapsed times at or past half the modulus are read as a clock that went
/// backwards (no time passed); real elapsed times stay below this: every
/// setting is at most `MAX_SPAN` (2^52 ns), a jittered broken time less than
/// twice that.
pub(crate) const BACKWARDS: u64 = 1 << 53;

/// The breaker's state word: everything a call needs to decide, in one atomic
/// load, and every transition, in one compare-and-swap.
///
/// ```text
///  63                                       10 9        6 5      2 1     0
/// +-------------------------------------------+----------+--------+-------+
/// |  since: state entry time, ns modulo 2^54   | epoch: 4 | aux: 4 | tag: 2|
/// +-------------------------------------------+----------+--------+-------+
/// ```
///
/// - `tag`: Passing, Broken, Recovering, or "special"; a special word's `aux`
///   says Unstarted, forced open, disabled or advised Broken (see [`Phase`]). Passing is 0,
///   so the hot path's test is one mask.
/// - `aux` in the automatic states: the backoff level. A Broken state lasts
///   `broken_time * 2^level` (capped, then jittered); Recovering carries its
///   Broken's level, and a Passing entered from Recovering the level its next
///   trip gets unless it has been healthy for long enough.
/// - `epoch`: incremented by every transition. It labels the state's window
///   buckets and its ramp credit, so a new state starts from an empty window.
/// - `since`: when the state began. Broken's deadline, Recovering's ramp and
///   Passing's grace period are measured from it, modulo 2^54 ns.
///
/// Two states of a breaker's life share a word only if they are a multiple
/// of 16 transitions and exactly a multiple of 2^54 ns (208 days) apart: a
/// state begins no earlier than its predecessor, a later state of the same
/// kind strictly later (Broken lasts at least 1 ns between two automatic
/// ones, and an operator's transition moves `since` on by at least 1 ns), and
/// both `epoch` and `since` wrap. So comparing words tells whether a permit's
/// state is still current, and CAS on the word cannot suffer ABA, short of
/// that coincidence (a permit held that long across exactly such a lap counts
/// as current: `tests/bad_input.rs` keeps the case, ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) const UNSTARTED: Word = Word::new(Phase::Unstarted, 0, 0, 0);

    const fn new(phase: Phase, level: u32, epoch: u64, since: u64) -> Word {
        let (tag, aux) = match phase.tag_and_kind() {
            (tag, Some(kind)) => (tag, kind),
            (tag, None) => (tag, level as u64 & AUX_MASK),
        };
        Word(
            ((since & SINCE_MASK) << SINCE_SHIFT)
                | ((epoch & EPOCH_MASK) << EPOCH_SHIFT)
                | (aux << AUX_SHIFT)
                | tag,
        )
    }

    #[inline(always)]
    pub(crate) const fn phase(self) -> Phase {
        match self.0 & TAG_MASK {
            0 => Phase::Passing,
            1 => Phase::Broken,
            2 => Phase::Recovering,
            _ => match self.aux() {
                0 => Phase::Unstarted,
                1 => Phase::ForcedOpen,
                2 => Phase::Disabled,
                _ => Phase::Advised,
            },
        }
    }

    /// Whether this is an automatic Passing state: the hot path's one test.
    #[inline(always)]
    pub(crate) const fn is_passing(self) -> bool {
        self.0 & TAG_MASK == 0
    }

    const fn aux(self) -> u64 {
        (self.0 >> AUX_SHIFT) & AUX_MASK
    }

    /// The backoff level of an automatic state (0 for the others).
    pub(crate) const fn level(self) -> u32 {
        if self.0 & TAG_MASK == SPECIAL {
            0
        } else {
            self.aux() as u32
        }
    }

    pub(crate) const fn epoch(self) -> u64 {
        (self.0 >> EPOCH_SHIFT) & EPOCH_MASK
    }

    const fn since(self) -> u64 {
        self.0 >> SINCE_SHIFT
    }

    /// Nanoseconds from the state's entry to `now`; zero if `now` reads earlier.
    #[inline(always)]
    pub(crate) const fn elapsed(self, now: u64) -> u64 {
        let d = now.wrapping_sub(self.since()) & SINCE_MASK;
        if d >= BACKWARDS { 0 } else { d }
    }

    /// `now` as this state sees it: a reading from before the state began
    /// (a clock that went backwards) is moved up to the state's entry.
    #[inline(always)]
    pub(crate) const fn effective(self, now: u64) -> u64 {
        // Backwards exactly when `elapsed` says so: `elapsed >= BACKWARDS`
        // is `back <= BACKWARDS` (the two sum to 2^54).
        let back = self.since().wrapping_sub(now) & SINCE_MASK;
        if back != 0 && back <= BACKWARDS {
            now.saturating_add(back)
        } else {
            now
        }
    }

    /// The word after a transition to `phase` at backoff level `level`,
    /// `after` ns past this state's entry.
    pub(crate) const fn next(self, phase: Phase, level: u32, after: u64) -> Word {
        Word::new(
            phase,
            level,
            self.epoch() + 1,
            self.since().wrapping_add(after),
        )
    }

    /// The word an operator's transition to `phase` installs at `now`: level
    /// zero, and at least 1 ns after this state began, so that no two words
    /// repeat however fast the operator acts.
    pub(crate) const fn manual(self, phase: Phase, now: u64) -> Word {
        let after = self.elapsed(now);
        self.next(phase, 0, if after == 0 { 1 } else { after })
    }

    /// The first Passing state, entered at `now`.
    pub(crate) const fn started(now: u64) -> Word {
        Word::new(Phase::Passing, 0, 0, now)
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
        let b = w.next(Phase::Broken, 3, 10);
        assert_eq!(
            (b.phase(), b.level(), b.epoch(), b.elapsed(123_456_799)),
            (Phase::Broken, 3, 1, 0)
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
        // The boundary: exactly 2^53 ns behind is backwards for both.
        let mid = Word::started(1 << 53);
        assert_eq!((mid.elapsed(0), mid.effective(0)), (0, 1 << 53));
        assert_eq!(mid.elapsed((1 << 53) - 1), 0);
        assert_eq!(mid.effective((1 << 53) - 1), 1 << 53);
    }

    #[test]
    fn entry_times_wrap_without_losing_elapsed_time() {
        let w = Word::started((1 << 54) - 2);
        assert_eq!(w.elapsed(1 << 54), 2);
        assert_eq!(w.elapsed((1 << 54) + 1_000), 1_002);
        let n = w.next(Phase::Broken, 0, 5);
        assert_eq!(n.elapsed((1 << 54) + 3), 0);
        assert_eq!(n.elapsed((1 << 54) + 4), 1);
    }

    #[test]
    fn epochs_wrap_modulo_16() {
        let mut w = Word::started(0);
        for _ in 0..16 {
            w = w.next(Phase::Broken, 0, 1);
        }
        assert_eq!(w.epoch(), 0);
        assert_ne!(w, Word::started(0));
    }

    #[test]
    fn special_phases_round_trip_and_keep_no_level() {
        let w = Word::started(50);
        for phase in [
            Phase::ForcedOpen,
            Phase::Disabled,
            Phase::Advised,
            Phase::Passing,
        ] {
            let m = w.manual(phase, 50);
            assert_eq!((m.phase(), m.level(), m.elapsed(51)), (phase, 0, 0));
            assert_eq!(m.elapsed(52), 1, "an operator's word starts 1 ns on");
        }
        assert_eq!(Word::UNSTARTED.phase(), Phase::Unstarted);
        let levelled = w.next(Phase::Recovering, 15, 0);
        assert_eq!(
            (levelled.phase(), levelled.level()),
            (Phase::Recovering, 15)
        );
        assert_eq!(Phase::ForcedOpen.state(), State::Broken);
        assert_eq!(Phase::Disabled.state(), State::Passing);
        assert_eq!(Phase::Disabled.mode(), Mode::Disabled);
    }

    #[test]
    fn state_display_is_lowercase() {
        extern crate std;
        assert_eq!(std::format!("{}", State::Recovering), "recovering");
        assert_eq!(std::format!("{:>8}", State::Broken), "  broken");
    }
}
