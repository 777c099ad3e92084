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

#[cfg(all(loom, not(breaker_32bit)))]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};

#[cfg(all(not(loom), target_has_atomic = "64", not(breaker_32bit)))]
pub(crate) use portable_atomic::{AtomicU64, Ordering};

#[cfg(any(not(target_has_atomic = "64"), breaker_32bit))]
pub(crate) use {core::sync::atomic::Ordering, critical::AtomicU64};

#[cfg(any(not(target_has_atomic = "64"), breaker_32bit))]
mod critical {
    use core::fmt;
    use core::sync::atomic::Ordering;

    /// A `u64` whose every operation is one critical section: the subset of
    /// `AtomicU64`'s API the crate uses, with the same meaning. A critical
    /// section orders more strongly than any `Ordering`, so the orderings are
    /// accepted and ignored.
    ///
    /// The operations are out of line (`#[inline(never)]`): inlined, each
    /// critical section repeats its mask-and-restore sequence at every one of
    /// the state machine's few dozen call sites; one copy of each saves about
    /// 0.5 KiB of flash on thumbv7m and thumbv6m (`size.sh`). The call costs a
    /// few cycles next to masking interrupts.
    pub(crate) struct AtomicU64(Section);

    #[cfg(not(loom))]
    type Section = critical_section::Mutex<core::cell::Cell<u64>>;
    #[cfg(loom)]
    type Section = loom::sync::Mutex<u64>;

    impl AtomicU64 {
        #[cfg(not(loom))]
        pub(crate) const fn new(value: u64) -> Self {
            Self(critical_section::Mutex::new(core::cell::Cell::new(value)))
        }

        #[cfg(loom)]
        pub(crate) fn new(value: u64) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        /// Runs `f` on the value inside one critical section and stores what it
        /// returns; gives back `f`'s verdict.
        #[cfg(not(loom))]
        fn update<R>(&self, f: impl FnOnce(u64) -> (u64, R)) -> R {
            critical_section::with(|cs| {
                let cell = self.0.borrow(cs);
                let (next, verdict) = f(cell.get());
                cell.set(next);
                verdict
            })
        }

        #[cfg(loom)]
        fn update<R>(&self, f: impl FnOnce(u64) -> (u64, R)) -> R {
            let mut value = self.0.lock().unwrap();
            let (next, verdict) = f(*value);
            *value = next;
            verdict
        }

        #[inline(never)]
        pub(crate) fn load(&self, _: Ordering) -> u64 {
            self.update(|now| (now, now))
        }

        #[inline(never)]
        pub(crate) fn store(&self, value: u64, _: Ordering) {
            self.update(|_| (value, ()))
        }

        #[inline(never)]
        pub(crate) fn compare_exchange(
            &self,
            current: u64,
            new: u64,
            _: Ordering,
            _: Ordering,
        ) -> Result<u64, u64> {
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
            current: u64,
            new: u64,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u64, u64> {
            self.compare_exchange(current, new, success, failure)
        }

        #[inline(never)]
        pub(crate) fn swap(&self, value: u64, _: Ordering) -> u64 {
            self.update(|now| (value, now))
        }

        #[inline(never)]
        pub(crate) fn fetch_add(&self, delta: u64, _: Ordering) -> u64 {
            self.update(|now| (now.wrapping_add(delta), now))
        }

        #[inline(never)]
        pub(crate) fn fetch_sub(&self, delta: u64, _: Ordering) -> u64 {
            self.update(|now| (now.wrapping_sub(delta), now))
        }

        #[inline(never)]
        pub(crate) fn fetch_max(&self, value: u64, _: Ordering) -> u64 {
            self.update(|now| (now.max(value), now))
        }

        pub(crate) fn fetch_update(
            &self,
            _: Ordering,
            _: Ordering,
            mut f: impl FnMut(u64) -> Option<u64>,
        ) -> Result<u64, u64> {
            self.update(|now| match f(now) {
                Some(next) => (next, Ok(now)),
                None => (now, Err(now)),
            })
        }
    }

    impl Default for AtomicU64 {
        fn default() -> Self {
            Self::new(0)
        }
    }

    impl fmt::Debug for AtomicU64 {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.load(Ordering::Relaxed), f)
        }
    }
}
