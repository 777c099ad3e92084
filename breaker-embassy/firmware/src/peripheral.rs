//! A simulated flaky peripheral: a temperature sensor on a bus, whose
//! behaviour follows a fixed script over time.

use core::cell::Cell;
use core::fmt;

use embassy_time::{Instant, Timer};

/// What the sensor does when asked for a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Answers after a 2 ms bus transaction.
    Answers,
    /// Never answers: the bus is stuck (only a timeout ends the read).
    Hangs,
    /// Answers with an error after the transaction.
    Errors,
}

/// The script: from each time (ms since the sensor was created) on, the
/// sensor behaves like this, until the next entry.
pub(crate) const SCRIPT: [(u64, Behaviour); 4] = [
    (0, Behaviour::Answers),
    (300, Behaviour::Hangs),
    (400, Behaviour::Errors),
    (560, Behaviour::Answers),
];

/// The sensor's own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoAnswer;

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("sensor did not answer")
    }
}

/// The simulated sensor. Not `Sync`: one task owns it.
#[derive(Debug)]
pub(crate) struct FlakySensor {
    start: Instant,
    reads: Cell<u32>,
}

impl FlakySensor {
    pub(crate) fn new() -> FlakySensor {
        FlakySensor {
            start: Instant::now(),
            reads: Cell::new(0),
        }
    }

    /// How the sensor behaves now, by the script.
    pub(crate) fn behaviour(&self) -> Behaviour {
        let ms = self.start.elapsed().as_millis();
        let mut now = Behaviour::Answers;
        for (from, behaviour) in SCRIPT {
            if ms >= from {
                now = behaviour;
            }
        }
        now
    }

    /// How many reads reached the sensor (rejected calls never do).
    pub(crate) fn reads(&self) -> u32 {
        self.reads.get()
    }

    /// Reads the temperature in tenths of a degree.
    pub(crate) async fn read(&self) -> Result<i16, NoAnswer> {
        self.reads.set(self.reads.get() + 1);
        let behaviour = self.behaviour();
        Timer::after_millis(2).await;
        match behaviour {
            Behaviour::Answers => Ok(215 + (self.reads.get() % 5) as i16),
            Behaviour::Errors => Err(NoAnswer),
            Behaviour::Hangs => core::future::pending().await,
        }
    }
}
