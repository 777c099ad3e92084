//! The CSV trace: one call per line, read as a stream.

use std::fmt;
use std::io::BufRead;

/// The latest time a trace may reach, in ms: the core's [`MAX_SPAN`]
/// (2^52 ns, about 52 days), so every span the breaker measures stays exact.
///
/// [`MAX_SPAN`]: breaker_core::MAX_SPAN
pub const MAX_TIME_MS: u64 = (1 << 52) / 1_000_000;

/// What the dependency answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `ok`: a success.
    Ok,
    /// `err`: a failure.
    Err,
    /// `ignore`: neither (the breaker records it nowhere).
    Ignore,
}

/// One call: when it was made, how long it took, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// When the call asks for admission, in ns since the start of the trace.
    pub at_ns: u64,
    /// How long after admission its outcome is recorded, in ns.
    pub latency_ns: u64,
    /// How it ended.
    pub answer: Answer,
}

/// A line of the trace that cannot be replayed, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// 1-based column (in bytes) where the offending field starts; 0 when
    /// the line as a whole is at fault (a read error, an empty trace).
    pub column: usize,
    /// What is wrong, lowercase, no final period.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column == 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for TraceError {}

/// Where each column is, from the header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    time: usize,
    outcome: usize,
    latency: Option<usize>,
    count: usize,
}

/// Reads a trace line by line: one reused buffer, so memory stays flat
/// however long the trace is. An iterator of events; the first error ends it.
///
/// The header names the columns, in any order: `time_ms` and `outcome`, and
/// optionally `latency_ms`. `time_ms` never decreases; `outcome` is `ok`,
/// `err` or `ignore`; fields may be padded with spaces; `\r\n` line ends are
/// fine; nothing is skipped (an empty line is an error).
#[derive(Debug)]
pub struct TraceReader<R> {
    input: R,
    buffer: Vec<u8>,
    line: u64,
    columns: Option<Columns>,
    last_ms: u64,
    events: u64,
    done: bool,
}

impl<R: BufRead> TraceReader<R> {
    /// A reader over `input`; nothing is read until the first `next()`.
    pub fn new(input: R) -> TraceReader<R> {
        TraceReader {
            input,
            buffer: Vec::with_capacity(64),
            line: 0,
            columns: None,
            last_ms: 0,
            events: 0,
            done: false,
        }
    }

    fn error(&self, column: usize, message: impl Into<String>) -> TraceError {
        TraceError {
            line: self.line,
            column,
            message: message.into(),
        }
    }

