//! Duration literals: `"250us"`, `"500ms"`, `"30s"`, `"2m"`, `"1h"`, read at
//! compile time into a number of nanoseconds.

/// The accepted units and their length in nanoseconds, longest suffix first so
/// that `ms` is not read as `m` + garbage.
const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 60 * 60 * 1_000_000_000),
];

/// What the error messages list as the accepted forms.
pub(crate) const FORMS: &str =
    "a whole number and a unit, such as \"10ns\", \"250us\", \"500ms\", \"30s\", \"2m\" or \"1h\"";

/// Reads `text` (`<digits><unit>`, underscores allowed between digits) as
/// nanoseconds. The error is the message to show, without the key's name.
pub(crate) fn parse_nanos(text: &str) -> Result<u64, String> {
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: String = number.chars().filter(|&c| c != '_').collect();
    if number.is_empty() {
        return Err(format!("expected {FORMS}"));
    }
    if unit.starts_with('.') {
        return Err(
            "fractions are not supported: use a smaller unit, such as \"1500ms\" for \"1.5s\""
                .to_owned(),
        );
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(if unit.is_empty() {
            format!("missing unit: expected {FORMS}")
        } else {
            format!("unknown unit `{unit}`: expected {FORMS}")
        });
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| "duration too long: it must fit in u64 nanoseconds".to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    #[test]
    fn every_unit() {
        assert_eq!(parse_nanos("10ns"), Ok(10));
        assert_eq!(parse_nanos("250us"), Ok(250_000));
        assert_eq!(parse_nanos("250µs"), Ok(250_000));
        assert_eq!(parse_nanos("500ms"), Ok(500_000_000));
        assert_eq!(parse_nanos("30s"), Ok(30_000_000_000));
        assert_eq!(parse_nanos("2m"), Ok(120_000_000_000));
        assert_eq!(parse_nanos("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse_nanos("0s"), Ok(0));
        assert_eq!(parse_nanos("1_500ms"), Ok(1_500_000_000));
    }

    #[test]
    fn rejects() {
        for bad in [
            "", "s", "30", "30 s", "1.5s", "-1s", "30sec", "30S", "1d", "ms30",
        ] {
            assert!(parse_nanos(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            parse_nanos("30").unwrap_err(),
            format!("missing unit: expected {}", super::FORMS)
        );
        assert_eq!(
            parse_nanos("30x").unwrap_err(),
            format!("unknown unit `x`: expected {}", super::FORMS)
        );
        assert!(
            parse_nanos("1.5s")
                .unwrap_err()
                .starts_with("fractions are not supported")
        );
        assert!(parse_nanos("99999999999999999999s").is_err());
        assert!(parse_nanos("18446744073709551615s").is_err());
        assert_eq!(parse_nanos("18446744073709551615ns"), Ok(u64::MAX));
    }
}
