//! What the fleet writes to Redis and how it reads it back. Everything read
//! is untrusted: each parser returns `None` for anything it does not fully
//! understand, and the caller counts it as malformed.
//!
//! ```text
//! {prefix}:alive:{instance}            "v1"                      PX = 3 heartbeats
//! {prefix}:b:{breaker}:{instance}      "v1 broken {broken_ms}"   PX = the Broken time left
//! channel {prefix}:events              "v1 broken {instance} {breaker} {remaining_ms}"
//!                                      "v1 clear {instance} {breaker}"
//!                                      "v1 hello {instance}"
//! ```
//!
//! Times are durations, never wall-clock instants, so hosts' clocks need not
//! agree: a key's remaining Broken time is its `PTTL` on the server, a
//! message's is measured from when it arrives.

use std::time::Duration;

/// The longest name (prefix, instance or breaker), in bytes.
const MAX_NAME: usize = 128;

pub(crate) const NAME_RULE: &str =
    "1 to 128 printable ASCII characters, without spaces or any of * ? [ ] \\";
pub(crate) const NAME_RULE_NO_COLON: &str =
    "1 to 128 printable ASCII characters, without spaces, ':' or any of * ? [ ] \\";

/// Whether `name` is a valid prefix, breaker name (`colon` allowed) or
/// instance id (no `colon`: it ends a report key). Glob characters are out
/// because names go into `SCAN ... MATCH` patterns.
pub(crate) fn valid_name(name: &str, colon: bool) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'*' | b'?' | b'[' | b']' | b'\\')
                && (colon || b != b':')
        })
}

/// Whether `key` is no longer than any key of ours under `prefix` can be
/// (the longest is a report key with a breaker and an instance of the
/// longest names), so a flood of huge keys is not kept in memory.
pub(crate) fn key_fits(prefix: &str, key: &[u8]) -> bool {
    key.len() <= prefix.len() + ":b:".len() + MAX_NAME + ":".len() + MAX_NAME
}

pub(crate) fn alive_key(prefix: &str, instance: &str) -> String {
    format!("{prefix}:alive:{instance}")
}

pub(crate) fn alive_pattern(prefix: &str) -> String {
    format!("{prefix}:alive:*")
}

pub(crate) fn report_key(prefix: &str, breaker: &str, instance: &str) -> String {
    format!("{prefix}:b:{breaker}:{instance}")
}

pub(crate) fn report_pattern(prefix: &str) -> String {
    format!("{prefix}:b:*")
}

pub(crate) fn channel(prefix: &str) -> String {
    format!("{prefix}:events")
}

pub(crate) const ALIVE_VALUE: &str = "v1";

pub(crate) fn report_value(broken_time: Duration) -> String {
    format!("v1 broken {}", broken_time.as_millis())
}

/// The instance of an alive key.
pub(crate) fn parse_alive_key<'k>(prefix: &str, key: &'k [u8]) -> Option<&'k str> {
    let key = std::str::from_utf8(key).ok()?;
    let instance = key.strip_prefix(prefix)?.strip_prefix(":alive:")?;
    valid_name(instance, false).then_some(instance)
}

/// The breaker and instance of a report key.
pub(crate) fn parse_report_key<'k>(prefix: &str, key: &'k [u8]) -> Option<(&'k str, &'k str)> {
    let key = std::str::from_utf8(key).ok()?;
    let rest = key.strip_prefix(prefix)?.strip_prefix(":b:")?;
    // The instance id has no ':', so the last ':' splits the two.
    let (breaker, instance) = rest.rsplit_once(':')?;
    (valid_name(breaker, true) && valid_name(instance, false)).then_some((breaker, instance))
}

/// The Broken time a report key has left: its value must be a report and
/// its `PTTL` (milliseconds; -1 for no expiry, -2 for gone) within
/// `1..=max`. A key with no expiry would be a report that never ends.
pub(crate) fn parse_report(value: &[u8], pttl_ms: i64, max: Duration) -> Option<Duration> {
    let value = std::str::from_utf8(value).ok()?;
    let broken_ms = value.strip_prefix("v1 broken ")?;
    parse_ms(broken_ms, Duration::MAX)?;
    let remaining = Duration::from_millis(u64::try_from(pttl_ms).ok()?);
    (!remaining.is_zero() && remaining <= max).then_some(remaining)
}

/// A message on the fleet's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message<'m> {
    /// `instance` reports `breaker` Broken for `remaining` more.
    Broken {
        instance: &'m str,
        breaker: &'m str,
        remaining: Duration,
    },
    /// `instance` no longer reports `breaker` Broken.
    Clear { instance: &'m str, breaker: &'m str },
    /// `instance` has just joined.
    Hello { instance: &'m str },
}

