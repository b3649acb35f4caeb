//! AutoTheta: our port of statsforecast's `auto_theta` (statsforecast 2.1.1:
//! `statsforecast/theta.py` and its C++ core, `src/theta.cpp` and `nelder_mead.h`).
//! The series is deseasonalised by classical decomposition when the ACF at the season
//! lag is significant at 90 % (multiplicative, additive when the data are not positive
//! or a seasonal index falls below 0.01), the four models of Fiorucci et al. (2016) —
//! standard (STM, θ = 2) and optimised (OTM) Theta, and their dynamic forms DSTM and
//! DOTM whose regression line is updated online — are fitted by statsforecast's bounded
//! Nelder–Mead from its starting values and bounds (θ in `[1, 10¹⁰]`, not the
//! `anofox-forecast` crate's `[1, 10]`, which missed statsforecast's θ ≈ 30 on
//! AirPassengers), and the one with the smallest in-sample error forecasts, reseasonalised.
//!
//! Same state equations, initialisation, objective (the sum of squared one-step errors
//! after the first three, over the mean absolute value) and optimiser (including its
//! stopping rule) as statsforecast's. The objective only needs one-step errors, so the
//! loop does not compute statsforecast's unused three-step errors, and `(1 − α)^t` is
//! carried forward instead of raised afresh.
//!
//! Where this deliberately differs: the prediction intervals are statsforecast's
//! simulation (the fitted model run forward on normal errors with the residuals'
//! standard deviation, its regression line updated by the simulated values) computed
//! exactly rather than sampled: every future value is linear in the future errors, so
//! its standard deviation follows from the propagated coefficients, and the band is
//! the point forecast ± the normal quantile times it (200 fixed-seed samples gave
//! statsforecast's bands a few percent of noise). The residuals behind that standard
//! deviation are on the original scale (times the seasonal index, or unchanged for an
//! additive decomposition, where statsforecast adds the seasonal component to them).
//! A non-finite objective counts as +∞ (statsforecast's −∞ would steer the search into
//! it). It is not statsforecast's other distributions, nor its conformal intervals.

use anofox_forecast::utils::stats::quantile_normal;

/// The one-sided 95 % normal quantile: the seasonality test is at 90 % two-sided.
const SEASONALITY_CRITICAL: f64 = 1.644_853_626_951_472_2;

/// The smallest seasonal index a multiplicative decomposition may have.
const MIN_SEASONAL_INDEX: f64 = 0.01;

/// Leading one-step errors the objective leaves out.
const BURN_IN: usize = 3;

/// Below this many values the models are not fitted (statsforecast's "tiny datasets").
pub const MIN_VALUES: usize = BURN_IN + 1;

/// The four Theta models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThetaKind {
    /// Standard Theta: θ = 2.
    Stm,
    /// Optimised Theta: θ fitted.
    Otm,
    /// Dynamic standard Theta: θ = 2, regression line updated online.
    Dstm,
    /// Dynamic optimised Theta.
    Dotm,
}

impl ThetaKind {
    /// In statsforecast's order of trial (ties go to the earlier).
    const ALL: [ThetaKind; 4] = [
        ThetaKind::Stm,
        ThetaKind::Otm,
        ThetaKind::Dstm,
        ThetaKind::Dotm,
    ];

    /// The model as statsforecast names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ThetaKind::Stm => "STM",
            ThetaKind::Otm => "OTM",
            ThetaKind::Dstm => "DSTM",
            ThetaKind::Dotm => "DOTM",
        }
    }

    fn dynamic(self) -> bool {
        matches!(self, ThetaKind::Dstm | ThetaKind::Dotm)
    }

    fn optimises_theta(self) -> bool {
        matches!(self, ThetaKind::Otm | ThetaKind::Dotm)
    }
}

/// The state after an observation: the smoothed level, the running mean and the
/// regression line's intercept `a` and slope `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct State {
    level: f64,
    mean: f64,
    a: f64,
    b: f64,
}

/// A model's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Parameters {
    initial_level: f64,
    alpha: f64,
    theta: f64,
}

