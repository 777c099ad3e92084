//! Groups: many breakers under one name, listed afresh at each reading (the
//! breakers of a keyed map, one per host), with a bounded number of members
//! and bounded key labels.

use std::collections::{HashSet, VecDeque};
use std::fmt::{self, Display};
use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use breaker_core::{CircuitBreaker, Clock, Listener, Mode, State, Transition};
use tokio::sync::broadcast;

use crate::events::Event;
use crate::registry::Snapshot;

/// How many members of a group are exported unless [`Group::set_limit`]
/// says otherwise.
pub const DEFAULT_GROUP_LIMIT: usize = 100;

/// How many of its members' latest transitions a group keeps, for
/// [`Group::recent_transitions`] (as many as a registered breaker keeps).
const RECENT: usize = 10;

/// The `key` label of a group's overflow breaker (see [`Members::overflow`]).
pub const OVERFLOW_KEY: &str = "(overflow)";

/// The longest key label, in bytes. Prometheus servers are often set to
/// refuse longer label values (`label_value_length_limit`), and a dashboard
/// row should stay readable.
const MAX_KEY_LABEL: usize = 128;

/// How much of a longer key is kept: with `…` (3 bytes) and 16 hex digits of
/// the whole key's hash, the label stays within [`MAX_KEY_LABEL`].
const KEPT_OF_LONG_KEY: usize = MAX_KEY_LABEL - 3 - 16;

/// What lists a group's members, at each reading.
type Source = dyn Fn(&mut Members) + Send + Sync;

/// A group of breakers registered under one name: the members are listed by
/// the group's source each time an exporter or the ops router reads it, so
/// members that come and go (keys evicted from a keyed map) never pile up.
///
/// Registered with [`Registry::register_group`](crate::Registry::register_group);
/// breaker-keyed's `ops` feature does it in one line
/// (`hosts.report_to(&registry, "hosts")`). Cheap to clone.
///
/// Each reading exports at most [`limit`](Self::limit) members (100 unless
/// [set](Self::set_limit)): those that are not Passing under the automatic
/// machine first (Broken, Recovering, forced open, disabled), then the
/// others, each part in key label order, so the same members are exported
/// from one scrape to the next while nothing changes. The rest are counted
/// in [`GroupView::hidden`]. The overflow breaker, if the source has one,
/// is exported besides, as the member [`OVERFLOW_KEY`].
#[derive(Clone)]
pub struct Group {
    name: Arc<str>,
    limit: Arc<AtomicUsize>,
    source: Arc<Source>,
    /// The registry's transition stream.
    events: broadcast::Sender<Event>,
    /// The latest reported transitions, oldest first, at most [`RECENT`].
    recent: Arc<Mutex<VecDeque<Event>>>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("name", &self.name)
            .field("limit", &self.limit())
            .finish_non_exhaustive()
    }
}

impl Group {
    pub(crate) fn new(
        name: Arc<str>,
        source: Arc<Source>,
        events: broadcast::Sender<Event>,
    ) -> Group {
        Group {
            name,
            limit: Arc::new(AtomicUsize::new(DEFAULT_GROUP_LIMIT)),
            source,
            events,
            recent: Arc::default(),
        }
    }

    /// The name it is registered under: its members' `breaker` label.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most members a reading exports (the overflow breaker aside).
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Exports at most `limit` members from the next reading on. Each
    /// member is about 25 series in Prometheus: the limit is what bounds a
    /// group's cardinality, whatever the number of keys.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Sends a member's transition to the registry's stream
    /// ([`Registry::transitions`](crate::Registry::transitions), the ops
    /// router's `/breakers/events`) as an [`Event`] whose `breaker` is the
    /// group's name and whose `key` is `member`'s key label (bounded as
    /// [`Member::key`]), or [`OVERFLOW_KEY`] for `None`, the group's
    /// overflow breaker.
    ///
    /// Call it from the members' listeners, on the thread that made the
    /// transition: it formats the key and sends into the bounded stream,
    /// never blocking. breaker-keyed's `report_to` does it for every key of
    /// its map.
    pub fn report_transition(&self, member: Option<&dyn Display>, transition: Transition) {
        let key = member.map_or_else(|| OVERFLOW_KEY.to_owned(), key_label);
        let event = Event {
            breaker: self.name.clone(),
            key: Some(Arc::from(key)),
            transition,
        };
        {
            let mut recent = self.lock_recent();
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        // An error only says nobody is reading now: nothing to do.
        let _ = self.events.send(event);
    }

    /// The last 10 transitions reported with
    /// [`report_transition`](Self::report_transition), oldest first, in the
    /// order they were reported (members may read different clocks, so
    /// their `at` need not compare). What the ops router's `GET /breakers`
    /// shows as a group's `recent_transitions`.
    pub fn recent_transitions(&self) -> Vec<Event> {
        self.lock_recent().iter().cloned().collect()
    }

    fn lock_recent(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        // Every update leaves the deque whole.
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The members now: the overflow breaker first, then up to
    /// [`limit`](Self::limit) others in export order.
    pub fn read(&self) -> GroupView {
        let mut members = Members::new(self.limit());
        (self.source)(&mut members);
        members.finish()
    }
}

/// A group's members at one reading: [`Group::read`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GroupView {
    /// The overflow breaker first (if the group has one), then the others
    /// in export order.
    pub members: Vec<Member>,
    /// Members listed but not exported: over the limit, or with the same key
    /// label as an exported one (two keys that display alike).
    pub hidden: usize,
    /// The group's own figures, if its source gave them
    /// ([`Members::stats`]).
    pub stats: Option<GroupStats>,
}

/// What a group holding its members in a bounded map (breaker-keyed's
/// `KeyedBreakers`) reports of the map itself, at each reading: whether it
/// is full, and what being full has cost. Exported per group, labelled with
/// the group's name only (see the [crate docs](crate#a-groups-own-figures)).
///
/// Build it with `..Default::default()` for the figures a source does not
/// keep (they export as 0); a source that gives none at all exports none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupStats {
    /// Keys in the map now.
    pub keys: usize,
    /// The most keys the map holds.
    pub capacity: usize,
    /// Members removed to make room for new keys, since the map was made.
    pub evictions: u64,
    /// Lookups of a key not in the map that got the shared overflow breaker
    /// (the map was full and nothing could be evicted), since it was made:
    /// each lookup counts, so a key that comes back counts again.
    pub overflow_lookups: u64,
    /// Sweeps of the full map for members to evict, since it was made.
    pub sweeps: u64,
}

