//! Rules of the contract that the mutation run (`scripts/mutants.sh`, issue
//! #18) found no test stating: each test here names the rule it holds.
#![cfg(not(loom))]

use breaker_core::Mode;

/// `Mode` prints as the words operators read in logs and on status pages.
#[test]
fn modes_display_as_lowercase_words_and_honour_padding() {
    assert_eq!(Mode::Automatic.to_string(), "automatic");
    assert_eq!(Mode::ForcedOpen.to_string(), "forced open");
    assert_eq!(Mode::Disabled.to_string(), "disabled");
    assert_eq!(format!("[{:>12}]", Mode::Disabled), "[    disabled]");
}

// ---- the sliding window -----------------------------------------------------

use core::time::Duration;

use breaker_core::{CircuitBreaker, Config, MAX_MIN_CALLS, MockClock};

/// A breaker that never trips here, so every outcome stays in one Passing
/// state: window `B` seconds, one second per bucket.
fn never_trips<const B: usize>(clock: &MockClock) -> CircuitBreaker<&MockClock, B> {
    let config = Config::new(1.0, Duration::from_secs(B as u64))
        .passing_time(Duration::ZERO)
        .min_calls(MAX_MIN_CALLS);
    CircuitBreaker::with_buckets(config, clock)
}

/// (window calls, window failures, lifetime successes, lifetime failures)
fn counts<const B: usize>(b: &CircuitBreaker<&MockClock, B>) -> (u64, u64, u64, u64) {
    let m = b.metrics();
    (m.window_calls, m.window_failures, m.successes, m.failures)
}

/// The window holds the outcomes of its last `BUCKETS` buckets only: an
/// outcome leaves it when its bucket does, with any bucket count, and the
/// lifetime totals keep it.
fn an_outcome_leaves_with_its_bucket<const B: usize>() {
    let clock = MockClock::new();
    let b = never_trips::<B>(&clock);
    let s = Duration::from_secs(1);
    let _ = b.call(|| Err::<(), _>(()));
    clock.set((B as u32 - 1) * s); // the last bucket of the first window
    let _ = b.call(|| Ok::<_, ()>(()));
    assert_eq!(counts(&b), (2, 1, 1, 1), "B = {B}: bucket 0 is still in");
    clock.set((B as u32 + 1) * s); // buckets 2 ..= B + 1
    let _ = b.call(|| Ok::<_, ()>(()));
    // Bucket B - 1 is still in from 3 buckets on.
    let want = if B < 3 { (1, 0, 2, 1) } else { (2, 0, 2, 1) };
    assert_eq!(counts(&b), want, "B = {B}: bucket 0 has left");
}

#[test]
fn an_outcome_leaves_the_window_with_its_bucket() {
    an_outcome_leaves_with_its_bucket::<1>();
    an_outcome_leaves_with_its_bucket::<2>();
    an_outcome_leaves_with_its_bucket::<3>();
    an_outcome_leaves_with_its_bucket::<10>();
    an_outcome_leaves_with_its_bucket::<32>();
    an_outcome_leaves_with_its_bucket::<1024>();
}

/// A bucket that traffic skips lap after lap never comes back into the
/// window: 3 buckets, a failure in bucket 0, then successes in every bucket
/// but those of slot 0 for 1100 laps (more than the 1024 laps the slot
/// labels count before they repeat, 16 with 32-bit slots).
#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls: minutes under Miri, and plain arithmetic"
)]
fn a_bucket_that_traffic_skips_never_comes_back() {
    let clock = MockClock::new();
    let b = never_trips::<3>(&clock);
    let s = Duration::from_secs(1);
    let _ = b.call(|| Err::<(), _>(()));
    for lap in 0..1100u32 {
        for k in [1, 2] {
            clock.set((3 * lap + k) * s);
            let _ = b.call(|| Ok::<_, ()>(()));
            let in_window = if lap == 0 { 1 + k } else { 2 };
            let failures = u64::from(lap == 0);
            assert_eq!(
                (counts(&b).0, counts(&b).1),
                (u64::from(in_window), failures),
                "lap {lap}, bucket {k}"
            );
        }
    }
    assert_eq!((counts(&b).2, counts(&b).3), (2200, 1));
}

