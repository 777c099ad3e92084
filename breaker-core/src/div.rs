//! `u64` division on the paths a call takes, in one place: by a small divisor
//! (a window's bucket ring, a jittered broken time), into a Q32 fraction
//! (the Recovering ramp), and the 128-bit product's high half that replaces
//! division by the bucket width.
//!
//! 64-bit targets divide natively (by a constant, a multiply). 32-bit MCUs have
//! no 64-bit division instruction: there `n / d` would link compiler-builtins'
//! `u64_div_rem` (about 0.9 KiB of flash on thumbv7m) and run it on every
//! call, so the quotient is built from four 32-bit divisions instead, one per
//! 16 bits of `n`, each a single instruction on Cortex-M3/M4.
//! `--cfg breaker_32bit` selects that path on a host, so the host test suite
//! proves it.

use core::time::Duration;

/// Whether `u64` (and `u128`) division must be avoided here: on 32-bit
/// targets, and on a host built with `--cfg breaker_32bit`. The one place the
/// rule is written; the functions below branch on it, and the compiler drops
/// the branch not taken.
const NARROW: bool = cfg!(any(not(target_pointer_width = "64"), breaker_32bit));

/// `(n / d, n % d)`. `d` is not zero (the callers divide by constants and by
/// the bucket count, which `Config` keeps in `1..=MAX_BUCKETS`).
#[inline(always)]
pub(crate) const fn div_rem(n: u64, d: u16) -> (u64, u64) {
    if NARROW {
        by_halfwords(n, d)
    } else {
        (n / d as u64, n % d as u64)
    }
}

/// `Duration::from_nanos(n)`, whose division by 10^9 is a `u64` division:
/// here 10^9 = 2^9 * 15625 * 125, three steps [`div_rem`] can take. Out of
/// line on 32-bit targets: rejections and transitions share one copy.
#[cfg_attr(any(not(target_pointer_width = "64"), breaker_32bit), inline(never))]
pub(crate) const fn duration_from_nanos(n: u64) -> Duration {
    if NARROW {
        let seconds = div_rem(div_rem(n >> 9, 15_625).0, 125).0;
        // The remainder is below 10^9 already; saying so (`%` by a constant
        // is a multiply) drops `Duration::new`'s carry into the seconds and
        // its overflow panic, whose message and formatting would be linked
        // (1.1 KiB of flash on riscv32imc, 0.15 KiB on thumbv7m).
        let nanos = (n - seconds * 1_000_000_000) as u32 % 1_000_000_000;
        Duration::new(seconds, nanos)
    } else {
        Duration::from_nanos(n)
    }
}

/// `floor(n * 2^32 / d)` for `n < d`: the fraction `n / d` in Q32.
///
/// 64-bit targets divide a `u128` natively. On 32-bit ones that division is
/// a 128-bit routine the compiler expands inline (0.6 KiB of flash on
/// thumbv7m), so the 32 quotient bits come from restoring division instead:
/// a loop of shifts and subtractions, exact, and short enough for the
/// Recovering path that runs it.
#[inline(always)]
pub(crate) const fn fraction_q32(n: u64, d: u64) -> u64 {
    if NARROW {
        by_restoring(n, d)
    } else {
        (((n as u128) << 32) / d as u128) as u64
    }
}

/// The high 64 bits of the 128-bit product `a * b`.
///
/// 64-bit hosts multiply a `u128` (one instruction). Where [`NARROW`], the
/// four 32-bit partial products are summed by hand, out of line: the
/// compiler's inline 128-bit multiply is longer, and the bucket of a time and
/// the jitter of a broken time share this one copy.
#[cfg_attr(any(not(target_pointer_width = "64"), breaker_32bit), inline(never))]
pub(crate) const fn mul_high(a: u64, b: u64) -> u64 {
    if NARROW {
        let (a_low, a_high) = (a & 0xFFFF_FFFF, a >> 32);
        let (b_low, b_high) = (b & 0xFFFF_FFFF, b >> 32);
        // Each sum fits: (2^32 - 1)^2 + 2 (2^32 - 1) = 2^64 - 1.
        let low = a_low * b_low;
        let middle = a_high * b_low + (low >> 32);
        let other = a_low * b_high + (middle & 0xFFFF_FFFF);
        a_high * b_high + (middle >> 32) + (other >> 32)
    } else {
        ((a as u128 * b as u128) >> 64) as u64
    }
}

