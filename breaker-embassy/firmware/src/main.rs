//! breaker-embassy example firmware for QEMU's LM3S6965 board (Cortex-M3),
//! and, built for thumbv6m-none-eabi, for QEMU's micro:bit (Cortex-M0).
//!
//! A `static` circuit breaker guards a simulated flaky sensor whose failures
//! follow a script (see `peripheral::SCRIPT`). One embassy task samples the
//! sensor every 10 ms through `breaker_embassy::call_with_timeout`, waits out
//! a Broken breaker with `breaker_embassy::ready`, and prints every state
//! change over semihosting. At the end it checks that the breaker went
//! Passing, Broken, Recovering, Passing (with the configured timings) and
//! exits QEMU with status 0, or 1 if a check failed.
//!
//! Run it with `cargo run --release` in this folder.

#![no_std]
#![no_main]

mod peripheral;
mod time_driver;

use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hprintln;
use embassy_executor::Spawner;
use embassy_time::{Duration, Instant};

use crate::peripheral::FlakySensor;

/// The QEMU board this build is for (see build.rs).
const BOARD: &str = if cfg!(board_microbit) {
    "microbit (Cortex-M0)"
} else {
    "lm3s6965evb (Cortex-M3)"
};

/// How often the sensor is sampled.
const PERIOD: Duration = Duration::from_millis(10);
/// How long a reading may take before it counts as a failure.
const READ_TIMEOUT: Duration = Duration::from_millis(20);
/// How long the demo samples the sensor.
const RUN_FOR: Duration = Duration::from_millis(900);
/// The whole run must be over by then (a hang is a failed check).
const WATCHDOG: Duration = Duration::from_secs(3);

/// Break when half of the calls in the last 200 ms failed (at least 5
/// calls, and not in the first 200 ms of Passing); stay Broken 100 ms;
/// ramp back up over 200 ms.
#[cfg(not(feature = "no-breaker"))]
const CONFIG: breaker_embassy::Config =
    breaker_embassy::Config::new(0.5, core::time::Duration::from_millis(200))
        .min_calls(5)
        .broken_time(core::time::Duration::from_millis(100))
        .recovery_time(core::time::Duration::from_millis(200));

#[cfg(not(any(feature = "no-breaker", feature = "minimal")))]
mod guarded {
    use breaker_embassy::{CircuitBreaker, Error, Listener, Metrics, State, Transition};
    use cortex_m_semihosting::hprintln;
    use embassy_time::{Instant, Timer};
    use portable_atomic::{AtomicU32, Ordering};

    use super::{CONFIG, PERIOD, READ_TIMEOUT, RUN_FOR};
    use crate::peripheral::FlakySensor;

    /// The breaker: a plain `static`, built at compile time, with a listener
    /// that counts the transitions it hears.
    pub(crate) static SENSOR: CircuitBreaker<10, Heard> =
        breaker_embassy::with_listener(CONFIG, Heard::new());

    /// Counts transitions, and entries into Broken among them: what a
    /// firmware would feed to a status LED or a telemetry counter.
    pub(crate) struct Heard {
        transitions: AtomicU32,
        into_broken: AtomicU32,
    }

    impl Heard {
        const fn new() -> Heard {
            Heard {
                transitions: AtomicU32::new(0),
                into_broken: AtomicU32::new(0),
            }
        }
    }

