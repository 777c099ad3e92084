//! The fleet's configuration and the quorum rule.

use std::fmt;
use std::time::Duration;

use crate::wire;

/// How many live instances must report a breaker Broken before the others
/// break too: at least [`at_least`](Quorum::at_least) instances **and** at
/// least [`share`](Quorum::share) of the live ones (the instance itself
/// included).
///
/// `at_least` is never below 2, so a single instance (say, one whose own
/// network is broken) can never trip the fleet.
///
/// # Examples
///
/// ```
/// use breaker_fleet::Quorum;
///
/// // Half of the live instances, and never fewer than two.
/// let q = Quorum::share(0.5);
/// assert_eq!(q.needed(3), 2);
/// assert_eq!(q.needed(100), 50);
/// assert_eq!(q.needed(1), 2); // one instance alone never forms a quorum
/// // Three instances, however large the fleet.
/// assert_eq!(Quorum::count(3).needed(100), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quorum {
    at_least: u32,
    share: f32,
}

impl Quorum {
    /// At least `n` live instances (`n >= 2`), whatever the fleet's size.
    pub const fn count(n: u32) -> Self {
        Self {
            at_least: n,
            share: 0.0,
        }
    }

    /// At least this share of the live instances (`0.0..=1.0`), and at
    /// least 2.
    pub const fn share(share: f32) -> Self {
        Self { at_least: 2, share }
    }

    /// Raises the fewest instances that form a quorum to `n` (`n >= 2`).
    pub const fn at_least(self, n: u32) -> Self {
        Self {
            at_least: n,
            ..self
        }
    }

    /// How many Broken reports form a quorum among `live` live instances.
    pub fn needed(&self, live: usize) -> usize {
        // The share in millionths, so 0.3 of 20 is 6, not the 7 that
        // 0.3f32's binary excess would round up to; rounding up keeps half
        // of 3 at 2, never 1.
        let ppm = (f64::from(self.share) * 1e6).round() as u64;
        let by_share = (ppm.saturating_mul(live as u64)).div_ceil(1_000_000);
        usize::try_from(by_share)
            .unwrap_or(usize::MAX)
            .max(self.at_least as usize)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.at_least < 2 {
            return Err(ConfigError::new(
                "quorum",
                "at_least must be 2 or more, so one instance alone cannot trip the fleet",
            ));
        }
        if !(0.0..=1.0).contains(&self.share) {
            return Err(ConfigError::new("quorum", "share must be within 0.0..=1.0"));
        }
        Ok(())
    }
}

impl Default for Quorum {
    /// Half of the live instances, and at least 2.
    fn default() -> Self {
        Self::share(0.5)
    }
}

/// Where the fleet meets and how it behaves; built with [`FleetConfig::new`]
/// and the setters, checked by [`Fleet::join`](crate::Fleet::join).
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub(crate) url: String,
    pub(crate) instance: String,
    pub(crate) prefix: String,
    pub(crate) quorum: Quorum,
    pub(crate) heartbeat: Duration,
    pub(crate) alive_ttl: Duration,
    pub(crate) join_timeout: Duration,
    pub(crate) op_timeout: Duration,
    pub(crate) resync_every: u32,
    pub(crate) max_report: Duration,
    pub(crate) max_entries: usize,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) queue: usize,
}