/// [`fraction_q32`] one quotient bit at a time: `remainder` stays below `d`,
/// so doubling it never overflows (`d <= 2^63`).
const fn by_restoring(n: u64, d: u64) -> u64 {
    let (mut quotient, mut remainder) = (0u64, n);
    let mut bit = 0;
    while bit < 32 {
        remainder <<= 1;
        quotient <<= 1;
        if remainder >= d {
            remainder -= d;
            quotient |= 1;
        }
        bit += 1;
    }
    quotient
}

/// Long division, 16 bits of `n` at a time: the remainder so far is below `d`
/// (< 2^16), so it and the next 16 bits fit a `u32`.
///
/// Out of line: one copy of the loop is smaller than one per caller.
#[inline(never)]
const fn by_halfwords(n: u64, d: u16) -> (u64, u64) {
    // `d` is never 0 (see `div_rem`); saying so lets the compiler drop the
    // division-by-zero panic and its message.
    let d = if d == 0 { 1 } else { d as u32 };
    let (mut quotient, mut remainder) = (0u64, 0u32);
    let mut shift = 64;
    while shift > 0 {
        shift -= 16;
        let part = (remainder << 16) | ((n >> shift) as u32 & 0xFFFF);
        quotient = (quotient << 16) | (part / d) as u64;
        remainder = part % d;
    }
    (quotient, remainder as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_halfwords_is_division() {
        let divisors = [1u16, 2, 3, 7, 10, 15_625, 1024, u16::MAX];
        let mut n = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            n = n.rotate_left(7) ^ n.wrapping_mul(0xD134_2543_DE82_EF95);
            for d in divisors {
                for x in [n, n >> 17, n >> 40, u64::MAX, 0, d as u64 - 1, d as u64] {
                    let want = (x / d as u64, x % d as u64);
                    assert_eq!(by_halfwords(x, d), want, "{x} / {d}");
                    assert_eq!(div_rem(x, d), want, "{x} / {d}");
                    assert_eq!(duration_from_nanos(x), Duration::from_nanos(x), "{x}");
                }
            }
        }
    }

    #[test]
    fn mul_high_is_the_high_half_of_the_128_bit_product() {
        let exact = |a: u64, b: u64| ((a as u128 * b as u128) >> 64) as u64;
        for (a, b) in [
            (0, 0),
            (u64::MAX, u64::MAX),
            (u64::MAX, 1),
            (1 << 32, 1 << 32),
        ] {
            assert_eq!(mul_high(a, b), exact(a, b), "{a} * {b}");
        }
        let mut n = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..1000 {
            n = n.rotate_left(13) ^ n.wrapping_mul(0xD134_2543_DE82_EF95);
            let (a, b) = (n, n.rotate_left(29) >> (n % 64));
            assert_eq!(mul_high(a, b), exact(a, b), "{a} * {b}");
        }
    }

    #[test]
    fn by_restoring_is_the_q32_fraction() {
        let rounds = if cfg!(miri) { 200 } else { 20_000 };
        let mut n = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..rounds {
            n = n.rotate_left(11) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let d = (n >> 11).max(1);
            for (x, d) in [
                (n >> 12, d),
                (d - 1, d),
                (0, d),
                (d / 2, d),
                (1, 3),
                (1 << 51, 1 << 52),
            ] {
                if x < d {
                    let want = (((x as u128) << 32) / d as u128) as u64;
                    assert_eq!(by_restoring(x, d), want, "{x} / {d}");
                    assert_eq!(fraction_q32(x, d), want, "{x} / {d}");
                }
            }
        }
    }
}
