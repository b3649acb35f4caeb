//! The concrete models, all from the `anofox-forecast` crate (ports of statsforecast):
//! AutoETS, AutoARIMA, AutoTheta and SeasonalNaive. One call fits a model to a series
//! and predicts with intervals. Choosing between models is `pipeline`'s job.

use anofox_forecast::core::{Forecast, TimeSeries};
use anofox_forecast::models::Forecaster;
use anofox_forecast::models::arima::AutoARIMA;
use anofox_forecast::models::baseline::{Naive, SeasonalNaive};
use anofox_forecast::models::exponential::AutoETS;
use anofox_forecast::models::theta::AutoTheta;
use serde::{Deserialize, Serialize};

use crate::forecast::error::ForecastError;
use crate::forecast::series::Series;

/// A model family that produces forecasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// AutoETS: error/trend/season variants chosen by AICc.
    Ets,
    /// AutoARIMA: stepwise (S)ARIMA order search.
    Arima,
    /// AutoTheta: the Theta variant with the smallest in-sample error.
    Theta,
    /// The value one season earlier (the last value when the season length is 1).
    SeasonalNaive,
}

/// AutoARIMA is fitted on at most this many of the latest values: its search grows
/// superlinearly (about 1 s for 144 values, tens of seconds for 1 000 on a busy
/// 2-core box), and the latest values carry what an ARIMA forecast uses.
pub const ARIMA_MAX_POINTS: usize = 300;

/// Every model, in the order `auto` tries them (ties go to the earlier one).
pub const ALL_MODELS: [Model; 4] = [Model::Ets, Model::Arima, Model::Theta, Model::SeasonalNaive];

/// One prediction interval band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Coverage in percent.
    pub level: u32,
    /// Lower bound per step.
    pub lower: Vec<f64>,
    /// Upper bound per step.
    pub upper: Vec<f64>,
}

/// What one fitted model predicts.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelForecast {
    /// The family.
    pub model: Model,
    /// The fitted specification, e.g. `ETS(M,A,M)` or `ARIMA(1,1,0)(0,1,0)[12]`.
    pub specification: String,
    /// Point forecast per step.
    pub point: Vec<f64>,
    /// One band per requested level, in the order requested.
    pub bands: Vec<Band>,
    /// Anything a user should know about how the model was applied.
    pub notes: Vec<String>,
}

