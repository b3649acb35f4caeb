//! Seasonal naive (naive when the season length is 1): the last season repeated, with
//! normal prediction intervals whose standard error is the in-sample one-season-ahead
//! residuals' root mean square times √(whole seasons ahead). The same forecasts and
//! intervals as the `anofox-forecast` crate's `SeasonalNaive` and `Naive` (ports of
//! statsforecast's), computed on the values directly: the crate's needs a timestamped
//! series built first, which cost more than the forecast (slower than statsforecast on
//! long series). The quantile is the crate's accurate `quantile_normal` (the baselines'
//! own is a four-digit approximation). Not a general baseline library.

use anofox_forecast::utils::stats::quantile_normal;

/// A seasonal naive forecast: the point forecast and, per requested level, the bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveForecast {
    /// One value per step ahead.
    pub point: Vec<f64>,
    /// Per level (in the order asked), `(lower, upper)`, one value per step each.
    pub bands: Vec<(Vec<f64>, Vec<f64>)>,
}

/// Forecasts `horizon` steps of `values` with season length `period` (1 = naive);
/// `None` when there is not a whole season of values.
pub fn forecast(
    values: &[f64],
    period: usize,
    horizon: usize,
    levels: &[u32],
) -> Option<NaiveForecast> {
    let period = period.max(1);
    let n = values.len();
    if n < period || n == 0 {
        return None;
    }
    let last_season = &values[n - period..];
    let point: Vec<f64> = (0..horizon).map(|h| last_season[h % period]).collect();
    let residuals = n - period;
    // The residuals' spread only widens bands: not computed when none is asked for.
    let sigma = if residuals == 0 || levels.is_empty() {
        0.0
    } else {
        let squares: f64 = values
            .iter()
            .zip(&values[period..])
            .map(|(before, now)| (now - before) * (now - before))
            .sum();
        (squares / residuals as f64).sqrt()
    };
    let bands = levels
        .iter()
        .map(|&level| {
            let z = quantile_normal(0.5 + f64::from(level) / 200.0);
            point
                .iter()
                .enumerate()
                .map(|(h, &p)| {
                    let seasons_ahead = (h / period + 1) as f64;
                    let half = z * sigma * seasons_ahead.sqrt();
                    (p - half, p + half)
                })
                .unzip()
        })
        .collect();
    Some(NaiveForecast { point, bands })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anofox_forecast::core::TimeSeries;
    use anofox_forecast::models::Forecaster;
    use anofox_forecast::models::baseline::{Naive, SeasonalNaive};

    fn series(values: &[f64]) -> TimeSeries {
        let start = chrono::DateTime::from_timestamp(0, 0).unwrap();
        let stamps = (0..values.len())
            .map(|i| start + chrono::Duration::days(i64::try_from(i).unwrap()))
            .collect();
        TimeSeries::univariate(stamps, values.to_vec()).unwrap()
    }

    fn values() -> Vec<f64> {
        (0..50)
            .map(|i| 100.0 + f64::from(i) + 10.0 * (f64::from(i) * 0.9).sin())
            .collect()
    }

    #[test]
    fn points_and_widths_match_the_crates_seasonal_naive() {
        let values = values();
        let ours = forecast(&values, 7, 17, &[80, 95]).unwrap();
        let mut crate_model = SeasonalNaive::new(7);
        crate_model.fit(&series(&values)).unwrap();
        let theirs = crate_model.predict(17).unwrap();
        assert_eq!(ours.point, theirs.primary());
        // The crate's baseline quantile is within 5e-4 of the true one: compare the
        // standard errors both bounds imply.
        let wide = crate_model.predict_with_intervals(17, 0.95).unwrap();
        let z = quantile_normal(0.975);
        for (h, (&upper, &point)) in ours.bands[1].1.iter().zip(&ours.point).enumerate() {
            let theirs_half = wide.upper_series(0).unwrap()[h] - wide.primary()[h];
            let ours_half = upper - point;
            assert!((ours_half / z - theirs_half / 1.959_964).abs() < 2e-3 * ours_half / z);
            assert!(ours.bands[0].0[h] < point && ours.bands[0].1[h] > point);
        }
    }

    #[test]
    fn season_length_one_is_the_crates_naive() {
        let values = values();
        let ours = forecast(&values, 1, 5, &[]).unwrap();
        let mut crate_model = Naive::new();
        crate_model.fit(&series(&values)).unwrap();
        assert_eq!(ours.point, crate_model.predict(5).unwrap().primary());
        assert!(ours.bands.is_empty());
    }

    #[test]
    fn the_band_widens_with_each_whole_season_ahead() {
        let ours = forecast(&values(), 7, 15, &[90]).unwrap();
        let half = |h: usize| ours.bands[0].1[h] - ours.point[h];
        assert!((half(0) - half(6)).abs() < 1e-9);
        assert!((half(7) / half(0) - 2f64.sqrt()).abs() < 1e-9);
        assert!((half(14) / half(0) - 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(forecast(&[1.0, 2.0], 7, 3, &[]), None);
    }
}
