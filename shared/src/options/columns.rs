//! The calculated columns of a filtered option chain as scalar functions: days to
//! expiry, moneyness, OTM %, premium yield, annualized yield, break-even and spread %.
//!
//! Yields follow the premium sellers' convention of `domain.md` §2.1: a call is read
//! as a covered call (premium / CMP), a put as a cash-secured put (premium / strike).
//! Percent results are in percent units. Functions return `None` where a column has no
//! meaningful value (non-positive prices, an empty book), never NaN. Arrow
//! vectorisation is the job kinds' concern, not this module's.

use chrono::NaiveDate;

use crate::options::OptionType;
use crate::options::black_scholes::DAYS_PER_YEAR;

/// Calendar days from `today` to `expiry`, counting expiry day itself as 1 so that
/// yields and year fractions never divide by zero (`domain.md` §2.1). `None` once the
/// contract has expired.
pub fn days_to_expiry(today: NaiveDate, expiry: NaiveDate) -> Option<u32> {
    days_left((expiry - today).num_days())
}

/// [`days_to_expiry`] from the signed number of calendar days between today and the
/// expiry date (for callers that hold dates as day numbers).
pub fn days_left(calendar_days: i64) -> Option<u32> {
    if calendar_days < 0 {
        return None;
    }
    u32::try_from(calendar_days.max(1)).ok()
}

/// Time to expiry in years for pricing: `days / 365`, with at least one day.
pub fn years_to_expiry(days: u32) -> f64 {
    f64::from(days.max(1)) / DAYS_PER_YEAR
}

/// Moneyness as strike over spot (K/S): 1.05 is a strike 5 % above the underlying.
pub fn moneyness(spot: f64, strike: f64) -> Option<f64> {
    positive(spot)?;
    positive(strike)?;
    Some(strike / spot)
}

/// How far out of the money, in percent of spot: calls `(K − S)/S`, puts `(S − K)/S`.
/// Negative means in the money.
pub fn otm_pct(kind: OptionType, spot: f64, strike: f64) -> Option<f64> {
    positive(spot)?;
    positive(strike)?;
    let distance = match kind {
        OptionType::Call => strike - spot,
        OptionType::Put => spot - strike,
    };
    Some(100.0 * distance / spot)
}

/// Premium yield in percent: covered call `P/S` for calls, cash-secured put `P/K` for
/// puts.
pub fn premium_yield_pct(kind: OptionType, premium: f64, spot: f64, strike: f64) -> Option<f64> {
    positive(premium)?;
    let capital = match kind {
        OptionType::Call => positive(spot)?,
        OptionType::Put => positive(strike)?,
    };
    Some(100.0 * premium / capital)
}

/// Simple annualisation of a yield: `yield × 365 / days` (days of at least 1).
pub fn annualized_yield_pct(yield_pct: f64, days: u32) -> f64 {
    yield_pct * DAYS_PER_YEAR / f64::from(days.max(1))
}

/// The seller's break-even: covered call `S − P`, cash-secured put `K − P`.
pub fn breakeven(kind: OptionType, premium: f64, spot: f64, strike: f64) -> f64 {
    match kind {
        OptionType::Call => spot - premium,
        OptionType::Put => strike - premium,
    }
}

/// The bid-ask spread in percent of mid: `(ask − bid)/mid`. `None` when either side of
/// the book is empty (0) or the quotes are crossed.
pub fn spread_pct(bid: f64, ask: f64) -> Option<f64> {
    positive(bid)?;
    positive(ask)?;
    if ask < bid {
        return None;
    }
    let mid = 0.5 * (bid + ask);
    Some(100.0 * (ask - bid) / mid)
}

fn positive(value: f64) -> Option<f64> {
    (value.is_finite() && value > 0.0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OptionType::{Call, Put};

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[track_caller]
    fn close(got: Option<f64>, want: f64) {
        let got = got.expect("a value");
        assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
    }

    #[test]
    fn days_to_expiry_counts_calendar_days_and_guards_expiry_day() {
        assert_eq!(
            days_to_expiry(date("2026-11-20"), date("2026-11-27")),
            Some(7)
        );
        assert_eq!(
            days_to_expiry(date("2026-12-31"), date("2027-01-01")),
            Some(1)
        );
        assert_eq!(
            days_to_expiry(date("2026-11-27"), date("2026-11-27")),
            Some(1)
        );
        assert_eq!(days_to_expiry(date("2026-11-28"), date("2026-11-27")), None);
        assert!((years_to_expiry(73) - 0.2).abs() < 1e-15);
        assert!((years_to_expiry(0) - 1.0 / 365.0).abs() < 1e-15);
    }

    #[test]
    fn moneyness_and_otm_pct_have_the_documented_signs() {
        close(moneyness(200.0, 210.0), 1.05);
        close(otm_pct(Call, 200.0, 210.0), 5.0);
        close(otm_pct(Put, 200.0, 210.0), -5.0);
        close(otm_pct(Put, 200.0, 190.0), 5.0);
        assert_eq!(moneyness(0.0, 100.0), None);
        assert_eq!(otm_pct(Call, 100.0, -1.0), None);
    }

    #[test]
    fn yields_use_cmp_for_calls_and_strike_for_puts() {
        close(premium_yield_pct(Call, 2.0, 200.0, 210.0), 1.0);
        close(premium_yield_pct(Put, 2.0, 200.0, 160.0), 1.25);
        assert_eq!(premium_yield_pct(Call, 0.0, 200.0, 210.0), None);
        // juicyfruit's example: 2.52/170 over 7 days is 77.29 % a year.
        let yield_pct = premium_yield_pct(Put, 2.52, 180.0, 170.0).unwrap();
        let annual = annualized_yield_pct(yield_pct, 7);
        assert!((annual - 77.294_117_647).abs() < 1e-6, "{annual}");
        assert!((annualized_yield_pct(1.0, 0) - 365.0).abs() < 1e-12);
    }

    #[test]
    fn breakeven_and_spread_follow_the_seller_convention() {
        assert!((breakeven(Call, 3.0, 100.0, 105.0) - 97.0).abs() < 1e-12);
        assert!((breakeven(Put, 3.0, 100.0, 95.0) - 92.0).abs() < 1e-12);
        close(spread_pct(9.5, 10.5), 10.0);
        assert_eq!(spread_pct(0.0, 10.5), None);
        assert_eq!(spread_pct(10.5, 9.5), None);
    }
}