/// The largest `min_calls` stays reachable however heavy the traffic: a
/// bucket that fills halves both its counts (keeping their ratio) and so
/// always keeps at least `MAX_MIN_CALLS` calls. With `M = MAX_MIN_CALLS` a
/// count holds up to `2M - 1`: of `3M` successes in one bucket, the `2M`-th
/// halves `2M - 1` to `M - 1` before counting itself, and the `3M`-th does the
/// same again, leaving `M` successes. Then the `M`-th failure reaches both
/// `min_calls` (`2M` calls) and the ratio 0.5, and not one failure sooner.
#[test]
#[cfg_attr(
    not(breaker_32bit),
    ignore = "2^26 calls with 64-bit slots; run with --cfg breaker_32bit (2^13)"
)]
#[cfg_attr(miri, ignore = "thousands of calls: minutes under Miri")]
fn the_largest_min_calls_stays_reachable_in_a_full_bucket() {
    let clock = MockClock::new();
    let m = MAX_MIN_CALLS;
    let config = Config::new(0.5, Duration::from_secs(10))
        .passing_time(Duration::ZERO)
        .min_calls(m);
    let b = CircuitBreaker::new(config, &clock);
    for _ in 0..3 * m {
        let _ = b.call(|| Ok::<_, ()>(()));
    }
    assert_eq!(counts(&b), (u64::from(m), 0, 3 * u64::from(m), 0));
    for _ in 1..m {
        let _ = b.call(|| Err::<(), _>(()));
    }
    let before = b.metrics();
    assert_eq!(
        (before.trips, before.window_calls),
        (0, 2 * u64::from(m) - 1)
    );
    let _ = b.call(|| Err::<(), _>(()));
    let after = b.metrics();
    assert_eq!(
        (after.trips, after.successes, after.failures),
        (1, 3 * u64::from(m), u64::from(m))
    );
}

/// Entering any state starts a fresh window, however fast the states follow
/// each other: 16 rounds of Passing, Broken, Recovering inside one bucket
/// bring the state's 4-bit epoch back to where it began, and the outcomes
/// of that first Passing, in an older bucket, stay out.
#[test]
fn a_new_state_starts_with_an_empty_window_after_quick_rounds() {
    let clock = MockClock::new();
    let ns = Duration::from_nanos(1);
    let config = Config::new(0.5, Duration::from_secs(100))
        .broken_time(ns)
        .recovery_time(ns)
        .passing_time(Duration::ZERO)
        .min_calls(1);
    let b = CircuitBreaker::new(config, &clock);
    let _ = b.call(|| Ok::<_, ()>(())); // bucket 0
    clock.set(Duration::from_secs(10)); // bucket 1, from here on
    for round in 0..16 {
        let _ = b.call(|| Err::<(), _>(()));
        assert_eq!(b.state(), breaker_core::State::Broken, "round {round}");
        clock.advance(2 * ns); // the deadline, then the ramp's end
        assert_eq!(b.call(|| Ok::<_, ()>(())), Ok(()));
        assert_eq!(b.state(), breaker_core::State::Passing, "round {round}");
        let m = b.metrics();
        assert_eq!((m.window_calls, m.window_failures), (0, 0), "round {round}");
    }
    assert_eq!(b.metrics().trips, 16);
}

/// An operator's state also starts from an empty window: outcomes recorded
/// while disabled are gone after `reset`, and stay gone when 16 switches
/// later the breaker is disabled again (the same 4-bit epoch, the same
/// bucket).
#[test]
fn operator_switches_leave_no_old_outcome_in_the_window() {
    let clock = MockClock::new();
    let b = CircuitBreaker::new(Config::new(0.5, Duration::from_secs(10)), &clock);
    let disable_after_fifteen_switches = || {
        for _ in 0..7 {
            b.force_open();
            b.reset();
        }
        b.disable();
    };
    let _ = b.state(); // Passing begins
    disable_after_fifteen_switches();
    for _ in 0..3 {
        let _ = b.call(|| Err::<(), _>(()));
    }
    assert_eq!(b.metrics().window_calls, 3);
    b.reset();
    assert_eq!(b.metrics().window_calls, 0);
    disable_after_fifteen_switches();
    let m = b.metrics();
    assert_eq!((m.mode, m.window_calls, m.failures), (Mode::Disabled, 0, 3));
}

// ---- jitter ------------------------------------------------------------------

