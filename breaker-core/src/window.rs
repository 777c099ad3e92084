//! The sliding statistics window: `B` buckets of successes and failures, one
//! atomic word each, and the lifetime totals of everything that has left them.
//!
//! Bucket `i` covers clock time `[i * width, (i + 1) * width)`; it lives in slot
//! `i % B`. The window at bucket `i` is buckets `i - B + 1 ..= i`. Buckets are
//! aligned to the clock's zero, as aiomisc aligns them to its loop clock.
//!
//! Every slot word is self-describing. Where 64-bit atomics are native:
//!
//! ```text
//!  63    60 59          50 49                     25 24                      0
//! +--------+--------------+-------------------------+------------------------+
//! | epoch: 4 |  round: 10  |    successes: 25 bits   |    failures: 25 bits   |
//! +--------+--------------+-------------------------+------------------------+
//! ```
//!
//! Where they are not (the 32-bit MCUs, see `sync`), a slot is a 32-bit word,
//! half the RAM, native atomics on Cortex-M3/M4, and no 64-bit arithmetic on
//! the record path:
//!
//! ```text
//!  31    28 27     24 23               12 11                0
//! +--------+---------+-------------------+-------------------+
//! | epoch: 4 | round: 4 | successes: 12 bits | failures: 12 bits |
//! +--------+---------+-------------------+-------------------+
//! ```
//!
//! - `epoch` is the state epoch (4 bits of it) the counts belong to. Entering a
//!   state bumps the epoch, so the old state's buckets stop matching: that is the
//!   "fresh window" of every new state, with no clearing pass on the transition.
//! - `round` is `(i / B) mod 2^ROUND_BITS` (1024 or 16): which lap around the
//!   ring the counts are from. Sweeping keeps live slots within two laps of
//!   the newest bucket, so 16 laps tell them apart with room to spare.
//! - A record is one compare-and-swap on one word, so a count is never lost or
//!   counted twice, however records and bucket roll-overs interleave.
//!
//! A bucket that would overflow halves both of its counts (keeping its ratio)
//! and moves the removed halves to the lifetime totals, so totals stay exact and
//! a full window still holds at least 2^(COUNT_BITS - 1) calls (2^24, or 2^11
//! with 32-bit slots): that bound is `Config::min_calls`' largest value,
//! [`MAX_MIN_CALLS`].
//!
//! Stale buckets are zeroed ("swept") by the record that first moves the window
//! forward, so a slot's `epoch`/`round` never has to be told apart from one a
//! whole round space of laps or 16 epochs older. `newest` (the highest bucket
//! index ever rolled into, full width) tells readers and sweepers how far the
//! window has moved, which a wrapping round cannot tell after a long idle
//! period.

use crate::div::div_rem;
use crate::sync::{AtomicSlot, AtomicU64, NARROW_SLOTS, Ordering, SlotWord};

const COUNT_BITS: u32 = if NARROW_SLOTS { 12 } else { 25 };
/// The most outcomes of one kind a bucket holds before it halves.
const COUNT_MAX: SlotWord = (1 << COUNT_BITS) - 1;
const ROUND_BITS: u32 = if NARROW_SLOTS { 4 } else { 10 };
const ROUND_MASK: SlotWord = (1 << ROUND_BITS) - 1;
/// Half the round space: labels this far behind or more read as ahead.
const HALF_LAP: SlotWord = 1 << (ROUND_BITS - 1);
const ROUND_SHIFT: u32 = 2 * COUNT_BITS;
const EPOCH_SHIFT: u32 = ROUND_SHIFT + ROUND_BITS;
/// Epochs live in 4 bits; see `state::Word`.
const EPOCH_MASK: SlotWord = 0xF;
const COUNTS_MASK: SlotWord = (1 << (2 * COUNT_BITS)) - 1;

/// The largest `min_calls` ([`crate::MAX_MIN_CALLS`]): the fewest calls a
/// bucket keeps when it halves, so a window with heavy traffic always holds
/// at least this many.
pub(crate) const MAX_MIN_CALLS: u32 = 1 << (COUNT_BITS - 1);

/// A slot's count as a `u64`, for tallies and totals (a no-op with 64-bit
/// slots, which is why the lint is allowed).
#[allow(clippy::unnecessary_cast)]
const fn wide(count: SlotWord) -> u64 {
    count as u64
}

