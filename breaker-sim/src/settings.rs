//! Configurations from flags: the base flags and `--compare KEY=VALUE,...`.

use core::time::Duration;

use breaker_core::{CircuitBreaker, Config, ConfigError, MockClock};

use crate::duration::{parse_duration, show};

/// The keys `--compare` accepts: `Config`'s fields in kebab case, the same
/// names as the flags.
pub const KEYS: [&str; 10] = [
    "error-ratio",
    "window",
    "broken-time",
    "recovery-time",
    "passing-time",
    "min-calls",
    "broken-time-max",
    "jitter",
    "jitter-seed",
    "slow-call",
];

/// A configuration as given: the fields that were set, the rest left to the
/// core's defaults (`broken_time`, `recovery_time` and `passing_time` follow
/// `window`, as in `Config::new`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Settings {
    /// `--error-ratio`.
    pub error_ratio: Option<f32>,
    /// `--window`.
    pub window: Option<Duration>,
    /// `--broken-time`.
    pub broken_time: Option<Duration>,
    /// `--recovery-time`.
    pub recovery_time: Option<Duration>,
    /// `--passing-time`.
    pub passing_time: Option<Duration>,
    /// `--min-calls`.
    pub min_calls: Option<u32>,
    /// `--broken-time-max`.
    pub broken_time_max: Option<Duration>,
    /// `--jitter`.
    pub jitter: Option<f32>,
    /// `--jitter-seed`.
    pub jitter_seed: Option<u32>,
    /// `--slow-call`.
    pub slow_call: Option<Duration>,
}

impl Settings {
    /// Sets one field from its kebab-case name and text value.
    ///
    /// # Errors
    ///
    /// An unknown key or a value that does not parse, as a message.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let duration = || parse_duration(value).map(Some);
        let number = |what: &str| format!("invalid value `{value}` for {key}: expected {what}");
        match key {
            "error-ratio" => {
                self.error_ratio = Some(value.parse().map_err(|_| number("a number, e.g. 0.2"))?);
            }
            "window" => self.window = duration()?,
            "broken-time" => self.broken_time = duration()?,
            "recovery-time" => self.recovery_time = duration()?,
            "passing-time" => self.passing_time = duration()?,
            "min-calls" => {
                self.min_calls = Some(value.parse().map_err(|_| number("a whole number"))?)
            }
            "broken-time-max" => self.broken_time_max = duration()?,
            "jitter" => {
                self.jitter = Some(value.parse().map_err(|_| number("a number, e.g. 0.1"))?)
            }
            "jitter-seed" => {
                self.jitter_seed = Some(value.parse().map_err(|_| number("a whole number"))?);
            }
            "slow-call" => self.slow_call = duration()?,
            _ => {
                return Err(format!(
                    "unknown key `{key}` (expected one of {})",
                    KEYS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// These settings with the `KEY=VALUE,...` changes of a `--compare`
    /// spec applied. Fields that default to the window follow a changed
    /// window unless they were set.
    ///
    /// # Errors
    ///
    /// A malformed pair, an unknown key or a bad value, as a message.
    pub fn apply(mut self, spec: &str) -> Result<Settings, String> {
        for pair in spec.split(',').map(str::trim) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("`{pair}` is not KEY=VALUE"));
            };
            self.set(key.trim(), value.trim())?;
        }
        Ok(self)
    }

    /// The `Config`, or the key that is missing (`error-ratio` or `window`).
    ///
    /// # Errors
    ///
    /// The name of a required key that is not set.
    pub fn config(&self) -> Result<Config, &'static str> {
        let ratio = self.error_ratio.ok_or("error-ratio")?;
        let window = self.window.ok_or("window")?;
        let mut c = Config::new(ratio, window);
        c.broken_time = self.broken_time.unwrap_or(window);
        c.recovery_time = self.recovery_time.unwrap_or(window);
        c.passing_time = self.passing_time.unwrap_or(window);
        c.min_calls = self.min_calls.unwrap_or(c.min_calls);
        c.broken_time_max = self.broken_time_max;
        c.jitter = self.jitter.unwrap_or(c.jitter);
        c.jitter_seed = self.jitter_seed.unwrap_or(c.jitter_seed);
        c.slow_call = self.slow_call;
        Ok(c)
    }
}

/// Checks `config` exactly as [`CircuitBreaker::try_new`] does (it is that
/// call, on a `MockClock`, with the default 10 buckets the replay uses).
///
/// # Errors
///
/// The core's own [`ConfigError`].
pub fn validate(config: Config) -> Result<(), ConfigError> {
    CircuitBreaker::try_new(config, MockClock::new()).map(drop)
}