impl FleetConfig {
    /// A fleet on the Redis server at `url` (the `redis` crate's URL:
    /// `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS when
    /// that crate's TLS feature is on), where this process is `instance`
    /// (unique in the fleet: a pod name, a host name; ASCII without spaces or
    /// `:`).
    pub fn new(url: impl Into<String>, instance: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            instance: instance.into(),
            prefix: "breaker".into(),
            quorum: Quorum::default(),
            heartbeat: Duration::from_secs(1),
            alive_ttl: Duration::from_secs(3),
            join_timeout: Duration::from_secs(1),
            op_timeout: Duration::from_millis(500),
            resync_every: 30,
            max_report: Duration::from_secs(3600),
            max_entries: 10_000,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            queue: 1024,
        }
    }

    /// The prefix of every key and of the channel (default `breaker`). One
    /// prefix is one fleet: give each service its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The quorum rule (default [`Quorum::share(0.5)`](Quorum::share)).
    pub fn quorum(mut self, quorum: Quorum) -> Self {
        self.quorum = quorum;
        self
    }

    /// How often this instance says it is alive (default 1 s); its alive key
    /// lives three heartbeats, so an instance that stops is out of the live
    /// count within 3 heartbeats.
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self.alive_ttl = heartbeat.saturating_mul(3);
        self
    }

    /// How long [`Fleet::join`](crate::Fleet::join) waits for the fleet's
    /// reports before it returns local-only (default 1 s).
    pub fn join_timeout(mut self, timeout: Duration) -> Self {
        self.join_timeout = timeout;
        self
    }

    /// The longest any Redis connect or command may take before the fleet
    /// counts Redis as down (default 500 ms).
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// Every this many heartbeats, all reports are read again from the keys,
    /// in case a channel message was lost (default 30).
    pub fn resync_every(mut self, heartbeats: u32) -> Self {
        self.resync_every = heartbeats;
        self
    }

    /// The longest remaining Broken time a report may claim (default 1 h).
    /// A report claiming more, or a key with no expiry, is malformed: ignored
    /// and counted. (A breaker also never takes more advice than its own
    /// longest broken time.)
    pub fn max_report(mut self, max: Duration) -> Self {
        self.max_report = max;
        self
    }

    /// The most reports and the most live instances the fleet keeps in
    /// memory, each (default 10,000); past it, new ones are dropped and
    /// counted, so a flood of keys cannot grow memory without bound.
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// The first and the longest wait between reconnect attempts (defaults
    /// 100 ms and 10 s; the wait doubles, with up to 50% random spread).
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !wire::valid_name(&self.instance, false) {
            return Err(ConfigError::new("instance", wire::NAME_RULE_NO_COLON));
        }
        if !wire::valid_name(&self.prefix, true) {
            return Err(ConfigError::new("prefix", wire::NAME_RULE));
        }
        self.quorum.validate()?;
        let positive = [
            ("heartbeat", self.heartbeat),
            ("join_timeout", self.join_timeout),
            ("op_timeout", self.op_timeout),
            ("max_report", self.max_report),
            ("backoff", self.backoff_min),
        ];
        for (field, value) in positive {
            if value.is_zero() {
                return Err(ConfigError::new(field, "must be more than zero"));
            }
        }
        if self.backoff_max < self.backoff_min {
            return Err(ConfigError::new("backoff", "max must be at least min"));
        }
        if self.resync_every == 0 {
            return Err(ConfigError::new("resync_every", "must be 1 or more"));
        }
        if self.max_entries == 0 {
            return Err(ConfigError::new("max_entries", "must be 1 or more"));
        }
        Ok(())
    }
}

/// A [`FleetConfig`] field, or a breaker name, that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    rule: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, rule: impl Into<String>) -> Self {
        Self {
            field,
            rule: rule.into(),
        }
    }

    /// The field (or `breaker name`, or `url`).
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid fleet {}: {}", self.field, self.rule)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_needs_the_larger_of_count_and_share() {
        assert_eq!(Quorum::share(0.5).needed(0), 2);
        assert_eq!(Quorum::share(0.5).needed(4), 2);
        assert_eq!(Quorum::share(0.5).needed(5), 3);
        assert_eq!(Quorum::share(0.3).at_least(4).needed(10), 4);
        assert_eq!(Quorum::share(0.3).at_least(4).needed(20), 6);
        assert_eq!(Quorum::count(2).needed(1000), 2);
        assert_eq!(Quorum::share(1.0).needed(7), 7);
    }

    #[test]
    fn invalid_settings_name_their_field() {
        let ok = FleetConfig::new("redis://127.0.0.1/", "pod-1");
        assert_eq!(ok.validate(), Ok(()));
        let field = |c: FleetConfig| c.validate().unwrap_err().field();
        assert_eq!(field(ok.clone().quorum(Quorum::count(1))), "quorum");
        assert_eq!(field(ok.clone().quorum(Quorum::share(f32::NAN))), "quorum");
        assert_eq!(field(ok.clone().quorum(Quorum::share(1.5))), "quorum");
        assert_eq!(field(FleetConfig::new("redis://h/", "a:b")), "instance");
        assert_eq!(field(FleetConfig::new("redis://h/", "a b")), "instance");
        assert_eq!(field(FleetConfig::new("redis://h/", "")), "instance");
        assert_eq!(field(ok.clone().prefix("svc*")), "prefix");
        assert_eq!(field(ok.clone().heartbeat(Duration::ZERO)), "heartbeat");
        assert_eq!(field(ok.clone().op_timeout(Duration::ZERO)), "op_timeout");
        assert_eq!(field(ok.clone().resync_every(0)), "resync_every");
        assert_eq!(field(ok.clone().max_entries(0)), "max_entries");
        let backwards = ok.backoff(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(field(backwards), "backoff");
    }
}