/// The broken time of a breaker with `config` that trips at `at`.
fn broken_time_of(config: Config, at: Duration) -> Duration {
    let clock = MockClock::new();
    clock.set(at);
    let b = CircuitBreaker::new(config.passing_time(Duration::ZERO).min_calls(1), &clock);
    let _ = b.call(|| Err::<(), _>(()));
    b.retry_after()
}

/// Checks that `times` are spread uniformly over `base ± spread`: nearly
/// all distinct, and each eighth of the range holds its share within a
/// wide margin (the hash is deterministic, so this cannot flake).
fn assert_uniform(times: &[Duration], base: Duration, spread: Duration, what: &str) {
    let n = times.len();
    let distinct: std::collections::BTreeSet<_> = times.iter().collect();
    assert!(
        distinct.len() * 100 >= n * 99,
        "{what}: {} distinct of {n}",
        distinct.len()
    );
    let (lo, width) = (base - spread, 2 * spread);
    let mut bins = [0usize; 8];
    for &t in times {
        assert!(
            t >= lo && t <= base + spread,
            "{what}: {t:?} outside {base:?} +- {spread:?}"
        );
        let bin = ((t - lo).as_nanos() * 8 / (width.as_nanos() + 1)) as usize;
        bins[bin] += 1;
    }
    for count in bins {
        assert!(
            count * 8 > n / 2 && count * 8 < n * 3 / 2,
            "{what}: {bins:?}"
        );
    }
}

/// `jitter` spreads the broken time uniformly over `± fraction` of itself
/// (`Config::jitter`): across a fleet's seeds, and across the nanoseconds at
/// which instances with one seed trip.
#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls: minutes under Miri, and plain arithmetic"
)]
fn jitter_spreads_uniformly_over_seeds_and_trip_times() {
    let base = Duration::from_secs(1);
    let config = Config::new(0.5, Duration::from_secs(10))
        .broken_time(base)
        .jitter(0.5);
    let by_seed: Vec<_> = (0..1024)
        .map(|seed| broken_time_of(config.jitter_seed(seed), base))
        .collect();
    assert_uniform(&by_seed, base, base / 2, "by seed");
    let by_time: Vec<_> = (0..1024u32)
        .map(|k| broken_time_of(config.jitter_seed(7), base + k * Duration::from_nanos(1)))
        .collect();
    assert_uniform(&by_time, base, base / 2, "by trip time");
}

/// Short broken times are spread too: 500 µs ± 20 %.
#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of calls: minutes under Miri, and plain arithmetic"
)]
fn jitter_spreads_broken_times_below_a_millisecond() {
    let base = Duration::from_micros(500);
    let config = Config::new(0.5, Duration::from_secs(10))
        .broken_time(base)
        .jitter(0.2);
    let by_seed: Vec<_> = (0..1024)
        .map(|seed| broken_time_of(config.jitter_seed(seed), Duration::from_secs(1)))
        .collect();
    assert_uniform(&by_seed, base, base / 5, "500 us");
}

// ---- backoff -------------------------------------------------------------------

/// A Passing state is healthy once it has lasted `passing_time + window`
/// (`Config::broken_time_max`); with both at their largest, that is capped
/// just below the 2^53 ns an elapsed time can say, and still reached: a trip
/// at 2^53 - 1 ns starts the backoff again, one at 2^53 - 2 ns does not.
#[test]
fn the_longest_passing_still_becomes_healthy() {
    use breaker_core::{MAX_SPAN, State};
    let s = Duration::from_secs(1);
    let config = Config::new(0.5, MAX_SPAN)
        .passing_time(MAX_SPAN)
        .broken_time(s)
        .broken_time_max(4 * s)
        .recovery_time(s)
        .min_calls(1);
    for (lasted, broken) in [((1u64 << 53) - 1, s), ((1 << 53) - 2, 4 * s)] {
        let clock = MockClock::new();
        let b = CircuitBreaker::new(config, &clock);
        let _ = b.state();
        clock.advance(MAX_SPAN);
        let _ = b.call(|| Err::<(), _>(()));
        assert_eq!(b.retry_after(), s, "the first trip");
        clock.advance(2 * s); // Recovering, and its ramp is over
        let _ = b.call(|| Err::<(), _>(()));
        assert_eq!(b.retry_after(), 2 * s, "a failed recovery doubles");
        clock.advance(3 * s);
        assert_eq!(b.call(|| Ok::<_, ()>(())), Ok(()));
        assert_eq!(b.state(), State::Passing, "level 2 carried");
        clock.advance(Duration::from_nanos(lasted));
        let _ = b.call(|| Err::<(), _>(()));
        assert_eq!(b.retry_after(), broken, "Passing lasted {lasted} ns");
    }
}

