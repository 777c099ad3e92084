//! What this instance knows of the fleet: who is alive, and who reports
//! which breaker Broken until when. Pure data, so the quorum rule is tested
//! without Redis.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Quorum;

/// The table was full; the entry was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

#[derive(Debug)]
pub(crate) struct View {
    /// breaker -> instance -> end of its Broken report.
    reports: HashMap<String, HashMap<String, Instant>>,
    reports_len: usize,
    /// instance -> end of its last sign of life.
    live: HashMap<String, Instant>,
    max_entries: usize,
}

impl View {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            reports: HashMap::new(),
            reports_len: 0,
            live: HashMap::new(),
            max_entries,
        }
    }

    pub(crate) fn set_report(
        &mut self,
        breaker: &str,
        instance: &str,
        until: Instant,
    ) -> Result<(), Full> {
        if let Some(slot) = self
            .reports
            .get_mut(breaker)
            .and_then(|r| r.get_mut(instance))
        {
            *slot = until;
            return Ok(());
        }
        if self.reports_len >= self.max_entries {
            return Err(Full);
        }
        self.reports
            .entry(breaker.to_owned())
            .or_default()
            .insert(instance.to_owned(), until);
        self.reports_len += 1;
        Ok(())
    }

    pub(crate) fn clear_report(&mut self, breaker: &str, instance: &str) {
        if let Some(reports) = self.reports.get_mut(breaker) {
            if reports.remove(instance).is_some() {
                self.reports_len -= 1;
            }
            if reports.is_empty() {
                self.reports.remove(breaker);
            }
        }
    }

    pub(crate) fn note_alive(&mut self, instance: &str, until: Instant) -> Result<(), Full> {
        if let Some(slot) = self.live.get_mut(instance) {
            *slot = (*slot).max(until);
            return Ok(());
        }
        if self.live.len() >= self.max_entries {
            return Err(Full);
        }
        self.live.insert(instance.to_owned(), until);
        Ok(())
    }

    /// Replaces the live set with one just read from the alive keys.
    pub(crate) fn replace_live(&mut self, live: HashMap<String, Instant>) {
        self.live = live;
    }

    /// Forgets what has ended by `now`.
    pub(crate) fn prune(&mut self, now: Instant) {
        self.live.retain(|_, until| *until > now);
        self.reports.retain(|_, reports| {
            reports.retain(|_, until| *until > now);
            !reports.is_empty()
        });
        self.reports_len = self.reports.values().map(HashMap::len).sum();
    }

    pub(crate) fn live_count(&self, now: Instant) -> usize {
        self.live.values().filter(|until| **until > now).count()
    }

    /// The live instances' reports on `breaker` still running at `now`,
    /// as their ends, leaving out `except`'s.
    fn live_reports(&self, breaker: &str, now: Instant, except: Option<&str>) -> Vec<Instant> {
        let Some(reports) = self.reports.get(breaker) else {
            return Vec::new();
        };
        reports
            .iter()
            .filter(|(instance, until)| {
                **until > now
                    && except != Some(instance.as_str())
                    && self.live.get(*instance).is_some_and(|l| *l > now)
            })
            .map(|(_, until)| *until)
            .collect()
    }

    pub(crate) fn broken_reporters(&self, breaker: &str, now: Instant) -> usize {
        self.live_reports(breaker, now, None).len()
    }

    /// How long the quorum on `breaker` lasts from `now` as the instance
    /// `me` sees it, if there is one.
    ///
    /// With `q` reports needed, that is the `q`-th longest remaining time:
    /// the moment fewer than `q` live instances still say Broken. One report
    /// claiming an outlandish time (up to `q - 1` of them) cannot stretch it.
    ///
    /// `me`'s own report is left out (the live count still counts `me`):
    /// advice is for a breaker that is not Broken, and then its own report
    /// is stale, its end not yet heard by the fleet's task. Counted, it
    /// would let an instance that just recovered advise itself Broken
    /// again on its own old word.
    pub(crate) fn quorum(
        &self,
        breaker: &str,
        rule: Quorum,
        now: Instant,
        me: &str,
    ) -> Option<Duration> {
        let mut ends = self.live_reports(breaker, now, Some(me));
        let needed = rule.needed(self.live_count(now));
        if ends.len() < needed {
            return None;
        }
        ends.sort_unstable_by(|a, b| b.cmp(a));
        Some(ends[needed - 1] - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn fleet(now: Instant, live: &[&str]) -> View {
        let mut view = View::new(100);
        for instance in live {
            view.note_alive(instance, now + secs(3)).unwrap();
        }
        view
    }

    #[test]
    fn one_report_never_forms_a_quorum() {
        let now = Instant::now();
        let mut view = fleet(now, &["a", "b", "c"]);
        view.set_report("db", "a", now + secs(30)).unwrap();
        assert_eq!(view.quorum("db", Quorum::share(0.5), now, "me"), None);
        assert_eq!(view.quorum("db", Quorum::share(0.0), now, "me"), None);
    }

    #[test]
    fn the_quorum_lasts_until_too_few_reports_remain() {
        let now = Instant::now();
        let mut view = fleet(now, &["a", "b", "c", "d", "e"]);
        view.set_report("db", "a", now + secs(5)).unwrap();
        view.set_report("db", "b", now + secs(50_000)).unwrap();
        assert_eq!(
            view.quorum("db", Quorum::share(0.5), now, "me"),
            None,
            "2 of 5 is below half"
        );
        view.set_report("db", "c", now + secs(8)).unwrap();
        // Three needed: the third-longest report (5 s) ends the quorum; b's
        // 50,000 s changes nothing.
        assert_eq!(
            view.quorum("db", Quorum::share(0.5), now, "me"),
            Some(secs(5))
        );
        assert_eq!(
            view.quorum("db", Quorum::count(2), now, "me"),
            Some(secs(8))
        );
        assert_eq!(view.quorum("other", Quorum::count(2), now, "me"), None);
        view.clear_report("db", "c");
        assert_eq!(view.quorum("db", Quorum::share(0.5), now, "me"), None);
    }

    #[test]
    fn an_instance_is_never_advised_on_its_own_report() {
        let now = Instant::now();
        let mut view = fleet(now, &["a", "b", "c"]);
        view.set_report("db", "a", now + secs(30)).unwrap();
        view.set_report("db", "b", now + secs(30)).unwrap();
        assert_eq!(view.broken_reporters("db", now), 2);
        assert_eq!(
            view.quorum("db", Quorum::count(2), now, "c"),
            Some(secs(30))
        );
        // a's breaker has recovered, but its task has not yet heard it: a
        // and b would be a quorum, but not for a.
        assert_eq!(view.quorum("db", Quorum::count(2), now, "a"), None);
    }

    #[test]
    fn dead_instances_and_ended_reports_do_not_count() {
        let now = Instant::now();
        let mut view = fleet(now, &["a", "b", "c"]);
        view.set_report("db", "a", now + secs(30)).unwrap();
        view.set_report("db", "ghost", now + secs(30)).unwrap();
        assert_eq!(view.broken_reporters("db", now), 1);
        view.set_report("db", "b", now + secs(1)).unwrap();
        assert_eq!(
            view.quorum("db", Quorum::count(2), now, "me"),
            Some(secs(1))
        );
        assert_eq!(
            view.quorum("db", Quorum::count(2), now + secs(1), "me"),
            None,
            "b's report ended"
        );
        // Later, the alive keys are read again: c is gone, and so is a.
        view.replace_live(HashMap::from([("b".to_owned(), now + secs(9))]));
        assert_eq!(view.broken_reporters("db", now), 1);
        view.prune(now + secs(2));
        assert_eq!(
            view.reports_len, 2,
            "a's and ghost's reports run on; b's ended"
        );
        assert_eq!(view.live_count(now + secs(2)), 1);
    }

    #[test]
    fn tables_are_bounded() {
        let now = Instant::now();
        let mut view = View::new(2);
        view.set_report("db", "a", now + secs(1)).unwrap();
        view.set_report("db", "b", now + secs(1)).unwrap();
        assert_eq!(view.set_report("db", "c", now + secs(1)), Err(Full));
        assert_eq!(
            view.set_report("db", "a", now + secs(2)),
            Ok(()),
            "an update takes no room"
        );
        view.clear_report("db", "a");
        assert_eq!(view.set_report("cache", "c", now + secs(1)), Ok(()));
        view.note_alive("a", now).unwrap();
        view.note_alive("b", now).unwrap();
        assert_eq!(view.note_alive("c", now), Err(Full));
    }
}