/// One unpacked slot word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    epoch: SlotWord,
    round: SlotWord,
    successes: SlotWord,
    failures: SlotWord,
}

impl Slot {
    const fn unpack(w: SlotWord) -> Slot {
        Slot {
            epoch: w >> EPOCH_SHIFT,
            round: (w >> ROUND_SHIFT) & ROUND_MASK,
            successes: (w >> COUNT_BITS) & COUNT_MAX,
            failures: w & COUNT_MAX,
        }
    }

    const fn pack(self) -> SlotWord {
        (self.epoch << EPOCH_SHIFT)
            | (self.round << ROUND_SHIFT)
            | (self.successes << COUNT_BITS)
            | self.failures
    }

    const fn is_empty(self) -> bool {
        self.successes == 0 && self.failures == 0
    }

    /// Compares this slot's label with `(epoch, round)`.
    ///
    /// Epochs and rounds wrap, so "older" means "behind by less than half the
    /// space". Sweeping keeps every live slot within two laps and within a few
    /// epochs of the newest, far inside that half.
    fn age(self, epoch: SlotWord, round: SlotWord) -> Age {
        if self.epoch != epoch {
            let behind = epoch.wrapping_sub(self.epoch) & EPOCH_MASK;
            return if behind < 8 { Age::Older } else { Age::Newer };
        }
        let behind = round.wrapping_sub(self.round) & ROUND_MASK;
        match behind {
            0 => Age::Same,
            b if b < HALF_LAP => Age::Older,
            _ => Age::Newer,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Age {
    Same,
    Older,
    Newer,
}

/// Calls and failures found in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Tally {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
}

/// Successes and failures since the breaker was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub(crate) successes: u64,
    pub(crate) failures: u64,
}

#[derive(Debug)]
pub(crate) struct Window<const B: usize> {
    slots: [AtomicSlot; B],
    /// The highest bucket index any record has rolled a slot into.
    newest: AtomicU64,
    /// Outcomes that have left the slots (rolled over, swept, halved, or
    /// recorded for a bucket that had already left the window).
    retired_successes: AtomicU64,
    retired_failures: AtomicU64,
}

impl<const B: usize> Window<B> {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Window {
            slots: [const { AtomicSlot::new(0) }; B],
            newest: AtomicU64::new(0),
            retired_successes: AtomicU64::new(0),
            retired_failures: AtomicU64::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Window {
            slots: core::array::from_fn(|_| AtomicSlot::new(0)),
            newest: AtomicU64::new(0),
            retired_successes: AtomicU64::new(0),
            retired_failures: AtomicU64::new(0),
        }
    }

    /// The round of the bucket slot `k` holds in the window ending at bucket
    /// `index` (round `round`, in slot `own`), or `None` when that bucket
    /// would come before bucket zero. From `index`'s own position, so a
    /// verdict divides once, not once per slot: the slots up to `own` hold
    /// `index`'s lap, those after it the lap before.
    const fn round_in_window(
        index: u64,
        round: SlotWord,
        own: usize,
        k: usize,
    ) -> Option<SlotWord> {
        if k <= own {
            Some(round)
        } else if index < (own + B - k) as u64 {
            None
        } else {
            Some(round.wrapping_sub(1) & ROUND_MASK)
        }
    }

    /// Bucket `index`'s round (`(index / B) mod 2^ROUND_BITS`) and slot
    /// (`index % B`).
    ///
    /// The slot is taken `% B` once more, which changes nothing: on 64-bit
    /// targets the compiler folds it away, and on 32-bit ones it proves the
    /// slot in bounds, so no bounds check (and no panic formatting, about
    /// 0.2 KiB of flash) is linked. Out of line there: its four callers
    /// share one copy of the division (80 B of flash on thumbv7m), and the
    /// compiler still carries the bound to them.
    #[cfg_attr(any(not(target_pointer_width = "64"), breaker_32bit), inline(never))]
    const fn ring(index: u64) -> (SlotWord, usize) {
        let (lap, slot) = div_rem(index, B as u16);
        (lap as SlotWord & ROUND_MASK, slot as usize % B)
    }

