//! Implied volatility: the σ at which Black–Scholes reproduces a market price.
//!
//! Newton's method in Halley's form (the step `δ = Δprice/vega` is corrected by the
//! curvature `vomma/vega = d1·d2/σ`, which costs nothing once d1 and d2 are known, and
//! converges cubically; plain Newton where the correction is large), started from the
//! Corrado–Miller approximation (within a few per cent near the money); far from the
//! money, where it has no real value, from the σ at which the Gaussian tail of the
//! price's time value matches (`out_of_the_money_total_vol`; two or three pricings
//! instead of six, on the benchmark chain), safeguarded by a bracket on [1e-4, 5.0] that shrinks with
//! every evaluation (the price rises strictly with σ); whenever vega is tiny or a step
//! leaves the bracket the step is a bisection instead. Prices outside the no-arbitrage
//! bounds, or whose σ falls outside the bracket (the iterate is then pinned to an end
//! of the bracket with the price still off), give `None`, never NaN. Not a general root
//! finder.

use crate::options::OptionType;
use crate::options::black_scholes::{BlackScholes, PricingInputs};

/// The lowest volatility the solver reports.
pub const MIN_VOL: f64 = 1e-4;
/// The highest volatility the solver reports.
pub const MAX_VOL: f64 = 5.0;
const MAX_ITERATIONS: usize = 200;
/// A Newton-type step below this fraction of σ ends the search (see the loop).
const CONVERGED_STEP: f64 = 1e-6;

/// The implied volatility of `kind` at `market_price`, or `None` when the price is not
/// finite, breaks the no-arbitrage bounds, or implies σ outside [`MIN_VOL`, `MAX_VOL`].
pub fn implied_volatility(
    kind: OptionType,
    inputs: &PricingInputs,
    market_price: f64,
) -> Option<f64> {
    let (lower, upper) = inputs.price_bounds(kind);
    if !market_price.is_finite() || market_price <= lower || market_price >= upper {
        return None;
    }
    // Absolute price tolerance scaled to the contract, far below a tick.
    let tolerance = 1e-12 * inputs.spot().max(inputs.strike());
    // When the bracket collapses before `tolerance` is met (rounding, or a root outside
    // the bracket pinning the iterate to an end), accept only a price this close.
    let accepted = 1e-6 * inputs.spot().max(1.0);
    let (mut lo, mut hi) = (MIN_VOL, MAX_VOL);

    let start = initial_guess(kind, inputs, market_price);
    let mut vol = if start.is_finite() && start > lo && start < hi {
        start
    } else {
        0.5 * (lo + hi)
    };
    for _ in 0..MAX_ITERATIONS {
        let bs = BlackScholes::new(*inputs, vol)?;
        let (price, vega) = bs.price_and_vega(kind);
        let diff = price - market_price;
        if diff.abs() <= tolerance {
            return Some(vol);
        }
        if diff > 0.0 {
            hi = vol;
        } else {
            lo = vol;
        }
        if hi - lo <= f64::EPSILON * hi {
            return (diff.abs() <= accepted).then_some(vol);
        }
        let step = diff / vega;
        // Halley divides the Newton step by 1 − ½·step·(vomma/vega); far from the root
        // that factor can stall or reverse the step, so outside [½, 2] it is Newton's.
        let factor = 1.0 - 0.5 * step * bs.d1() * bs.d2() / vol;
        let next = if (0.5..=2.0).contains(&factor) {
            vol - step / factor
        } else {
            vol - step
        };
        if !(vega > f64::MIN_POSITIVE && next > lo && next < hi) {
            vol = 0.5 * (lo + hi);
            continue;
        }
        // A step this small from a Newton-type iterate leaves an error of about its
        // square (cube for Halley): the next σ is exact to far below the price
        // tolerance, so it is returned without another evaluation.
        if (next - vol).abs() <= CONVERGED_STEP * vol {
            return Some(next);
        }
        vol = next;
    }
    // 200 halvings of [1e-4, 5] cannot fail to converge; stay defensive regardless.
    let repriced = BlackScholes::new(*inputs, vol)?.price(kind);
    ((repriced - market_price).abs() <= accepted).then_some(vol)
}