impl Parameters {
    /// `(1 − 1/θ)`, the weight of the drift.
    fn drift_weight(self) -> f64 {
        1.0 - 1.0 / self.theta
    }

    /// The one-step forecast at time `t` from the state after `t − 1`, given
    /// `decay = (1 − α)^t`.
    fn one_step(self, state: &State, decay: f64) -> f64 {
        let alpha = self.alpha;
        state.level
            + self.drift_weight()
                * (state.a * decay + state.b * (1.0 - decay * (1.0 - alpha)) / alpha)
    }
}

/// The classical decomposition a series was deseasonalised with.
#[derive(Debug, Clone, PartialEq)]
struct Decomposition {
    multiplicative: bool,
    /// The seasonal component, one value per observation.
    seasonal: Vec<f64>,
    period: usize,
}

impl Decomposition {
    /// `value` (of time `t`) with the seasonal component removed.
    fn remove(&self, value: f64, t: usize) -> f64 {
        if self.multiplicative {
            value / self.seasonal[t]
        } else {
            value - self.seasonal[t]
        }
    }

    /// `value` with the seasonal component of the `step`-th value after the end put back
    /// (the last season repeated).
    fn restore(&self, value: f64, step: usize) -> f64 {
        let index = self.seasonal[self.seasonal.len() - self.period + step % self.period];
        if self.multiplicative {
            value * index
        } else {
            value + index
        }
    }
}

/// A fitted AutoTheta.
#[derive(Debug, Clone, PartialEq)]
pub struct ThetaFit {
    /// The model with the smallest objective.
    pub kind: ThetaKind,
    /// The level before the first observation.
    pub initial_level: f64,
    /// The smoothing parameter.
    pub alpha: f64,
    /// θ (2 for the standard models).
    pub theta: f64,
    /// The objective at the fitted parameters (statsforecast's `mse`).
    pub objective: f64,
    /// Whether the series was deseasonalised and how.
    decomposition: Option<Decomposition>,
    /// The state after the last observation.
    last: State,
    /// Observations fitted.
    n: usize,
    /// Standard deviation of the residuals (after the burn-in) on the original scale.
    sigma: f64,
}

/// A Theta forecast: the point forecast and, per requested level, the bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ThetaForecast {
    /// One value per step ahead.
    pub point: Vec<f64>,
    /// Per level (in the order asked), `(lower, upper)`, one value per step each.
    pub bands: Vec<(Vec<f64>, Vec<f64>)>,
}

/// Fits AutoTheta to `values` with season length `period` (1 = none) and forecasts
/// `horizon` steps with bands at `levels` (percent); `None` when there are fewer than
/// `MIN_VALUES` values or no model could be fitted.
pub fn forecast(
    values: &[f64],
    period: usize,
    horizon: usize,
    levels: &[u32],
) -> Option<(ThetaFit, ThetaForecast)> {
    let fit = fit(values, period)?;
    let forecast = fit.forecast(horizon, levels);
    Some((fit, forecast))
}

/// AutoTheta fitted to `values` with season length `period` (see `forecast`).
pub fn fit(values: &[f64], period: usize) -> Option<ThetaFit> {
    if values.len() < MIN_VALUES {
        return None;
    }
    let decomposition = if is_seasonal(values, period) {
        Some(decompose(values, period))
    } else {
        None
    };
    let adjusted: Vec<f64> = match &decomposition {
        Some(d) => values
            .iter()
            .enumerate()
            .map(|(t, &v)| d.remove(v, t))
            .collect(),
        None => values.to_vec(),
    };
    let line = regression_line(&adjusted);
    let (kind, parameters, objective) = ThetaKind::ALL
        .iter()
        .filter_map(|&kind| {
            let parameters = optimise(&adjusted, kind, line);
            let objective = filter(&adjusted, kind, parameters, line, |_, _| {}).0;
            objective
                .is_finite()
                .then_some((kind, parameters, objective))
        })
        // `min_by` keeps the first of equals: ties go to the earlier kind.
        .min_by(|a, b| a.2.total_cmp(&b.2))?;
    let mut residuals = vec![0.0; adjusted.len()];
    let (_, last) = filter(&adjusted, kind, parameters, line, |t, e| {
        residuals[t] = e;
    });
    if let Some(d) = decomposition.as_ref().filter(|d| d.multiplicative) {
        for (e, s) in residuals.iter_mut().zip(&d.seasonal) {
            *e *= s;
        }
    }
    Some(ThetaFit {
        kind,
        initial_level: parameters.initial_level,
        alpha: parameters.alpha,
        theta: parameters.theta,
        objective,
        decomposition,
        last,
        n: values.len(),
        sigma: residual_deviation(&residuals),
    })
}

