//! [`EmbassyClock`]: the breaker's [`Clock`] on embassy-time's tick counter.

use breaker_core::{Clock, Nanos};
use embassy_time::{Instant, TICK_HZ};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A [`Clock`] on [`embassy_time::Instant`]: the time driver's tick counter,
/// converted to nanoseconds since the driver's zero (usually boot).
///
/// Zero-sized and `const`-constructible, so a breaker on it can be a `static`.
/// The conversion is exact integer arithmetic for any `TICK_HZ` (no floating
/// point, no rounding drift) and saturates instead of overflowing: nanoseconds
/// run out after about 584 years of uptime, long after any tick counter.
///
/// [`Clock::RESOLUTION`] is one tick, rounded up to whole nanoseconds (1 µs at
/// embassy's default 1 MHz, 1 ms at `tick-hz-1_000`); a breaker refuses a
/// window whose buckets would be shorter than that.
///
/// It reads whatever time driver the final binary links; this crate selects
/// none.
///
/// # Examples
///
/// ```
/// use breaker_embassy::{Clock, EmbassyClock, Nanos};
/// use embassy_time::Instant;
///
/// // With embassy's default 1 MHz tick, one tick is 1 µs.
/// assert_eq!(EmbassyClock::RESOLUTION, Nanos::from_nanos(1_000));
/// assert_eq!(EmbassyClock::since_origin(Instant::from_ticks(3)), Nanos::from_nanos(3_000));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EmbassyClock;

impl EmbassyClock {
    /// The clock (it has no state: every `EmbassyClock` reads the same driver).
    pub const fn new() -> EmbassyClock {
        EmbassyClock
    }

    /// `instant` as [`Nanos`] since the time driver's zero, saturating.
    pub const fn since_origin(instant: Instant) -> Nanos {
        Nanos::from_nanos(TICKS.to_nanos(instant.as_ticks()))
    }

    /// The number of ticks that covers at least `nanos`: a deadline this many
    /// ticks away is never early by [`EmbassyClock`]'s reading.
    pub(crate) const fn ticks_covering(nanos: u64) -> u64 {
        TICKS.to_ticks_ceil(nanos)
    }
}

impl Clock for EmbassyClock {
    const RESOLUTION: Nanos = Nanos::from_nanos(TICKS.tick_nanos_ceil());

    /// Out of line: the breaker reads its clock from a dozen places, and on a
    /// 32-bit MCU each inlined copy of the driver call and the 64-bit tick
    /// conversion costs flash (about 0.7 KiB in all on thumbv7m, `size.sh`);
    /// the call costs a few cycles next to the driver's critical section.
    #[inline(never)]
    fn now(&self) -> Nanos {
        Self::since_origin(Instant::now())
    }
}

/// The tick length `1e9 / hz` ns as a reduced fraction `num / den`.
///
/// Reducing keeps the products below small (`den` is 1 for any `hz` dividing
/// 1 GHz; 64 with `num` 1953125 for 32 768 Hz), so the conversions split a
/// value into whole periods of `den` ticks (exactly `num` ns each) plus a
/// remainder whose product fits in 64 bits, and fall back to 128 bits only for
/// tick rates where it would not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TickRatio {
    num: u64,
    den: u64,
}

/// The ratio for the linked `TICK_HZ`, computed at compile time.
const TICKS: TickRatio = TickRatio::new(TICK_HZ);

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

/// `a * b / c` for `a < c`, rounded down (`round_up` false) or up.
const fn mul_div(a: u64, b: u64, c: u64, round_up: bool) -> u64 {
    match a.checked_mul(b) {
        Some(p) => p / c + (round_up && !p.is_multiple_of(c)) as u64,
        None => {
            let p = a as u128 * b as u128;
            (p / c as u128) as u64 + (round_up && !p.is_multiple_of(c as u128)) as u64
        }
    }
}

impl TickRatio {
    pub(crate) const fn new(hz: u64) -> TickRatio {
        assert!(hz > 0, "TICK_HZ must be positive");
        let g = gcd(NANOS_PER_SEC, hz);
        TickRatio {
            num: NANOS_PER_SEC / g,
            den: hz / g,
        }
    }

    /// `ticks` in nanoseconds, rounded down, saturating at `u64::MAX`.
    pub(crate) const fn to_nanos(self, ticks: u64) -> u64 {
        let whole = (ticks / self.den).saturating_mul(self.num);
        // `rest < num`, so only the sum can saturate.
        let rest = mul_div(ticks % self.den, self.num, self.den, false);
        whole.saturating_add(rest)
    }

