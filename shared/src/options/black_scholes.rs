//! Black–Scholes–Merton prices and Greeks for European options with a continuous
//! dividend yield.
//!
//! [`PricingInputs`] and [`BlackScholes`] are validated on construction (positive spot,
//! strike, time and volatility, finite rates), so every method returns a finite number
//! and none needs to re-check. Expired contracts (T ≤ 0) are rejected here; the caller
//! shows intrinsic value or nothing. Implied volatility lives in `implied_vol`.

use crate::options::OptionType;
use crate::options::normal::{cdf_and_complement, pdf};

/// Days in the year used for per-day theta and for year fractions.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// Market inputs of one contract, apart from volatility.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PricingInputs {
    spot: f64,
    strike: f64,
    years: f64,
    rate: f64,
    dividend_yield: f64,
    // Derived once here, not in every pricing (the IV solver prices many times).
    ln_moneyness: f64,
    sqrt_years: f64,
    /// e^(−qT).
    carry: f64,
    /// e^(−rT).
    discount: f64,
}

impl PricingInputs {
    /// Spot S, strike K, time to expiry T in years, risk-free rate r and dividend yield q
    /// (continuous, annual fractions). `None` unless S, K and T are positive and all are
    /// finite.
    pub fn new(spot: f64, strike: f64, years: f64, rate: f64, dividend_yield: f64) -> Option<Self> {
        let finite = [spot, strike, years, rate, dividend_yield]
            .iter()
            .all(|v| v.is_finite());
        (finite && spot > 0.0 && strike > 0.0 && years > 0.0).then(|| Self {
            spot,
            strike,
            years,
            rate,
            dividend_yield,
            ln_moneyness: (spot / strike).ln(),
            sqrt_years: years.sqrt(),
            carry: discount_factor(dividend_yield, years),
            discount: discount_factor(rate, years),
        })
    }

    /// S.
    pub fn spot(&self) -> f64 {
        self.spot
    }

    /// K.
    pub fn strike(&self) -> f64 {
        self.strike
    }

    /// T in years.
    pub fn years(&self) -> f64 {
        self.years
    }

    /// S·e^(−qT): the spot discounted for dividends.
    pub fn discounted_spot(&self) -> f64 {
        self.spot * self.carry
    }

    /// K·e^(−rT): the present value of the strike.
    pub fn discounted_strike(&self) -> f64 {
        self.strike * self.discount
    }

    /// The no-arbitrage price range `(lower, upper)` of an option of this kind.
    pub fn price_bounds(&self, kind: OptionType) -> (f64, f64) {
        let (s, k) = (self.discounted_spot(), self.discounted_strike());
        match kind {
            OptionType::Call => ((s - k).max(0.0), s),
            OptionType::Put => ((k - s).max(0.0), k),
        }
    }
}

/// e^(−rate·years), without the exponential for the common zero rate (no dividend
/// yield): one row of a chain costs a handful of exponentials in all.
fn discount_factor(rate: f64, years: f64) -> f64 {
    if rate == 0.0 {
        1.0
    } else {
        (-rate * years).exp()
    }
}

/// The model evaluated at one volatility.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlackScholes {
    inputs: PricingInputs,
    vol: f64,
    d1: f64,
    d2: f64,
}

/// All Greeks of one contract. Theta is per year and vega per 1.00 of volatility; see
/// [`Greeks::theta_per_day`] and [`Greeks::vega_per_point`] for display units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Greeks {
    /// ∂V/∂S.
    pub delta: f64,
    /// ∂²V/∂S².
    pub gamma: f64,
    /// ∂V/∂t per year (negative for a long option losing time value).
    pub theta: f64,
    /// ∂V/∂σ per 1.00 of volatility.
    pub vega: f64,
    /// ∂V/∂r per 1.00 of rate.
    pub rho: f64,
}

impl Greeks {
    /// Theta per calendar day.
    pub fn theta_per_day(&self) -> f64 {
        self.theta / DAYS_PER_YEAR
    }

    /// Vega per volatility point (0.01).
    pub fn vega_per_point(&self) -> f64 {
        self.vega / 100.0
    }
}

impl BlackScholes {
    /// The model at volatility `vol` (annual fraction); `None` unless it is positive and
    /// finite.
    pub fn new(inputs: PricingInputs, vol: f64) -> Option<Self> {
        if !(vol.is_finite() && vol > 0.0) {
            return None;
        }
        let sqrt_t = inputs.sqrt_years;
        let d1 = (inputs.ln_moneyness
            + (inputs.rate - inputs.dividend_yield + 0.5 * vol * vol) * inputs.years)
            / (vol * sqrt_t);
        Some(Self {
            inputs,
            vol,
            d1,
            d2: d1 - vol * sqrt_t,
        })
    }

