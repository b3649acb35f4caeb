//! A regular time series ready for the models: observations sorted by date, checked for
//! duplicates, their frequency detected, and short gaps filled by linear interpolation.
//!
//! Policy for gaps: dates missing from the frequency's grid are filled by linear
//! interpolation when they are at most `MAX_FILLED_SHARE` of the grid, and the number
//! filled is reported; more gaps, or dates off the grid, are `irregular_spacing`.

use chrono::NaiveDateTime;

use crate::forecast::calendar::Frequency;
use crate::forecast::error::ForecastError;
use crate::forecast::input::Observation;
use crate::forecast::params::MAX_POINTS;

/// The largest share of grid dates that may be missing and filled (one in ten).
pub const MAX_FILLED_SHARE: f64 = 0.1;

/// A regular series: `values[i]` belongs to `frequency.date_at(start, i)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// How far apart the observations are.
    pub frequency: Frequency,
    /// The first date.
    pub start: NaiveDateTime,
    /// One value per grid date, gaps filled.
    pub values: Vec<f64>,
    /// How many of `values` were filled by interpolation.
    pub filled_gaps: usize,
}

impl Series {
    /// Sorts, validates and regularises observations in any order.
    pub fn from_observations(mut rows: Vec<Observation>) -> Result<Series, ForecastError> {
        rows.sort_by_key(|row| row.date);
        if let Some(pair) = rows.windows(2).find(|pair| pair[0].date == pair[1].date) {
            let (first, second) = if pair[0].line < pair[1].line {
                (pair[0], pair[1])
            } else {
                (pair[1], pair[0])
            };
            return Err(ForecastError::DuplicateDate {
                date: first.date.to_string(),
                first_line: first.line,
                second_line: second.line,
            });
        }
        let dates: Vec<NaiveDateTime> = rows.iter().map(|row| row.date).collect();
        let frequency = Frequency::detect(&dates)?;
        let start = dates[0];

        let mut indexed = Vec::with_capacity(rows.len());
        for row in &rows {
            let index = frequency.index_of(start, row.date).ok_or_else(|| {
                ForecastError::IrregularSpacing {
                    message: format!(
                        "line {}: {} is not on the {} grid starting at {}",
                        row.line,
                        row.date,
                        frequency_name(frequency),
                        start
                    ),
                }
            })?;
            indexed.push((index, row.value));
        }
        let grid_len = indexed.last().map_or(0, |&(index, _)| index + 1);
        let filled_gaps = grid_len - rows.len();
        if grid_len > MAX_POINTS {
            return Err(ForecastError::TooManyPoints { limit: MAX_POINTS });
        }
        if filled_gaps as f64 > MAX_FILLED_SHARE * grid_len as f64 {
            return Err(ForecastError::IrregularSpacing {
                message: format!(
                    "{filled_gaps} of {grid_len} {} dates are missing; at most {:.0} % can be \
                     filled by interpolation",
                    frequency_name(frequency),
                    MAX_FILLED_SHARE * 100.0
                ),
            });
        }
        Ok(Series {
            frequency,
            start,
            values: interpolate(&indexed, grid_len),
            filled_gaps,
        })
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no values (never, for a series built from observations).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The date of every value.
    pub fn dates(&self) -> Vec<NaiveDateTime> {
        // Grid dates between two parsed dates always exist.
        (0..self.len())
            .filter_map(|index| self.frequency.date_at(self.start, index))
            .collect()
    }

    /// The `horizon` dates after the last value, or `None` past the end of the calendar.
    pub fn future_dates(&self, horizon: usize) -> Option<Vec<NaiveDateTime>> {
        (self.len()..self.len() + horizon)
            .map(|index| self.frequency.date_at(self.start, index))
            .collect()
    }

    /// The last `len` values as a series of their own.
    pub fn tail(&self, len: usize) -> Series {
        let skipped = self.len() - len.min(self.len());
        Series {
            start: self
                .frequency
                .date_at(self.start, skipped)
                .unwrap_or(self.start),
            values: self.values[skipped..].to_vec(),
            filled_gaps: 0,
            ..self.clone()
        }
    }

    /// The first `len` values as a series of their own (for holdout evaluation).
    pub fn head(&self, len: usize) -> Series {
        Series {
            values: self.values[..len].to_vec(),
            ..self.clone()
        }
    }
}

/// Values on a grid of `grid_len` from `(index, value)` pairs sorted by index, with
/// missing indices linearly interpolated between their neighbours.
fn interpolate(indexed: &[(usize, f64)], grid_len: usize) -> Vec<f64> {
    let mut values = Vec::with_capacity(grid_len);
    for pair in indexed.windows(2) {
        let ((left_index, left), (right_index, right)) = (pair[0], pair[1]);
        let width = (right_index - left_index) as f64;
        for offset in 0..right_index - left_index {
            values.push(left + (right - left) * offset as f64 / width);
        }
    }
    if let Some(&(_, last)) = indexed.last() {
        values.push(last);
    }
    values
}

fn frequency_name(frequency: Frequency) -> &'static str {
    match frequency {
        Frequency::Hourly => "hourly",
        Frequency::Daily => "daily",
        Frequency::Weekly => "weekly",
        Frequency::Monthly => "monthly",
        Frequency::Quarterly => "quarterly",
        Frequency::Yearly => "yearly",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::calendar::parse_date;

    fn observations(cells: &[(&str, f64)]) -> Vec<Observation> {
        cells
            .iter()
            .zip(2..)
            .map(|(&(date, value), line)| Observation {
                date: parse_date(date).unwrap(),
                value,
                line,
            })
            .collect()
    }

    #[test]
    fn rows_are_sorted_by_date() {
        let series = Series::from_observations(observations(&[
            ("2020-03", 3.0),
            ("2020-01", 1.0),
            ("2020-02", 2.0),
        ]))
        .unwrap();
        assert_eq!(series.values, vec![1.0, 2.0, 3.0]);
        assert_eq!(series.frequency, Frequency::Monthly);
        assert_eq!(
            series.future_dates(1),
            Some(vec![parse_date("2020-04-01").unwrap()])
        );
    }

    #[test]
    fn duplicate_dates_name_both_lines() {
        let error = Series::from_observations(observations(&[
            ("2020-01-01", 1.0),
            ("2020-01-02", 2.0),
            ("2020-01-01", 3.0),
        ]))
        .unwrap_err();
        assert_eq!(
            error,
            ForecastError::DuplicateDate {
                date: "2020-01-01 00:00:00".into(),
                first_line: 2,
                second_line: 4
            }
        );
    }

    #[test]
    fn a_few_gaps_are_interpolated_and_counted() {
        let mut cells: Vec<(String, f64)> = (1..=20)
            .map(|day| (format!("2020-01-{day:02}"), f64::from(day)))
            .collect();
        cells.retain(|(date, _)| date != "2020-01-05" && date != "2020-01-06");
        let borrowed: Vec<(&str, f64)> = cells.iter().map(|(d, v)| (d.as_str(), *v)).collect();
        let series = Series::from_observations(observations(&borrowed)).unwrap();
        assert_eq!(series.filled_gaps, 2);
        assert_eq!(series.values, (1..=20).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn many_gaps_or_off_grid_dates_are_irregular() {
        let sparse = observations(&[
            ("2020-01-01", 1.0),
            ("2020-01-02", 2.0),
            ("2020-01-09", 3.0),
        ]);
        let error = Series::from_observations(sparse).unwrap_err();
        assert_eq!(error.code(), "irregular_spacing");
        let off_grid = observations(&[
            ("2020-01-01", 1.0),
            ("2020-01-02", 2.0),
            ("2020-01-03 12:00:00", 3.0),
        ]);
        let error = Series::from_observations(off_grid).unwrap_err();
        assert_eq!(error.code(), "irregular_spacing");
        assert!(error.to_string().contains("line 4"), "{error}");
    }
}