impl ThetaFit {
    fn parameters(&self) -> Parameters {
        Parameters {
            initial_level: self.initial_level,
            alpha: self.alpha,
            theta: self.theta,
        }
    }

    /// The point forecast and the bands (see the module docs) for `horizon` steps.
    pub fn forecast(&self, horizon: usize, levels: &[u32]) -> ThetaForecast {
        let deseasonalised = self.points(horizon);
        let deviations = self.deviations(horizon);
        let restore = |value: f64, step: usize| match &self.decomposition {
            Some(d) => d.restore(value, step),
            None => value,
        };
        let point = deseasonalised
            .iter()
            .enumerate()
            .map(|(step, &p)| restore(p, step))
            .collect();
        let bands = levels
            .iter()
            .map(|&level| {
                let z = quantile_normal(0.5 + f64::from(level) / 200.0);
                deseasonalised
                    .iter()
                    .zip(&deviations)
                    .enumerate()
                    .map(|(step, (&p, &sd))| (restore(p - z * sd, step), restore(p + z * sd, step)))
                    .unzip()
            })
            .collect();
        ThetaForecast { point, bands }
    }

    /// The deseasonalised point forecast: the model run forward on its own forecasts.
    fn points(&self, horizon: usize) -> Vec<f64> {
        let parameters = self.parameters();
        let decay = 1.0 - self.alpha;
        let mut state = self.last;
        (self.n..self.n + horizon)
            .map(|t| {
                let forecast = parameters.one_step(&state, decay.powf(t as f64));
                state = advance(&state, t, forecast, self.alpha, self.kind.dynamic());
                forecast
            })
            .collect()
    }

    /// The standard deviation of each future (deseasonalised) value under
    /// statsforecast's simulation: the fitted model run forward on `σ`-normal errors,
    /// its level, mean and regression line updated by the simulated values (whatever the
    /// kind). Each value is linear in the errors so far; its coefficients are carried as
    /// the derivatives of the state.
    fn deviations(&self, horizon: usize) -> Vec<f64> {
        let parameters = self.parameters();
        let alpha = self.alpha;
        let decay = 1.0 - alpha;
        let (mut level, mut mean, mut a, mut b) = (
            vec![0.0; horizon],
            vec![0.0; horizon],
            vec![0.0; horizon],
            vec![0.0; horizon],
        );
        let mut value = vec![0.0; horizon];
        (0..horizon)
            .map(|step| {
                let t = (self.n + step) as f64;
                let power = decay.powf(t);
                let slope_weight = (1.0 - power * decay) / alpha;
                let weight = parameters.drift_weight();
                for k in 0..=step {
                    value[k] = level[k] + weight * (a[k] * power + b[k] * slope_weight);
                }
                value[step] += 1.0;
                for k in 0..=step {
                    level[k] = alpha * value[k] + decay * level[k];
                    mean[k] = (t * mean[k] + value[k]) / (t + 1.0);
                    b[k] = ((t - 1.0) * b[k] + 6.0 * (value[k] - mean[k]) / (t + 1.0)) / (t + 2.0);
                    a[k] = mean[k] - b[k] * (t + 2.0) / 2.0;
                }
                self.sigma * value[..=step].iter().map(|c| c * c).sum::<f64>().sqrt()
            })
            .collect()
    }
}