    /// d1.
    pub fn d1(&self) -> f64 {
        self.d1
    }

    /// d2 = d1 − σ√T.
    pub fn d2(&self) -> f64 {
        self.d2
    }

    /// The option's fair value.
    pub fn price(&self, kind: OptionType) -> f64 {
        self.price_and_vega(kind).0
    }

    /// Vega per 1.00 of volatility (the same for calls and puts).
    pub fn vega(&self) -> f64 {
        self.inputs.discounted_spot() * pdf(self.d1) * self.inputs.sqrt_years
    }

    /// The fair value and vega together, for one exponential (what the implied
    /// volatility solver needs at every step).
    pub fn price_and_vega(&self, kind: OptionType) -> (f64, f64) {
        let (s, k) = (
            self.inputs.discounted_spot(),
            self.inputs.discounted_strike(),
        );
        let density = pdf(self.d1);
        let [(n_d1, n_minus_d1), (n_d2, n_minus_d2)] = self.cdfs(density);
        let price = match kind {
            OptionType::Call => s * n_d1 - k * n_d2,
            OptionType::Put => k * n_minus_d2 - s * n_minus_d1,
        };
        (price, s * density * self.inputs.sqrt_years)
    }

    /// `[(N(d1), N(−d1)), (N(d2), N(−d2))]` given φ(d1). φ(d2) is
    /// φ(d1)·S·e^(−qT)/(K·e^(−rT)) exactly, so it costs no exponential unless that
    /// product underflows (then it is evaluated).
    fn cdfs(&self, density: f64) -> [(f64, f64); 2] {
        let i = &self.inputs;
        let derived = density * i.discounted_spot() / i.discounted_strike();
        let density_d2 = if derived.is_normal() {
            derived
        } else {
            pdf(self.d2)
        };
        [
            cdf_and_complement(self.d1, density),
            cdf_and_complement(self.d2, density_d2),
        ]
    }