impl Model {
    /// The model as it is spelled in parameters and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Ets => "ets",
            Model::Arima => "arima",
            Model::Theta => "theta",
            Model::SeasonalNaive => "seasonal_naive",
        }
    }

    /// Fits the model to `series` with season length `season_length` (1 = none) and
    /// predicts `horizon` steps with a band per level in `levels` (percent; may be empty).
    pub fn fit_predict(
        self,
        series: &Series,
        season_length: usize,
        horizon: usize,
        levels: &[u32],
    ) -> Result<ModelForecast, ForecastError> {
        let mut notes = Vec::new();
        let windowed;
        let series = if self == Model::Arima && series.len() > ARIMA_MAX_POINTS {
            notes.push(format!(
                "arima was fitted on the latest {ARIMA_MAX_POINTS} of {} values",
                series.len()
            ));
            windowed = series.tail(ARIMA_MAX_POINTS);
            &windowed
        } else {
            series
        };
        let timestamps = series
            .dates()
            .into_iter()
            .map(|date| date.and_utc())
            .collect();
        let data = TimeSeries::univariate(timestamps, series.values.clone())
            .map_err(|error| self.failed(&error))?;
        let seasonal = season_length > 1;
        let (specification, forecasts) = match self {
            Model::Ets => {
                let model = if seasonal {
                    AutoETS::with_period(season_length)
                } else {
                    AutoETS::non_seasonal()
                };
                self.run(model, &data, horizon, levels, |m| {
                    m.selected_spec().map(|spec| spec.short_name())
                })?
            }
            Model::Arima => {
                // AutoARIMA needs three full seasons for seasonal terms.
                let model = if seasonal && series.len() >= 3 * season_length {
                    AutoARIMA::seasonal(season_length)
                } else {
                    if seasonal {
                        notes.push(format!(
                            "arima was fitted without seasonal terms: they need at least {} \
                             points (three seasons)",
                            3 * season_length
                        ));
                    }
                    AutoARIMA::new()
                };
                self.run(model, &data, horizon, levels, |m| {
                    m.selected_full_order().map(|o| {
                        if o.is_seasonal() {
                            format!(
                                "ARIMA({},{},{})({},{},{})[{}]",
                                o.p, o.d, o.q, o.cap_p, o.cap_d, o.cap_q, o.s
                            )
                        } else {
                            format!("ARIMA({},{},{})", o.p, o.d, o.q)
                        }
                    })
                })?
            }
            Model::Theta => {
                let model = if seasonal {
                    AutoTheta::seasonal(season_length)
                } else {
                    AutoTheta::new()
                };
                self.run(model, &data, horizon, levels, |m| {
                    m.selected_model().map(|kind| format!("Theta({kind})"))
                })?
            }
            Model::SeasonalNaive if seasonal => self.run(
                SeasonalNaive::new(season_length),
                &data,
                horizon,
                levels,
                |_| Some(format!("SeasonalNaive({season_length})")),
            )?,
            Model::SeasonalNaive => self.run(Naive::new(), &data, horizon, levels, |_| {
                Some("Naive".to_owned())
            })?,
        };
        let point = forecasts
            .first()
            .map(|forecast| forecast.primary().to_vec())
            .unwrap_or_default();
        let bands = levels
            .iter()
            .zip(&forecasts)
            .map(|(&level, forecast)| Band {
                level,
                lower: forecast
                    .lower_series(0)
                    .map(<[f64]>::to_vec)
                    .unwrap_or_default(),
                upper: forecast
                    .upper_series(0)
                    .map(<[f64]>::to_vec)
                    .unwrap_or_default(),
            })
            .collect::<Vec<_>>();
        let complete =
            |values: &[f64]| values.len() == horizon && values.iter().all(|v| v.is_finite());
        if !complete(&point)
            || !bands
                .iter()
                .all(|b| complete(&b.lower) && complete(&b.upper))
        {
            return Err(ForecastError::ModelFailed {
                model: self.as_str().to_owned(),
                reason: "the model produced missing or non-finite forecasts".into(),
            });
        }
        Ok(ModelForecast {
            model: self,
            specification,
            point,
            bands,
            notes,
        })
    }

    /// Fits `model` and predicts once per level (or once without intervals when there
    /// are no levels), returning the fitted specification and the forecasts.
    fn run<F: Forecaster>(
        self,
        mut model: F,
        data: &TimeSeries,
        horizon: usize,
        levels: &[u32],
        specification: impl Fn(&F) -> Option<String>,
    ) -> Result<(String, Vec<Forecast>), ForecastError> {
        model.fit(data).map_err(|error| self.failed(&error))?;
        let forecasts = if levels.is_empty() {
            vec![
                model
                    .predict(horizon)
                    .map_err(|error| self.failed(&error))?,
            ]
        } else {
            levels
                .iter()
                .map(|&level| {
                    model
                        .predict_with_intervals(horizon, f64::from(level) / 100.0)
                        .map_err(|error| self.failed(&error))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let specification = specification(&model).unwrap_or_else(|| self.as_str().to_owned());
        Ok((specification, forecasts))
    }

    fn failed(self, error: &anofox_forecast::ForecastError) -> ForecastError {
        ForecastError::ModelFailed {
            model: self.as_str().to_owned(),
            reason: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::calendar::{Frequency, parse_date};

    #[test]
    fn arima_fits_only_the_latest_values_of_a_long_series() {
        let values: Vec<f64> = (0..ARIMA_MAX_POINTS + 100)
            .map(|t| 50.0 + 0.1 * t as f64 + [0.0, 3.0, 5.0, 2.0, -1.0, -4.0, -5.0][t % 7])
            .collect();
        let series = Series {
            frequency: Frequency::Daily,
            start: parse_date("2020-01-01").unwrap(),
            values,
            filled_gaps: 0,
        };
        let forecast = Model::Arima.fit_predict(&series, 7, 7, &[80]).unwrap();
        assert_eq!(forecast.point.len(), 7);
        assert_eq!(
            forecast.notes,
            vec![format!(
                "arima was fitted on the latest {ARIMA_MAX_POINTS} of 400 values"
            )]
        );
        let tail = series.tail(ARIMA_MAX_POINTS);
        assert_eq!(tail.start, parse_date("2020-04-10").unwrap());
        assert_eq!(tail.values[0], series.values[100]);
    }
}