/// The state after observing `value` at time `t` (statsforecast's `update_step`).
fn advance(state: &State, t: usize, value: f64, alpha: f64, dynamic: bool) -> State {
    let t = t as f64;
    let mean = (t * state.mean + value) / (t + 1.0);
    let (a, b) = if dynamic {
        let b = ((t - 1.0) * state.b + 6.0 * (value - state.mean) / (t + 1.0)) / (t + 2.0);
        (mean - b * (t + 2.0) / 2.0, b)
    } else {
        (state.a, state.b)
    };
    State {
        level: alpha * value + (1.0 - alpha) * state.level,
        mean,
        a,
        b,
    }
}

/// The least-squares line through `values` against `1..=n`, as `(intercept, slope)`
/// (the static models' `A` and `B`).
fn regression_line(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let weighted = values
        .iter()
        .enumerate()
        .map(|(t, v)| v * (t + 1) as f64)
        .sum::<f64>()
        / n;
    let slope = 6.0 * (2.0 * weighted - (n + 1.0) * mean) / (n * n - 1.0);
    (mean - (n + 1.0) * slope / 2.0, slope)
}

/// Runs `kind` with `parameters` over `values` (`line` is the static models'
/// regression line), handing each one-step error to `on_error`; the objective and the
/// last state (statsforecast's `calc`).
fn filter(
    values: &[f64],
    kind: ThetaKind,
    parameters: Parameters,
    line: (f64, f64),
    mut on_error: impl FnMut(usize, f64),
) -> (f64, State) {
    let Parameters {
        initial_level,
        alpha,
        ..
    } = parameters;
    let first = values[0];
    let dynamic = kind.dynamic();
    let (a, b) = if dynamic { (first, 0.0) } else { line };
    let initial_forecast = if dynamic {
        first
    } else {
        initial_level + parameters.drift_weight() * (a + b)
    };
    on_error(0, first - initial_forecast);
    let mut state = State {
        level: alpha * first + (1.0 - alpha) * initial_level,
        mean: first,
        a,
        b,
    };
    let decay = 1.0 - alpha;
    let mut power = 1.0;
    let mut squares = 0.0;
    for (t, &value) in values.iter().enumerate().skip(1) {
        power *= decay;
        let error = value - parameters.one_step(&state, power);
        on_error(t, error);
        if t >= BURN_IN {
            squares += error * error;
        }
        state = advance(&state, t, value, alpha, dynamic);
    }
    let scale = (values.iter().map(|v| v.abs()).sum::<f64>() / values.len() as f64).max(1e-10);
    (squares / scale, state)
}

/// The parameters of `kind` that minimise the objective, from statsforecast's start
/// (level `y₀/2`, `α = 0.5`, `θ = 2`) within its bounds.
fn optimise(values: &[f64], kind: ThetaKind, line: (f64, f64)) -> Parameters {
    let start = [values[0] / 2.0, 0.5, 2.0];
    let lower = [-1e10, 0.1, 1.0];
    let upper = [1e10, 0.99, 1e10];
    let free = if kind.optimises_theta() { 3 } else { 2 };
    let parameters = |x: &[f64]| Parameters {
        initial_level: x[0],
        alpha: x[1],
        theta: if free == 3 { x[2] } else { 2.0 },
    };
    let objective = |x: &[f64]| {
        let value = filter(values, kind, parameters(x), line, |_, _| {}).0;
        if value.is_nan() { f64::INFINITY } else { value }
    };
    parameters(&nelder_mead(
        objective,
        &start[..free],
        &lower[..free],
        &upper[..free],
    ))
}