    /// Every Greek at once, each normal CDF and the density evaluated once (they are
    /// most of the cost): delta `e^(−qT)·N(d1)` for a call, minus `e^(−qT)` for a put;
    /// gamma and vega, the same for both; theta per year; rho per 1.00 of rate.
    pub fn greeks(&self, kind: OptionType) -> Greeks {
        let i = &self.inputs;
        let (s, k) = (i.discounted_spot(), i.discounted_strike());
        let density = pdf(self.d1);
        let [(n_d1, n_minus_d1), (n_d2, n_minus_d2)] = self.cdfs(density);
        let decay = -s * density * self.vol / (2.0 * i.sqrt_years);
        let (delta, theta, rho) = match kind {
            OptionType::Call => (
                i.carry * n_d1,
                decay - i.rate * k * n_d2 + i.dividend_yield * s * n_d1,
                k * i.years * n_d2,
            ),
            OptionType::Put => (
                -i.carry * n_minus_d1,
                decay + i.rate * k * n_minus_d2 - i.dividend_yield * s * n_minus_d1,
                -k * i.years * n_minus_d2,
            ),
        };
        Greeks {
            delta,
            gamma: s * density / (i.spot * i.spot * self.vol * i.sqrt_years),
            theta,
            vega: s * density * i.sqrt_years,
            rho,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OptionType::{Call, Put};

    /// One row of domain.md §2.4's reference table (scipy values, q = 0).
    struct Reference {
        s: f64,
        k: f64,
        t: f64,
        r: f64,
        vol: f64,
        d1: f64,
        d2: f64,
        call: f64,
        put: f64,
        delta_call: f64,
        gamma: f64,
        vega: f64,
        theta_call: f64,
        rho_call: f64,
    }

    const REFERENCE: [Reference; 3] = [
        Reference {
            s: 42.0,
            k: 40.0,
            t: 0.5,
            r: 0.10,
            vol: 0.20,
            d1: 0.769263,
            d2: 0.627841,
            call: 4.759422,
            put: 0.808599,
            delta_call: 0.779131,
            gamma: 0.049963,
            vega: 8.813415,
            theta_call: -4.559092,
            rho_call: 13.982046,
        },
        Reference {
            s: 100.0,
            k: 100.0,
            t: 1.0,
            r: 0.05,
            vol: 0.20,
            d1: 0.35,
            d2: 0.15,
            call: 10.450584,
            put: 5.573526,
            delta_call: 0.636831,
            gamma: 0.018762,
            vega: 37.524035,
            theta_call: -6.414028,
            rho_call: 53.232482,
        },
        Reference {
            s: 1010.0,
            k: 1050.0,
            t: 28.0 / 365.0,
            r: 0.065,
            vol: 0.20,
            d1: -0.583444,
            d2: -0.638838,
            call: 9.423337,
            put: 44.200752,
            delta_call: 0.279797,
            gamma: 0.006015,
            vega: 94.133803,
            theta_call: -140.466308,
            rho_call: 20.955650,
        },
    ];

    #[track_caller]
    fn close(name: &str, got: f64, want: f64) {
        // The table is printed to 6 decimals, so agreement is to rounding (5e-7) plus
        // a little slack.
        assert!(
            (got - want).abs() <= 1e-6,
            "{name}: got {got:.9}, want {want:.6}"
        );
    }

    #[test]
    fn every_number_in_the_reference_table_matches_to_1e_6() {
        for row in REFERENCE {
            let inputs = PricingInputs::new(row.s, row.k, row.t, row.r, 0.0).unwrap();
            let bs = BlackScholes::new(inputs, row.vol).unwrap();
            close("d1", bs.d1(), row.d1);
            close("d2", bs.d2(), row.d2);
            close("call", bs.price(Call), row.call);
            close("put", bs.price(Put), row.put);
            let greeks = bs.greeks(Call);
            close("delta", greeks.delta, row.delta_call);
            close("gamma", greeks.gamma, row.gamma);
            close("vega", greeks.vega, row.vega);
            close("vega()", bs.vega(), row.vega);
            close("theta", greeks.theta, row.theta_call);
            close("rho", greeks.rho, row.rho_call);
            let greeks = bs.greeks(Call);
            close("theta/day", greeks.theta_per_day(), row.theta_call / 365.0);
            close("vega/point", greeks.vega_per_point(), row.vega / 100.0);
        }
    }

    #[test]
    fn put_call_parity_and_put_greeks_hold_with_a_dividend_yield() {
        let inputs = PricingInputs::new(100.0, 95.0, 0.75, 0.06, 0.02).unwrap();
        let bs = BlackScholes::new(inputs, 0.3).unwrap();
        let parity = inputs.discounted_spot() - inputs.discounted_strike();
        assert!((bs.price(Call) - bs.price(Put) - parity).abs() < 1e-12);
        let (call, put) = (bs.greeks(Call), bs.greeks(Put));
        let carry = (-0.02f64 * 0.75).exp();
        assert!((call.delta - put.delta - carry).abs() < 1e-12);
        assert_eq!((call.gamma, call.vega), (put.gamma, put.vega));
        // Theta parity: Θc − Θp = q·S·e^(−qT) − r·K·e^(−rT).
        let theta_gap = 0.02 * inputs.discounted_spot() - 0.06 * inputs.discounted_strike();
        assert!((call.theta - put.theta - theta_gap).abs() < 1e-10);
        // Rho parity: ρc − ρp = K·T·e^(−rT).
        let rho_gap = inputs.discounted_strike() * 0.75;
        assert!((call.rho - put.rho - rho_gap).abs() < 1e-10);

        // Finite differences agree with the analytic Greeks.
        let h = 1e-4;
        let at = |s: f64, vol: f64| {
            BlackScholes::new(PricingInputs::new(s, 95.0, 0.75, 0.06, 0.02).unwrap(), vol)
                .unwrap()
                .price(Put)
        };
        let fd_delta = (at(100.0 + h, 0.3) - at(100.0 - h, 0.3)) / (2.0 * h);
        let fd_gamma = (at(100.0 + h, 0.3) - 2.0 * at(100.0, 0.3) + at(100.0 - h, 0.3)) / (h * h);
        let fd_vega = (at(100.0, 0.3 + h) - at(100.0, 0.3 - h)) / (2.0 * h);
        assert!((fd_delta - put.delta).abs() < 1e-7);
        assert!((fd_gamma - put.gamma).abs() < 1e-4);
        assert!((fd_vega - put.vega).abs() < 1e-6);
    }

    #[test]
    fn invalid_inputs_are_rejected_instead_of_producing_nan() {
        assert!(PricingInputs::new(100.0, 100.0, 0.0, 0.05, 0.0).is_none());
        assert!(PricingInputs::new(100.0, 100.0, -0.1, 0.05, 0.0).is_none());
        assert!(PricingInputs::new(0.0, 100.0, 1.0, 0.05, 0.0).is_none());
        assert!(PricingInputs::new(100.0, f64::NAN, 1.0, 0.05, 0.0).is_none());
        let inputs = PricingInputs::new(100.0, 100.0, 1.0, 0.05, 0.0).unwrap();
        assert!(BlackScholes::new(inputs, 0.0).is_none());
        assert!(BlackScholes::new(inputs, f64::INFINITY).is_none());
    }
}
