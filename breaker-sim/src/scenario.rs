//! `--scenario`: a scripted trace, phase by phase, for quick experiments.

use std::fmt;

use crate::duration::parse_duration;
use crate::trace::{Answer, Event, MAX_TIME_MS};

/// One phase: how long, how many calls, what share fails, how long each takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// Length, ns.
    pub duration_ns: u64,
    /// Calls per `per_ns`, evenly spaced.
    pub calls: u64,
    /// The rate's unit: one second, minute or hour, in ns.
    pub per_ns: u64,
    /// Share of calls that fail, in parts per million.
    pub failing_ppm: u64,
    /// How long every call of the phase takes, ns.
    pub latency_ns: u64,
}

/// A scripted trace: phases one after the other, from time zero.
///
/// Syntax: phases separated by commas, each `DURATION RATE SHARE [LATENCY]`:
///
/// - `DURATION`: how long the phase lasts (`6s`, `500ms`, `2m`);
/// - `RATE`: calls per second, minute or hour, evenly spaced (`50/s`, `30/m`);
/// - `SHARE`: the share of calls that fail (`0%`, `12.5%`, `100%`);
///   failures are spread evenly and deterministically by an error credit
///   (each call adds the share; a call that brings it to a whole failure
///   fails), carried from phase to phase, so every run is the same;
/// - `LATENCY` (optional, default 0): how long each call takes before its
///   outcome is recorded (`200ms`: a call that hangs until a 200 ms timeout).
///
/// breaker-tokio's demo upstream (healthy, 10% more errors every 2 s, down
/// and hanging into the proxy's 200 ms timeout, healed) at 50 requests/s:
///
/// ```text
/// 6s 50/s 0%, 2s 50/s 10%, 2s 50/s 20%, 2s 50/s 30%, 6s 50/s 100% 200ms, 12s 50/s 0%
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The phases, in order.
    pub phases: Vec<Phase>,
}

/// A phase that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// 1-based phase number.
    pub phase: usize,
    /// 1-based column in the whole `--scenario` text.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "phase {}, column {}: {}",
            self.phase, self.column, self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

const FORMAT: &str =
    "expected `DURATION RATE SHARE [LATENCY]`, e.g. `6s 50/s 10%` or `6s 50/s 100% 200ms`";

impl Scenario {
    /// Reads the phases of `text` (see [`Scenario`] for the syntax).
    ///
    /// # Errors
    ///
    /// The first phase that cannot be read, with its column.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let mut phases = Vec::new();
        let mut offset = 0;
        let mut total: u64 = 0;
        for (index, part) in text.split(',').enumerate() {
            let at = |column: usize, message: String| ScenarioError {
                phase: index + 1,
                column: offset + column + 1,
                message,
            };
            let words: Vec<(usize, &str)> = words(part).collect();
            if words.len() < 3 || words.len() > 4 {
                let column = words.first().map_or(0, |w| w.0);
                return Err(at(column, format!("{} words; {FORMAT}", words.len())));
            }
            let (c, word) = words[0];
            let duration = parse_duration(word).map_err(|m| at(c, m))?;
            let duration_ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
            if duration_ns == 0 {
                return Err(at(c, "a phase must last longer than zero".into()));
            }
            let (c, word) = words[1];
            let (calls, per_ns) = rate(word).map_err(|m| at(c, m))?;
            let (c, word) = words[2];
            let failing_ppm = share(word).map_err(|m| at(c, m))?;
            let latency_ns = match words.get(3) {
                None => 0,
                Some(&(c, word)) => {
                    let d = parse_duration(word).map_err(|m| at(c, m))?;
                    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
                }
            };
            total = total.saturating_add(duration_ns);
            if total.saturating_add(latency_ns) > MAX_TIME_MS * 1_000_000 {
                return Err(at(
                    words[0].0,
                    format!("the scenario runs past the longest trace, {MAX_TIME_MS} ms (52 days)"),
                ));
            }
            phases.push(Phase {
                duration_ns,
                calls,
                per_ns,
                failing_ppm,
                latency_ns,
            });
            offset += part.len() + 1;
        }
        Ok(Scenario { phases })
    }

    /// The calls of the scenario, generated one at a time (nothing is
    /// stored but a position).
    pub fn events(&self) -> Events<'_> {
        Events {
            phases: &self.phases,
            phase: 0,
            start_ns: 0,
            index: 0,
            credit: 0,
        }
    }
}

/// The space-separated words of a phase, each with its 0-based column.
fn words(part: &str) -> impl Iterator<Item = (usize, &str)> {
    part.split(' ')
        .scan(0, |start, word| {
            let column = *start;
            *start += word.len() + 1;
            Some((column, word))
        })
        .filter(|(_, w)| !w.is_empty())
}

/// `50/s` -> (50, 1 s in ns).
fn rate(word: &str) -> Result<(u64, u64), String> {
    let bad = || {
        format!(
            "invalid rate `{word}`: expected calls per second, minute or hour, e.g. 50/s or 30/m"
        )
    };
    let (count, unit) = word.split_once('/').ok_or_else(bad)?;
    let per_ns = match unit {
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(bad()),
    };
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count: u64 = count.parse().map_err(|_| bad())?;
    if count == 0 || count > 1_000_000_000 {
        return Err(format!(
            "invalid rate `{word}`: must be from 1 to 10^9 calls per unit"
        ));
    }
    Ok((count, per_ns))
}