    impl Listener for Heard {
        fn on_transition(&self, t: Transition) {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            if t.to == State::Broken {
                self.into_broken.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Calls the SysTick interrupt handler makes on [`SENSOR`], the breaker
    /// the task uses: every `EVERY` ticks while the task's run is `ACTIVE`,
    /// a call to a second, healthy peripheral (its outcome is a success).
    ///
    /// Safe on both boards: on these targets (no native 64-bit atomics) the
    /// breaker's words live in critical sections, which mask interrupts, so a
    /// handler never finds a word half-updated and never waits on the task.
    pub(crate) mod from_interrupt {
        use breaker_embassy::State;
        use portable_atomic::{AtomicBool, AtomicU32, Ordering};

        use super::SENSOR;

        /// One call every 40 ms: a few per window, so the task's failures
        /// still trip the breaker.
        const EVERY: u32 = 40;

        /// Set by the task for the length of its run; once the task clears it
        /// no handler call is in flight (a handler runs to completion before
        /// thread mode resumes).
        pub(crate) static ACTIVE: AtomicBool = AtomicBool::new(false);
        static COUNTDOWN: AtomicU32 = AtomicU32::new(EVERY);
        pub(crate) static OK: AtomicU32 = AtomicU32::new(0);
        pub(crate) static REJECTED_BROKEN: AtomicU32 = AtomicU32::new(0);
        pub(crate) static REJECTED_RECOVERING: AtomicU32 = AtomicU32::new(0);

        /// Called by the SysTick handler on every tick.
        pub(crate) fn on_tick() {
            if !ACTIVE.load(Ordering::Relaxed) {
                return;
            }
            // Only this handler touches the countdown: no RMW needed.
            let left = COUNTDOWN.load(Ordering::Relaxed) - 1;
            COUNTDOWN.store(if left == 0 { EVERY } else { left }, Ordering::Relaxed);
            if left != 0 {
                return;
            }
            match SENSOR.try_acquire() {
                Ok(permit) => {
                    permit.success();
                    OK.fetch_add(1, Ordering::Relaxed);
                }
                Err(rejected) if rejected.state() == State::Broken => {
                    REJECTED_BROKEN.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    REJECTED_RECOVERING.fetch_add(1, Ordering::Relaxed);
                }
            }
        }

        /// (successes, rejected while Broken, rejected while Recovering)
        pub(crate) fn tally() -> (u32, u32, u32) {
            (
                OK.load(Ordering::Relaxed),
                REJECTED_BROKEN.load(Ordering::Relaxed),
                REJECTED_RECOVERING.load(Ordering::Relaxed),
            )
        }
    }

    /// The states seen, in order, with the time each was first seen.
    struct Timeline {
        start: Instant,
        seen: [(State, u64); 8],
        len: usize,
    }

    impl Timeline {
        fn new(start: Instant) -> Timeline {
            Timeline {
                start,
                seen: [(State::Passing, 0); 8],
                len: 0,
            }
        }

        fn ms(&self) -> u64 {
            self.start.elapsed().as_millis()
        }

        fn observe(&mut self, state: State) {
            let last = self.len.checked_sub(1).map(|i| self.seen[i].0);
            if last == Some(state) {
                return;
            }
            let t = self.ms();
            let m = SENSOR.metrics();
            match last {
                None => hprintln!("[{:4} ms] {}", t, state),
                Some(from) => hprintln!(
                    "[{:4} ms] {} -> {}   (so far: {} successes, {} failures, {} trips)",
                    t,
                    from,
                    state,
                    m.successes,
                    m.failures,
                    m.trips
                ),
            }
            if self.len < self.seen.len() {
                self.seen[self.len] = (state, t);
                self.len += 1;
            }
        }

        fn states(&self) -> impl Iterator<Item = State> + '_ {
            self.seen[..self.len].iter().map(|(s, _)| *s)
        }

        fn time_of(&self, index: usize) -> Option<u64> {
            self.seen[..self.len].get(index).map(|(_, t)| *t)
        }
    }

    #[derive(Default)]
    struct Tally {
        ok: u32,
        errors: u32,
        timeouts: u32,
        rejected_broken: u32,
        rejected_recovering: u32,
    }

    /// Samples the sensor through the breaker for `RUN_FOR`; returns whether
    /// every check passed.
    pub(crate) async fn run(sensor: &FlakySensor) -> bool {
        hprintln!(
            "breaker: {} bytes of RAM (static), window {:?}, broken {:?}, recovery {:?}",
            core::mem::size_of::<CircuitBreaker>(),
            CONFIG.window,
            CONFIG.broken_time,
            CONFIG.recovery_time
        );
        let start = Instant::now();
        let mut timeline = Timeline::new(start);
        let mut tally = Tally::default();
        timeline.observe(SENSOR.state());
        from_interrupt::ACTIVE.store(true, Ordering::Relaxed);
        let mut last_behaviour = None;
        while start.elapsed() < RUN_FOR {
            let behaviour = sensor.behaviour();
            if last_behaviour != Some(behaviour) {
                hprintln!("[{:4} ms] (script: sensor {:?})", timeline.ms(), behaviour);
                last_behaviour = Some(behaviour);
            }
            match breaker_embassy::call_with_timeout(&SENSOR, READ_TIMEOUT, sensor.read()).await {
                Ok(_tenths) => tally.ok += 1,
                Err(Error::Inner(_)) => tally.errors += 1,
                Err(Error::Timeout) => tally.timeouts += 1,
                Err(Error::Broken(rejected)) if rejected.state() == State::Broken => {
                    tally.rejected_broken += 1;
                    hprintln!(
                        "[{:4} ms] call rejected, retry after {:?}: waiting",
                        timeline.ms(),
                        rejected.retry_after()
                    );
                    breaker_embassy::ready(&SENSOR).await;
                }
                Err(Error::Broken(_)) => tally.rejected_recovering += 1,
            }
            timeline.observe(SENSOR.state());
            Timer::after(PERIOD).await;
        }
        from_interrupt::ACTIVE.store(false, Ordering::Relaxed);
        let m = SENSOR.metrics();
        let (isr_ok, isr_broken, isr_recovering) = from_interrupt::tally();
        hprintln!(
            "[{:4} ms] interrupt handler: {} calls on the same breaker ({} ok, {} rejected while broken, {} while recovering)",
            timeline.ms(),
            isr_ok + isr_broken + isr_recovering,
            isr_ok,
            isr_broken,
            isr_recovering,
        );
        hprintln!(
            "[{:4} ms] done: {} ok, {} errors, {} timeouts, {} rejected while broken, {} while recovering; {} reads reached the sensor",
            timeline.ms(),
            tally.ok,
            tally.errors,
            tally.timeouts,
            tally.rejected_broken,
            tally.rejected_recovering,
            sensor.reads()
        );
        // Field by field: `Metrics`'s Debug would pull float formatting
        // (its `error_ratio`) into the image.
        hprintln!(
            "metrics: call_count {}, call_passing {}, call_broken {}, call_recovering {} ({} ok, {} failed), successes {}, failures {}, ignored {}, late {}, trips {}",
            m.call_count,
            m.call_passing,
            m.call_broken,
            m.call_recovering,
            m.call_recovering_ok,
            m.call_recovering_failed,
            m.successes,
            m.failures,
            m.ignored,
            m.late,
            m.trips
        );
        check(&timeline, &tally, &m, sensor)
    }

    fn check(timeline: &Timeline, tally: &Tally, m: &Metrics, sensor: &FlakySensor) -> bool {
        let mut ok = true;
        let mut expect = |what: &str, pass: bool| {
            hprintln!("check {}: {}", what, if pass { "ok" } else { "FAILED" });
            ok &= pass;
        };
        let expected = [
            State::Passing,
            State::Broken,
            State::Recovering,
            State::Passing,
        ];
        expect(
            "states were Passing, Broken, Recovering, Passing",
            timeline.states().eq(expected),
        );
        let broken_for = timeline
            .time_of(2)
            .zip(timeline.time_of(1))
            .map(|(recovering, broken)| recovering - broken);
        let broken_ms = CONFIG.broken_time.as_millis() as u64;
        expect(
            "Broken lasted broken_time (to 2 ms)",
            broken_for.is_some_and(|d| (broken_ms..=broken_ms + 2).contains(&d)),
        );
        expect("one trip", m.trips == 1);
        expect("timeouts counted as failures", tally.timeouts > 0);
        expect("errors counted as failures", tally.errors > 0);
        let (isr_ok, isr_broken, isr_recovering) = from_interrupt::tally();
        let task_calls = tally.ok
            + tally.errors
            + tally.timeouts
            + tally.rejected_broken
            + tally.rejected_recovering;
        expect(
            "every call is accounted for",
            m.successes + m.failures + m.ignored + m.late
                == (m.call_passing + m.call_recovering_ok)
                && m.failures == u64::from(tally.errors + tally.timeouts)
                && m.successes == u64::from(tally.ok + isr_ok),
        );
        expect(
            "the interrupt handler's calls are counted with the task's",
            isr_ok > 0 && isr_broken + isr_recovering > 0,
        );
        expect(
            "calls total the task's plus the handler's",
            m.call_count == u64::from(task_calls + isr_ok + isr_broken + isr_recovering)
                && m.call_broken == u64::from(tally.rejected_broken + isr_broken)
                && m.call_recovering_failed
                    == u64::from(tally.rejected_recovering + isr_recovering),
        );
        expect(
            "rejected calls never reached the sensor",
            u64::from(sensor.reads() + isr_ok) == m.call_passing + m.call_recovering_ok,
        );
        expect("ends Passing", m.state == State::Passing);
        let heard = SENSOR.listener();
        expect(
            "the listener heard each transition once",
            heard.transitions.load(Ordering::Relaxed) == timeline.len as u32 - 1
                && u64::from(heard.into_broken.load(Ordering::Relaxed)) == m.trips,
        );
        ok
    }
}

/// The bare sampling loop, for measuring code size: with `no-breaker` the
/// sensor is called directly, with `minimal` through the same breaker as the
/// demo. Neither prints a timeline or checks anything.
#[cfg(any(feature = "no-breaker", feature = "minimal"))]
mod guarded {
    use embassy_time::{Instant, Timer};