    /// The common case of [`record`](Self::record): time `time` falls in the
    /// newest bucket (or before it: a lagging clock files there too), the
    /// bucket holds epoch `epoch`'s counts, and the count is not full. One load
    /// of `newest`, one of the slot, one CAS (retried only while another
    /// recorder wins the same slot); the count is a plain add on the packed
    /// word. Returns `false`, having changed nothing, when `record` must
    /// handle it.
    #[inline(always)]
    pub(crate) fn try_add(&self, epoch: u64, time: u64, width: u64, success: bool) -> bool {
        let newest = self.newest.load(Ordering::Acquire);
        // `newest * width` cannot overflow: `newest` is a time divided by `width`.
        if time.saturating_sub(newest * width) >= width {
            return false;
        }
        let (round, slot) = Self::ring(newest);
        let slot = &self.slots[slot];
        let labels = ((epoch as SlotWord & EPOCH_MASK) << ROUND_BITS) | round;
        let (shift, one) = if success {
            (COUNT_BITS, 1 << COUNT_BITS)
        } else {
            (0, 1)
        };
        let mut seen = slot.load(Ordering::Acquire);
        loop {
            if seen >> ROUND_SHIFT != labels || (seen >> shift) & COUNT_MAX == COUNT_MAX {
                return false;
            }
            match slot.compare_exchange_weak(seen, seen + one, Ordering::Relaxed, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(actual) => seen = actual,
            }
        }
    }

