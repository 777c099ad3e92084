//! Durations as people write them on a command line: `500ms`, `10s`, `2m`.

use core::time::Duration;

/// Parses a number followed by a unit: `ns`, `us`, `ms`, `s`, `m` or `h`,
/// e.g. `500ms`, `1.5s`, `2m`. `0` alone is zero. Fractions are allowed
/// down to the nanosecond (`0.5ms`).
///
/// # Errors
///
/// A message saying what was expected, for clap or a `--compare` error to
/// show next to the flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let nanos_per_unit: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(format!(
                "invalid duration `{text}`: expected a number and a unit \
                 (ns, us, ms, s, m, h), e.g. 500ms, 10s, 2m"
            ));
        }
    };
    let bad_number = || format!("invalid duration `{text}`: `{number}` is not a number");
    // Whole and fractional parts as integers, so 0.1s is exactly 100 ms.
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad_number());
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(bad_number());
    }
    let too_long = || format!("invalid duration `{text}`: too long");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long())?
    };
    let mut nanos = whole.checked_mul(nanos_per_unit).ok_or_else(too_long)?;
    let mut scale = nanos_per_unit;
    for digit in fraction.bytes() {
        scale /= 10;
        nanos += u128::from(digit - b'0') * scale;
    }
    if !fraction.is_empty() && scale == 0 {
        return Err(format!(
            "invalid duration `{text}`: finer than a nanosecond"
        ));
    }
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| too_long())
}

/// Prints a duration the way [`parse_duration`] reads it, in the largest
/// unit that keeps it short: `4s`, `500ms`, `1.5s`, `2m`.
pub(crate) fn show(d: Duration) -> String {
    let ns = d.as_nanos();
    for (unit, per) in [
        ("m", 60_000_000_000u128),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns >= per {
            if ns.is_multiple_of(per) {
                return format!("{}{unit}", ns / per);
            }
            if unit != "m" {
                let value = ns as f64 / per as f64;
                return format!("{}{unit}", trim(format!("{value:.3}")));
            }
        }
    }
    format!("{ns}ns")
}

/// `1.500` -> `1.5`, `2.000` -> `2`.
fn trim(s: String) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_fractions() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("10s"), Ok(ms(10_000)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_duration("0.1s"), Ok(ms(100)));
        assert_eq!(parse_duration(".5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "10",
            "s",
            "5x",
            "1.2.3s",
            "-1s",
            "1e3ms",
            ".s",
            "0.5ns",
            "99999999999999999999h",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.starts_with("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn shows_what_it_reads() {
        for text in ["4s", "500ms", "1.5s", "2m", "90s", "7ns", "250us"] {
            assert_eq!(show(parse_duration(text).unwrap()), text);
        }
    }
}