/// statsforecast's bounded Nelder–Mead (`nelder_mead.h` with the settings of
/// `theta.cpp`): the initial simplex scales each coordinate by 1.05 (`10⁻⁴` when it is
/// zero), adaptive coefficients, points clamped to the box, at most 1 000 iterations,
/// stopping when the values' standard deviation is below `10⁻⁴`; the best point.
/// `ets_fit`'s Nelder–Mead differs in its simplex, stopping
/// rule and budget, and the port has to follow statsforecast's to land where it does.
fn nelder_mead(f: impl Fn(&[f64]) -> f64, start: &[f64], lower: &[f64], upper: &[f64]) -> Vec<f64> {
    const STEP: f64 = 0.05;
    const ZERO_STEP: f64 = 1e-4;
    const MAX_ITERATIONS: usize = 1_000;
    const TOLERANCE: f64 = 1e-4;
    let n = start.len();
    let dim = n as f64;
    let (expand, contract, shrink) = (1.0 + 2.0 / dim, 0.75 - 1.0 / (2.0 * dim), 1.0 - 1.0 / dim);
    let clamp = |p: &mut [f64]| {
        for ((v, lo), hi) in p.iter_mut().zip(lower).zip(upper) {
            *v = v.clamp(*lo, *hi);
        }
    };
    let mut x0 = start.to_vec();
    clamp(&mut x0);
    let mut simplex: Vec<Vec<f64>> = vec![x0; n + 1];
    for (i, row) in simplex.iter_mut().take(n).enumerate() {
        let value = if row[i] == 0.0 {
            ZERO_STEP
        } else {
            row[i] * (1.0 + STEP)
        };
        row[i] = value.clamp(lower[i], upper[i]);
    }
    let mut values: Vec<f64> = simplex.iter().map(|p| f(p)).collect();
    let mut order: Vec<usize> = (0..=n).collect();
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut second = vec![0.0; n];
    for _ in 0..MAX_ITERATIONS {
        if standard_deviation(&values) < TOLERANCE {
            break;
        }
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let (best, worst, next_worst) = (order[0], order[n], order[n - 1]);
        for (j, c) in centroid.iter_mut().enumerate() {
            *c = (simplex.iter().map(|p| p[j]).sum::<f64>() - simplex[worst][j]) / dim;
        }
        for j in 0..n {
            trial[j] = centroid[j] + (centroid[j] - simplex[worst][j]);
        }
        clamp(&mut trial);
        let reflected = f(&trial);
        if values[best] <= reflected && reflected < values[next_worst] {
            simplex[worst].copy_from_slice(&trial);
            values[worst] = reflected;
            continue;
        }
        if reflected < values[best] {
            for j in 0..n {
                second[j] = centroid[j] + expand * (trial[j] - centroid[j]);
            }
            clamp(&mut second);
            let expanded = f(&second);
            let (point, value) = if expanded < reflected {
                (&second, expanded)
            } else {
                (&trial, reflected)
            };
            simplex[worst].copy_from_slice(point);
            values[worst] = value;
            continue;
        }
        let outside = values[next_worst] <= reflected && reflected < values[worst];
        let direction = if outside { contract } else { -contract };
        for j in 0..n {
            second[j] = centroid[j] + direction * (trial[j] - centroid[j]);
        }
        clamp(&mut second);
        let contracted = f(&second);
        let accepted = if outside {
            contracted <= reflected
        } else {
            contracted < values[worst]
        };
        if accepted {
            simplex[worst].copy_from_slice(&second);
            values[worst] = contracted;
            continue;
        }
        let anchor = simplex[best].clone();
        for j in 1..=n {
            for (v, a) in simplex[j].iter_mut().zip(&anchor) {
                *v = a + shrink * (*v - a);
            }
            clamp(&mut simplex[j]);
            values[j] = f(&simplex[j]);
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    simplex.swap_remove(best)
}

/// The population standard deviation (NaN when a value is infinite, as statsforecast's).
fn standard_deviation(values: &[f64]) -> f64 {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64).sqrt()
}

/// The sample standard deviation of the residuals after the burn-in (of all of them
/// when fewer than two are left).
fn residual_deviation(residuals: &[f64]) -> f64 {
    let tail = if residuals.len() >= BURN_IN + 2 {
        &residuals[BURN_IN..]
    } else {
        residuals
    };
    let count = tail.len() as f64;
    let mean = tail.iter().sum::<f64>() / count;
    (tail.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / (count - 1.0)).sqrt()
}

/// Whether `values` need deseasonalising: a season of at least 4, two whole seasons,
/// and an autocorrelation at the season lag beyond the 90 % band of Bartlett's formula
/// over the shorter lags.
fn is_seasonal(values: &[f64], period: usize) -> bool {
    if period < 4 || values.len() < 2 * period {
        return false;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let centred: Vec<f64> = values.iter().map(|v| v - mean).collect();
    let variance: f64 = centred.iter().map(|v| v * v).sum();
    if variance == 0.0 {
        return false;
    }
    let acf = |lag: usize| {
        centred
            .iter()
            .zip(&centred[lag..])
            .map(|(x, y)| x * y)
            .sum::<f64>()
            / variance
    };
    let shorter: f64 = (1..period).map(|lag| acf(lag).powi(2)).sum();
    let bound = ((1.0 + 2.0 * shorter) / n).sqrt();
    acf(period).abs() / bound > SEASONALITY_CRITICAL
}

/// Classical decomposition (statsmodels' `seasonal_decompose`): multiplicative when
/// every value is positive and no seasonal index falls below `MIN_SEASONAL_INDEX`, else
/// additive.
fn decompose(values: &[f64], period: usize) -> Decomposition {
    if values.iter().all(|&v| v > 0.0) {
        let seasonal = seasonal_component(values, period, true);
        if seasonal.iter().all(|&s| s >= MIN_SEASONAL_INDEX) {
            return Decomposition {
                multiplicative: true,
                seasonal,
                period,
            };
        }
    }
    Decomposition {
        multiplicative: false,
        seasonal: seasonal_component(values, period, false),
        period,
    }
}

/// The seasonal component of a classical decomposition: the values over (or minus) a
/// centred moving average of one season (2×m for an even m), averaged per position in
/// the season and normalised to mean 1 (or 0), repeated over the series.
fn seasonal_component(values: &[f64], period: usize, multiplicative: bool) -> Vec<f64> {
    let n = values.len();
    let weights: Vec<f64> = if period.is_multiple_of(2) {
        let mut w = vec![1.0 / period as f64; period + 1];
        w[0] /= 2.0;
        w[period] /= 2.0;
        w
    } else {
        vec![1.0 / period as f64; period]
    };
    let half = weights.len() / 2;
    let mut sums = vec![0.0; period];
    let mut counts = vec![0usize; period];
    for t in half..n.saturating_sub(half) {
        let trend: f64 = weights
            .iter()
            .zip(&values[t - half..])
            .map(|(w, v)| w * v)
            .sum();
        sums[t % period] += if multiplicative {
            values[t] / trend
        } else {
            values[t] - trend
        };
        counts[t % period] += 1;
    }
    let mut averages: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| s / c as f64)
        .collect();
    let centre = averages.iter().sum::<f64>() / period as f64;
    for a in &mut averages {
        if multiplicative {
            *a /= centre;
        } else {
            *a -= centre;
        }
    }
    (0..n).map(|t| averages[t % period]).collect()
}

#[cfg(test)]
mod tests {
    //! The reference values are statsforecast 2.1.1's (`pip install statsforecast`,
    //! numpy 2.4, statsmodels 0.15), from `statsforecast.theta.auto_theta(y, m)` (with
    //! `model=` for a single kind) and `forecast_theta(fit, 12)["mean"]` on
    //! `statsforecast.utils.AirPassengers[:132]` (1949–1959, as float), printed with
    //! `repr`. The port follows the same arithmetic in a slightly different order (the
    //! decay carried forward, sums in another order), so the optimiser's path may
    //! drift by rounding: parameters are compared to 10⁻⁶ relative and forecasts to
    //! 10⁻⁶ of their value, far below what would change a forecast's accuracy.

    use super::*;

    fn air_passengers() -> Vec<f64> {
        include_str!("../../../tests/fixtures/air_passengers.csv")
            .lines()
            .skip(1)
            .take(132)
            .map(|line| line.split_once(',').unwrap().1.parse().unwrap())
            .collect()
    }

    #[track_caller]
    fn close(ours: f64, theirs: f64, relative: f64) {
        assert!(
            (ours - theirs).abs() <= relative * theirs.abs().max(1.0),
            "{ours} vs statsforecast's {theirs}"
        );
    }

    /// `auto_theta(AirPassengers[:132], 12)`: deseasonalised multiplicatively, OTM.
    #[test]
    fn seasonal_air_passengers_matches_statsforecast() {
        let (fit, forecast) = forecast(&air_passengers(), 12, 12, &[80, 95]).unwrap();
        assert_eq!(fit.kind, ThetaKind::Otm);
        assert!(fit.decomposition.as_ref().unwrap().multiplicative);
        close(fit.initial_level, -423.130_846_699_801_74, 1e-6);
        close(fit.alpha, 0.806_111_466_705_733_4, 1e-6);
        close(fit.theta, 29.988_033_755_372_91, 1e-6);
        close(fit.objective, 38.130_812_887_610_48, 1e-6);
        let theirs = [
            412.711_878_528_2,
            404.640_499_583_9,
            466.810_896_367_7,
            449.600_402_918_6,
            454.047_789_991_3,
            517.857_791_049_8,
            572.380_178_488_6,
            571.371_658_707,
            502.108_036_156_5,
            438.527_150_629_7,
            382.673_898_984_4,
            432.116_150_459_7,
        ];
        for (&ours, &theirs) in forecast.point.iter().zip(&theirs) {
            close(ours, theirs, 1e-6);
        }
    }

    /// `auto_theta(AirPassengers[:132], 12, model=kind)` for each kind: the objective
    /// and parameters of every candidate, so the dynamic models are checked too.
    #[test]
    fn every_kind_matches_statsforecast_on_air_passengers() {
        let values = air_passengers();
        let decomposition = decompose(&values, 12);
        let adjusted: Vec<f64> = values
            .iter()
            .enumerate()
            .map(|(t, &v)| decomposition.remove(v, t))
            .collect();
        let line = regression_line(&adjusted);
        let theirs = [
            (
                ThetaKind::Stm,
                11.538_414_503_730_124,
                0.839_062_500_000_000_7,
                2.0,
                39.220_800_148_731_83,
            ),
            (
                ThetaKind::Otm,
                -423.130_846_699_801_74,
                0.806_111_466_705_733_4,
                29.988_033_755_372_91,
                38.130_812_887_610_48,
            ),
            (
                ThetaKind::Dstm,
                9.038_424_694_588_61,
                0.854_687_500_000_001_2,
                2.0,
                39.885_179_222_653_676,
            ),
            (
                ThetaKind::Dotm,
                -783.420_887_850_308_8,
                0.820_296_149_811_935_4,
                31.856_107_486_449_32,
                38.668_889_179_816_43,
            ),
        ];
        for (kind, level, alpha, theta, objective) in theirs {
            let fitted = optimise(&adjusted, kind, line);
            close(fitted.initial_level, level, 1e-6);
            close(fitted.alpha, alpha, 1e-6);
            close(fitted.theta, theta, 1e-6);
            close(
                filter(&adjusted, kind, fitted, line, |_, _| {}).0,
                objective,
                1e-6,
            );
        }
    }

    /// `auto_theta(AirPassengers[:132], 1)`: no decomposition, OTM.
    #[test]
    fn the_non_seasonal_path_matches_statsforecast() {
        let (fit, forecast) = forecast(&air_passengers(), 1, 12, &[]).unwrap();
        assert_eq!(fit.kind, ThetaKind::Otm);
        assert_eq!(fit.decomposition, None);
        close(fit.initial_level, -202.357_836_414_108_2, 1e-6);
        close(fit.alpha, 0.989_999_999_999_998_8, 1e-6);
        close(fit.theta, 5.566_771_786_641_822, 1e-6);
        close(forecast.point[0], 406.698_976_514_8, 1e-6);
        close(forecast.point[11], 429.833_905_479_6, 1e-6);
        assert!(forecast.bands.is_empty());
    }

    /// `auto_theta(y, 7)` and `forecast_theta(fit, 7)["mean"]` for
    /// `y = -20 + 0.5 t + 6 sin(2πt/7) + 3 sin(1.7 t)`, `t = 0..60`: it crosses zero, so
    /// the decomposition is additive.
    #[test]
    fn a_series_crossing_zero_is_deseasonalised_additively() {
        let values: Vec<f64> = (0..60)
            .map(|t| {
                let t = f64::from(t);
                -20.0
                    + 0.5 * t
                    + 6.0 * (2.0 * std::f64::consts::PI * t / 7.0).sin()
                    + 3.0 * (1.7 * t).sin()
            })
            .collect();
        let (fit, forecast) = forecast(&values, 7, 7, &[]).unwrap();
        assert!(!fit.decomposition.as_ref().unwrap().multiplicative);
        assert_eq!(fit.kind, ThetaKind::Otm);
        close(fit.objective, 32.802_870_848_607_974, 1e-6);
        let theirs = [
            6.604_948_867_719,
            4.329_800_805_676,
            6.604_707_955_514,
            11.151_910_567_573,
            15.587_823_277_535,
            18.743_942_689_946,
            15.520_195_562_908,
        ];
        for (&ours, &theirs) in forecast.point.iter().zip(&theirs) {
            close(ours, theirs, 1e-6);
        }
    }

    /// The bands against statsforecast's own simulation run with many more samples:
    /// `compute_pi_samples(..., n_samples=400000)` for the fits above, sigma the
    /// residuals' `np.std(fit["residuals"][3:], ddof=1)`, half the distance between its
    /// 10 % and 90 % quantiles per step (times the seasonal index for the seasonal
    /// fit). With 400 000 float32 samples those quantiles are good to about 0.5 %.
    #[test]
    fn the_bands_are_statsforecasts_simulation_computed_exactly() {
        let cases: [(usize, f64, [f64; 12]); 2] = [
            (
                12,
                9.206_059_485_376_056,
                [
                    10.750_394, 13.426_393, 18.190_215, 19.751_722, 21.944_892, 27.046_614,
                    31.946_243, 33.850_6, 31.236_757, 28.570_654, 26.000_848, 30.451_909,
                ],
            ),
            (
                1,
                31.688_770_021_166_036,
                [
                    40.664_24,
                    57.072_644,
                    69.769_524,
                    80.443_526,
                    90.056_386,
                    98.620_543,
                    106.581_288,
                    114.182_973,
                    121.055_557,
                    127.653_236,
                    134.034_764,
                    140.085_359,
                ],
            ),
        ];
        for (period, sigma, half_widths) in cases {
            let (fit, forecast) = forecast(&air_passengers(), period, 12, &[80, 95]).unwrap();
            close(fit.sigma, sigma, 1e-6);
            let (lower, upper) = &forecast.bands[0];
            for (step, &theirs) in half_widths.iter().enumerate() {
                close((upper[step] - lower[step]) / 2.0, theirs, 1e-2);
            }
        }
    }

    #[test]
    fn bands_contain_the_point_and_widen_with_the_horizon_and_the_level() {
        let (_, forecast) = forecast(&air_passengers(), 1, 24, &[80, 95]).unwrap();
        let (lower_80, upper_80) = &forecast.bands[0];
        let (lower_95, upper_95) = &forecast.bands[1];
        for step in 0..24 {
            assert!(lower_95[step] < lower_80[step] && lower_80[step] < forecast.point[step]);
            assert!(forecast.point[step] < upper_80[step] && upper_80[step] < upper_95[step]);
            if step > 0 {
                let width = |s: usize| upper_80[s] - lower_80[s];
                assert!(width(step) > width(step - 1), "step {step}");
            }
        }
    }

    #[test]
    fn too_short_a_series_is_not_fitted() {
        assert_eq!(forecast(&[1.0, 2.0, 3.0], 1, 3, &[80]), None);
        let (fit, forecast) = forecast(&[1.0, 2.0, 4.0, 3.0], 1, 3, &[80]).unwrap();
        assert!(fit.sigma.is_finite());
        assert_eq!(forecast.point.len(), 3);
    }

    #[test]
    fn short_or_weakly_seasonal_series_are_not_decomposed() {
        let values = air_passengers();
        assert!(is_seasonal(&values, 12));
        assert!(!is_seasonal(&values[..23], 12));
        assert!(!is_seasonal(&values, 3));
        assert!(!is_seasonal(&[5.0; 40], 12));
    }
}