/// One exported member of a group.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Member {
    /// Its `key` label: the key as displayed, control characters replaced by
    /// `U+FFFD`; a key longer than 128 bytes is cut at 109 bytes and ends
    /// with `…` and 16 hex digits of the whole key's hash, so that long keys
    /// stay apart. [`OVERFLOW_KEY`] for the overflow breaker.
    pub key: String,
    /// Whether this is the group's overflow breaker.
    pub overflow: bool,
    /// Its figures (`time_in_state` unknown: members have no
    /// [`OpsListener`](crate::OpsListener)).
    pub snapshot: Snapshot,
}

/// What a group's source fills at each reading: it keeps the members to
/// export and counts the others, so a reading holds at most about twice the
/// limit whatever the number of members.
#[derive(Debug)]
pub struct Members {
    limit: usize,
    kept: Vec<Candidate>,
    listed: usize,
    overflow: Option<Snapshot>,
    stats: Option<GroupStats>,
}

#[derive(Debug)]
struct Candidate {
    /// 0 for a member that needs attention (not Passing, or in an
    /// operator's mode), 1 for the others: the lower is exported first.
    rank: u8,
    key: String,
    snapshot: Snapshot,
}

impl Members {
    fn new(limit: usize) -> Members {
        Members {
            limit,
            kept: Vec::new(),
            listed: 0,
            overflow: None,
            stats: None,
        }
    }

    /// Lists one member: `key` (as it displays) and its breaker.
    pub fn add<C: Clock, const N: usize, L: Listener>(
        &mut self,
        key: &dyn Display,
        breaker: &CircuitBreaker<C, N, L>,
    ) {
        let snapshot = snapshot_of(breaker);
        let m = &snapshot.metrics;
        let calm = m.state == State::Passing && m.mode == Mode::Automatic;
        self.listed += 1;
        self.kept.push(Candidate {
            rank: u8::from(calm),
            key: key_label(key),
            snapshot,
        });
        if self.kept.len() > self.limit.saturating_mul(2) {
            self.trim();
        }
    }

    /// Gives the group's overflow breaker: the one its new members share
    /// when it is full. Always exported, as the member [`OVERFLOW_KEY`].
    pub fn overflow<C: Clock, const N: usize, L: Listener>(
        &mut self,
        breaker: &CircuitBreaker<C, N, L>,
    ) {
        self.overflow = Some(snapshot_of(breaker));
    }

    /// Gives the group's own figures (how full its map is, what it evicted
    /// and sent to overflow), exported besides its members'.
    pub fn stats(&mut self, stats: GroupStats) {
        self.stats = Some(stats);
    }

    /// Keeps the `limit` first members in export order.
    fn trim(&mut self) {
        if self.kept.len() > self.limit {
            self.kept
                .select_nth_unstable_by(self.limit, |a, b| a.order(b));
            self.kept.truncate(self.limit);
        }
    }

    fn finish(mut self) -> GroupView {
        self.trim();
        self.kept.sort_unstable_by(|a, b| a.order(b));
        let mut members = Vec::with_capacity(self.kept.len() + 1);
        let mut seen = HashSet::with_capacity(self.kept.len() + 1);
        if let Some(snapshot) = self.overflow {
            seen.insert(OVERFLOW_KEY.to_owned());
            members.push(Member {
                key: OVERFLOW_KEY.to_owned(),
                overflow: true,
                snapshot,
            });
        }
        let mut exported = 0;
        for c in self.kept {
            // Two series with the same labels would make the scrape invalid:
            // the first in export order is the one shown.
            if seen.insert(c.key.clone()) {
                exported += 1;
                members.push(Member {
                    key: c.key,
                    overflow: false,
                    snapshot: c.snapshot,
                });
            }
        }
        GroupView {
            members,
            hidden: self.listed - exported,
            stats: self.stats,
        }
    }
}