    /// Records one outcome for epoch `epoch` in bucket `index`.
    ///
    /// One CAS in the common case. The CAS alone makes each outcome land
    /// exactly once; a slot word publishes no other memory, except that a roll
    /// must be seen together with the `newest` it announced (Release/Acquire).
    pub(crate) fn record(&self, epoch: u64, index: u64, success: bool) {
        let epoch = epoch as SlotWord & EPOCH_MASK;
        // A recorder whose clock reads behind the newest bucket (a slow thread,
        // a clock that went backwards) files its outcome in the newest bucket:
        // no time has passed for the window.
        let newest = self.newest.load(Ordering::Acquire);
        let index = index.max(newest);
        let (round, slot) = Self::ring(index);
        let slot = &self.slots[slot];
        // Acquire (here and on CAS failure) pairs with the Release of the CAS
        // that rolled the slot, so a slot seen rolled comes with the `newest`
        // that roll announced.
        let mut seen = slot.load(Ordering::Acquire);
        loop {
            let current = Slot::unpack(seen);
            let labels = current.age(epoch, round);
            // Until a record reaches bucket `index`, whatever its slot holds is
            // older, whatever its wrapped labels say. (Re-read `newest` before
            // concluding that: the roll we see may have announced itself after
            // our first read.)
            let unreached = index > newest && index > self.newest.load(Ordering::Acquire);
            let age = if unreached || (current.is_empty() && labels != Age::Same) {
                Age::Older
            } else {
                labels
            };
            match age {
                Age::Same => {
                    let (next, spilled) = add(current, success);
                    match slot.compare_exchange_weak(
                        seen,
                        next.pack(),
                        Ordering::Relaxed,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.retire(spilled);
                            return;
                        }
                        Err(actual) => seen = actual,
                    }
                }
                Age::Older => {
                    // Read the other slots before announcing the roll: any slot a
                    // later roll writes is then guaranteed to differ from what we
                    // read, so the sweep's CAS cannot wipe it.
                    let snapshot = self.snapshot();
                    // AcqRel: orders our snapshot before any roll that sees our
                    // index as `newest` (see the snapshot comment above).
                    let previous = self.newest.fetch_max(index, Ordering::AcqRel);
                    let fresh = Slot {
                        epoch,
                        round,
                        successes: success as SlotWord,
                        failures: !success as SlotWord,
                    };
                    match slot.compare_exchange(
                        seen,
                        fresh.pack(),
                        Ordering::Release,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.retire(current);
                            if index > previous || current.epoch != epoch {
                                self.sweep(&snapshot, epoch, index, index - previous.min(index));
                            }
                            return;
                        }
                        Err(actual) => seen = actual,
                    }
                }
                Age::Newer => {
                    // Our bucket has already left the window (a slow recorder, or
                    // a clock read before a transition): count the outcome in the
                    // totals only.
                    self.retire(Slot {
                        epoch,
                        round,
                        successes: success as SlotWord,
                        failures: !success as SlotWord,
                    });
                    return;
                }
            }
        }
    }

    fn snapshot(&self) -> [SlotWord; B] {
        core::array::from_fn(|k| self.slots[k].load(Ordering::Relaxed))
    }

    /// Zeroes every slot that cannot be in the window at bucket `index`, moving
    /// its counts to the totals. `gap` is how far `index` is past the previous
    /// newest bucket: at `B` or more, every slot seen in the snapshot is stale.
    fn sweep(&self, snapshot: &[SlotWord; B], epoch: SlotWord, index: u64, gap: u64) {
        let (round, own) = Self::ring(index);
        for (k, &seen) in snapshot.iter().enumerate() {
            let slot = Slot::unpack(seen);
            if k == own || slot.is_empty() {
                continue;
            }
            let stale = gap >= B as u64
                || Self::round_in_window(index, round, own, k)
                    .is_some_and(|r| slot.age(epoch, r) == Age::Older);
            if !stale {
                continue;
            }
            let zeroed = Slot {
                successes: 0,
                failures: 0,
                ..slot
            };
            // A failed CAS means someone rolled or recorded here after our
            // snapshot: that data is newer than ours to judge, so leave it.
            if self.slots[k]
                .compare_exchange(seen, zeroed.pack(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.retire(slot);
            }
        }
    }

    fn retire(&self, slot: Slot) {
        if slot.successes != 0 {
            self.retired_successes
                .fetch_add(wide(slot.successes), Ordering::Relaxed);
        }
        if slot.failures != 0 {
            self.retired_failures
                .fetch_add(wide(slot.failures), Ordering::Relaxed);
        }
    }

    /// Empties every slot not labelled `epoch`, moving its counts to the
    /// totals: the fresh window of a state an operator installed.
    ///
    /// The machine's own transitions need no clearing pass: each of its
    /// states but Broken records before the next begins, and a state's first
    /// record sweeps older epochs, so live slots stay a few epochs behind and
    /// their 4-bit labels are never misread. An operator can change states
    /// any number of times with no record in between; clearing restores that
    /// bound (a record admitted in the state just left may still land after
    /// the clear: one epoch behind, swept or cleared like any other). Slots
    /// already labelled `epoch` are the new state's own records, and stay.
    pub(crate) fn clear(&self, epoch: u64) {
        let epoch = epoch as SlotWord & EPOCH_MASK;
        for slot in &self.slots {
            let mut seen = slot.load(Ordering::Acquire);
            loop {
                let current = Slot::unpack(seen);
                if current.epoch == epoch || current.is_empty() {
                    break;
                }
                let emptied = Slot {
                    successes: 0,
                    failures: 0,
                    ..current
                };
                match slot.compare_exchange(
                    seen,
                    emptied.pack(),
                    Ordering::Relaxed,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        self.retire(current);
                        break;
                    }
                    Err(actual) => seen = actual,
                }
            }
        }
    }

    /// Calls and failures of epoch `epoch` in the window ending at bucket `index`.
    ///
    /// Out of line: inlined into its callers' verdicts, it makes them save
    /// more registers on their way in, which the Recovering ramp pays on every
    /// attempt that reaches no verdict (4 instructions on x86-64).
    #[inline(never)]
    pub(crate) fn tally(&self, epoch: u64, index: u64) -> Tally {
        let epoch = epoch as SlotWord & EPOCH_MASK;
        let newest = self.newest.load(Ordering::Acquire);
        // A reader whose clock lags a recorder's judges the recorder's window.
        let index = index.max(newest);
        if index - newest >= B as u64 {
            return Tally::default();
        }
        let mut tally = Tally::default();
        let (round, own) = Self::ring(index);
        for k in 0..B {
            let Some(round) = Self::round_in_window(index, round, own, k) else {
                continue;
            };
            let slot = Slot::unpack(self.slots[k].load(Ordering::Relaxed));
            if slot.age(epoch, round) == Age::Same {
                tally.calls += wide(slot.successes + slot.failures);
                tally.failures += wide(slot.failures);
            }
        }
        tally
    }

    /// Every outcome ever recorded: retired plus still in a slot.
    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals {
            successes: self.retired_successes.load(Ordering::Relaxed),
            failures: self.retired_failures.load(Ordering::Relaxed),
        };
        for slot in &self.slots {
            let slot = Slot::unpack(slot.load(Ordering::Relaxed));
            totals.successes += wide(slot.successes);
            totals.failures += wide(slot.failures);
        }
        totals
    }
}

