//! The forecast itself: validate the parameters against the series, resolve the season
//! length, score the model (or every model, for `auto`) on held-out values, refit on the
//! whole series and assemble the output. Synchronous and CPU-bound: run it off the async
//! runtime, and in the `fairlane-forecast` child (`isolated`) when it must be killable.
//! It does no model arithmetic of its own (`models`, `metrics`).
//!
//! Holdout: the last `horizon` values, at most 20 % of the series and at least one
//! value (a holdout of one season was tried first: on the bench's hourly series its 24
//! values picked SeasonalNaive over clearly better models). A single method is scored
//! on that one holdout.
//!
//! `auto` validates on rolling origins instead: up to five consecutive windows of that
//! size ending at the end of the series (fewer when they would take more than 40 % of
//! it or leave less than two seasons, at least 10 values, before the first one). One
//! holdout was too noisy a judge: on a few values a lucky model wins and then
//! forecasts worse than the others (three windows of 14 days still let ARIMA win by
//! 0.5 % on the bench's daily series and then forecast 12 % worse). More windows are
//! cheap because the costly models are not refitted per window (`models`).
//!
//! Every single model and the combination of ETS, ARIMA and Theta (`models`) are
//! scored by their MAE averaged over the windows (MAE shares the scale within a window,
//! so this ranks like MASE), and the best is refitted on the whole series
//! (`Model::refit`: ETS only tries the forms that validation ranked best, ARIMA only
//! re-estimates the order validation found); a model that
//! fails is skipped and reported. Ties go to the earlier of ets, arima, theta,
//! seasonal_naive, combination. The summary's candidates are the four single models;
//! the combination's score is in the notes, and in `holdout` when it is chosen.

use std::path::Path;

use crate::forecast::error::ForecastError;
use crate::forecast::input::{ColumnChoice, read_csv};
use crate::forecast::metrics::Accuracy;
use crate::forecast::models::{
    ALL_MODELS, COMBINATION_MEMBERS, Model, ModelForecast, Validation, combine_points,
};
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
    let context = Context {
        series,
        params,
        future_dates,
        season_length,
        levels,
        holdout_points,
    };
    let model = match params.method {
        Method::Auto => return auto(context, notes),
        Method::Ets => Model::Ets,
        Method::Arima => Model::Arima,
        Method::Theta => Model::Theta,
        Method::SeasonalNaive => Model::SeasonalNaive,
    };
    let training = series.head(points - holdout_points);
    let actual = &series.values[points - holdout_points..];
    let scored = model.fit_predict(&training, season_length, holdout_points, &[])?;
    let accuracy = Accuracy::measure(&training.values, season_length, actual, &scored.point);
    let forecast = model.fit_predict(series, season_length, params.horizon, &context.levels)?;
    let holdout = Holdout {
        points: holdout_points,
        windows: 1,
        accuracy,
    };
    Ok(context.assemble(holdout, Vec::new(), forecast, notes))
}

/// What every step of one forecast shares.
struct Context<'a> {
    series: &'a Series,
    params: &'a ForecastParams,
    future_dates: Vec<chrono::NaiveDateTime>,
    season_length: usize,
    levels: Vec<u32>,
    holdout_points: usize,
}

/// Rolling-origin validation windows at most (see the module docs).
const MAX_WINDOWS: usize = 5;