    /// The next line, without its line end; `None` at the end of input.
    fn read_line(&mut self) -> Result<Option<&str>, TraceError> {
        self.buffer.clear();
        self.line += 1;
        let read = self
            .input
            .read_until(b'\n', &mut self.buffer)
            .map_err(|e| self.error(0, format!("cannot read: {e}")))?;
        if read == 0 {
            return Ok(None);
        }
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
        }
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        match std::str::from_utf8(&self.buffer) {
            Ok(text) => Ok(Some(text)),
            Err(e) => Err(TraceError {
                line: self.line,
                column: e.valid_up_to() + 1,
                message: "not UTF-8 text".into(),
            }),
        }
    }

    fn header(&mut self) -> Result<Columns, TraceError> {
        let Some(text) = self.read_line()? else {
            return Err(self.error(
                0,
                "empty trace: expected the header `time_ms,outcome` (optionally `,latency_ms`)",
            ));
        };
        let (mut time, mut outcome, mut latency, mut count) = (None, None, None, 0);
        let mut problem = None;
        // A spreadsheet's UTF-8 byte order mark is not part of the first name.
        let (text, bom) = match text.strip_prefix('\u{feff}') {
            Some(rest) => (rest, 3),
            None => (text, 0),
        };
        for (i, (column, field)) in fields(text).map(|(c, f)| (c + bom, f)).enumerate() {
            count += 1;
            let slot = match field {
                "time_ms" => &mut time,
                "outcome" => &mut outcome,
                "latency_ms" => &mut latency,
                _ => {
                    problem = Some((
                        column,
                        format!(
                            "unknown column `{field}` in the header \
                             (expected time_ms, outcome and optionally latency_ms)"
                        ),
                    ));
                    break;
                }
            };
            if slot.is_some() {
                problem = Some((column, format!("column `{field}` appears twice")));
                break;
            }
            *slot = Some(i);
        }
        if problem.is_none() && (time.is_none() || outcome.is_none()) {
            let missing = if time.is_none() { "time_ms" } else { "outcome" };
            problem = Some((
                0,
                format!("the header has no `{missing}` column (expected `time_ms,outcome`)"),
            ));
        }
        match (problem, time, outcome) {
            (None, Some(time), Some(outcome)) => Ok(Columns {
                time,
                outcome,
                latency,
                count,
            }),
            (Some((column, message)), ..) => Err(self.error(column, message)),
            _ => unreachable!("a header without a problem has both required columns"),
        }
    }

    fn event(&mut self, columns: Columns) -> Result<Option<Event>, TraceError> {
        let (last_ms, events) = (self.last_ms, self.events);
        let line = self.line + 1;
        let error = |column, message: String| TraceError {
            line,
            column,
            message,
        };
        let Some(text) = self.read_line()? else {
            if events == 0 {
                return Err(error(0, "empty trace: no calls after the header".into()));
            }
            return Ok(None);
        };
        if text.trim().is_empty() {
            return Err(error(1, "empty line".into()));
        }
        // The latency and the column it came from.
        let (mut time, mut answer, mut latency) = (None, None, (0, 0));
        let mut count = 0;
        for (i, (column, field)) in fields(text).enumerate() {
            count += 1;
            if i >= columns.count {
                return Err(error(
                    column,
                    format!(
                        "more fields than the header's {} (a stray comma?)",
                        columns.count
                    ),
                ));
            }
            if i == columns.time {
                let ms = number(field, "time_ms").map_err(|m| error(column, m))?;
                if ms > MAX_TIME_MS {
                    return Err(error(
                        column,
                        format!(
                            "time_ms {ms} is past the longest trace, {MAX_TIME_MS} ms (52 days)"
                        ),
                    ));
                }
                if ms < last_ms {
                    return Err(error(
                        column,
                        format!(
                            "time_ms {ms} goes back before the previous line's {last_ms} \
                             (times must never decrease)"
                        ),
                    ));
                }
                time = Some(ms);
            } else if i == columns.outcome {
                answer = Some(match field {
                    "ok" => Answer::Ok,
                    "err" => Answer::Err,
                    "ignore" => Answer::Ignore,
                    _ => {
                        return Err(error(
                            column,
                            format!("unknown outcome `{field}` (expected ok, err or ignore)"),
                        ));
                    }
                });
            } else if Some(i) == columns.latency {
                latency = (
                    number(field, "latency_ms").map_err(|m| error(column, m))?,
                    column,
                );
            }
        }
        let (Some(time), Some(answer)) = (time, answer) else {
            return Err(error(
                text.len() + 1,
                format!("{count} fields where the header has {}", columns.count),
            ));
        };
        let (latency, latency_column) = latency;
        if time.saturating_add(latency) > MAX_TIME_MS {
            return Err(error(
                latency_column,
                format!(
                    "the outcome is due at {} ms, past the longest trace, {MAX_TIME_MS} ms (52 days)",
                    time.saturating_add(latency)
                ),
            ));
        }
        self.last_ms = time;
        self.events += 1;
        Ok(Some(Event {
            at_ns: time * 1_000_000,
            latency_ns: latency * 1_000_000,
            answer,
        }))
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Event, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let columns = match self.columns {
            Some(columns) => columns,
            None => match self.header() {
                Ok(columns) => *self.columns.insert(columns),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            },
        };
        match self.event(columns) {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The comma-separated fields of a line, trimmed, each with its 1-based column.
fn fields(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    text.split(',').map(move |raw| {
        let column = start + (raw.len() - raw.trim_start().len()) + 1;
        start += raw.len() + 1;
        (column, raw.trim())
    })
}

/// A whole number of milliseconds.
fn number(field: &str, name: &str) -> Result<u64, String> {
    if field.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{name} `{field}` is not a whole number of milliseconds"
        ));
    }
    field
        .parse()
        .map_err(|_| format!("{name} `{field}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Event>, TraceError> {
        TraceReader::new(text.as_bytes()).collect()
    }

    fn fails(text: &str) -> (u64, usize, String) {
        let e = read(text).unwrap_err();
        (e.line, e.column, e.message)
    }

    #[test]
    fn reads_events_in_any_column_order() {
        let ms = 1_000_000;
        assert_eq!(
            read("outcome, latency_ms ,time_ms\r\nok,5,0\r\nerr,0,10\nignore, 7, 10\n").unwrap(),
            [
                Event {
                    at_ns: 0,
                    latency_ns: 5 * ms,
                    answer: Answer::Ok
                },
                Event {
                    at_ns: 10 * ms,
                    latency_ns: 0,
                    answer: Answer::Err
                },
                Event {
                    at_ns: 10 * ms,
                    latency_ns: 7 * ms,
                    answer: Answer::Ignore
                },
            ]
        );
        assert_eq!(read("time_ms,outcome\n3,ok").unwrap().len(), 1);
        assert_eq!(read("\u{feff}time_ms,outcome\n3,ok\n").unwrap().len(), 1);
    }

    #[test]
    fn every_bad_line_is_named_with_its_column() {
        let h = "time_ms,outcome\n";
        let cases: [(String, (u64, usize, &str)); 13] = [
            (String::new(), (1, 0, "empty trace: expected the header")),
            (h.into(), (2, 0, "empty trace: no calls after the header")),
            ("time,outcome\n".into(), (1, 1, "unknown column `time`")),
            (
                "time_ms,time_ms\n".into(),
                (1, 9, "column `time_ms` appears twice"),
            ),
            (
                "time_ms\n".into(),
                (1, 0, "the header has no `outcome` column"),
            ),
            (
                format!("{h}0,ok\n10,oops\n"),
                (3, 4, "unknown outcome `oops`"),
            ),
            (
                format!("{h}10,ok\n9,ok\n"),
                (3, 1, "time_ms 9 goes back before the previous line's 10"),
            ),
            (
                format!("{h}1.5,ok\n"),
                (2, 1, "time_ms `1.5` is not a whole number"),
            ),
            (
                format!("{h}-1,ok\n"),
                (2, 1, "time_ms `-1` is not a whole number"),
            ),
            (
                format!("{h}0,ok,5\n"),
                (2, 6, "more fields than the header's 2"),
            ),
            (format!("{h}0\n"), (2, 2, "1 fields where the header has 2")),
            (format!("{h}0,ok\n\n1,ok\n"), (3, 1, "empty line")),
            (
                format!("{h}99999999999999999999,ok\n"),
                (2, 1, "time_ms `99999999999999999999` is too large"),
            ),
        ];
        for (text, (line, column, start)) in cases {
            let (l, c, m) = fails(&text);
            assert_eq!((l, c), (line, column), "{text:?}: {m}");
            assert!(m.starts_with(start), "{text:?}: {m}");
        }
        let (l, c, m) = fails(&format!("{h}{},ok\n", MAX_TIME_MS + 1));
        assert_eq!((l, c), (2, 1));
        assert!(m.contains("past the longest trace"), "{m}");
        let (l, c, m) = fails(&format!(
            "time_ms,outcome,latency_ms\n0,ok,0\n1,ok,{MAX_TIME_MS}\n"
        ));
        assert_eq!((l, c), (3, 6));
        assert!(
            m.starts_with("the outcome is due at 4503599628 ms, past the longest trace"),
            "{m}"
        );
        let (l, c, m) = fails("\u{feff}time_ms,outcom\n");
        assert_eq!(
            (l, c, m.as_str()),
            (
                1,
                12,
                "unknown column `outcom` in the header (expected time_ms, outcome and optionally latency_ms)"
            )
        );
        let (l, c, m) = fails("time_ms,outcome,latency_ms\n0,ok,x\n");
        assert_eq!(
            (l, c, m.as_str()),
            (2, 6, "latency_ms `x` is not a whole number of milliseconds")
        );
    }

    #[test]
    fn invalid_utf8_is_named() {
        let bytes = b"time_ms,outcome\n0,o\xffk\n";
        let e = TraceReader::new(&bytes[..])
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (2, 4, "not UTF-8 text")
        );
    }

    #[test]
    fn stops_after_the_first_error() {
        let mut r = TraceReader::new("time_ms,outcome\n5,ok\n4,ok\n6,ok\n".as_bytes());
        assert!(r.next().unwrap().is_ok());
        assert!(r.next().unwrap().is_err());
        assert!(r.next().is_none());
    }
}
