//! Kite-style trading symbols of the synthetic contracts: `NIFTY26NOV24000CE` for
//! monthly expiries, `NIFTY26D0124000CE` for weekly ones, `NIFTY26NOVFUT` for futures.
//! Formatting only; nothing parses these (clients must use the dump's columns).

use chrono::{Datelike, NaiveDate};
use fairlane_shared::options::OptionType;

/// An option's symbol; `monthly` picks the monthly or the weekly expiry code.
pub(crate) fn option_symbol(
    name: &str,
    expiry: NaiveDate,
    monthly: bool,
    strike: f64,
    kind: OptionType,
) -> String {
    let code = if monthly {
        monthly_code(expiry)
    } else {
        weekly_code(expiry)
    };
    let strike = if strike.fract() == 0.0 {
        format!("{strike:.0}")
    } else {
        format!("{strike}")
    };
    format!("{name}{code}{strike}{}", kind.code())
}

/// A monthly future's symbol.
pub(crate) fn future_symbol(name: &str, expiry: NaiveDate) -> String {
    format!("{name}{}FUT", monthly_code(expiry))
}

/// `26NOV`: year and month.
fn monthly_code(expiry: NaiveDate) -> String {
    expiry.format("%y%b").to_string().to_uppercase()
}

/// `26D01`: year, month (1–9, O, N, D) and day.
fn weekly_code(expiry: NaiveDate) -> String {
    let month = match expiry.month() {
        10 => 'O',
        11 => 'N',
        12 => 'D',
        m => char::from_digit(m, 10).unwrap_or('0'),
    };
    format!("{}{month}{:02}", expiry.format("%y"), expiry.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_follow_kite_conventions() {
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            option_symbol("NIFTY", date("2026-11-24"), true, 24000.0, OptionType::Call),
            "NIFTY26NOV24000CE"
        );
        assert_eq!(
            option_symbol("NIFTY", date("2027-03-02"), false, 23950.0, OptionType::Put),
            "NIFTY2730223950PE"
        );
        assert_eq!(future_symbol("INFY", date("2026-12-29")), "INFY26DECFUT");
    }
}