/// `auto`: validate every model and the combination, refit the best (module docs).
fn auto(context: Context<'_>, mut notes: Vec<String>) -> Result<ForecastOutput, ForecastError> {
    let Context {
        series,
        season_length,
        holdout_points,
        ..
    } = context;
    let origins = validation_origins(series.len(), holdout_points, season_length);
    let score = |forecasts: &[Vec<f64>]| {
        let windows: Vec<Accuracy> = origins
            .iter()
            .zip(forecasts)
            .map(|(&origin, forecast)| {
                Accuracy::measure(
                    &series.values[..origin],
                    season_length,
                    &series.values[origin..origin + holdout_points],
                    forecast,
                )
            })
            .collect();
        Accuracy::mean(&windows)
    };
    let validations: Vec<(Model, Result<Validation, ForecastError>)> = ALL_MODELS
        .iter()
        .map(|&model| {
            let validation = model.validate(series, season_length, &origins, holdout_points);
            (model, validation)
        })
        .collect();
    let candidates: Vec<Candidate> = validations
        .iter()
        .map(|(model, validation)| match validation {
            Ok(validation) => Candidate {
                model: *model,
                accuracy: Some(score(&validation.forecasts)),
                error: None,
            },
            Err(error) => Candidate {
                model: *model,
                accuracy: None,
                error: Some(error.to_string()),
            },
        })
        .collect();
    let mut ranked: Vec<(Model, Accuracy)> = candidates
        .iter()
        .filter_map(|c| c.accuracy.map(|accuracy| (c.model, accuracy)))
        .collect();

    let members: Vec<&Validation> = validations
        .iter()
        .filter(|(model, _)| COMBINATION_MEMBERS.contains(model))
        .filter_map(|(_, validation)| validation.as_ref().ok())
        .collect();
    if members.len() == COMBINATION_MEMBERS.len() {
        let forecasts: Vec<Vec<f64>> = (0..origins.len())
            .map(|window| {
                let points: Vec<&[f64]> = members
                    .iter()
                    .map(|member| member.forecasts[window].as_slice())
                    .collect();
                combine_points(&points)
            })
            .collect();
        let accuracy = score(&forecasts);
        notes.push(format!(
            "the combination (mean of ets, arima and theta) had a mean MAE of {:.6}",
            accuracy.mae
        ));
        ranked.push((Model::Combination, accuracy));
    } else {
        notes.push("the combination was not scored: one of its members failed".to_owned());
    }
    // Stable: ties keep the order above.
    ranked.sort_by(|a, b| a.1.mae.total_cmp(&b.1.mae));

    let mut refit_errors = Vec::new();
    let validated = |model: Model| {
        validations
            .iter()
            .find(|(validated, _)| *validated == model)
            .and_then(|(_, validation)| validation.as_ref().ok())
    };
    for (model, accuracy) in ranked {
        let learnt: Vec<&Validation> = if model == Model::Combination {
            members.clone()
        } else {
            validated(model).into_iter().collect()
        };
        match model.refit(
            &learnt,
            series,
            season_length,
            context.params.horizon,
            &context.levels,
        ) {
            Ok(forecast) => {
                notes.push(format!(
                    "auto chose {} by the smallest mean MAE over {} rolling windows of \
                     {holdout_points} values",
                    model.as_str(),
                    origins.len()
                ));
                notes.extend(refit_errors);
                let holdout = Holdout {
                    points: holdout_points,
                    windows: origins.len(),
                    accuracy,
                };
                return Ok(context.assemble(holdout, candidates, forecast, notes));
            }
            Err(error) => {
                refit_errors.push(format!("{} was skipped: {error}", model.as_str()));
            }
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

/// Where `auto`'s validation windows of `holdout_points` values start: as many as
/// `MAX_WINDOWS` back to back, ending at the end of the series, while they take at
/// most 40 % of it and leave two seasons (and at least 10 values) before the first;
/// always at least the last one.
fn validation_origins(points: usize, holdout_points: usize, season_length: usize) -> Vec<usize> {
    let min_training = (2 * season_length).max(10);
    let windows = (1..=MAX_WINDOWS)
        .rev()
        .find(|&windows| {
            let held = windows * holdout_points;
            windows == 1 || (5 * held <= 2 * points && points >= held + min_training)
        })
        .unwrap_or(1);
    (0..windows)
        .map(|window| points - (windows - window) * holdout_points)
        .collect()
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

impl Context<'_> {
    fn assemble(
        self,
        holdout: Holdout,
        candidates: Vec<Candidate>,
        forecast: ModelForecast,
        mut notes: Vec<String>,
    ) -> ForecastOutput {
        let Context {
            series,
            params,
            future_dates,
            season_length,
            levels,
            ..
        } = self;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_windows_fit_the_series() {
        // AirPassengers 1949-1959 with a 12-month horizon: four windows of a year.
        assert_eq!(validation_origins(132, 12, 12), vec![84, 96, 108, 120]);
        assert_eq!(
            validation_origins(986, 14, 7),
            vec![916, 930, 944, 958, 972]
        );
        // 40 % of 50 values holds two windows of 8, not three.
        assert_eq!(validation_origins(50, 8, 1), vec![34, 42]);
        // Two seasons (and at least 10 values) must stay before the first window.
        assert_eq!(validation_origins(70, 5, 30), vec![60, 65]);
        assert_eq!(validation_origins(80, 5, 30), vec![60, 65, 70, 75]);
        assert_eq!(validation_origins(14, 2, 1), vec![10, 12]);
        assert_eq!(validation_origins(13, 2, 1), vec![11]);
    }
}
