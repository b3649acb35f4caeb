//! Dates of a series: parsing the accepted formats, detecting the frequency, and the
//! regular grid of dates a frequency implies (used to find gaps and to date forecasts).
//! No CSV and no models here.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::forecast::error::ForecastError;

/// How far apart consecutive observations are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// One hour apart.
    Hourly,
    /// One day apart.
    Daily,
    /// Seven days apart.
    Weekly,
    /// One calendar month apart (same day of month, or every month end).
    Monthly,
    /// Three calendar months apart.
    Quarterly,
    /// Twelve calendar months apart.
    Yearly,
}

/// Parses `YYYY-MM-DD`, `YYYY-MM`, `YYYY-MM-DD HH:MM:SS` or RFC 3339 (converted to
/// UTC). Surrounding whitespace is ignored.
pub fn parse_date(cell: &str) -> Option<NaiveDateTime> {
    let cell = cell.trim();
    if let Ok(date) = NaiveDate::parse_from_str(cell, "%Y-%m-%d") {
        return Some(date.and_time(NaiveTime::MIN));
    }
    if let Ok(date_time) = NaiveDateTime::parse_from_str(cell, "%Y-%m-%d %H:%M:%S") {
        return Some(date_time);
    }
    if let Ok(date_time) = DateTime::parse_from_rfc3339(cell) {
        return Some(date_time.naive_utc());
    }
    // `YYYY-MM` is the first of that month; the length check keeps `2020-1-5x` out.
    if cell.len() != 7 {
        return None;
    }
    NaiveDate::parse_from_str(&format!("{cell}-01"), "%Y-%m-%d")
        .ok()
        .map(|date| date.and_time(NaiveTime::MIN))
}

impl Frequency {
    /// Detects the frequency from sorted, distinct dates by their smallest step.
    pub fn detect(sorted_dates: &[NaiveDateTime]) -> Result<Frequency, ForecastError> {
        let smallest_step = sorted_dates
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .min()
            .ok_or_else(|| ForecastError::TooFewPoints {
                message: "at least two dates are needed to tell the frequency".into(),
            })?;
        let days = smallest_step.num_days();
        let frequency = if smallest_step == Duration::hours(1) {
            Frequency::Hourly
        } else if smallest_step == Duration::days(1) {
            Frequency::Daily
        } else if smallest_step == Duration::days(7) {
            Frequency::Weekly
        } else if smallest_step.num_seconds() % 86_400 != 0 {
            return Err(unsupported_step(smallest_step));
        } else if (28..=31).contains(&days) {
            Frequency::Monthly
        } else if (89..=92).contains(&days) {
            Frequency::Quarterly
        } else if (365..=366).contains(&days) {
            Frequency::Yearly
        } else {
            return Err(unsupported_step(smallest_step));
        };
        Ok(frequency)
    }

    /// The usual season length: 24 hours, 7 days, 52 weeks, 12 months, 4 quarters, or 1
    /// (no seasonality) for yearly data.
    pub fn season_length(self) -> usize {
        match self {
            Frequency::Hourly => 24,
            Frequency::Daily => 7,
            Frequency::Weekly => 52,
            Frequency::Monthly => 12,
            Frequency::Quarterly => 4,
            Frequency::Yearly => 1,
        }
    }

    /// The grid date `index` steps after `anchor` (the first observation). A monthly
    /// grid anchored on a month end stays on month ends.
    pub fn date_at(self, anchor: NaiveDateTime, index: usize) -> Option<NaiveDateTime> {
        match self.months_per_step() {
            None => {
                let steps = i32::try_from(index).ok()?;
                anchor.checked_add_signed(self.fixed_step()?.checked_mul(steps)?)
            }
            Some(months_per_step) => {
                let months = u32::try_from(index).ok()?.checked_mul(months_per_step)?;
                let date = anchor.date();
                let shifted = if is_month_end(date) {
                    let first = date
                        .with_day(1)?
                        .checked_add_months(Months::new(months + 1))?;
                    first.pred_opt()?
                } else {
                    date.checked_add_months(Months::new(months))?
                };
                Some(shifted.and_time(anchor.time()))
            }
        }
    }

    /// The grid index of `date` on the grid anchored at `anchor`, or `None` when the
    /// date falls between grid points.
    pub fn index_of(self, anchor: NaiveDateTime, date: NaiveDateTime) -> Option<usize> {
        let index = match self.months_per_step() {
            None => {
                let step = self.fixed_step()?.num_seconds();
                let offset = (date - anchor).num_seconds();
                if offset % step != 0 {
                    return None;
                }
                usize::try_from(offset / step).ok()?
            }
            Some(months_per_step) => {
                let month_number =
                    |d: NaiveDateTime| i64::from(d.year()) * 12 + i64::from(d.month0());
                let months = month_number(date) - month_number(anchor);
                if months % i64::from(months_per_step) != 0 {
                    return None;
                }
                usize::try_from(months / i64::from(months_per_step)).ok()?
            }
        };
        (self.date_at(anchor, index)? == date).then_some(index)
    }

