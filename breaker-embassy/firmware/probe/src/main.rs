//! A size probe: the firmware's sampling loop cut to its bones, with a
//! breaker (`--features minimal`) or without (`--features no-breaker`), so
//! that `size.sh` can tell what the breaker costs on targets the firmware does
//! not build for. It is linked but never run: it has no startup code and no
//! memory map, and its "sensor" and "clock" are plain statics.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

// Links riscv's critical-section implementation, which the breaker's atomics
// call (the `no-breaker` variant references none of it, so pays nothing).
use riscv as _;

/// What the sensor answers; nothing writes it, but the compiler cannot know
/// that an atomic is never written by an interrupt, so the loop stays.
static SENSOR: AtomicU32 = AtomicU32::new(0);
/// Readings that succeeded, so the loop's result is used (a load and a store:
/// riscv32imc has no read-modify-write atomics).
static OK: AtomicU32 = AtomicU32::new(0);

fn read_sensor() -> bool {
    SENSOR.load(Ordering::Relaxed) & 1 == 0
}

#[cfg(not(feature = "no-breaker"))]
mod guarded {
    use core::sync::atomic::{AtomicU32, Ordering};
    use core::time::Duration;

    use breaker_core::{CircuitBreaker, Clock, Config, Nanos};

    /// Milliseconds, as a timer interrupt would count them.
    static MILLIS: AtomicU32 = AtomicU32::new(0);

    pub(crate) struct TickClock;

    impl Clock for TickClock {
        const RESOLUTION: Nanos = Nanos::from_nanos(1_000_000);

        fn now(&self) -> Nanos {
            Nanos::from_nanos(u64::from(MILLIS.load(Ordering::Relaxed)) * 1_000_000)
        }
    }

    /// The firmware's configuration.
    pub(crate) static BREAKER: CircuitBreaker<TickClock> = CircuitBreaker::new(
        Config::new(0.5, Duration::from_millis(200))
            .min_calls(5)
            .broken_time(Duration::from_millis(100))
            .recovery_time(Duration::from_millis(200)),
        TickClock,
    );
}

/// The entry point the linker looks for.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    loop {
        #[cfg(feature = "no-breaker")]
        let answered = read_sensor();
        #[cfg(not(feature = "no-breaker"))]
        let answered = guarded::BREAKER
            .call(|| if read_sensor() { Ok(()) } else { Err(()) })
            .is_ok();
        if answered {
            OK.store(
                OK.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
