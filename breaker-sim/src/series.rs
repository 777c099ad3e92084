//! Calls per second and the window's error ratio over time, for the picture,
//! in bounded memory.

/// At most this many points per series: a longer trace gets wider steps
/// (1 s, 2 s, 4 s, ...), so memory does not grow with the trace.
pub const MAX_POINTS: usize = 2048;

/// Admitted and rejected calls and the window's error ratio, per step.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Step width in ns: one second, doubled each time the trace outgrows
    /// [`MAX_POINTS`] steps.
    pub step_ns: u64,
    /// Calls admitted in each step.
    pub admitted: Vec<u64>,
    /// Calls rejected in each step.
    pub rejected: Vec<u64>,
    /// The highest error ratio the window showed in each step, read just
    /// before and just after each outcome was recorded (so a step with a
    /// trip shows the ratio that tripped it, not the fresh window after);
    /// `None` when the window was empty all step long (Broken, no calls).
    pub ratio: Vec<Option<f32>>,
}

impl Default for Series {
    fn default() -> Series {
        Series::new()
    }
}

impl Series {
    /// An empty series with one-second steps.
    pub fn new() -> Series {
        Series {
            step_ns: 1_000_000_000,
            admitted: Vec::new(),
            rejected: Vec::new(),
            ratio: Vec::new(),
        }
    }

    /// The step of `at_ns`, growing the series (and widening its steps if
    /// it would pass [`MAX_POINTS`]) so the step exists.
    fn step(&mut self, at_ns: u64) -> usize {
        while at_ns / self.step_ns >= MAX_POINTS as u64 {
            self.widen();
        }
        let i = (at_ns / self.step_ns) as usize;
        if i >= self.admitted.len() {
            self.admitted.resize(i + 1, 0);
            self.rejected.resize(i + 1, 0);
            self.ratio.resize(i + 1, None);
        }
        i
    }

    /// Doubles the step width, merging pairs of steps.
    fn widen(&mut self) {
        self.step_ns *= 2;
        let pairs = self.admitted.len().div_ceil(2);
        for i in 0..pairs {
            let (a, b) = (2 * i, (2 * i + 1).min(self.admitted.len() - 1));
            let both = a != b;
            self.admitted[i] = self.admitted[a] + if both { self.admitted[b] } else { 0 };
            self.rejected[i] = self.rejected[a] + if both { self.rejected[b] } else { 0 };
            self.ratio[i] = if both {
                higher(self.ratio[a], self.ratio[b])
            } else {
                self.ratio[a]
            };
        }
        self.admitted.truncate(pairs);
        self.rejected.truncate(pairs);
        self.ratio.truncate(pairs);
    }

    /// Counts one call at `at_ns`.
    pub fn call(&mut self, at_ns: u64, admitted: bool) {
        let i = self.step(at_ns);
        if admitted {
            self.admitted[i] += 1;
        } else {
            self.rejected[i] += 1;
        }
    }

    /// Notes the window's error ratio at `at_ns`; the step keeps its highest.
    pub fn ratio(&mut self, at_ns: u64, ratio: Option<f32>) {
        let i = self.step(at_ns);
        self.ratio[i] = higher(self.ratio[i], ratio);
    }

    /// A count of calls in one step, as calls per second.
    pub fn per_second(&self, count: u64) -> f64 {
        count as f64 * 1e9 / self.step_ns as f64
    }
}

fn higher(a: Option<f32>, b: Option<f32>) -> Option<f32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn counts_per_second() {
        let mut s = Series::new();
        s.call(0, true);
        s.call(S / 2, false);
        s.call(2 * S + 1, true);
        s.ratio(2 * S + 1, Some(0.5));
        s.ratio(2 * S + 2, None);
        s.ratio(2 * S + 3, Some(0.25));
        assert_eq!(s.admitted, [1, 0, 1]);
        assert_eq!(s.rejected, [1, 0, 0]);
        assert_eq!(s.ratio, [None, None, Some(0.5)]);
        assert_eq!(s.per_second(3), 3.0);
    }

    #[test]
    fn long_traces_widen_the_steps_and_keep_every_call() {
        let mut s = Series::new();
        for second in 0..5000u64 {
            s.call(second * S, second % 3 == 0);
            s.ratio(second * S, Some(second as f32));
        }
        assert_eq!(s.step_ns, 4 * S);
        assert_eq!(s.admitted.len(), 1250);
        assert!(s.admitted.len() <= MAX_POINTS);
        assert_eq!(
            s.admitted.iter().sum::<u64>() + s.rejected.iter().sum::<u64>(),
            5000
        );
        assert_eq!(s.admitted.iter().sum::<u64>(), 1667);
        assert_eq!(s.ratio[1], Some(7.0));
        assert_eq!(s.per_second(4), 1.0);
    }
}
