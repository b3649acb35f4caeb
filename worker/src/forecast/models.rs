//! The concrete models: ETS (its form search is `ets`, each form fitted by `ets_fit`
//! and run by the `anofox-forecast` crate's `ETS`), AutoARIMA (`arima`, our own),
//! AutoTheta (`theta`, our port of statsforecast's) and seasonal naive
//! (`seasonal_naive`), plus their combination. One call fits a model to a series and predicts with intervals
//! (`Model::fit_predict`); another forecasts from several origins for validation
//! (`Model::validate`). Choosing between models is `pipeline`'s job, scoring is
//! `metrics`'. Nothing here reads files or knows about jobs.
//!
//! The combination is the equal-weight mean of the ETS, ARIMA and Theta forecasts (the
//! robust "Comb" benchmark of the M3/M4 competitions). Its prediction intervals combine
//! the members' bounds the same way: each bound is the mean of the members' bounds at
//! that level (quantile averaging), so `lower ≤ point ≤ upper` holds whenever it holds
//! for every member. It is not a new model: no weights are fitted.
//!
//! Validation does not refit everything at every origin. ETS is fitted once at the
//! first origin and then filtered forward over the next windows with its parameters
//! fixed (statsforecast's `cross_validation(refit=False)`); so is AutoARIMA (its order
//! and coefficients, filtered over the data up to each later origin); Theta and
//! SeasonalNaive are cheap and are refitted at every origin. The final refit after
//! validation (`Model::refit`) fits only the ETS forms with the best AICc at the first
//! origin (`ETS_SHORTLIST`) instead of all of them again, and only re-estimates the
//! coefficients of the ARIMA order validation found instead of searching again.

use anofox_forecast::core::{Forecast, TimeSeries};
use anofox_forecast::models::exponential::ETSSpec;
use anofox_forecast::models::{Forecaster, IncrementalForecaster};
use serde::{Deserialize, Serialize};

use crate::forecast::arima::{self, Arima};
use crate::forecast::error::ForecastError;
use crate::forecast::series::Series;
use crate::forecast::{ets, ets_fit, seasonal_naive, theta};

/// A model family that produces forecasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// ETS: error/trend/season forms chosen by AICc (`ets`).
    Ets,
    /// AutoARIMA: stepwise (S)ARIMA order search.
    Arima,
    /// AutoTheta: the Theta variant with the smallest in-sample error.
    Theta,
    /// The value one season earlier (the last value when the season length is 1).
    SeasonalNaive,
    /// The mean of the ETS, ARIMA and Theta forecasts and of their interval bounds.
    Combination,
}

/// AutoARIMA is fitted on at most this many of the latest values: they carry what an
/// ARIMA forecast uses, and the search's cost grows with them (on the bench's
/// daily_1000, all 986 values take 3–4 times as long as these 450, which left it only
/// about 3x faster than statsforecast's AutoARIMA). Chosen on the bench
/// (`ops/benches/forecast`): with the root-rule fallback of `arima`, 300 values left
/// daily_1000 8.7 % and hourly_2000 6.5 % behind statsforecast on the whole series;
/// 450 leave `arima` within 0.3 % or ahead on all four series and `auto` within 4.6 %
/// of the best statsforecast model. The choice is sensitive: at 400 daily_1000's
/// `arima` is 5.2 % behind, at 500 it takes 1.5–2 times as long.
pub const ARIMA_MAX_POINTS: usize = 450;

/// Every single model, in the order `auto` tries them (ties go to the earlier one).
pub const ALL_MODELS: [Model; 4] = [Model::Ets, Model::Arima, Model::Theta, Model::SeasonalNaive];

/// The members of `Model::Combination`.
pub const COMBINATION_MEMBERS: [Model; 3] = [Model::Ets, Model::Arima, Model::Theta];

/// Point forecasts of one model from several origins (see `Model::validate`).
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// The specification fitted at the first origin.
    pub specification: String,
    /// One forecast of `horizon` values per origin, in the order of the origins.
    pub forecasts: Vec<Vec<f64>>,
    /// For ETS: the forms with the best AICc at the first origin, best first, which
    /// `Model::refit` tries instead of searching every form again.
    shortlist: Vec<ETSSpec>,
    /// For ARIMA: the model fitted at the first origin, whose order `Model::refit`
    /// re-estimates instead of searching again.
    arima: Option<Arima>,
}

