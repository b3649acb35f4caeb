//! The standard normal distribution: density φ and cumulative distribution N.
//!
//! N is W. J. Cody's rational Chebyshev approximation ("Rational Chebyshev
//! approximations for the error function", Math. Comp. 1969; the `anorm` routine of
//! netlib's SPECFUN, which R's `pnorm` also uses): a rational function of x² near the
//! centre, and beyond it a rational function of |x| (of 1/x² past √32) times
//! e^(−x²/2), so both tails keep full relative precision. Relative error is about
//! 1e-15 (`libm`'s erfc, which it replaced, took twice the time; the normal CDF is
//! most of the cost of the implied-volatility solver).
//!
//! Black–Scholes needs N(d1), N(d2) and φ(d1) together, and φ(d2) follows from φ(d1)
//! without another exponential; [`cdf_and_complement`] takes the density a caller
//! already has, so a pricing costs one exponential. This is not a general statistics module.
#![expect(
    clippy::excessive_precision,
    reason = "the coefficients are kept digit for digit as Cody published them"
)]

/// 1/√(2π).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_677_939_946_059_934;
/// √(2π).
const SQRT_2PI: f64 = 2.506_628_274_631_000_502_415_765_284_811;
/// Below this |x| (N(x) = 3/4), N is a rational function of x² alone.
const CENTRAL: f64 = 0.674_489_75;
/// √32: past this |x| the tail uses the asymptotic form in 1/x².
const ROOT_32: f64 = 5.656_854_249_492_380_195_206_754_896_838;

const A: [f64; 5] = [
    2.235_252_035_460_683_928_7,
    161.028_231_068_555_878_81,
    1_067.689_485_460_370_958_2,
    18_154.981_253_343_561_249,
    0.065_682_337_918_207_449_113,
];
const B: [f64; 4] = [
    47.202_581_904_688_241_87,
    976.098_551_737_776_693_22,
    10_260.932_208_618_978_205,
    45_507.789_335_026_729_956,
];
const C: [f64; 9] = [
    0.398_941_512_088_134_667_64,
    8.883_149_794_388_375_941_2,
    93.506_656_132_177_855_979,
    597.270_276_394_800_262_26,
    2_494.537_585_290_372_671_1,
    6_848.190_450_536_282_332_6,
    11_602.651_437_647_350_124,
    9_842.714_838_383_978_021_8,
    1.076_557_677_372_019_231_7e-8,
];
const D: [f64; 8] = [
    22.266_688_044_328_115_691,
    235.387_901_782_624_998_61,
    1_519.377_599_407_554_805,
    6_485.558_298_266_760_755,
    18_615.571_640_885_098_091,
    34_900.952_721_145_977_266,
    38_912.003_286_093_271_411,
    19_685.429_676_859_990_727,
];
const P: [f64; 6] = [
    0.215_898_534_057_956_99,
    0.127_401_161_160_247_363_9,
    0.022_235_277_870_649_807,
    0.001_421_619_193_227_893_466,
    2.911_287_495_116_879_2e-5,
    0.023_073_441_764_940_173_03,
];
const Q: [f64; 5] = [
    1.284_260_096_144_911_21,
    0.468_238_212_480_865_118,
    0.065_988_137_868_928_551_5,
    0.003_782_396_332_027_582_44,
    7.297_515_550_839_662_05e-5,
];

/// φ(x): the standard normal probability density.
pub fn pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// `(N(x), N(−x))` when the caller already has `density` = φ(x): no exponential is
/// evaluated, and each of the two keeps full relative precision in its tail.
/// `density` must be φ(x) to full precision; a density that underflowed to zero gives
/// a tail of zero, which is N's value to within 1e-300 wherever φ underflows.
pub fn cdf_and_complement(x: f64, density: f64) -> (f64, f64) {
    if x.abs() <= CENTRAL {
        let offset = central_offset(x);
        (0.5 + offset, 0.5 - offset)
    } else {
        let tail = tail_over_exp(x.abs()) * SQRT_2PI * density;
        if x > 0.0 {
            (1.0 - tail, tail)
        } else {
            (tail, 1.0 - tail)
        }
    }
}

