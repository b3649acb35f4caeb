//! The expiry calendar of the synthetic market, relative to the current date so tests
//! never go stale: NSE's current convention of Tuesday expiries, weekly for NIFTY and
//! monthly (the month's last Tuesday) for everything. Holidays are ignored.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// How many monthly expiries are listed.
const MONTHLIES: usize = 3;
/// How many weekly expiries are listed for weekly underlyings.
const WEEKLIES: usize = 4;

/// The month's last Tuesday.
pub(crate) fn last_tuesday(year: i32, month: u32) -> NaiveDate {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let mut day =
        NaiveDate::from_ymd_opt(next_year, next_month, 1).expect("valid date") - Duration::days(1);
    while day.weekday() != Weekday::Tue {
        day -= Duration::days(1);
    }
    day
}

/// The next [`MONTHLIES`] monthly expiries on or after `today`.
pub(crate) fn monthly(today: NaiveDate) -> Vec<NaiveDate> {
    let (mut year, mut month) = (today.year(), today.month());
    let mut out = Vec::with_capacity(MONTHLIES);
    while out.len() < MONTHLIES {
        let expiry = last_tuesday(year, month);
        if expiry >= today {
            out.push(expiry);
        }
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    out
}

/// The next [`WEEKLIES`] Tuesdays on or after `today` that are not monthly expiries.
pub(crate) fn weekly(today: NaiveDate) -> Vec<NaiveDate> {
    let mut day = today;
    while day.weekday() != Weekday::Tue {
        day += Duration::days(1);
    }
    let mut out = Vec::with_capacity(WEEKLIES);
    while out.len() < WEEKLIES {
        if last_tuesday(day.year(), day.month()) != day {
            out.push(day);
        }
        day += Duration::days(7);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn monthly_expiries_are_last_tuesdays_from_today_on() {
        assert_eq!(last_tuesday(2026, 11), date("2026-11-24"));
        assert_eq!(last_tuesday(2026, 12), date("2026-12-29"));
        assert_eq!(
            monthly(date("2026-11-22")),
            vec![date("2026-11-24"), date("2026-12-29"), date("2027-01-26")]
        );
        // On expiry day the expiring contract is still listed.
        assert_eq!(monthly(date("2026-11-24"))[0], date("2026-11-24"));
        assert_eq!(monthly(date("2026-11-25"))[0], date("2026-12-29"));
    }

    #[test]
    fn weekly_expiries_skip_monthly_ones() {
        assert_eq!(
            weekly(date("2026-11-22")),
            vec![
                date("2026-12-01"),
                date("2026-12-08"),
                date("2026-12-15"),
                date("2026-12-22")
            ]
        );
        assert_eq!(weekly(date("2026-12-01"))[0], date("2026-12-01"));
    }
}