impl Candidate {
    fn order(&self, other: &Candidate) -> std::cmp::Ordering {
        (self.rank, &self.key).cmp(&(other.rank, &other.key))
    }
}

fn snapshot_of<C: Clock, const N: usize, L: Listener>(
    breaker: &CircuitBreaker<C, N, L>,
) -> Snapshot {
    let metrics = breaker.metrics();
    Snapshot {
        metrics,
        config: breaker.config(),
        time_in_state: None,
        // After `metrics`, as in `Breaker::snapshot`.
        clock: breaker.clock().now(),
    }
}

/// The `key` label for a key that comes from outside (see [`Member::key`]):
/// bounded in length however long the key displays, and never a panic (a
/// `Display` that fails leaves what it wrote).
fn key_label(key: &dyn Display) -> String {
    let mut label = LabelWriter {
        label: String::new(),
        full_len: 0,
        hash: DefaultHasher::new(),
    };
    let _ = fmt::write(&mut label, format_args!("{key}"));
    let LabelWriter {
        mut label,
        full_len,
        hash,
    } = label;
    if full_len > MAX_KEY_LABEL {
        let mut end = KEPT_OF_LONG_KEY;
        while !label.is_char_boundary(end) {
            end -= 1;
        }
        label.truncate(end);
        label.push('…');
        label.push_str(&format!("{:016x}", hash.finish()));
    }
    label
}

/// Writes a key's text, keeping at most [`MAX_KEY_LABEL`] bytes of it but
/// hashing all of it.
struct LabelWriter {
    label: String,
    /// The length of the whole text, control characters replaced.
    full_len: usize,
    hash: DefaultHasher,
}

impl fmt::Write for LabelWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.hash.write(s.as_bytes());
        for c in s.chars() {
            // Control characters (a newline, an ANSI escape) in a label
            // would garble the dashboards and terminals that show it.
            let c = if c.is_control() { '\u{FFFD}' } else { c };
            self.full_len += c.len_utf8();
            if self.full_len <= MAX_KEY_LABEL {
                self.label.push(c);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_their_own_labels() {
        assert_eq!(key_label(&"db-1:5432"), "db-1:5432");
        assert_eq!(key_label(&"café \"x\" \\"), "café \"x\" \\");
        assert_eq!(key_label(&""), "");
        assert_eq!(key_label(&"a\nb\u{1b}[31m"), "a\u{FFFD}b\u{FFFD}[31m");
        let exactly = "é".repeat(MAX_KEY_LABEL / 2);
        assert_eq!(key_label(&exactly), exactly);
    }

    #[test]
    fn long_keys_are_cut_and_told_apart_by_their_hash() {
        let a = format!("{}a", "x".repeat(200));
        let b = format!("{}b", "x".repeat(200));
        let (la, lb) = (key_label(&a), key_label(&b));
        assert_ne!(la, lb);
        assert!(la.starts_with(&format!("{}…", "x".repeat(KEPT_OF_LONG_KEY))));
        assert_eq!(la.len(), KEPT_OF_LONG_KEY + 3 + 16);
        assert_eq!(la, key_label(&a), "the same key, the same label");
        // Cut on a character boundary: 'é' is 2 bytes, 109 is odd.
        let accents = "é".repeat(100);
        let label = key_label(&accents);
        assert_eq!(label.len(), KEPT_OF_LONG_KEY - 1 + 3 + 16);
        assert!(label.starts_with(&"é".repeat(KEPT_OF_LONG_KEY / 2)));
    }

    #[test]
    fn a_reading_holds_at_most_twice_the_limit_however_many_members() {
        let clock = breaker_core::MockClock::new();
        let config = breaker_core::Config::new(0.5, std::time::Duration::from_secs(10));
        let breaker: CircuitBreaker<_, 10, _> =
            CircuitBreaker::with_listener(config, &clock, breaker_core::NoListener);
        let mut members = Members::new(3);
        let mut most_kept = 0;
        for i in 0..1_000 {
            members.add(&i, &breaker);
            most_kept = most_kept.max(members.kept.len());
        }
        assert_eq!(most_kept, 6);
        let view = members.finish();
        let keys: Vec<&str> = view.members.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["0", "1", "10"], "the first in key label order");
        assert_eq!(view.hidden, 997);
    }

    #[test]
    fn a_failing_display_leaves_what_it_wrote() {
        struct Failing;
        impl Display for Failing {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("half")?;
                Err(fmt::Error)
            }
        }
        assert_eq!(key_label(&Failing), "half");
    }
}