/// Corrado–Miller's closed-form approximation of σ from the call price (a put's is
/// turned into the call's by parity), falling back as the module docs say when the
/// square root has no real value.
fn initial_guess(kind: OptionType, inputs: &PricingInputs, market_price: f64) -> f64 {
    let (s, k) = (inputs.discounted_spot(), inputs.discounted_strike());
    let call = match kind {
        OptionType::Call => market_price,
        OptionType::Put => market_price + s - k,
    };
    let scale = (2.0 * std::f64::consts::PI / inputs.years()).sqrt();
    let half_gap = 0.5 * (s - k);
    let centred = call - half_gap;
    let radicand = centred * centred - (s - k) * (s - k) / std::f64::consts::PI;
    if radicand >= 0.0 {
        return scale / (s + k) * (centred + radicand.sqrt());
    }
    // Far from the money the square root has no real value and the at-the-money formula
    // lands far below the root (deep out-of-the-money prices are tiny), where vega
    // vanishes and Newton overshoots the bracket. There the price's time value decays
    // like a Gaussian tail in ln-moneyness, which gives a start close to the root.
    let x = (s / k).ln();
    let intrinsic = match kind {
        OptionType::Call => (s - k).max(0.0),
        OptionType::Put => (k - s).max(0.0),
    };
    let normalised = (market_price - intrinsic) / (s * k).sqrt();
    let sqrt_years = inputs.years().sqrt();
    if let Some(total) = out_of_the_money_total_vol(x.abs(), normalised) {
        return total / sqrt_years;
    }
    // Not in the tail. The price's inflection point in σ, √(2·|x|/T), is a start from
    // which Newton's steps approach the root from one side, but a slow one when the
    // root is far below it; the geometric mean with the leading-order tail solution
    // √(x²/(−2·ln(normalised))) starts closer.
    let inflection = (2.0 * x.abs()).sqrt();
    if normalised > 0.0 && normalised < 1.0 {
        (x.abs() / (-2.0 * normalised.ln()).sqrt() * inflection).sqrt() / sqrt_years
    } else {
        (inflection / sqrt_years).max(scale * market_price / inputs.spot())
    }
}