    /// The fewest ticks lasting at least `nanos`, saturating at `u64::MAX`.
    pub(crate) const fn to_ticks_ceil(self, nanos: u64) -> u64 {
        let whole = (nanos / self.num).saturating_mul(self.den);
        let rest = mul_div(nanos % self.num, self.den, self.num, true);
        whole.saturating_add(rest)
    }

    /// One tick in nanoseconds, rounded up, at least 1.
    pub(crate) const fn tick_nanos_ceil(self) -> u64 {
        self.num.div_ceil(self.den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tick_rate_is_one_microsecond() {
        // The dev-dependency's mock driver runs at 1 MHz.
        assert_eq!(TICK_HZ, 1_000_000);
        assert_eq!(EmbassyClock::RESOLUTION, Nanos::from_nanos(1_000));
        assert_eq!(EmbassyClock::ticks_covering(1), 1);
        assert_eq!(EmbassyClock::ticks_covering(2_000), 2);
        assert_eq!(EmbassyClock::ticks_covering(2_001), 3);
    }

    #[test]
    fn conversions_are_exact_for_common_rates() {
        let khz = TickRatio::new(1_000);
        assert_eq!(khz.to_nanos(1_500), 1_500_000_000);
        assert_eq!(khz.to_ticks_ceil(1_000_000), 1);
        assert_eq!(khz.to_ticks_ceil(1_000_001), 2);
        assert_eq!(khz.tick_nanos_ceil(), 1_000_000);

        // 32 768 Hz: a tick is 30517.578125 ns.
        let rtc = TickRatio::new(32_768);
        assert_eq!(rtc.to_nanos(32_768), 1_000_000_000);
        assert_eq!(rtc.to_nanos(1), 30_517);
        assert_eq!(rtc.to_nanos(3), 91_552); // 91552.734375
        assert_eq!(rtc.to_ticks_ceil(30_517), 1);
        assert_eq!(rtc.to_ticks_ceil(30_518), 2);
        assert_eq!(rtc.tick_nanos_ceil(), 30_518);

        // Faster than 1 GHz: ticks are shorter than a nanosecond.
        let fast = TickRatio::new(5_242_880_000);
        assert_eq!(fast.to_nanos(5_242_880_000), 1_000_000_000);
        assert_eq!(fast.tick_nanos_ceil(), 1);
        assert_eq!(fast.to_ticks_ceil(1_000_000_000), 5_242_880_000);
    }

    #[test]
    fn conversions_stay_exact_where_the_products_pass_64_bits() {
        // 19 999 999 999 Hz is coprime to 1 GHz, so nothing reduces: a
        // remainder times the other term passes 2^64 and takes the 128-bit
        // path, which must round exactly as the 64-bit one.
        let odd = TickRatio::new(19_999_999_999);
        assert_eq!(odd.to_nanos(19_999_999_998), 999_999_999); // 999999999.95
        assert_eq!(odd.to_nanos(39_999_999_997), 1_999_999_999);
        assert_eq!(odd.to_ticks_ceil(999_999_999), 19_999_999_980); // ...979.99
        assert_eq!(odd.to_ticks_ceil(1_000_000_001), 20_000_000_019);
    }

    #[test]
    fn rounding_never_makes_a_deadline_early() {
        for hz in [1, 3, 1_000, 32_768, 1_000_000, 48_000_000, 1_000_000_007] {
            let r = TickRatio::new(hz);
            for nanos in [0, 1, 999, 30_517, 1_000_000_000, 123_456_789_012] {
                let ticks = r.to_ticks_ceil(nanos);
                assert!(r.to_nanos(ticks) >= nanos, "hz {hz} nanos {nanos}");
                if ticks > 0 {
                    assert!(r.to_nanos(ticks - 1) < nanos, "hz {hz} nanos {nanos}");
                }
            }
        }
    }

    #[test]
    fn long_uptimes_do_not_overflow() {
        // A prime tick rate near 1 GHz needs the 128-bit path.
        let odd = TickRatio::new(1_000_000_007);
        assert_eq!(odd.to_nanos(1_000_000_007 * 3_600), 3_600_000_000_000);
        assert_eq!(odd.to_nanos(u64::MAX), 18_446_743_944_582_344_002);
        let mhz = TickRatio::new(1_000_000);
        // 2^64 µs is past 2^64 ns: saturate rather than wrap.
        assert_eq!(mhz.to_nanos(u64::MAX), u64::MAX);
        assert_eq!(
            mhz.to_nanos(10 * 365 * 24 * 3_600 * 1_000_000),
            315_360_000_000_000_000
        );
        assert_eq!(mhz.to_ticks_ceil(u64::MAX), 18_446_744_073_709_552);
    }
}
