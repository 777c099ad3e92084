//! The Recovering ramp: the share of calls admitted `e` into Recovering,
//! `p(e) = min(1, 2^(e / recovery_time) - 1)` (aiomisc's curve), in 32-bit
//! fixed point and without floating point.

/// 1.0 in the ramp's Q32 fixed point.
pub(crate) const ONE: u64 = 1 << 32;

/// ln 2 in Q32, rounded to nearest.
const LN2: u128 = 2_977_044_472;

/// Terms of the exp series; y <= ln 2, so y^15 / 15! < 2^-44.
const TERMS: usize = 14;

/// `ceil(2^64 / k)` for the series' divisors `k`, so that each term divides by
/// a multiply: `n / k == (n * RECIPROCALS[k]) >> 64` exactly for the `n < 2^40`
/// that occur here (the rounding error of the reciprocal is below `k / 2^64`).
const RECIPROCALS: [u128; TERMS + 1] = {
    let mut table = [0u128; TERMS + 1];
    let mut k = 1;
    while k <= TERMS {
        table[k] = (1u128 << 64).div_ceil(k as u128);
        k += 1;
    }
    table
};

/// `p(elapsed)` for a ramp lasting `recovery` (> 0), in Q32 (`ONE` = every call).
///
/// `2^x - 1 = e^y - 1` with `y = x ln 2`, summed as the series
/// `y (1 + y/2 (1 + y/3 (1 + ...)))` in Horner form. Each step truncates at
/// most 2^-32, so the result is within about 2^-28 of the exact value: far
/// inside the 0.5 % the contract allows, and exact enough that the credit
/// counter tracks the float sum to well under one call.
pub(crate) fn share(elapsed: u64, recovery: u64) -> u64 {
    if elapsed >= recovery {
        return ONE;
    }
    let one = ONE as u128;
    let x = ((elapsed as u128) << 32) / recovery as u128;
    let y = (x * LN2) >> 32;
    let mut t = one;
    for k in (2..=TERMS).rev() {
        t = one + ((((y * t) >> 32) * RECIPROCALS[k]) >> 64);
    }
    ((y * t) >> 32) as u64
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

    #[test]
    fn reciprocals_divide_exactly() {
        for (k, &reciprocal) in RECIPROCALS.iter().enumerate().skip(2) {
            let k = k as u128;
            for n in [0, 1, k - 1, k, (1 << 34) + 7, (1 << 40) - 1] {
                assert_eq!((n * reciprocal) >> 64, n / k, "{n} / {k}");
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
