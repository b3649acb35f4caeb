//! The `forecast` job's parameters (`API.md`): method, horizon, columns, season length
//! and interval levels, with the limits that validate them. No parsing of files here.

use serde::{Deserialize, Serialize};

use crate::forecast::error::ForecastError;

/// The most data rows a forecast reads.
pub const MAX_POINTS: usize = 100_000;
/// The largest horizon accepted (it must also not exceed the series length).
pub const MAX_HORIZON: usize = 1000;
/// The largest season length accepted.
pub const MAX_SEASON_LENGTH: usize = 1000;
/// The most interval levels one forecast produces.
pub const MAX_LEVELS: usize = 5;
/// Interval levels used when the request names none.
pub const DEFAULT_LEVELS: [u32; 2] = [80, 95];

/// The parameters of a `forecast` job, as in `API.md` minus `file_id` (the job kind
/// resolves the file to a path; other fields are ignored, so the job's whole params
/// object deserializes into this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastParams {
    /// Steps to forecast past the last date: 1..=1000 and at most the series length.
    pub horizon: usize,
    /// The date column; detected when absent (the first column whose values are dates).
    #[serde(default)]
    pub date_column: Option<String>,
    /// The value column; detected when absent (the first other numeric column).
    #[serde(default)]
    pub value_column: Option<String>,
    /// Observations per season; derived from the frequency when absent.
    #[serde(default)]
    pub season_length: Option<usize>,
    /// Which model to use.
    #[serde(default)]
    pub method: Method,
    /// Prediction-interval levels in percent, each 1..=99; default `[80, 95]`.
    #[serde(default)]
    pub levels: Option<Vec<u32>>,
}

/// What the caller asks for: one model family, or `auto` to pick by holdout accuracy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Evaluate every model on the holdout, then refit the most accurate.
    #[default]
    Auto,
    /// AutoETS (exponential smoothing state-space models chosen by AICc).
    Ets,
    /// AutoARIMA (Hyndman–Khandakar stepwise search).
    Arima,
    /// AutoTheta (standard, optimised and dynamic Theta models).
    Theta,
    /// The value one season earlier (Naive when the season length is 1).
    SeasonalNaive,
}

impl Method {
    /// The method as it is spelled in parameters and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Ets => "ets",
            Method::Arima => "arima",
            Method::Theta => "theta",
            Method::SeasonalNaive => "seasonal_naive",
        }
    }

    /// The fewest observations the method accepts, so that the holdout still leaves
    /// the model enough to fit (AutoARIMA needs 10, AutoTheta 4, AutoETS 4).
    pub fn min_points(self) -> usize {
        match self {
            Method::Auto | Method::Arima => 13,
            Method::Theta => 8,
            Method::Ets => 6,
            Method::SeasonalNaive => 3,
        }
    }
}

impl ForecastParams {
    /// The interval levels, sorted and deduplicated, or the error naming the bad one.
    pub fn validated_levels(&self) -> Result<Vec<u32>, ForecastError> {
        let mut levels = self
            .levels
            .clone()
            .unwrap_or_else(|| DEFAULT_LEVELS.to_vec());
        if levels.is_empty() {
            return Err(ForecastError::InvalidLevels {
                message: "at least one level is needed".into(),
            });
        }
        if let Some(bad) = levels.iter().find(|level| !(1..=99).contains(*level)) {
            return Err(ForecastError::InvalidLevels {
                message: format!("{bad} is not between 1 and 99"),
            });
        }
        levels.sort_unstable();
        levels.dedup();
        if levels.len() > MAX_LEVELS {
            return Err(ForecastError::InvalidLevels {
                message: format!("at most {MAX_LEVELS} levels are accepted"),
            });
        }
        Ok(levels)
    }

    /// Checks the horizon against the series length `points`.
    pub fn validate_horizon(&self, points: usize) -> Result<(), ForecastError> {
        let max = MAX_HORIZON.min(points);
        if self.horizon == 0 || self.horizon > max {
            return Err(ForecastError::HorizonOutOfRange {
                horizon: self.horizon,
                max,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: serde_json::Value) -> ForecastParams {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_are_auto_and_80_95() {
        let p = params(serde_json::json!({"horizon": 12}));
        assert_eq!(p.method, Method::Auto);
        assert_eq!(p.validated_levels().unwrap(), vec![80, 95]);
    }

    #[test]
    fn levels_are_sorted_deduplicated_and_bounded() {
        let p = params(serde_json::json!({"horizon": 1, "levels": [95, 50, 95]}));
        assert_eq!(p.validated_levels().unwrap(), vec![50, 95]);
        for bad in [
            serde_json::json!([]),
            serde_json::json!([0]),
            serde_json::json!([100]),
            serde_json::json!([10, 20, 30, 40, 50, 60]),
        ] {
            let p = params(serde_json::json!({"horizon": 1, "levels": bad}));
            assert_eq!(p.validated_levels().unwrap_err().code(), "invalid_levels");
        }
    }

    #[test]
    fn horizon_must_fit_the_series_and_the_cap() {
        let p = |horizon| params(serde_json::json!({ "horizon": horizon }));
        assert!(p(24).validate_horizon(24).is_ok());
        for (horizon, points) in [(0, 24), (25, 24), (1001, 5000)] {
            let error = p(horizon).validate_horizon(points).unwrap_err();
            assert_eq!(error.code(), "horizon_out_of_range");
        }
    }

    #[test]
    fn unknown_methods_are_rejected_and_file_id_is_ignored() {
        let bad_method = serde_json::json!({"horizon": 1, "method": "prophet"});
        assert!(serde_json::from_value::<ForecastParams>(bad_method).is_err());
        let job_params = serde_json::json!({"horizon": 3, "file_id": "f", "method": "theta"});
        assert_eq!(params(job_params).method, Method::Theta);
    }
}