/// `12.5%` -> 125_000 ppm.
fn share(word: &str) -> Result<u64, String> {
    let bad = || {
        format!("invalid failure share `{word}`: expected a percentage from 0% to 100%, e.g. 10%")
    };
    let number = word.strip_suffix('%').ok_or_else(bad)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 4 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = format!("{fraction:0<4}").parse().map_err(|_| bad())?;
    let ppm = whole.saturating_mul(10_000) + fraction;
    if ppm > 1_000_000 {
        return Err(bad());
    }
    Ok(ppm)
}

/// The calls of a [`Scenario`], in time order.
#[derive(Debug, Clone)]
pub struct Events<'a> {
    phases: &'a [Phase],
    phase: usize,
    start_ns: u64,
    index: u64,
    /// Error credit in ppm, carried across phases.
    credit: u64,
}

impl Iterator for Events<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            let phase = self.phases.get(self.phase)?;
            // Exact even spacing: call i at i * per / calls.
            let offset =
                u128::from(self.index) * u128::from(phase.per_ns) / u128::from(phase.calls);
            if offset < u128::from(phase.duration_ns) {
                self.index += 1;
                self.credit += phase.failing_ppm;
                let answer = if self.credit >= 1_000_000 {
                    self.credit -= 1_000_000;
                    Answer::Err
                } else {
                    Answer::Ok
                };
                return Some(Event {
                    at_ns: self.start_ns + offset as u64,
                    latency_ns: phase.latency_ns,
                    answer,
                });
            }
            self.start_ns += phase.duration_ns;
            self.phase += 1;
            self.index = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_demo_script() {
        let s = Scenario::parse(
            "6s 50/s 0%, 2s 50/s 10%, 2s 50/s 20%, 2s 50/s 30%, 6s 50/s 100% 200ms, 12s 50/s 0%",
        )
        .unwrap();
        assert_eq!(s.phases.len(), 6);
        assert_eq!(
            s.phases[4],
            Phase {
                duration_ns: 6_000_000_000,
                calls: 50,
                per_ns: 1_000_000_000,
                failing_ppm: 1_000_000,
                latency_ns: 200_000_000,
            }
        );
        let events: Vec<Event> = s.events().collect();
        assert_eq!(events.len(), 30 * 50);
        assert_eq!(events[1].at_ns, 20_000_000);
        assert_eq!(events.last().unwrap().at_ns, 29_980_000_000);
        let failures = |from: usize, to: usize| {
            events[from..to]
                .iter()
                .filter(|e| e.answer == Answer::Err)
                .count()
        };
        // 0%, then 10 of 100, 20 of 100, 30 of 100, all 300, none.
        assert_eq!(
            [
                failures(0, 300),
                failures(300, 400),
                failures(400, 500),
                failures(500, 600),
                failures(600, 900),
                failures(900, 1500)
            ],
            [0, 10, 20, 30, 300, 0]
        );
        // The 10% phase fails its 10th, 20th, ... call.
        assert_eq!(events[309].answer, Answer::Err);
        assert_eq!(events[308].answer, Answer::Ok);
        assert!(events.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
    }

    #[test]
    fn spacing_is_exact_for_awkward_rates() {
        let s = Scenario::parse("1s 3/s 50%").unwrap();
        let at: Vec<u64> = s.events().map(|e| e.at_ns).collect();
        assert_eq!(at, [0, 333_333_333, 666_666_666]);
        let s = Scenario::parse("2m 1/m 12.5%").unwrap();
        assert_eq!(s.events().count(), 2);
        assert_eq!(s.phases[0].failing_ppm, 125_000);
    }

    #[test]
    fn errors_name_the_phase_and_column() {
        let cases = [
            ("", (1, 1, "0 words")),
            ("6s 50/s", (1, 1, "2 words")),
            ("6s 50/s 0%, 2x 50/s 10%", (2, 13, "invalid duration `2x`")),
            (
                "6s 50/s 0%,0s 50/s 10%",
                (2, 12, "a phase must last longer"),
            ),
            ("6s 50 0%", (1, 4, "invalid rate `50`")),
            ("6s 0/s 0%", (1, 4, "invalid rate `0/s`: must be from 1")),
            ("6s 50/s 101%", (1, 9, "invalid failure share `101%`")),
            ("6s 50/s 10", (1, 9, "invalid failure share `10`")),
            ("6s 50/s 10% soon", (1, 13, "invalid duration `soon`")),
            ("6s 50/s 10% 1s 2s", (1, 1, "5 words")),
            ("60d 1/s 0%", (1, 1, "invalid duration")),
            (
                "1000h 1/s 0%, 1000h 1/s 0%",
                (2, 15, "the scenario runs past"),
            ),
        ];
        for (text, (phase, column, start)) in cases {
            let e = Scenario::parse(text).unwrap_err();
            assert_eq!((e.phase, e.column), (phase, column), "{text:?}: {e}");
            assert!(e.message.starts_with(start), "{text:?}: {}", e.message);
        }
    }
}
