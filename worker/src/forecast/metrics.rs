//! Holdout accuracy: MAE, sMAPE (the M4 definition, in percent) and MASE (MAE scaled by
//! the in-sample seasonal-naive MAE with lag m), and their mean over validation windows.
//! Pure arithmetic, no models.

use serde::{Deserialize, Serialize};

/// Accuracy of a forecast against the held-out actual values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Mean absolute error.
    pub mae: f64,
    /// Symmetric MAPE, M4 definition `mean(200·|y−ŷ|/(|y|+|ŷ|))`, in percent (0..=200).
    pub smape: f64,
    /// Mean absolute scaled error; `None` when the training series has no seasonal-naive
    /// error to scale by (a constant series).
    pub mase: Option<f64>,
}

impl Accuracy {
    /// Scores `forecast` against `actual` (same length, non-empty), scaling MASE by the
    /// seasonal-naive MAE of `training` with lag `season_length` (lag 1 when the
    /// training series is too short for the season).
    pub fn measure(
        training: &[f64],
        season_length: usize,
        actual: &[f64],
        forecast: &[f64],
    ) -> Accuracy {
        let count = actual.len().min(forecast.len()).max(1) as f64;
        let pairs = || actual.iter().zip(forecast);
        let mae = pairs().map(|(y, f)| (y - f).abs()).sum::<f64>() / count;
        let smape = pairs()
            .map(|(y, f)| {
                let denominator = y.abs() + f.abs();
                if denominator == 0.0 {
                    0.0
                } else {
                    200.0 * (y - f).abs() / denominator
                }
            })
            .sum::<f64>()
            / count;
        let scale = seasonal_naive_mae(training, season_length);
        let mase = scale.filter(|&scale| scale > 0.0).map(|scale| mae / scale);
        Accuracy { mae, smape, mase }
    }

    /// The mean of each score over `windows` (non-empty); MASE is `None` when any
    /// window has none.
    pub fn mean(windows: &[Accuracy]) -> Accuracy {
        let count = windows.len().max(1) as f64;
        let mean = |score: fn(&Accuracy) -> f64| windows.iter().map(score).sum::<f64>() / count;
        let mase = windows
            .iter()
            .map(|accuracy| accuracy.mase)
            .sum::<Option<f64>>()
            .map(|sum| sum / count);
        Accuracy {
            mae: mean(|a| a.mae),
            smape: mean(|a| a.smape),
            mase,
        }
    }
}

/// In-sample MAE of the forecast `y[t] = y[t−m]`, or `None` when there is no pair.
fn seasonal_naive_mae(training: &[f64], season_length: usize) -> Option<f64> {
    let lag = if training.len() > season_length {
        season_length.max(1)
    } else {
        1
    };
    let errors: Vec<f64> = training
        .windows(lag + 1)
        .map(|window| (window[lag] - window[0]).abs())
        .collect();
    (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_example() {
        let training = [1.0, 2.0, 3.0, 5.0];
        let accuracy = Accuracy::measure(&training, 1, &[4.0, 6.0], &[5.0, 6.0]);
        assert_eq!(accuracy.mae, 0.5);
        // 200·1/9 and 0, averaged.
        assert!((accuracy.smape - 100.0 / 9.0).abs() < 1e-12);
        // Naive in-sample MAE = (1 + 1 + 2) / 3.
        assert!((accuracy.mase.unwrap() - 0.5 / (4.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn the_mean_over_windows_averages_each_score() {
        let one = Accuracy {
            mae: 1.0,
            smape: 10.0,
            mase: Some(0.5),
        };
        let two = Accuracy {
            mae: 3.0,
            smape: 20.0,
            mase: Some(1.5),
        };
        let mean = Accuracy::mean(&[one, two]);
        assert_eq!((mean.mae, mean.smape, mean.mase), (2.0, 15.0, Some(1.0)));
        let unscaled = Accuracy { mase: None, ..two };
        assert_eq!(Accuracy::mean(&[one, unscaled]).mase, None);
    }

    #[test]
    fn zero_pairs_and_constant_training_are_handled() {
        let accuracy = Accuracy::measure(&[3.0, 3.0, 3.0], 1, &[0.0], &[0.0]);
        assert_eq!(accuracy.smape, 0.0);
        assert_eq!(accuracy.mase, None);
    }
}