/// `slot` plus one outcome. A full count halves the bucket first; the removed
/// halves are returned so they can be retired.
fn add(slot: Slot, success: bool) -> (Slot, Slot) {
    let full = if success {
        slot.successes == COUNT_MAX
    } else {
        slot.failures == COUNT_MAX
    };
    let (mut kept, spilled) = if full {
        let kept = Slot {
            successes: slot.successes / 2,
            failures: slot.failures / 2,
            ..slot
        };
        let spilled = Slot {
            successes: slot.successes - kept.successes,
            failures: slot.failures - kept.failures,
            ..slot
        };
        (kept, spilled)
    } else {
        (
            slot,
            Slot {
                successes: 0,
                failures: 0,
                ..slot
            },
        )
    };
    if success {
        kept.successes += 1;
    } else {
        kept.failures += 1;
    }
    (kept, spilled)
}

// The packing must leave no bit unused or shared.
const _: () = assert!(EPOCH_SHIFT + 4 == SlotWord::BITS);
const _: () = assert!(COUNTS_MASK == (COUNT_MAX << COUNT_BITS) | COUNT_MAX);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Laps until a round label repeats.
    const LAPS: u64 = wide(ROUND_MASK) + 1;

    fn tally(calls: u64, failures: u64) -> Tally {
        Tally { calls, failures }
    }

    fn totals(successes: u64, failures: u64) -> Totals {
        Totals {
            successes,
            failures,
        }
    }

    fn record_n(w: &Window<4>, epoch: u64, index: u64, successes: u64, failures: u64) {
        for _ in 0..successes {
            w.record(epoch, index, true);
        }
        for _ in 0..failures {
            w.record(epoch, index, false);
        }
    }

    #[test]
    fn slot_packing_round_trips() {
        let s = Slot {
            epoch: 0xA,
            round: ROUND_MASK,
            successes: COUNT_MAX,
            failures: 1234,
        };
        assert_eq!(Slot::unpack(s.pack()), s);
    }

    #[test]
    fn slots_map_to_the_rounds_of_the_last_b_buckets() {
        // Every slot against the round of the bucket it holds, found by
        // dividing that bucket's own index.
        // The first laps, and the laps around the round labels' wrap.
        for index in (0..16).chain(4 * LAPS - 16..4 * LAPS + 16) {
            let (round, own) = Window::<4>::ring(index);
            for k in 0..4 {
                let behind = (own + 4 - k) % 4;
                let want = index
                    .checked_sub(behind as u64)
                    .map(|bucket| Window::<4>::ring(bucket).0);
                let got = Window::<4>::round_in_window(index, round, own, k);
                assert_eq!(got, want, "index {index}, slot {k}");
            }
        }
        // Bucket 9 is slot 1 of lap 2; buckets 6 ..= 8 are slots 2, 3, 0.
        let (round, own) = Window::<4>::ring(9);
        let rounds = [0, 1, 2, 3].map(|k| Window::<4>::round_in_window(9, round, own, k));
        assert_eq!(rounds, [Some(2), Some(2), Some(1), Some(1)]);
        let (round, own) = Window::<4>::ring(2);
        let rounds = [0, 1, 2, 3].map(|k| Window::<4>::round_in_window(2, round, own, k));
        assert_eq!(rounds, [Some(0), Some(0), Some(0), None]);
    }

    #[test]
    fn buckets_expire_one_by_one() {
        let w = Window::<4>::new();
        record_n(&w, 1, 10, 1, 1); // bucket 10
        record_n(&w, 1, 11, 2, 0); // bucket 11
        record_n(&w, 1, 13, 0, 3); // bucket 13
        assert_eq!(w.tally(1, 13), tally(7, 4));
        // Bucket 10 leaves at 14, 11 at 15, 13 at 17.
        assert_eq!(w.tally(1, 14), tally(5, 3));
        assert_eq!(w.tally(1, 15), tally(3, 3));
        assert_eq!(w.tally(1, 16), tally(3, 3));
        assert_eq!(w.tally(1, 17), Tally::default());
        assert_eq!(w.totals(), totals(3, 4));
    }

    #[test]
    fn another_epoch_sees_an_empty_window() {
        let w = Window::<4>::new();
        record_n(&w, 1, 10, 5, 5);
        assert_eq!(w.tally(2, 10), Tally::default());
        record_n(&w, 2, 10, 1, 0);
        assert_eq!(w.tally(2, 10), tally(1, 0));
        assert_eq!(w.tally(1, 10), Tally::default());
        assert_eq!(w.totals(), totals(6, 5));
    }

    #[test]
    fn long_idle_periods_never_resurrect_old_buckets() {
        let w = Window::<4>::new();
        record_n(&w, 1, 5, 0, 3);
        record_n(&w, 1, 6, 0, 3);
        // A round space of laps later the round wraps to the same value.
        let later = 5 + 4 * LAPS;
        assert_eq!(w.tally(1, later), Tally::default());
        record_n(&w, 1, later, 1, 0);
        assert_eq!(w.tally(1, later), tally(1, 0));
        assert_eq!(w.tally(1, later + 1), tally(1, 0));
        assert_eq!(w.totals(), totals(1, 6));
    }

    #[test]
    fn sparse_traffic_sweeps_slots_it_never_touches() {
        let w = Window::<4>::new();
        record_n(&w, 1, 1, 0, 2); // slot 1
        record_n(&w, 1, 2, 0, 2); // slot 2
        // Traffic only ever lands in slot 0 from here on, a round space of
        // laps worth.
        for lap in 1..=LAPS {
            record_n(&w, 1, 4 * lap, 1, 0);
        }
        // Slot 1 of the last lap, same round as bucket 1, must not see it.
        assert_eq!(w.tally(1, 4 * LAPS + 1), tally(1, 0));
        assert_eq!(w.totals(), totals(LAPS, 4));
    }

    #[test]
    fn a_record_from_a_lagging_clock_lands_in_the_newest_bucket() {
        let w = Window::<4>::new();
        record_n(&w, 1, 9, 1, 0);
        record_n(&w, 1, 5, 0, 1); // bucket 5 is long gone: no time passes back
        assert_eq!(w.tally(1, 9), tally(2, 1));
        assert_eq!(w.tally(1, 12), tally(2, 1));
        assert_eq!(w.tally(1, 13), Tally::default());
        assert_eq!(w.totals(), totals(1, 1));
    }

    #[test]
    fn a_record_from_a_finished_epoch_only_counts_in_totals() {
        let w = Window::<4>::new();
        record_n(&w, 2, 9, 1, 0);
        record_n(&w, 1, 9, 0, 1); // epoch 1 ended before this landed
        assert_eq!(w.tally(2, 9), tally(1, 0));
        assert_eq!(w.tally(1, 9), Tally::default());
        assert_eq!(w.totals(), totals(1, 1));
    }

    #[test]
    fn a_full_bucket_halves_and_keeps_totals_exact() {
        let (kept, spilled) = add(
            Slot {
                epoch: 1,
                round: 0,
                successes: COUNT_MAX,
                failures: 7,
            },
            true,
        );
        assert_eq!((kept.successes, kept.failures), (COUNT_MAX / 2 + 1, 3));
        assert_eq!(
            (spilled.successes, spilled.failures),
            (COUNT_MAX - COUNT_MAX / 2, 4)
        );
        assert_eq!(
            kept.successes + spilled.successes + kept.failures + spilled.failures,
            COUNT_MAX + 1 + 7
        );
        let (kept, spilled) = add(
            Slot {
                epoch: 1,
                round: 0,
                successes: 2,
                failures: COUNT_MAX,
            },
            false,
        );
        assert_eq!((kept.successes, kept.failures), (1, COUNT_MAX / 2 + 1));
        assert_eq!(
            (spilled.successes, spilled.failures),
            (1, COUNT_MAX - COUNT_MAX / 2)
        );
    }

    #[test]
    fn a_full_bucket_in_the_window_keeps_its_ratio() {
        let w = Window::<4>::new();
        w.slots[0].store(
            Slot {
                epoch: 3,
                round: 0,
                successes: COUNT_MAX,
                failures: COUNT_MAX,
            }
            .pack(),
            Ordering::Relaxed,
        );
        w.record(3, 0, false);
        let t = w.tally(3, 0);
        let max = wide(COUNT_MAX);
        assert_eq!(t.calls, 2 * (max / 2) + 1);
        assert_eq!(t.failures, max / 2 + 1);
        assert_eq!(
            w.totals(),
            Totals {
                successes: max,
                failures: max + 1
            }
        );
    }
}