/// N(x) − ½ for |x| ≤ [`CENTRAL`].
fn central_offset(x: f64) -> f64 {
    let x2 = x * x;
    let mut num = A[4] * x2;
    let mut den = x2;
    for i in 0..3 {
        num = (num + A[i]) * x2;
        den = (den + B[i]) * x2;
    }
    x * (num + A[3]) / (den + B[3])
}

/// N(−y)·e^(y²/2) for y > [`CENTRAL`].
fn tail_over_exp(y: f64) -> f64 {
    if y <= ROOT_32 {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        (num + C[7]) / (den + D[7])
    } else {
        let inv2 = 1.0 / (y * y);
        let mut num = P[5] * inv2;
        let mut den = inv2;
        for i in 0..4 {
            num = (num + P[i]) * inv2;
            den = (den + Q[i]) * inv2;
        }
        (FRAC_1_SQRT_2PI - inv2 * (num + P[4]) / (den + Q[4])) / y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdf(x: f64) -> f64 {
        cdf_and_complement(x, pdf(x)).0
    }

    #[test]
    fn cdf_and_pdf_match_known_values() {
        // Values from standard tables (scipy.stats.norm).
        let cases = [
            (0.0, 0.5, 0.398_942_280_401_432_7),
            (1.0, 0.841_344_746_068_542_9, 0.241_970_724_519_143_37),
            (-1.96, 0.024_997_895_148_220_435, 0.058_440_944_333_451_47),
            (3.0, 0.998_650_101_968_369_9, 0.004_431_848_411_938_008),
            (0.5, 0.691_462_461_274_013_1, 0.352_065_326_764_299_5),
            (-0.7, 0.241_963_652_223_073_03, 0.312_253_933_366_761_27),
        ];
        for (x, n, phi) in cases {
            assert!((cdf(x) - n).abs() < 1e-15, "cdf({x}) = {}", cdf(x));
            let (lower, upper) = cdf_and_complement(x, pdf(x));
            assert!((lower - n).abs() < 1e-15, "cdf_and_complement({x}).0");
            assert!(
                (upper - (1.0 - n)).abs() < 1e-15,
                "cdf_and_complement({x}).1"
            );
            assert!((pdf(x) - phi).abs() < 1e-15, "pdf({x}) = {}", pdf(x));
        }
    }

    #[test]
    fn both_tails_keep_relative_precision() {
        // N(x) to 17 digits (mpmath, 40-digit arithmetic), on each side of √32 and far
        // out.
        let tails = [
            (-2.5, 6.209_665_325_776_135_2e-3),
            (-5.0, 2.866_515_718_791_939_1e-7),
            (-6.0, 9.865_876_450_376_981_4e-10),
            (-10.0, 7.619_853_024_160_526_1e-24),
            (-20.0, 2.753_624_118_606_233_7e-89),
        ];
        for (x, want) in tails {
            let (lower, _) = cdf_and_complement(x, pdf(x));
            let (_, upper) = cdf_and_complement(-x, pdf(-x));
            for got in [lower, upper] {
                assert!(
                    (got / want - 1.0).abs() < 1e-13,
                    "N({x}) = {got}, want {want}"
                );
            }
            assert!((1.0 - cdf(-x) - want).abs() < 1e-16, "upper tail at {}", -x);
        }
        assert_eq!(cdf(-40.0), 0.0);
        assert_eq!(cdf(40.0), 1.0);
        assert!(cdf(f64::NAN).is_nan());
    }

    #[test]
    fn agrees_with_libm_erfc_across_the_range() {
        // libm's erfc (FreeBSD msun, about 1 ulp) as an independent reference.
        let mut x = -30.0;
        while x <= 30.0 {
            let reference = 0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2);
            let got = cdf(x);
            let error = (got - reference).abs() / reference.max(f64::MIN_POSITIVE);
            // Relative error is the measure in the left tail; absolute near 1.
            assert!(
                error < 2e-14 || (got - reference).abs() < 2e-16,
                "N({x}) = {got:e}, libm {reference:e}"
            );
            x += 0.001_953_125;
        }
    }
}