    /// Formats a date for the result file: with the time for hourly data, else the day.
    pub fn format(self, date: NaiveDateTime) -> String {
        match self {
            Frequency::Hourly => date.format("%Y-%m-%d %H:%M:%S").to_string(),
            _ => date.format("%Y-%m-%d").to_string(),
        }
    }

    fn months_per_step(self) -> Option<u32> {
        match self {
            Frequency::Monthly => Some(1),
            Frequency::Quarterly => Some(3),
            Frequency::Yearly => Some(12),
            Frequency::Hourly | Frequency::Daily | Frequency::Weekly => None,
        }
    }

    fn fixed_step(self) -> Option<Duration> {
        match self {
            Frequency::Hourly => Some(Duration::hours(1)),
            Frequency::Daily => Some(Duration::days(1)),
            Frequency::Weekly => Some(Duration::days(7)),
            Frequency::Monthly | Frequency::Quarterly | Frequency::Yearly => None,
        }
    }
}

fn is_month_end(date: NaiveDate) -> bool {
    date.succ_opt()
        .is_some_and(|next| next.month() != date.month())
}

fn unsupported_step(step: Duration) -> ForecastError {
    ForecastError::IrregularSpacing {
        message: format!(
            "the smallest step between dates is {} s; supported frequencies are hourly, \
             daily, weekly, monthly, quarterly and yearly",
            step.num_seconds()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(cell: &str) -> NaiveDateTime {
        parse_date(cell).unwrap_or_else(|| panic!("{cell} should parse"))
    }

    #[test]
    fn accepted_formats_parse() {
        assert_eq!(date("2020-03-01"), date("2020-03"));
        assert_eq!(date(" 2020-03-01 13:00:00 "), date("2020-03-01T13:00:00Z"));
        assert_eq!(
            date("2020-03-01T15:00:00+02:00"),
            date("2020-03-01 13:00:00")
        );
        for bad in [
            "",
            "03/01/2020",
            "2020-13-01",
            "2020-3",
            "yesterday",
            "20200301",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn frequencies_are_detected_from_the_smallest_step() {
        let check = |cells: &[&str], expected: Frequency| {
            let dates: Vec<_> = cells.iter().map(|c| date(c)).collect();
            assert_eq!(Frequency::detect(&dates).unwrap(), expected, "{cells:?}");
        };
        check(
            &["2020-01-01 00:00:00", "2020-01-01 01:00:00"],
            Frequency::Hourly,
        );
        check(
            &["2020-01-01", "2020-01-02", "2020-01-05"],
            Frequency::Daily,
        );
        check(&["2020-01-06", "2020-01-13"], Frequency::Weekly);
        check(&["2020-01", "2020-02", "2020-04"], Frequency::Monthly);
        check(&["2020-01-31", "2020-02-29"], Frequency::Monthly);
        check(&["2020-01-01", "2020-04-01"], Frequency::Quarterly);
        check(&["2019-01-01", "2020-01-01"], Frequency::Yearly);
        let odd: Vec<_> = ["2020-01-01", "2020-01-03"].map(date).to_vec();
        assert_eq!(
            Frequency::detect(&odd).unwrap_err().code(),
            "irregular_spacing"
        );
    }

    #[test]
    fn month_end_grids_stay_on_month_ends() {
        let anchor = date("2020-01-31");
        assert_eq!(
            Frequency::Monthly.date_at(anchor, 1),
            Some(date("2020-02-29"))
        );
        assert_eq!(
            Frequency::Monthly.date_at(anchor, 2),
            Some(date("2020-03-31"))
        );
        assert_eq!(
            Frequency::Monthly.index_of(anchor, date("2020-04-30")),
            Some(3)
        );
        assert_eq!(
            Frequency::Monthly.index_of(anchor, date("2020-04-15")),
            None
        );
        assert_eq!(
            Frequency::Quarterly.index_of(anchor, date("2020-02-29")),
            None
        );
    }

    #[test]
    fn fixed_grids_reject_off_grid_dates() {
        let anchor = date("2020-01-01");
        assert_eq!(
            Frequency::Weekly.index_of(anchor, date("2020-01-15")),
            Some(2)
        );
        assert_eq!(Frequency::Weekly.index_of(anchor, date("2020-01-16")), None);
        assert_eq!(
            Frequency::Hourly.date_at(anchor, 25),
            Some(date("2020-01-02 01:00:00"))
        );
    }
}