// ---- errors, transitions and clocks as users see them ---------------------------

/// `Error` says which of its three cases it is, and as a `std` error its
/// source is the callee's error or the rejection (none for a timeout).
#[cfg(feature = "std")]
#[test]
fn errors_say_what_they_are_and_chain_their_source() {
    use std::error::Error as _;
    let clock = MockClock::new();
    let config = Config::new(0.5, Duration::from_secs(10))
        .passing_time(Duration::ZERO)
        .min_calls(1);
    let b = CircuitBreaker::new(config, &clock);
    let _ = b.call(|| Err::<(), _>(()));
    let rejected = b.call(|| Ok::<_, std::io::Error>(())).unwrap_err();
    let inner = breaker_core::Error::Inner(std::io::Error::other("refused"));
    let timeout = breaker_core::Error::<std::io::Error>::Timeout;
    assert_eq!(
        (rejected.is_broken(), inner.is_broken(), timeout.is_broken()),
        (true, false, false)
    );
    assert_eq!(
        (
            rejected.is_timeout(),
            inner.is_timeout(),
            timeout.is_timeout()
        ),
        (false, false, true)
    );
    assert_eq!(
        inner.source().map(|e| e.to_string()).as_deref(),
        Some("refused")
    );
    assert_eq!(
        rejected.source().map(|e| e.to_string()),
        Some(rejected.broken().unwrap().to_string())
    );
    assert!(timeout.source().is_none());
}

/// A transition prints as "from -> to", an operator's mode in place of the
/// state it stands for, and an automatic Broken with its duration.
#[test]
fn transitions_display_in_short_form() {
    use std::cell::RefCell;
    let clock = MockClock::new();
    let heard = RefCell::new(Vec::new());
    let config = Config::new(0.5, Duration::from_secs(10))
        .broken_time(Duration::from_secs(5))
        .passing_time(Duration::ZERO)
        .min_calls(1);
    let b =
        CircuitBreaker::<_, 10, _>::with_listener(config, &clock, |t: breaker_core::Transition| {
            heard.borrow_mut().push(t.to_string())
        });
    let _ = b.call(|| Err::<(), _>(()));
    b.force_open();
    b.disable();
    b.reset();
    assert_eq!(
        *heard.borrow(),
        [
            "passing -> broken for 5s",
            "broken -> forced open",
            "forced open -> disabled",
            "disabled -> passing",
        ]
    );
}

/// `Nanos::from_duration` saturates: a `Duration` past 2^64 ns reads as the
/// clock's end, as `MockClock::set` documents for a clock that cannot go
/// further.
#[test]
fn durations_past_the_clocks_end_saturate() {
    use breaker_core::{Clock, Nanos};
    let end = Duration::from_nanos(u64::MAX);
    assert_eq!(Nanos::from_duration(end).as_nanos(), u64::MAX);
    assert_eq!(
        Nanos::from_duration(end + Duration::from_nanos(1)),
        Nanos::MAX
    );
    assert_eq!(Nanos::from_duration(Duration::MAX), Nanos::MAX);
    let clock = MockClock::new();
    clock.set(Duration::MAX);
    assert_eq!(clock.now(), Nanos::MAX);
}

/// `StdClock` reads positive times (its origin lies before the first
/// reading) that never go back.
#[cfg(feature = "std")]
#[test]
fn the_std_clock_reads_positive_times_that_never_go_back() {
    use breaker_core::{Clock, Nanos, StdClock};
    let first = StdClock.now();
    assert!(first > Nanos::ZERO, "{first:?}");
    assert!(StdClock::new().now() >= first);
}

/// The listeners that write a breaker's transitions somewhere keep the name
/// they were given, for every line they write.
#[cfg(feature = "defmt")]
#[test]
fn the_defmt_listener_keeps_its_name() {
    assert_eq!(breaker_core::DefmtListener::new("modem").name(), "modem");
}

/// As above, for `TracingListener`.
#[cfg(feature = "tracing")]
#[test]
fn the_tracing_listener_keeps_its_name() {
    assert_eq!(breaker_core::TracingListener::new("db").name(), "db");
}
