//! The standard normal distribution: density and cumulative distribution.
//!
//! The CDF is `erfc(-x/√2)/2` using `libm`'s erfc (the FreeBSD msun implementation,
//! accurate to about 1 ulp), which keeps full relative precision in both tails. This is
//! not a general statistics module.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// φ(x): the standard normal probability density.
pub fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// N(x): the standard normal cumulative distribution.
pub fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_and_pdf_match_known_values() {
        // Values from standard tables (scipy.stats.norm).
        let cases = [
            (0.0, 0.5, 0.398_942_280_401_432_7),
            (1.0, 0.841_344_746_068_542_9, 0.241_970_724_519_143_37),
            (-1.96, 0.024_997_895_148_220_435, 0.058_440_944_333_451_47),
            (3.0, 0.998_650_101_968_369_9, 0.004_431_848_411_938_008),
        ];
        for (x, n, phi) in cases {
            assert!((cdf(x) - n).abs() < 1e-15, "cdf({x}) = {}", cdf(x));
            assert!((pdf(x) - phi).abs() < 1e-15, "pdf({x}) = {}", pdf(x));
        }
        // The far tail keeps relative precision.
        let tail = cdf(-10.0);
        assert!(
            (tail / 7.619_853_024_160_527e-24 - 1.0).abs() < 1e-12,
            "{tail}"
        );
    }
}