/// The total volatility σ√T at which an out-of-the-money option at absolute
/// log-moneyness `ax` = |ln(S·e^(−qT)/(K·e^(−rT)))| is worth `normalised` (its time
/// value over √(S·e^(−qT)·K·e^(−rT))), from the tail asymptotics of Black–Scholes:
/// with h = ax/s, the price is about φ(h)·s³/ax², so ax²/(2s²) = −ln(normalised) +
/// ln(s³/(ax²·√(2π))), solved by a damped fixed-point iteration (three steps reach a
/// few per cent). `None` when that equation has no solution (the option is not in the
/// tail: near the money, or worth a good part of the spot).
fn out_of_the_money_total_vol(ax: f64, normalised: f64) -> Option<f64> {
    const STEPS: usize = 3;
    if !(normalised > 0.0 && normalised < 1.0 && ax > 0.0) {
        return None;
    }
    let tail = -normalised.ln();
    let scale = (ax * ax * (2.0 * std::f64::consts::PI).sqrt()).ln();
    let mut total = ax / (2.0 * tail).sqrt();
    for _ in 0..STEPS {
        let exponent = tail + 3.0 * total.ln() - scale;
        if exponent <= 0.0 {
            return None;
        }
        // The geometric mean of the old and new iterate: the plain iteration can
        // oscillate.
        total = (total * ax / (2.0 * exponent).sqrt()).sqrt();
    }
    total.is_finite().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OptionType::{Call, Put};

    #[test]
    fn recovers_the_reference_volatility() {
        let inputs = PricingInputs::new(42.0, 40.0, 0.5, 0.10, 0.0).unwrap();
        let vol = implied_volatility(Call, &inputs, 4.759422).unwrap();
        assert!((vol - 0.20).abs() < 1e-6, "{vol}");
        let vol = implied_volatility(Put, &inputs, 0.808599).unwrap();
        assert!((vol - 0.20).abs() < 1e-6, "{vol}");
    }

    #[test]
    fn round_trips_price_to_vol_to_price_over_a_grid() {
        let spot = 1000.0;
        let strikes = [0.5, 0.7, 0.85, 0.95, 1.0, 1.05, 1.15, 1.3, 1.5];
        let days = [1.0, 7.0, 30.0, 91.0, 365.0, 730.0];
        let vols = [0.05, 0.10, 0.20, 0.35, 0.60, 1.00, 1.50];
        let (mut checked_vol, mut total) = (0, 0);
        for moneyness in strikes {
            for d in days {
                for vol in vols {
                    for kind in [Call, Put] {
                        total += 1;
                        let inputs =
                            PricingInputs::new(spot, spot * moneyness, d / 365.0, 0.065, 0.01)
                                .unwrap();
                        let bs = BlackScholes::new(inputs, vol).unwrap();
                        let price = bs.price(kind);
                        let Some(iv) = implied_volatility(kind, &inputs, price) else {
                            // Only prices indistinguishable from a bound may fail.
                            let (lower, upper) = inputs.price_bounds(kind);
                            let gap = (price - lower).min(upper - price);
                            assert!(
                                gap < 1e-9 * spot,
                                "no IV for {kind} K={} d={d} vol={vol} price={price}",
                                spot * moneyness
                            );
                            continue;
                        };
                        let repriced = BlackScholes::new(inputs, iv).unwrap().price(kind);
                        assert!(
                            (repriced - price).abs() < 1e-6,
                            "{kind} K={} d={d} vol={vol}: {price} -> {iv} -> {repriced}",
                            spot * moneyness
                        );
                        // Where the price is sensitive to σ, σ itself comes back.
                        if bs.vega() > 1e-3 {
                            checked_vol += 1;
                            assert!(
                                (iv - vol).abs() < 1e-6,
                                "{kind} K={} d={d}: vol {vol} came back as {iv}",
                                spot * moneyness
                            );
                        }
                    }
                }
            }
        }
        assert!(checked_vol * 10 > total * 7, "{checked_vol} of {total}");
    }

    #[test]
    fn the_tail_start_is_within_ten_per_cent_of_the_root() {
        let spot = 1000.0;
        let mut started_in_the_tail = 0;
        for (kind, strikes) in [(Call, [1.1, 1.2, 1.35, 1.5]), (Put, [0.9, 0.8, 0.7, 0.6])] {
            for moneyness in strikes {
                for days in [1.0, 6.0, 13.0, 34.0, 97.0] {
                    for vol in [0.1, 0.2, 0.4, 0.8] {
                        let years = days / 365.0;
                        let inputs =
                            PricingInputs::new(spot, spot * moneyness, years, 0.065, 0.0).unwrap();
                        let price = BlackScholes::new(inputs, vol).unwrap().price(kind);
                        let (s, k) = (inputs.discounted_spot(), inputs.discounted_strike());
                        let normalised = price / (s * k).sqrt();
                        let Some(total) =
                            out_of_the_money_total_vol((s / k).ln().abs(), normalised)
                        else {
                            continue;
                        };
                        started_in_the_tail += 1;
                        let start = total / years.sqrt();
                        assert!(
                            (start / vol - 1.0).abs() < 0.1,
                            "{kind} K={moneyness} d={days} vol={vol}: start {start}"
                        );
                    }
                }
            }
        }
        assert!(started_in_the_tail > 60, "{started_in_the_tail} of 160");
    }

    #[test]
    fn prices_outside_the_no_arbitrage_bounds_give_none() {
        let inputs = PricingInputs::new(100.0, 90.0, 0.25, 0.05, 0.0).unwrap();
        let (lower, upper) = inputs.price_bounds(Call);
        for price in [
            lower - 0.5,
            lower,
            upper,
            upper + 1.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(implied_volatility(Call, &inputs, price), None, "{price}");
        }
        let (lower, _) = inputs.price_bounds(Put);
        assert_eq!(implied_volatility(Put, &inputs, lower), None);
        assert_eq!(implied_volatility(Put, &inputs, 0.0), None);
        // Inside the bounds but implying σ > 5.0.
        let just_below_upper = upper - 1e-9;
        assert_eq!(implied_volatility(Call, &inputs, just_below_upper), None);
    }

    #[test]
    fn volatilities_outside_the_bracket_give_none() {
        let inputs = PricingInputs::new(100.0, 100.0, 1.0, 0.05, 0.0).unwrap();
        for kind in [Call, Put] {
            for vol in [6.0, 8.0] {
                let price = BlackScholes::new(inputs, vol).unwrap().price(kind);
                assert_eq!(
                    implied_volatility(kind, &inputs, price),
                    None,
                    "{kind} {vol}"
                );
            }
            let inside = BlackScholes::new(inputs, 4.9).unwrap().price(kind);
            let vol = implied_volatility(kind, &inputs, inside).unwrap();
            assert!((vol - 4.9).abs() < 1e-6, "{kind}: {vol}");
        }
        // Below the lowest σ: at the money with r = 0 the lower bound is 0 and σ = 1e-4
        // is worth about 0.004, so 0.002 implies σ ≈ 5e-5.
        let atm = PricingInputs::new(100.0, 100.0, 1.0, 0.0, 0.0).unwrap();
        let at_min = BlackScholes::new(atm, MIN_VOL).unwrap().price(Call);
        assert!(at_min > 0.003, "{at_min}");
        assert_eq!(implied_volatility(Call, &atm, 0.5 * at_min), None);
    }
}