    use super::{PERIOD, READ_TIMEOUT, RUN_FOR};
    use crate::peripheral::FlakySensor;

    #[cfg(not(feature = "no-breaker"))]
    static SENSOR: breaker_embassy::CircuitBreaker = breaker_embassy::new(super::CONFIG);

    pub(crate) async fn run(sensor: &FlakySensor) -> bool {
        let start = Instant::now();
        let (mut ok, mut failed) = (0u32, 0u32);
        while start.elapsed() < RUN_FOR {
            #[cfg(feature = "no-breaker")]
            let answered = matches!(
                embassy_time::with_timeout(READ_TIMEOUT, sensor.read()).await,
                Ok(Ok(_))
            );
            #[cfg(not(feature = "no-breaker"))]
            let answered = breaker_embassy::call_with_timeout(&SENSOR, READ_TIMEOUT, sensor.read())
                .await
                .is_ok();
            if answered {
                ok += 1;
            } else {
                failed += 1;
            }
            Timer::after(PERIOD).await;
        }
        cortex_m_semihosting::hprintln!(
            "bare loop: {} ok, {} failed, {} reads",
            ok,
            failed,
            sensor.reads()
        );
        true
    }
}

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let peripherals = cortex_m::Peripherals::take().expect("taken once, at boot");
    time_driver::start(peripherals.SYST);
    hprintln!(
        "breaker-embassy firmware on QEMU {}: SysTick time driver at {} Hz",
        BOARD,
        // 32-bit figures in the lines every variant prints: formatting a u64
        // links a 64-bit division (0.9 KiB) that would hide whether the
        // breaker needs one (size.sh measures the difference).
        embassy_time::TICK_HZ as u32
    );
    let started = Instant::now();
    let sensor = FlakySensor::new();
    let passed = embassy_time::with_timeout(WATCHDOG, guarded::run(&sensor))
        .await
        .unwrap_or_else(|_| {
            hprintln!(
                "check finished within {} ms: FAILED",
                WATCHDOG.as_millis() as u32
            );
            false
        });
    hprintln!(
        "{} after {} ms",
        if passed { "PASS" } else { "FAIL" },
        started.elapsed().as_millis() as u32
    );
    debug::exit(if passed { EXIT_SUCCESS } else { EXIT_FAILURE });
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