/// The kebab-case flag of a [`ConfigError`]'s field, e.g. `--broken-time`.
pub fn flag_of(error: ConfigError) -> String {
    format!("--{}", error.field().replace('_', "-"))
}

/// A one-line description: every field, defaults made explicit.
pub fn describe(c: &Config) -> String {
    let mut s = format!(
        "error_ratio {}, window {}, broken_time {}, recovery_time {}, passing_time {}, min_calls {}",
        c.error_ratio,
        show(c.window),
        show(c.broken_time),
        show(c.recovery_time),
        show(c.passing_time),
        c.min_calls
    );
    if let Some(max) = c.broken_time_max {
        s += &format!(", broken_time_max {}", show(max));
    }
    if c.jitter != 0.0 {
        s += &format!(", jitter {} (seed {})", c.jitter, c.jitter_seed);
    }
    if let Some(slow) = c.slow_call {
        s += &format!(", slow_call {}", show(slow));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn base() -> Settings {
        let mut s = Settings::default();
        s.set("error-ratio", "0.5").unwrap();
        s.set("window", "4s").unwrap();
        s.set("broken-time", "2s").unwrap();
        s
    }

    #[test]
    fn compare_changes_its_keys_and_defaults_follow_the_window() {
        let c = base()
            .apply("error-ratio=0.2, window=20s,min-calls=5")
            .unwrap()
            .config()
            .unwrap();
        assert_eq!(c, Config::new(0.2, 20 * S).broken_time(2 * S).min_calls(5));
        let c = base()
            .apply("broken-time-max=8s,jitter=0.1,jitter-seed=3,slow-call=150ms,passing-time=0s,recovery-time=1s")
            .unwrap()
            .config()
            .unwrap();
        let expected = Config::new(0.5, 4 * S)
            .broken_time(2 * S)
            .broken_time_max(8 * S)
            .jitter(0.1)
            .jitter_seed(3)
            .slow_call(S * 3 / 20)
            .passing_time(Duration::ZERO)
            .recovery_time(S);
        assert_eq!(c, expected);
    }

    #[test]
    fn compare_errors_say_what_is_wrong() {
        let b = base();
        assert_eq!(b.apply("window").unwrap_err(), "`window` is not KEY=VALUE");
        assert!(
            b.apply("windw=1s")
                .unwrap_err()
                .starts_with("unknown key `windw` (expected one of error-ratio, window,")
        );
        assert_eq!(
            b.apply("min-calls=-1").unwrap_err(),
            "invalid value `-1` for min-calls: expected a whole number"
        );
        assert_eq!(
            b.apply("error-ratio=lots").unwrap_err(),
            "invalid value `lots` for error-ratio: expected a number, e.g. 0.2"
        );
        assert!(
            b.apply("window=5")
                .unwrap_err()
                .starts_with("invalid duration `5`")
        );
        assert_eq!(Settings::default().config(), Err("error-ratio"));
    }

    #[test]
    fn validation_is_the_cores() {
        let ok = Config::new(0.5, S);
        assert_eq!(validate(ok), Ok(()));
        for (config, error) in [
            (Config::new(0.0, S), ConfigError::ErrorRatioOutOfRange),
            (Config::new(f32::NAN, S), ConfigError::ErrorRatioNan),
            (ok.broken_time(Duration::ZERO), ConfigError::BrokenTimeZero),
            (ok.min_calls(0), ConfigError::MinCallsZero),
            (ok.broken_time_max(S / 2), ConfigError::BrokenTimeMaxShort),
            (ok.jitter(1.0), ConfigError::JitterOutOfRange),
            (ok.slow_call(Duration::ZERO), ConfigError::SlowCallZero),
        ] {
            assert_eq!(validate(config), Err(error));
        }
        assert_eq!(
            flag_of(ConfigError::BrokenTimeMaxShort),
            "--broken-time-max"
        );
        assert_eq!(flag_of(ConfigError::ErrorRatioNan), "--error-ratio");
    }

    #[test]
    fn describes_every_set_field() {
        let c = Config::new(0.2, 4 * S).broken_time(2 * S);
        assert_eq!(
            describe(&c),
            "error_ratio 0.2, window 4s, broken_time 2s, recovery_time 4s, passing_time 4s, min_calls 10"
        );
        let c = c
            .broken_time_max(8 * S)
            .slow_call(S / 4)
            .jitter(0.1)
            .jitter_seed(7);
        assert!(
            describe(&c).ends_with(", broken_time_max 8s, jitter 0.1 (seed 7), slow_call 250ms")
        );
    }
}