impl Message<'_> {
    pub(crate) fn encode(&self) -> String {
        match self {
            Message::Broken {
                instance,
                breaker,
                remaining,
            } => {
                format!("v1 broken {instance} {breaker} {}", remaining.as_millis())
            }
            Message::Clear { instance, breaker } => format!("v1 clear {instance} {breaker}"),
            Message::Hello { instance } => format!("v1 hello {instance}"),
        }
    }

    /// Reads a message; `max` bounds a Broken report's remaining time.
    pub(crate) fn parse(payload: &[u8], max: Duration) -> Option<Message<'_>> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut words = text.strip_prefix("v1 ")?.split(' ');
        let kind = words.next()?;
        let instance = words.next().filter(|i| valid_name(i, false))?;
        let message = match kind {
            "hello" => Message::Hello { instance },
            "clear" => Message::Clear {
                instance,
                breaker: words.next().filter(|b| valid_name(b, true))?,
            },
            "broken" => {
                let breaker = words.next().filter(|b| valid_name(b, true))?;
                let remaining = parse_ms(words.next()?, max)?;
                if remaining.is_zero() {
                    return None;
                }
                Message::Broken {
                    instance,
                    breaker,
                    remaining,
                }
            }
            _ => return None,
        };
        // Nothing may follow.
        words.next().is_none().then_some(message)
    }
}

/// Milliseconds written in plain decimal digits, at most `max`.
fn parse_ms(text: &str, max: Duration) -> Option<Duration> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms = Duration::from_millis(text.parse::<u64>().ok()?);
    (ms <= max).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn messages_round_trip() {
        let broken = Message::Broken {
            instance: "pod-1",
            breaker: "db:5432",
            remaining: Duration::from_millis(1500),
        };
        assert_eq!(broken.encode(), "v1 broken pod-1 db:5432 1500");
        assert_eq!(
            Message::parse(broken.encode().as_bytes(), HOUR),
            Some(broken)
        );
        let clear = Message::Clear {
            instance: "pod-1",
            breaker: "db",
        };
        assert_eq!(Message::parse(clear.encode().as_bytes(), HOUR), Some(clear));
        let hello = Message::Hello { instance: "pod-1" };
        assert_eq!(Message::parse(hello.encode().as_bytes(), HOUR), Some(hello));
    }

    #[test]
    fn garbage_messages_are_rejected() {
        let bad: &[&[u8]] = &[
            b"",
            b"v1",
            b"v1 ",
            b"v2 broken a db 10",
            b"v1 broken a db",
            b"v1 broken a db 0",
            b"v1 broken a db -5",
            b"v1 broken a db +5",
            b"v1 broken a db 1e3",
            b"v1 broken a db 3600001",
            b"v1 broken a db 99999999999999999999999",
            b"v1 broken a db 10 extra",
            b"v1 broken a:b db 10",
            b"v1 broken a  db 10",
            b"v1 broken a d*b 10",
            b"v1 clear a",
            b"v1 hello",
            b"v1 hello a b",
            b"v1 explode a db",
            b"\xff\xfe\x00",
            b"v1 broken \xc3\xa9 db 10",
        ];
        for payload in bad {
            assert_eq!(
                Message::parse(payload, HOUR),
                None,
                "{:?}",
                String::from_utf8_lossy(payload)
            );
        }
        let long = format!("v1 hello {}", "x".repeat(129));
        assert_eq!(Message::parse(long.as_bytes(), HOUR), None);
    }

    #[test]
    fn keys_parse_back_and_reject_strangers() {
        let key = report_key("svc", "api.example:443", "pod-7");
        assert_eq!(
            parse_report_key("svc", key.as_bytes()),
            Some(("api.example:443", "pod-7"))
        );
        assert_eq!(parse_report_key("svc", b"svc:b:db"), None);
        assert_eq!(parse_report_key("svc", b"svc:b::pod"), None);
        assert_eq!(parse_report_key("svc", b"svc:b:db:"), None);
        assert_eq!(parse_report_key("svc", b"other:b:db:pod"), None);
        assert_eq!(parse_report_key("svc", b"svc:b:db:\xff"), None);
        let alive = alive_key("svc", "pod-7");
        assert_eq!(parse_alive_key("svc", alive.as_bytes()), Some("pod-7"));
        assert_eq!(parse_alive_key("svc", b"svc:alive:"), None);
        assert_eq!(parse_alive_key("svc", b"svc:alive:a:b"), None);
        let longest = report_key("svc", &"b".repeat(128), &"i".repeat(128));
        assert!(key_fits("svc", longest.as_bytes()));
        assert!(!key_fits("svc", format!("{longest}x").as_bytes()));
    }

    #[test]
    fn reports_need_a_value_and_a_bounded_expiry() {
        let value = report_value(Duration::from_secs(30));
        assert_eq!(value, "v1 broken 30000");
        assert_eq!(
            parse_report(value.as_bytes(), 12_000, HOUR),
            Some(Duration::from_secs(12))
        );
        assert_eq!(parse_report(value.as_bytes(), -1, HOUR), None, "no expiry");
        assert_eq!(parse_report(value.as_bytes(), -2, HOUR), None, "gone");
        assert_eq!(parse_report(value.as_bytes(), 0, HOUR), None);
        assert_eq!(
            parse_report(value.as_bytes(), 3_600_001, HOUR),
            None,
            "past the bound"
        );
        assert_eq!(parse_report(b"v1 broken x", 1000, HOUR), None);
        assert_eq!(parse_report(b"broken", 1000, HOUR), None);
        assert_eq!(parse_report(b"\xff", 1000, HOUR), None);
    }
}
