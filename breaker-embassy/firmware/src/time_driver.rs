//! An embassy-time driver on the Cortex-M SysTick timer.
//!
//! SysTick interrupts once per tick (1 kHz, the firmware's `tick-hz-1_000`)
//! and the handler counts ticks in a 64-bit counter, so `now()` never wraps.
//! Deadlines wait in embassy-time-queue-utils' integrated queue (each task
//! keeps its own deadline); the tick handler wakes the tasks whose deadline
//! has come. A periodic tick is not the lowest-power design (a tickless driver
//! would reprogram the timer for the next deadline), but SysTick's 24-bit
//! counter makes that fiddly and QEMU emulates this one faithfully.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::{CriticalSection, Mutex};
use embassy_time_driver::{Driver, TICK_HZ};
use embassy_time_queue_utils::Queue;

/// The core clock of QEMU's LM3S6965 after reset: a 200 MHz PLL divided by
/// 16 (the reset value of RCC's SYSDIV field), 12.5 MHz.
#[cfg(not(board_microbit))]
pub(crate) const CORE_CLOCK_HZ: u32 = 12_500_000;
/// The nRF51's core clock (16 MHz) on QEMU's micro:bit.
#[cfg(board_microbit)]
pub(crate) const CORE_CLOCK_HZ: u32 = 16_000_000;

const RELOAD: u32 = {
    let reload = CORE_CLOCK_HZ as u64 / TICK_HZ;
    assert!(
        reload >= 1 && reload <= 1 << 24,
        "SysTick cannot tick at TICK_HZ"
    );
    reload as u32 - 1
};

struct SysTickDriver {
    /// Ticks since `start`.
    ticks: Mutex<Cell<u64>>,
    /// The earliest deadline in the queue (`u64::MAX`: none).
    alarm: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    alarm: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

impl SysTickDriver {
    /// Wakes every task whose deadline is `now` or earlier and remembers the
    /// next deadline.
    fn wake_due(&self, cs: CriticalSection<'_>, now: u64) {
        let next = self.queue.borrow_ref_mut(cs).next_expiration(now);
        self.alarm.borrow(cs).set(next);
    }

    fn tick(&self) {
        critical_section::with(|cs| {
            let ticks = self.ticks.borrow(cs);
            let now = ticks.get() + 1;
            ticks.set(now);
            if now >= self.alarm.borrow(cs).get() {
                self.wake_due(cs, now);
            }
        });
    }
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        // A 64-bit read is two loads on this core: keep the tick handler out.
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            if self.queue.borrow_ref_mut(cs).schedule_wake(at, waker) {
                // The earliest deadline may have moved (or already passed).
                let now = self.ticks.borrow(cs).get();
                self.wake_due(cs, now);
            }
        });
    }
}

/// Starts the tick: SysTick on the core clock, interrupting `TICK_HZ` times a
/// second.
pub(crate) fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // The SYST handle is dropped; the timer keeps running, and nothing else
    // in this firmware touches it.
}

#[exception]
fn SysTick() {
    DRIVER.tick();
    // After the driver's critical section: the demo's calls from interrupt
    // context (see `guarded::from_interrupt`).
    #[cfg(not(any(feature = "no-breaker", feature = "minimal")))]
    crate::guarded::from_interrupt::on_tick();
}
