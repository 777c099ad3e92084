//! The one place the crate takes its atomics from, so every atomic protocol in
//! the crate runs unchanged on each of them:
//!
//! - native 64-bit atomics (through `portable-atomic`) where the target has them;
//! - [`critical::AtomicU64`] where it has none (thumbv6m, thumbv7m, thumbv7em,
//!   riscv32imc...): each operation runs inside a `critical-section`, which on a
//!   single-core MCU masks interrupts. portable-atomic's own fallback for such
//!   targets is a table of spinlocks (2 KiB of RAM) that an interrupt handler
//!   spins on forever if it interrupts the holder, so it is not used;
//! - the same critical-section cell on a host built with
//!   `--cfg breaker_32bit`, so the host test suite proves the 32-bit
//!   targets' path too;
//! - loom's model-checked doubles under `--cfg loom` (with
//!   `--cfg breaker_32bit` too, the critical-section cells, each
//!   critical section a loom mutex, so loom checks the 32-bit targets' path).
//!
//! The window's slots ([`AtomicSlot`]) are the one exception: where 64-bit
//! atomics are not native, a slot is a 32-bit word, native where the target
//! has 32-bit atomics (thumbv7m, thumbv7em, and the host under
//! `--cfg breaker_32bit`, loom's `AtomicU32` under loom) and a critical-section
//! cell where it has none (thumbv6m, riscv32imc). See `window` for what the
//! narrower slots hold.

#[cfg(all(loom, not(breaker_32bit)))]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};

#[cfg(all(not(loom), target_has_atomic = "64", not(breaker_32bit)))]
pub(crate) use portable_atomic::{AtomicU64, Ordering};

#[cfg(any(not(target_has_atomic = "64"), breaker_32bit))]
pub(crate) use {core::sync::atomic::Ordering, critical::AtomicU64};

/// Whether the window's slots are 32-bit words: wherever 64-bit atomics are
/// not native. The one place the rule is written (the `cfg`s below select
/// the matching types).
pub(crate) const NARROW_SLOTS: bool = cfg!(any(not(target_has_atomic = "64"), breaker_32bit));

/// The integer a window slot holds (see [`NARROW_SLOTS`]).
#[cfg(not(any(not(target_has_atomic = "64"), breaker_32bit)))]
pub(crate) type SlotWord = u64;
#[cfg(not(any(not(target_has_atomic = "64"), breaker_32bit)))]
pub(crate) type AtomicSlot = AtomicU64;

/// The integer a window slot holds (see [`NARROW_SLOTS`]).
#[cfg(any(not(target_has_atomic = "64"), breaker_32bit))]
pub(crate) type SlotWord = u32;
#[cfg(all(loom, breaker_32bit))]
pub(crate) type AtomicSlot = loom::sync::atomic::AtomicU32;
#[cfg(all(
    not(loom),
    target_has_atomic = "32",
    any(not(target_has_atomic = "64"), breaker_32bit)
))]
pub(crate) type AtomicSlot = core::sync::atomic::AtomicU32;
#[cfg(all(not(loom), not(target_has_atomic = "32")))]
pub(crate) type AtomicSlot = critical::AtomicU32;

#[cfg(any(not(target_has_atomic = "64"), breaker_32bit))]
mod critical {
    use core::fmt;
    use core::sync::atomic::Ordering;

    /// The 64-bit words (state, credit, counters) where 64-bit atomics are
    /// not native.
    pub(crate) type AtomicU64 = Atomic<u64>;
    /// The window's slots where even 32-bit atomics are not native.
    #[cfg(not(target_has_atomic = "32"))]
    pub(crate) type AtomicU32 = Atomic<u32>;

    /// The integers a cell holds: what its read-modify-writes need.
    pub(crate) trait Int: Copy + Ord + fmt::Debug {
        fn wrapping_add(self, other: Self) -> Self;
        fn wrapping_sub(self, other: Self) -> Self;
    }

    macro_rules! int {
        ($($t:ty),*) => {$(
            impl Int for $t {
                fn wrapping_add(self, other: Self) -> Self {
                    <$t>::wrapping_add(self, other)
                }
                fn wrapping_sub(self, other: Self) -> Self {
                    <$t>::wrapping_sub(self, other)
                }
            }
        )*};
    }
    int!(u32, u64);