/// Why a forecast was rejected.
const NON_FINITE: &str = "the model produced missing or non-finite forecasts";

/// Why seasonal naive gave nothing.
const SHORTER_THAN_A_SEASON: &str = "the series is shorter than one season";

/// Why AutoTheta gave nothing.
const TOO_SHORT_FOR_THETA: &str = "theta needs at least four values";

/// Why the ETS search gave nothing.
const NO_ETS_FORM: &str = "no ETS form could be fitted";

/// ETS forms `Model::refit` refits on the whole series (the best by AICc wins).
pub const ETS_SHORTLIST: usize = 3;

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
            Model::Combination => "combination",
        }
    }

    /// Forecasts `horizon` values from each origin in `origins` (ascending; an origin
    /// is how many leading values the model may see), without intervals, for `auto`'s
    /// rolling-origin validation. How much is refitted per origin is in the module
    /// docs. The combination is validated by averaging its members' validations
    /// (`combine_points`), not here.
    pub fn validate(
        self,
        series: &Series,
        season_length: usize,
        origins: &[usize],
        horizon: usize,
    ) -> Result<Validation, ForecastError> {
        let Some(&first) = origins.first() else {
            return Err(self.failed_with("no validation origin"));
        };
        match self {
            Model::Ets => {
                let data = time_series(&series.head(first)).map_err(|e| self.failed(&e))?;
                let fit = ets::search(&data, season_length)
                    .ok_or_else(|| self.failed_with(NO_ETS_FORM))?;
                let specification = fit.model.spec().short_name();
                // A guarded fit (spikes capped, trend forms dropped) is not reproduced
                // by fitting single forms: refit with the full search then.
                let shortlist = if fit.guarded {
                    Vec::new()
                } else {
                    fit.scores
                        .iter()
                        .take(ETS_SHORTLIST)
                        .map(|(spec, _)| *spec)
                        .collect()
                };
                let mut model = fit.model;
                let mut forecasts = Vec::with_capacity(origins.len());
                let mut fitted_to = first;
                for &origin in origins {
                    model
                        .update(&series.values[fitted_to..origin])
                        .map_err(|e| self.failed(&e))?;
                    fitted_to = origin;
                    let forecast = model.predict(horizon).map_err(|e| self.failed(&e))?;
                    forecasts.push(self.checked(forecast.primary().to_vec(), horizon)?);
                }
                Ok(Validation {
                    specification,
                    forecasts,
                    shortlist,
                    arima: None,
                })
            }
            Model::Arima => {
                let (model, _) = self.fit_auto_arima(&series.head(first), season_length)?;
                let forecasts = origins
                    .iter()
                    .map(|&origin| {
                        let window = series.head(origin).tail(ARIMA_MAX_POINTS);
                        let forecast = model
                            .forecast(&window.values, horizon, &[])
                            .ok_or_else(|| self.failed_with(NON_FINITE))?;
                        self.checked(forecast.point, horizon)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Validation {
                    specification: model.order.name(),
                    forecasts,
                    shortlist: Vec::new(),
                    arima: Some(model),
                })
            }
            Model::Theta | Model::SeasonalNaive => {
                let mut specification = String::new();
                let mut forecasts = Vec::with_capacity(origins.len());
                for &origin in origins {
                    let forecast =
                        self.fit_predict(&series.head(origin), season_length, horizon, &[])?;
                    specification = forecast.specification;
                    forecasts.push(forecast.point);
                }
                Ok(Validation {
                    specification,
                    forecasts,
                    shortlist: Vec::new(),
                    arima: None,
                })
            }
            Model::Combination => {
                Err(self.failed_with("the combination is validated through its members"))
            }
        }
    }

    /// `fit_predict` after `validate`, reusing what validation learnt: for ETS, only the
    /// validation's shortlist of forms is refitted and the best by AICc predicts (the
    /// full search when none of them fits); for the combination, each member so (the
    /// members' validations, in `COMBINATION_MEMBERS` order, are `validations`). Other
    /// models are fitted as by `fit_predict`.
    pub fn refit(
        self,
        validations: &[&Validation],
        series: &Series,
        season_length: usize,
        horizon: usize,
        levels: &[u32],
    ) -> Result<ModelForecast, ForecastError> {
        match self {
            Model::Ets => {
                let shortlist = validations
                    .first()
                    .map_or(&[][..], |v| v.shortlist.as_slice());
                match self.fit_shortlist(shortlist, series, season_length, horizon, levels)? {
                    Some(forecast) => Ok(forecast),
                    None => self.fit_predict(series, season_length, horizon, levels),
                }
            }
            Model::Arima => {
                let learnt = validations.first().and_then(|v| v.arima.as_ref());
                match learnt.and_then(|model| {
                    self.fit_arima_order(model, series, season_length, horizon, levels)
                }) {
                    Some(forecast) => Ok(forecast),
                    None => self.fit_predict(series, season_length, horizon, levels),
                }
            }
            Model::Combination if validations.len() == COMBINATION_MEMBERS.len() => {
                let members = COMBINATION_MEMBERS
                    .iter()
                    .zip(validations)
                    .map(|(member, validation)| {
                        member.refit(&[validation], series, season_length, horizon, levels)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(combine(&members))
            }
            _ => self.fit_predict(series, season_length, horizon, levels),
        }
    }

    /// The best by AICc of the ETS `forms` fitted to `series`, or `None` when none fits.
    fn fit_shortlist(
        self,
        forms: &[ETSSpec],
        series: &Series,
        season_length: usize,
        horizon: usize,
        levels: &[u32],
    ) -> Result<Option<ModelForecast>, ForecastError> {
        if forms.is_empty() {
            return Ok(None);
        }
        let data = time_series(series).map_err(|e| self.failed(&e))?;
        let best = forms
            .iter()
            .filter_map(|&spec| {
                ets_fit::fit_form(&series.values, spec, season_length, season_length)
            })
            .min_by(|a, b| a.aicc.total_cmp(&b.aicc));
        let Some((spec, model)) = best.and_then(|fit| Some((fit.spec, fit.model(&data)?))) else {
            return Ok(None);
        };
        let forecasts = self.predict(&model, horizon, levels)?;
        self.finish(spec.short_name(), &forecasts, levels, horizon, Vec::new())
            .map(Some)
    }

    /// AutoARIMA (`arima`) fitted to (the latest `ARIMA_MAX_POINTS` of) `series`, with
    /// the notes on how it was applied.
    fn fit_auto_arima(
        self,
        series: &Series,
        season_length: usize,
    ) -> Result<(Arima, Vec<String>), ForecastError> {
        let (values, season_length, notes) = arima_input(series, season_length);
        let model = arima::auto_arima(values, season_length)
            .ok_or_else(|| self.failed_with("no ARIMA model could be fitted"))?;
        Ok((model, notes))
    }

    /// `fit_predict` for ARIMA after validation: the order chosen there, its
    /// coefficients re-estimated on `series`; `None` when that fit fails.
    fn fit_arima_order(
        self,
        learnt: &Arima,
        series: &Series,
        season_length: usize,
        horizon: usize,
        levels: &[u32],
    ) -> Option<ModelForecast> {
        let (values, _, notes) = arima_input(series, season_length);
        let model = arima::fit_order(values, learnt.order, learnt.has_constant())?;
        self.arima_forecast(&model, values, horizon, levels, notes)
            .ok()
    }

    /// The forecast of a fitted ARIMA from `values`.
    fn arima_forecast(
        self,
        model: &Arima,
        values: &[f64],
        horizon: usize,
        levels: &[u32],
        notes: Vec<String>,
    ) -> Result<ModelForecast, ForecastError> {
        let forecast = model
            .forecast(values, horizon, levels)
            .ok_or_else(|| self.failed_with(NON_FINITE))?;
        let bands = bands(levels, forecast.bands);
        self.complete(
            ModelForecast {
                model: self,
                specification: model.order.name(),
                point: forecast.point,
                bands,
                notes,
            },
            horizon,
        )
    }

    /// `values` when it has `horizon` finite values, else the model's failure.
    fn checked(self, values: Vec<f64>, horizon: usize) -> Result<Vec<f64>, ForecastError> {
        if values.len() == horizon && values.iter().all(|v| v.is_finite()) {
            Ok(values)
        } else {
            Err(self.failed_with(NON_FINITE))
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
        let notes = Vec::new();
        let seasonal = season_length > 1;
        let (specification, forecasts) = match self {
            Model::Ets => {
                let data = time_series(series).map_err(|e| self.failed(&e))?;
                let fit = ets::search(&data, season_length)
                    .ok_or_else(|| self.failed_with(NO_ETS_FORM))?;
                let forecasts = self.predict(&fit.model, horizon, levels)?;
                (fit.model.spec().short_name(), forecasts)
            }
            Model::Arima => {
                let (model, notes) = self.fit_auto_arima(series, season_length)?;
                let (values, _, _) = arima_input(series, season_length);
                return self.arima_forecast(&model, values, horizon, levels, notes);
            }
            Model::Theta => {
                let (fit, theta) = theta::forecast(&series.values, season_length, horizon, levels)
                    .ok_or_else(|| self.failed_with(TOO_SHORT_FOR_THETA))?;
                return self.complete(
                    ModelForecast {
                        model: self,
                        specification: format!("Theta({})", fit.kind.as_str()),
                        point: theta.point,
                        bands: bands(levels, theta.bands),
                        notes,
                    },
                    horizon,
                );
            }
            Model::SeasonalNaive => {
                let naive =
                    seasonal_naive::forecast(&series.values, season_length, horizon, levels)
                        .ok_or_else(|| self.failed_with(SHORTER_THAN_A_SEASON))?;
                let specification = if seasonal {
                    format!("SeasonalNaive({season_length})")
                } else {
                    "Naive".to_owned()
                };
                return self.complete(
                    ModelForecast {
                        model: self,
                        specification,
                        point: naive.point,
                        bands: bands(levels, naive.bands),
                        notes,
                    },
                    horizon,
                );
            }
            Model::Combination => {
                let members = COMBINATION_MEMBERS
                    .iter()
                    .map(|member| member.fit_predict(series, season_length, horizon, levels))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(combine(&members));
            }
        };
        self.finish(specification, &forecasts, levels, horizon, notes)
    }

    /// The model's forecast from its predictions (one per level, or one without
    /// intervals), checked to be complete and finite.
    fn finish(
        self,
        specification: String,
        forecasts: &[Forecast],
        levels: &[u32],
        horizon: usize,
        notes: Vec<String>,
    ) -> Result<ModelForecast, ForecastError> {
        let point = forecasts
            .first()
            .map(|forecast| forecast.primary().to_vec())
            .unwrap_or_default();
        let bands = levels
            .iter()
            .zip(forecasts)
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
        self.complete(
            ModelForecast {
                model: self,
                specification,
                point,
                bands,
                notes,
            },
            horizon,
        )
    }

    /// `forecast` when its point forecast and bands have `horizon` finite values, else
    /// the model's failure.
    fn complete(
        self,
        forecast: ModelForecast,
        horizon: usize,
    ) -> Result<ModelForecast, ForecastError> {
        let complete =
            |values: &[f64]| values.len() == horizon && values.iter().all(|v| v.is_finite());
        if complete(&forecast.point)
            && forecast
                .bands
                .iter()
                .all(|b| complete(&b.lower) && complete(&b.upper))
        {
            Ok(forecast)
        } else {
            Err(self.failed_with(NON_FINITE))
        }
    }

    /// Predicts once per level (or once without intervals when there are no levels).
    fn predict<F: Forecaster>(
        self,
        model: &F,
        horizon: usize,
        levels: &[u32],
    ) -> Result<Vec<Forecast>, ForecastError> {
        Ok(if levels.is_empty() {
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
        })
    }

    fn failed(self, error: &anofox_forecast::ForecastError) -> ForecastError {
        self.failed_with(&error.to_string())
    }

    fn failed_with(self, reason: &str) -> ForecastError {
        ForecastError::ModelFailed {
            model: self.as_str().to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// The combination of fitted members: the mean of their point forecasts and of their
/// bounds per level (see the module docs), named after its members.
pub fn combine(members: &[ModelForecast]) -> ModelForecast {
    let points: Vec<&[f64]> = members.iter().map(|m| m.point.as_slice()).collect();
    let bands = members
        .first()
        .map(|first| {
            (0..first.bands.len())
                .map(|index| {
                    let lower: Vec<&[f64]> = members
                        .iter()
                        .map(|m| m.bands[index].lower.as_slice())
                        .collect();
                    let upper: Vec<&[f64]> = members
                        .iter()
                        .map(|m| m.bands[index].upper.as_slice())
                        .collect();
                    Band {
                        level: first.bands[index].level,
                        lower: combine_points(&lower),
                        upper: combine_points(&upper),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let names: Vec<&str> = members.iter().map(|m| m.specification.as_str()).collect();
    ModelForecast {
        model: Model::Combination,
        specification: format!("Combination({})", names.join(", ")),
        point: combine_points(&points),
        bands,
        notes: members.iter().flat_map(|m| m.notes.clone()).collect(),
    }
}

/// The step-wise mean of equally long forecasts.
pub fn combine_points(forecasts: &[&[f64]]) -> Vec<f64> {
    let count = forecasts.len().max(1) as f64;
    let steps = forecasts.first().map_or(0, |f| f.len());
    (0..steps)
        .map(|step| forecasts.iter().map(|f| f[step]).sum::<f64>() / count)
        .collect()
}

/// The values ARIMA is fitted to (the latest `ARIMA_MAX_POINTS` of `series`), the
/// season length it uses (1 when there are not three seasons) and the notes saying so.
fn arima_input(series: &Series, season_length: usize) -> (&[f64], usize, Vec<String>) {
    let mut notes = Vec::new();
    let points = series.len();
    let values = &series.values[points.saturating_sub(ARIMA_MAX_POINTS)..];
    if points > ARIMA_MAX_POINTS {
        notes.push(format!(
            "arima was fitted on the latest {ARIMA_MAX_POINTS} of {points} values"
        ));
    }
    // Seasonal terms need three full seasons.
    let season_length = if season_length > 1 && values.len() < 3 * season_length {
        notes.push(format!(
            "arima was fitted without seasonal terms: they need at least {} points (three \
             seasons)",
            3 * season_length
        ));
        1
    } else {
        season_length
    };
    (values, season_length, notes)
}

/// One `Band` per level from bounds given in the same order.
fn bands(levels: &[u32], bounds: Vec<(Vec<f64>, Vec<f64>)>) -> Vec<Band> {
    levels
        .iter()
        .zip(bounds)
        .map(|(&level, (lower, upper))| Band {
            level,
            lower,
            upper,
        })
        .collect()
}

/// The series as the crate's input.
fn time_series(series: &Series) -> Result<TimeSeries, anofox_forecast::ForecastError> {
    let timestamps = series
        .dates()
        .into_iter()
        .map(|date| date.and_utc())
        .collect();
    TimeSeries::univariate(timestamps, series.values.clone())
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
                "arima was fitted on the latest {ARIMA_MAX_POINTS} of {} values",
                ARIMA_MAX_POINTS + 100
            )]
        );
        let tail = series.tail(ARIMA_MAX_POINTS);
        assert_eq!(tail.start, parse_date("2020-04-10").unwrap());
        assert_eq!(tail.values[0], series.values[100]);
    }

    fn air_passengers() -> Series {
        let text = include_str!("../../../tests/fixtures/air_passengers.csv");
        Series {
            frequency: Frequency::Monthly,
            start: parse_date("1949-01-01").unwrap(),
            values: text
                .lines()
                .skip(1)
                .map(|line| line.split_once(',').unwrap().1.parse().unwrap())
                .collect(),
            filled_gaps: 0,
        }
    }

    #[test]
    fn arima_validation_reapplies_the_coefficients_fitted_at_the_first_origin() {
        let series = air_passengers().head(132);
        let (model, _) = Model::Arima.fit_auto_arima(&series.head(96), 12).unwrap();
        let point = model.forecast(&series.values[..96], 12, &[]).unwrap().point;
        // A forecast from a later origin filters the same coefficients over more data.
        let ahead = model
            .forecast(&series.values[..108], 12, &[])
            .unwrap()
            .point;
        let validation = Model::Arima.validate(&series, 12, &[96, 108], 12).unwrap();
        assert_eq!(validation.forecasts, vec![point, ahead]);
        assert_eq!(validation.specification, model.order.name());
        assert_eq!(validation.arima.as_ref(), Some(&model));
    }

    #[test]
    fn the_arima_refit_reestimates_the_validated_order_without_searching() {
        let series = air_passengers().head(132);
        let validation = Model::Arima.validate(&series, 12, &[96, 108], 12).unwrap();
        let learnt = validation.arima.clone().unwrap();
        let refitted = Model::Arima
            .refit(&[&validation], &series, 12, 12, &[80])
            .unwrap();
        assert_eq!(refitted.specification, validation.specification);
        let expected = arima::fit_order(&series.values, learnt.order, learnt.has_constant())
            .unwrap()
            .forecast(&series.values, 12, &[80])
            .unwrap();
        assert_eq!(refitted.point, expected.point);
        assert_eq!(refitted.bands[0].lower, expected.bands[0].0);
    }

    #[test]
    fn ets_validation_filters_forward_instead_of_refitting() {
        let series = air_passengers().head(132);
        let validation = Model::Ets.validate(&series, 12, &[108, 120], 12).unwrap();
        let refitted = Model::Ets
            .fit_predict(&series.head(108), 12, 12, &[])
            .unwrap();
        assert_eq!(validation.specification, refitted.specification);
        assert_eq!(validation.forecasts[0], refitted.point);
        // The second window's forecast continues from the first fit: not a refit, but
        // close to one, and about the right level (1959's values are 360..560).
        assert_eq!(validation.forecasts.len(), 2);
        assert!(
            validation.forecasts[1]
                .iter()
                .all(|v| (300.0..700.0).contains(v)),
            "{validation:?}"
        );
    }

    #[test]
    fn the_ets_refit_tries_only_the_validation_shortlist() {
        let series = air_passengers().head(132);
        let validation = Model::Ets.validate(&series, 12, &[108, 120], 12).unwrap();
        assert_eq!(validation.shortlist.len(), ETS_SHORTLIST);
        let names: Vec<String> = validation
            .shortlist
            .iter()
            .map(|s| s.short_name())
            .collect();
        assert_eq!(names[0], validation.specification);
        let refitted = Model::Ets
            .refit(&[&validation], &series, 12, 12, &[80])
            .unwrap();
        assert!(names.contains(&refitted.specification), "{names:?}");
        assert_eq!(refitted.bands.len(), 1);
        // Without a shortlist it is the full search.
        let unguided = Validation {
            shortlist: Vec::new(),
            ..validation
        };
        assert_eq!(
            Model::Ets
                .refit(&[&unguided], &series, 12, 12, &[80])
                .unwrap(),
            Model::Ets.fit_predict(&series, 12, 12, &[80]).unwrap()
        );
    }

    #[test]
    fn the_combination_averages_points_and_bounds_and_names_its_members() {
        let series = air_passengers().head(132);
        let members: Vec<ModelForecast> = COMBINATION_MEMBERS
            .iter()
            .map(|m| m.fit_predict(&series, 12, 6, &[80, 95]).unwrap())
            .collect();
        let combined = Model::Combination
            .fit_predict(&series, 12, 6, &[80, 95])
            .unwrap();
        assert_eq!(combined, combine(&members));
        assert_eq!(combined.model, Model::Combination);
        assert_eq!(
            combined.specification,
            format!(
                "Combination({}, {}, {})",
                members[0].specification, members[1].specification, members[2].specification
            )
        );
        for step in 0..6 {
            let mean = |f: &dyn Fn(&ModelForecast) -> f64| members.iter().map(f).sum::<f64>() / 3.0;
            assert!((combined.point[step] - mean(&|m| m.point[step])).abs() < 1e-9);
            let lower_95 = mean(&|m| m.bands[1].lower[step]);
            assert!((combined.bands[1].lower[step] - lower_95).abs() < 1e-9);
            let band = |index: usize| &combined.bands[index];
            assert!(
                band(1).lower[step] <= band(0).lower[step]
                    && band(0).lower[step] <= combined.point[step]
                    && combined.point[step] <= band(0).upper[step]
                    && band(0).upper[step] <= band(1).upper[step]
            );
        }
        assert_eq!(combined.bands[0].level, 80);
    }
}
