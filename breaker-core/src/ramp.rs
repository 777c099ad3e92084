//! The Recovering ramp: the share of calls admitted `e` into Recovering,
//! `p(e) = min(1, 2^(e / recovery_time) - 1)` (aiomisc's curve), in 32-bit
//! fixed point and without floating point.

use crate::div::{div_rem, fraction_q32};

/// 1.0 in the ramp's Q32 fixed point.
pub(crate) const ONE: u64 = 1 << 32;

/// ln 2 in Q32, rounded to nearest.
const LN2: u64 = 2_977_044_472;

/// Terms of the exp series; y <= ln 2, so y^15 / 15! < 2^-44.
const TERMS: u16 = 14;

/// `p(elapsed)` for a ramp lasting `recovery` (> 0), in Q32 (`ONE` = every call).
///
/// `2^x - 1 = e^y - 1` with `y = x ln 2`, summed as the series
/// `y (1 + y/2 (1 + y/3 (1 + ...)))` in Horner form. Each step truncates at
/// most 2^-32, so the result is within about 2^-28 of the exact value: far
/// inside the 0.5 % the contract allows, and exact enough that the credit
/// counter tracks the float sum to well under one call.
///
/// All in `u64` (with [`div`](crate::div)'s divisions): 128-bit arithmetic
/// costs 32-bit MCUs more flash than the rest of the ramp.
pub(crate) fn share(elapsed: u64, recovery: u64) -> u64 {
    if elapsed >= recovery {
        return ONE;
    }
    let x = fraction_q32(elapsed, recovery);
    // x and LN2 are below 2^32: the product fits.
    let y = (x * LN2) >> 32;
    let mut t = ONE;
    for k in (2..=TERMS).rev() {
        t = ONE + div_rem(times(y, t), k).0;
    }
    times(y, t)
}

/// `(y * t) >> 32` for `y < ONE <= t < 2 ONE` without a 128-bit product:
/// `y * ONE >> 32` is `y` exactly, and `y * (t - ONE)` fits a `u64`. Every
/// Horner term `t` lies in `[1, 2)`: it is at most `(e^y - 1) / y <= 1 / ln 2`.
const fn times(y: u64, t: u64) -> u64 {
    y + ((y * (t - ONE)) >> 32)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn exact(x: f64) -> f64 {
        (2f64.powf(x) - 1.0).min(1.0)
    }

    #[test]
    fn matches_the_curve_everywhere() {
        let recovery = 10_000_000_000u64;
        for step in 0..=1000u64 {
            let e = recovery * step / 1000;
            let got = share(e, recovery) as f64 / ONE as f64;
            let want = exact(step as f64 / 1000.0);
            assert!(
                (got - want).abs() <= want * 1e-6 + 1e-8,
                "e={e}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn known_points() {
        let r = 1_000_000;
        assert_eq!(share(0, r), 0);
        assert_eq!(share(r, r), ONE);
        assert_eq!(share(u64::MAX, r), ONE);
        let half = share(r / 2, r) as f64 / ONE as f64;
        assert!((half - (2f64.sqrt() - 1.0)).abs() < 1e-8, "{half}");
    }

    #[test]
    fn is_monotonic() {
        let r = 7_777;
        let mut last = 0;
        for e in 0..=r {
            let p = share(e, r);
            assert!(p >= last);
            last = p;
        }
    }

    /// The ramp as first written, in 128-bit arithmetic: `share` must give
    /// exactly its results, so no layout or target changes a decision.
    fn share_u128(elapsed: u64, recovery: u64) -> u64 {
        if elapsed >= recovery {
            return ONE;
        }
        let one = ONE as u128;
        let x = ((elapsed as u128) << 32) / recovery as u128;
        let y = (x * LN2 as u128) >> 32;
        let mut t = one;
        for k in (2..=TERMS as u128).rev() {
            t = one + ((y * t) >> 32) / k;
        }
        ((y * t) >> 32) as u64
    }

    #[test]
    fn equals_the_128_bit_arithmetic() {
        // Miri interprets each step some thousand times slower.
        let (rounds, small) = if cfg!(miri) { (200, 40) } else { (20_000, 300) };
        let mut n = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..rounds {
            n = n.rotate_left(13) ^ n.wrapping_mul(0xD134_2543_DE82_EF95);
            let recovery = (n >> 12).max(1);
            for elapsed in [0, 1, recovery / 3, recovery / 2, recovery - 1, n % recovery] {
                assert_eq!(
                    share(elapsed, recovery),
                    share_u128(elapsed, recovery),
                    "{elapsed} of {recovery}"
                );
            }
        }
        for recovery in 1..small {
            for elapsed in 0..=recovery {
                assert_eq!(share(elapsed, recovery), share_u128(elapsed, recovery));
            }
        }
    }

    #[test]
    fn tiny_and_huge_ramps() {
        assert_eq!(share(0, 1), 0);
        assert_eq!(share(1, 1), ONE);
        let long = 1u64 << 56;
        let p = share(long / 4, long) as f64 / ONE as f64;
        assert!((p - exact(0.25)).abs() < 1e-8);
    }
}