    /// An integer whose every operation is one critical section: the subset
    /// of `AtomicU64`'s (and `AtomicU32`'s) API the crate uses, with the same
    /// meaning. A critical section orders more strongly than any `Ordering`,
    /// so the orderings are accepted and ignored.
    ///
    /// The operations are out of line (`#[inline(never)]`): inlined, each
    /// critical section repeats its mask-and-restore sequence at every one of
    /// the state machine's few dozen call sites; one copy of each saves about
    /// 0.5 KiB of flash on thumbv7m and thumbv6m (`size.sh`). The call costs a
    /// few cycles next to masking interrupts.
    pub(crate) struct Atomic<T>(Section<T>);

    #[cfg(not(loom))]
    type Section<T> = critical_section::Mutex<core::cell::Cell<T>>;
    #[cfg(loom)]
    type Section<T> = loom::sync::Mutex<T>;

    impl<T: Int> Atomic<T> {
        #[cfg(not(loom))]
        pub(crate) const fn new(value: T) -> Self {
            Self(critical_section::Mutex::new(core::cell::Cell::new(value)))
        }

        #[cfg(loom)]
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        /// Runs `f` on the value inside one critical section and stores what it
        /// returns; gives back `f`'s verdict.
        #[cfg(not(loom))]
        fn update<R>(&self, f: impl FnOnce(T) -> (T, R)) -> R {
            critical_section::with(|cs| {
                let cell = self.0.borrow(cs);
                let (next, verdict) = f(cell.get());
                cell.set(next);
                verdict
            })
        }

        #[cfg(loom)]
        fn update<R>(&self, f: impl FnOnce(T) -> (T, R)) -> R {
            let mut value = self.0.lock().unwrap();
            let (next, verdict) = f(*value);
            *value = next;
            verdict
        }

        #[inline(never)]
        pub(crate) fn load(&self, _: Ordering) -> T {
            self.update(|now| (now, now))
        }

        #[inline(never)]
        pub(crate) fn store(&self, value: T, _: Ordering) {
            self.update(|_| (value, ()))
        }

        #[inline(never)]
        pub(crate) fn compare_exchange(
            &self,
            current: T,
            new: T,
            _: Ordering,
            _: Ordering,
        ) -> Result<T, T> {
            self.update(|now| {
                if now == current {
                    (new, Ok(now))
                } else {
                    (now, Err(now))
                }
            })
        }

        /// Never fails spuriously; the callers' retry loops accept that.
        pub(crate) fn compare_exchange_weak(
            &self,
            current: T,
            new: T,
            success: Ordering,
            failure: Ordering,
        ) -> Result<T, T> {
            self.compare_exchange(current, new, success, failure)
        }

        #[inline(never)]
        pub(crate) fn swap(&self, value: T, _: Ordering) -> T {
            self.update(|now| (value, now))
        }

        #[inline(never)]
        pub(crate) fn fetch_add(&self, delta: T, _: Ordering) -> T {
            self.update(|now| (now.wrapping_add(delta), now))
        }

        #[inline(never)]
        pub(crate) fn fetch_sub(&self, delta: T, _: Ordering) -> T {
            self.update(|now| (now.wrapping_sub(delta), now))
        }

        #[inline(never)]
        pub(crate) fn fetch_max(&self, value: T, _: Ordering) -> T {
            self.update(|now| (now.max(value), now))
        }

        pub(crate) fn fetch_update(
            &self,
            _: Ordering,
            _: Ordering,
            mut f: impl FnMut(T) -> Option<T>,
        ) -> Result<T, T> {
            self.update(|now| match f(now) {
                Some(next) => (next, Ok(now)),
                None => (now, Err(now)),
            })
        }
    }

    impl<T: Int + Default> Default for Atomic<T> {
        fn default() -> Self {
            Self::new(T::default())
        }
    }

    impl<T: Int> fmt::Debug for Atomic<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.load(Ordering::Relaxed), f)
        }
    }
}
