//! The forecast itself: validate the parameters against the series, resolve the season
//! length, score the model (or every model, for `auto`) on a holdout, refit on the whole
//! series and assemble the output. Synchronous and CPU-bound: run it off the async
//! runtime, and in the `fairlane-forecast` child (`isolated`) when it must be killable.
//!
//! Holdout: the last `horizon` values, at most 20 % of the series and at least one
//! value (a holdout of one season was tried first: on the bench's hourly series its 24
//! values picked SeasonalNaive over clearly better models). `auto` picks the model
//! with the smallest holdout MAE (equivalently MASE: both share the scale), then refits
//! it on the whole series; a model that fails is skipped and reported.

use std::path::Path;

use crate::forecast::error::ForecastError;
use crate::forecast::input::{ColumnChoice, read_csv};
use crate::forecast::metrics::Accuracy;
use crate::forecast::models::{ALL_MODELS, Model, ModelForecast};
use crate::forecast::output::{Candidate, ForecastOutput, ForecastRow, Holdout};
use crate::forecast::params::{ForecastParams, MAX_SEASON_LENGTH, Method};
use crate::forecast::series::Series;

/// Reads the CSV at `path` and forecasts it.
pub fn forecast_file(
    path: &Path,
    params: &ForecastParams,
) -> Result<ForecastOutput, ForecastError> {
    let observations = read_csv(
        path,
        ColumnChoice {
            date_column: params.date_column.as_deref(),
            value_column: params.value_column.as_deref(),
        },
    )?;
    let series = Series::from_observations(observations.rows)?;
    forecast_series(&series, params)
}

/// Forecasts a regular series.
pub fn forecast_series(
    series: &Series,
    params: &ForecastParams,
) -> Result<ForecastOutput, ForecastError> {
    let levels = params.validated_levels()?;
    let points = series.len();
    let min_points = params.method.min_points();
    if points < min_points {
        return Err(ForecastError::TooFewPoints {
            message: format!(
                "method {} needs at least {min_points} points, the series has {points}",
                params.method.as_str()
            ),
        });
    }
    params.validate_horizon(points)?;
    let mut notes = Vec::new();
    if series.filled_gaps > 0 {
        notes.push(format!(
            "{} missing dates were filled by linear interpolation",
            series.filled_gaps
        ));
    }
    let future_dates =
        series
            .future_dates(params.horizon)
            .ok_or(ForecastError::HorizonOutOfRange {
                horizon: params.horizon,
                max: 0,
            })?;
    let season_length = resolve_season_length(series, params, &mut notes)?;
    let holdout_points = holdout_points(points, params.horizon);
    let training = series.head(points - holdout_points);
    let actual = &series.values[points - holdout_points..];
    let score = |model: Model| {
        model
            .fit_predict(&training, season_length, holdout_points, &[])
            .map(|forecast| {
                Accuracy::measure(&training.values, season_length, actual, &forecast.point)
            })
    };

    let (ranked, candidates) = match params.method {
        Method::Auto => {
            let candidates: Vec<Candidate> = ALL_MODELS
                .iter()
                .map(|&model| match score(model) {
                    Ok(accuracy) => Candidate {
                        model,
                        accuracy: Some(accuracy),
                        error: None,
                    },
                    Err(error) => Candidate {
                        model,
                        accuracy: None,
                        error: Some(error.to_string()),
                    },
                })
                .collect();
            let mut ranked: Vec<(Model, Accuracy)> = candidates
                .iter()
                .filter_map(|c| c.accuracy.map(|accuracy| (c.model, accuracy)))
                .collect();
            ranked.sort_by(|a, b| a.1.mae.total_cmp(&b.1.mae));
            (ranked, candidates)
        }
        Method::Ets => (vec![(Model::Ets, score(Model::Ets)?)], Vec::new()),
        Method::Arima => (vec![(Model::Arima, score(Model::Arima)?)], Vec::new()),
        Method::Theta => (vec![(Model::Theta, score(Model::Theta)?)], Vec::new()),
        Method::SeasonalNaive => (
            vec![(Model::SeasonalNaive, score(Model::SeasonalNaive)?)],
            Vec::new(),
        ),
    };

    let mut refit_errors = Vec::new();
    for (model, accuracy) in ranked {
        match model.fit_predict(series, season_length, params.horizon, &levels) {
            Ok(forecast) => {
                if params.method == Method::Auto {
                    notes.push(format!(
                        "auto chose {} by the smallest MAE on the last {holdout_points} values",
                        model.as_str()
                    ));
                }
                notes.extend(refit_errors);
                return Ok(assemble(
                    series,
                    params,
                    future_dates,
                    season_length,
                    levels,
                    Holdout {
                        points: holdout_points,
                        accuracy,
                    },
                    candidates,
                    forecast,
                    notes,
                ));
            }
            Err(error) if params.method == Method::Auto => {
                refit_errors.push(format!("{} was skipped: {error}", model.as_str()));
            }
            Err(error) => return Err(error),
        }
    }
    let reasons: Vec<String> = candidates
        .iter()
        .filter_map(|candidate| candidate.error.clone())
        .chain(refit_errors)
        .collect();
    Err(ForecastError::ModelFailed {
        model: Method::Auto.as_str().to_owned(),
        reason: reasons.join("; "),
    })
}

/// The season length to use: the requested one (validated), or the frequency's usual
/// one, dropped to 1 with a note when the series is shorter than two seasons.
fn resolve_season_length(
    series: &Series,
    params: &ForecastParams,
    notes: &mut Vec<String>,
) -> Result<usize, ForecastError> {
    let points = series.len();
    match params.season_length {
        Some(season_length) => {
            if season_length == 0 || season_length > MAX_SEASON_LENGTH {
                return Err(ForecastError::InvalidSeasonLength {
                    season_length,
                    max: MAX_SEASON_LENGTH,
                });
            }
            if season_length > 1 && points < 2 * season_length {
                return Err(ForecastError::TooFewPoints {
                    message: format!(
                        "season_length {season_length} needs at least {} points (two \
                         seasons), the series has {points}",
                        2 * season_length
                    ),
                });
            }
            Ok(season_length)
        }
        None => {
            let season_length = series.frequency.season_length();
            if season_length > 1 && points < 2 * season_length {
                notes.push(format!(
                    "the series is shorter than two seasons of {season_length}, so it was \
                     forecast without seasonality"
                ));
                return Ok(1);
            }
            Ok(season_length)
        }
    }
}

/// Values held out for scoring (see the module docs).
fn holdout_points(points: usize, horizon: usize) -> usize {
    horizon.min(points / 5).max(1)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one private assembly step; a struct would only rename the arguments"
)]
fn assemble(
    series: &Series,
    params: &ForecastParams,
    future_dates: Vec<chrono::NaiveDateTime>,
    season_length: usize,
    levels: Vec<u32>,
    holdout: Holdout,
    candidates: Vec<Candidate>,
    forecast: ModelForecast,
    mut notes: Vec<String>,
) -> ForecastOutput {
    notes.extend(forecast.notes);
    let rows = future_dates
        .into_iter()
        .enumerate()
        .map(|(step, date)| ForecastRow {
            date,
            forecast: forecast.point[step],
            lower: forecast.bands.iter().map(|band| band.lower[step]).collect(),
            upper: forecast.bands.iter().map(|band| band.upper[step]).collect(),
        })
        .collect();
    ForecastOutput {
        method: params.method,
        model: forecast.model,
        specification: forecast.specification,
        frequency: series.frequency,
        season_length,
        observations: series.len(),
        levels,
        holdout,
        candidates,
        rows,
        notes,
    }
}
