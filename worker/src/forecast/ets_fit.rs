//! Fitting one ETS form fast: the parameters and initial states that maximise the
//! likelihood of the crate's `ETS` (the same recursions, term for term, so the
//! crate's model run at them scores exactly what was optimised), found by one bounded
//! Nelder–Mead from R's starting values (`forecast::ets`' `initparam`) and the crate's
//! heuristic initial states, with at most `BASE_EVALUATIONS +
//! EVALUATIONS_PER_PARAMETER × parameters` evaluations — statsforecast's and R's
//! approach, instead of the crate's multi-start (six starts and a joint refinement
//! per seasonal form, about ten times the evaluations). A restart from where the
//! first run stopped was tried: it cost a third more time and changed no chosen form
//! or forecast on the bench's series by more than 0.5 %. The likelihood loop is
//! monomorphic per form shape and allocates nothing.
//!
//! The seasonal states are constrained like R's (additive ones sum to zero,
//! multiplicative ones average one): `m − 1` are free, as the crate's AICc counts
//! them. The smoothing parameters keep R's "usual" bounds (`α`, `β`, `γ` in
//! `[10⁻⁴, 0.9999]` with `β ≤ α` and `γ ≤ 1 − α`, `φ` in `[0.8, 0.98]`).
//!
//! It is not a model of its own: `FormFit::model` hands the result to the crate's
//! `ETS`, which forecasts, builds the intervals and filters forward.

use anofox_forecast::core::TimeSeries;
use anofox_forecast::models::Forecaster;
use anofox_forecast::models::exponential::{ETS, ETSSeasonalType, ETSSpec, ErrorType, TrendType};

/// Evaluations one Nelder–Mead run may spend, per free parameter (plus a base).
const EVALUATIONS_PER_PARAMETER: usize = 80;
const BASE_EVALUATIONS: usize = 400;

/// A fitted form.
#[derive(Debug, Clone, PartialEq)]
pub struct FormFit {
    /// The form.
    pub spec: ETSSpec,
    /// Its season length (1 without a seasonal component).
    pub period: usize,
    alpha: f64,
    beta: Option<f64>,
    gamma: Option<f64>,
    phi: Option<f64>,
    level: f64,
    trend: f64,
    /// In the crate's layout: `seasonals[t % period]` applies to the `t`th value.
    seasonals: Vec<f64>,
    /// AICc as the crate computes it.
    pub aicc: f64,
}

impl FormFit {
    /// The crate's model with these parameters and states, run over `data` (the
    /// values the form was fitted to).
    pub fn model(&self, data: &TimeSeries) -> Option<ETS> {
        let mut model = ETS::with_params_and_states(
            self.spec,
            self.period,
            self.alpha,
            self.beta,
            self.gamma,
            self.phi,
            self.level,
            self.trend,
            self.seasonals.clone(),
        );
        model.fit(data).ok()?;
        Some(model)
    }
}

/// The recursions' shape.
#[derive(Debug, Clone, Copy)]
struct Form {
    multiplicative_error: bool,
    trend: TrendType,
    season: ETSSeasonalType,
    period: usize,
}

/// The parameters one likelihood evaluation takes.
struct Params<'a> {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
    level: f64,
    trend: f64,
    seasonals: &'a [f64],
}

/// The crate's negative log-likelihood (`calculate_likelihood_with_init_buf`) of
/// `values` under `form` with `params`; `buffer` holds the seasonal states.
fn negative_loglik(values: &[f64], form: Form, params: &Params<'_>, buffer: &mut Vec<f64>) -> f64 {
    let trend = form.trend != TrendType::None;
    let season = match form.season {
        ETSSeasonalType::None => NO_SEASON,
        ETSSeasonalType::Additive => ADDITIVE,
        ETSSeasonalType::Multiplicative => MULTIPLICATIVE,
    };
    // One monomorphic loop per form shape, so the recursion has no dispatch inside.
    match (form.multiplicative_error, trend, season) {
        (false, false, NO_SEASON) => {
            recursion::<false, false, NO_SEASON>(values, form, params, buffer)
        }
        (false, false, ADDITIVE) => {
            recursion::<false, false, ADDITIVE>(values, form, params, buffer)
        }
        (false, false, _) => {
            recursion::<false, false, MULTIPLICATIVE>(values, form, params, buffer)
        }
        (false, true, NO_SEASON) => {
            recursion::<false, true, NO_SEASON>(values, form, params, buffer)
        }
        (false, true, ADDITIVE) => recursion::<false, true, ADDITIVE>(values, form, params, buffer),
        (false, true, _) => recursion::<false, true, MULTIPLICATIVE>(values, form, params, buffer),
        (true, false, NO_SEASON) => {
            recursion::<true, false, NO_SEASON>(values, form, params, buffer)
        }
        (true, false, ADDITIVE) => recursion::<true, false, ADDITIVE>(values, form, params, buffer),
        (true, false, _) => recursion::<true, false, MULTIPLICATIVE>(values, form, params, buffer),
        (true, true, NO_SEASON) => recursion::<true, true, NO_SEASON>(values, form, params, buffer),
        (true, true, ADDITIVE) => recursion::<true, true, ADDITIVE>(values, form, params, buffer),
        (true, true, _) => recursion::<true, true, MULTIPLICATIVE>(values, form, params, buffer),
    }
}

const NO_SEASON: u8 = 0;
const ADDITIVE: u8 = 1;
const MULTIPLICATIVE: u8 = 2;

/// `negative_loglik` for one form shape: multiplicative error or not, a trend or
/// not, and the season (`NO_SEASON`, `ADDITIVE`, `MULTIPLICATIVE`).
fn recursion<const MULT: bool, const TREND: bool, const SEASON: u8>(
    values: &[f64],
    form: Form,
    params: &Params<'_>,
    buffer: &mut Vec<f64>,
) -> f64 {
    let Params {
        alpha,
        beta,
        gamma,
        phi,
        mut level,
        mut trend,
        seasonals,
    } = *params;
    buffer.clear();
    buffer.extend_from_slice(seasonals);
    let mult = MULT;
    let seasonal = SEASON != NO_SEASON;
    let damping = match form.trend {
        TrendType::None => 0.0,
        TrendType::Additive => 1.0,
        TrendType::AdditiveDamped => phi,
    };
    let mut sum_sq = 0.0_f64;
    let mut sum_log = 0.0_f64;
    // Σ ln|fc| as the log of a running product, taken before it can overflow.
    let mut product = 1.0_f64;
    let mut index = 0;
    for &y in values {
        let s = if seasonal { buffer[index] } else { 0.0 };
        // level + φ·trend (trend is 0 without a trend component)
        let base = level + damping * trend;
        let fc = match SEASON {
            NO_SEASON => base,
            ADDITIVE => base + s,
            _ => base * s,
        };
        let err = y - fc;
        let se = if mult && fc.abs() > 1e-10 {
            err / fc
        } else {
            err
        };
        sum_sq += se * se;
        if mult {
            product *= fc.abs();
            if !(1e-150..=1e150).contains(&product) {
                sum_log += product.ln();
                product = 1.0;
            }
        }
        let lp = level;
        match (TREND, SEASON) {
            (false, NO_SEASON) => {
                level = alpha * y + (1.0 - alpha) * level;
            }
            (false, ADDITIVE) => {
                level = lp + alpha * err;
                buffer[index] = s + gamma * err;
            }
            (false, _) => {
                let fc = lp * s;
                if mult {
                    if fc.abs() > 1e-10 {
                        let e = (y - fc) / fc;
                        level = lp * (1.0 + alpha * e);
                        buffer[index] = s * (1.0 + gamma * e);
                    }
                } else {
                    let deseasoned = if s.abs() > 1e-10 { y / s } else { y };
                    level = alpha * deseasoned + (1.0 - alpha) * level;
                    buffer[index] = if lp.abs() > 1e-10 {
                        gamma * (y / lp) + (1.0 - gamma) * s
                    } else {
                        s
                    };
                }
            }
            (true, NO_SEASON) => {
                level = lp + damping * trend + alpha * err;
                trend = damping * trend + beta * err;
            }
            (true, ADDITIVE) => {
                level = lp + damping * trend + alpha * err;
                trend = damping * trend + beta * err;
                buffer[index] = s + gamma * err;
            }
            (true, _) => {
                let lpb = lp + damping * trend;
                let fc = lpb * s;
                if mult {
                    if fc.abs() > 1e-10 {
                        let e = (y - fc) / fc;
                        level = lpb * (1.0 + alpha * e);
                        trend = damping * trend + beta * lpb * e;
                        buffer[index] = s * (1.0 + gamma * e);
                    }
                } else {
                    if s.abs() > 1e-10 {
                        level = lpb + alpha * err / s;
                        trend = damping * trend + beta * err / s;
                    } else {
                        level = lpb;
                        trend *= damping;
                    }
                    buffer[index] = if lpb.abs() > 1e-10 {
                        s + gamma * err / lpb
                    } else {
                        s
                    };
                }
            }
        }
        if seasonal {
            index += 1;
            if index == form.period {
                index = 0;
            }
        }
    }
    // A non-finite forecast anywhere has made the sum non-finite.
    if values.is_empty() || !sum_sq.is_finite() || !(sum_log + product.ln()).is_finite() {
        return f64::MAX;
    }
    sum_log += product.ln();
    let n = values.len() as f64;
    let sum_sq = sum_sq.max(1e-300);
    let ll = if mult {
        -0.5 * (n * sum_sq.ln() + 2.0 * sum_log)
    } else {
        -0.5 * (n * sum_sq.ln())
    };
    -ll
}

/// Where each parameter sits in the optimiser's vector, with its bounds.
struct Layout {
    form: Form,
    has_trend: bool,
    damped: bool,
    seasonal: bool,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl Layout {
    /// The parameters `x` stands for, with the last seasonal state completed into
    /// `seasonals`; `None` when `x` breaks a constraint.
    fn unpack<'a>(&self, x: &[f64], seasonals: &'a mut Vec<f64>) -> Option<Params<'a>> {
        let mut at = 0;
        let mut next = || {
            at += 1;
            x[at - 1]
        };
        let alpha = next();
        let beta = if self.has_trend { next() } else { 0.0 };
        let gamma = if self.seasonal { next() } else { 0.0 };
        let phi = if self.damped { next() } else { 1.0 };
        let level = next();
        let trend = if self.has_trend { next() } else { 0.0 };
        if beta > alpha || gamma > 1.0 - alpha {
            return None;
        }
        seasonals.clear();
        if self.seasonal {
            let m = self.form.period;
            seasonals.extend_from_slice(&x[at..at + m - 1]);
            let sum: f64 = seasonals.iter().sum();
            let last = match self.form.season {
                ETSSeasonalType::Multiplicative => m as f64 - sum,
                _ => -sum,
            };
            if self.form.season == ETSSeasonalType::Multiplicative
                && !(0.01..=100.0).contains(&last)
            {
                return None;
            }
            seasonals.push(last);
        }
        Some(Params {
            alpha,
            beta,
            gamma,
            phi,
            level,
            trend,
            seasonals,
        })
    }
}

/// Fits `spec` with season length `period` (1 when the form has no season) to
/// `values`; `None` when no admissible fit is found.
pub fn fit_form(values: &[f64], spec: ETSSpec, period: usize, frequency: usize) -> Option<FormFit> {
    let seasonal = spec.has_seasonal();
    let has_trend = spec.has_trend();
    let damped = spec.is_damped();
    let period = if seasonal { period } else { 1 };
    if values.len() < if seasonal { 2 * period } else { 2 } || (seasonal && period < 2) {
        return None;
    }
    let form = Form {
        multiplicative_error: spec.error == ErrorType::Multiplicative,
        trend: spec.trend,
        season: spec.seasonal,
        period,
    };
    let (y_min, y_max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &y| {
            (lo.min(y), hi.max(y))
        });
    let range = (y_max - y_min).max(1e-8 * y_max.abs().max(1.0));
    let (level0, trend0, seasonals0) = initial_states(values, spec, period);

    // R's initparam.
    let m = frequency.max(1) as f64;
    let alpha0 = 1e-4 + 0.2 * (0.9999 - 1e-4) / m;
    let mut x = vec![alpha0];
    let mut lower = vec![1e-4];
    let mut upper = vec![0.9999];
    let mut steps = vec![0.1];
    if has_trend {
        x.push(1e-4 + 0.1 * (alpha0 - 1e-4));
        lower.push(1e-4);
        upper.push(0.9999);
        steps.push(0.01);
    }
    if seasonal {
        x.push(1e-4 + 0.05 * (1.0 - alpha0 - 1e-4));
        lower.push(1e-4);
        upper.push(0.9999);
        steps.push(0.05);
    }
    if damped {
        x.push(0.978);
        lower.push(0.8);
        upper.push(0.98);
        steps.push(-0.05);
    }
    x.push(level0);
    lower.push(y_min - range);
    upper.push(y_max + range);
    steps.push(0.05 * range);
    if has_trend {
        x.push(trend0);
        lower.push(-range);
        upper.push(range);
        steps.push(0.01 * range);
    }
    if seasonal {
        let multiplicative = spec.seasonal == ETSSeasonalType::Multiplicative;
        for &s in &seasonals0[..period - 1] {
            x.push(s);
            if multiplicative {
                lower.push(0.01);
                upper.push(100.0);
                steps.push(0.05);
            } else {
                lower.push(-2.0 * range);
                upper.push(2.0 * range);
                steps.push(0.05 * range);
            }
        }
    }
    let layout = Layout {
        form,
        has_trend,
        damped,
        seasonal,
        lower,
        upper,
    };
    let mut seasonals = Vec::with_capacity(period);
    let mut buffer = Vec::with_capacity(period);
    let mut objective = |x: &[f64]| -> f64 {
        match layout.unpack(x, &mut seasonals) {
            Some(params) => negative_loglik(values, form, &params, &mut buffer),
            None => f64::MAX,
        }
    };
    let budget = BASE_EVALUATIONS + EVALUATIONS_PER_PARAMETER * x.len();
    let (x, value) = nelder_mead(
        &mut objective,
        x,
        &steps,
        &layout.lower,
        &layout.upper,
        budget,
    );
    if !(value.is_finite() && value < f64::MAX) {
        return None;
    }
    let mut seasonals = Vec::with_capacity(period);
    let params = layout.unpack(&x, &mut seasonals)?;
    let n = values.len() as f64;
    let k = (1
        + usize::from(has_trend)
        + usize::from(seasonal)
        + usize::from(damped)
        + 1
        + usize::from(has_trend)
        + if seasonal { period - 1 } else { 0 }
        + 1) as f64;
    let aicc = 2.0 * value + 2.0 * k * n / (n - k - 1.0).max(1.0);
    Some(FormFit {
        spec,
        period,
        alpha: params.alpha,
        beta: has_trend.then_some(params.beta),
        gamma: seasonal.then_some(params.gamma),
        phi: damped.then_some(params.phi),
        level: params.level,
        trend: params.trend,
        seasonals: params.seasonals.to_vec(),
        aicc,
    })
    .filter(|fit| fit.aicc.is_finite())
}

/// The crate's heuristic initial states (`ETS::initialize_state`): for trend-only
/// forms a regression on the first `max(10, 2m)` values; for seasonal forms a
/// regression on the cycle means and the average deviation (or ratio) per season
/// position over whole cycles, normalised.
fn initial_states(values: &[f64], spec: ETSSpec, period: usize) -> (f64, f64, Vec<f64>) {
    let has_trend = spec.has_trend();
    let seasonal = spec.has_seasonal();
    let (level, trend) = if has_trend && !seasonal {
        let n = values.len().min(10);
        let x_mean = (n + 1) as f64 / 2.0;
        let y_mean = values[..n].iter().sum::<f64>() / n as f64;
        let (mut sxx, mut sxy) = (0.0, 0.0);
        for (i, &y) in values[..n].iter().enumerate() {
            let dx = (i + 1) as f64 - x_mean;
            sxx += dx * dx;
            sxy += dx * (y - y_mean);
        }
        let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        (y_mean - b * x_mean, b)
    } else if seasonal {
        let cycles = values.len() / period;
        let cycle_mean =
            |c: usize| values[c * period..(c + 1) * period].iter().sum::<f64>() / period as f64;
        if cycles >= 2 && has_trend {
            let nc = cycles as f64;
            let x_mean = (nc - 1.0) / 2.0;
            let y_mean = (0..cycles).map(cycle_mean).sum::<f64>() / nc;
            let (mut sxx, mut sxy) = (0.0, 0.0);
            for c in 0..cycles {
                let dx = c as f64 - x_mean;
                sxx += dx * dx;
                sxy += dx * (cycle_mean(c) - y_mean);
            }
            let per_cycle = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            (y_mean - per_cycle * x_mean, per_cycle / period as f64)
        } else {
            (cycle_mean(0), 0.0)
        }
    } else {
        (values[0], 0.0)
    };
    let seasonals = if seasonal {
        let cycles = values.len() / period;
        let cycle_level =
            |c: usize| level + trend * ((c * period) as f64 + (period - 1) as f64 / 2.0);
        let mut s = vec![0.0; period];
        if spec.seasonal == ETSSeasonalType::Multiplicative {
            let mut used = 0usize;
            for c in 0..cycles {
                let l = cycle_level(c);
                if l.abs() > 1e-10 {
                    for (j, slot) in s.iter_mut().enumerate() {
                        *slot += values[c * period + j] / l;
                    }
                    used += 1;
                }
            }
            for slot in &mut s {
                *slot = if used > 0 {
                    (*slot / used as f64).clamp(0.01, 100.0)
                } else {
                    1.0
                };
            }
            let mean = s.iter().sum::<f64>() / period as f64;
            s.iter_mut().for_each(|v| *v /= mean);
        } else {
            for c in 0..cycles {
                let l = cycle_level(c);
                for (j, slot) in s.iter_mut().enumerate() {
                    *slot += values[c * period + j] - l;
                }
            }
            s.iter_mut().for_each(|v| *v /= cycles.max(1) as f64);
            let mean = s.iter().sum::<f64>() / period as f64;
            s.iter_mut().for_each(|v| *v -= mean);
        }
        s
    } else {
        Vec::new()
    };
    (level, trend, seasonals)
}

/// Bounded Nelder–Mead (adaptive coefficients of Gao and Han 2012, points clamped to
/// the box) from `x` with initial steps `steps`, for at most `budget` evaluations;
/// the best point and its value.
fn nelder_mead(
    f: &mut impl FnMut(&[f64]) -> f64,
    x: Vec<f64>,
    steps: &[f64],
    lower: &[f64],
    upper: &[f64],
    budget: usize,
) -> (Vec<f64>, f64) {
    let n = x.len();
    let dim = n as f64;
    let (reflect, expand, contract, shrink) = (
        1.0,
        1.0 + 2.0 / dim,
        0.75 - 1.0 / (2.0 * dim),
        1.0 - 1.0 / dim,
    );
    let clamp = |p: &mut [f64]| {
        for ((v, lo), hi) in p.iter_mut().zip(lower).zip(upper) {
            *v = v.clamp(*lo, *hi);
        }
    };
    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    let mut start = x;
    clamp(&mut start);
    simplex.push(start.clone());
    for i in 0..n {
        let mut p = start.clone();
        p[i] += steps[i];
        if p[i] > upper[i] || p[i] < lower[i] {
            p[i] = start[i] - steps[i];
        }
        clamp(&mut p);
        simplex.push(p);
    }
    let mut values: Vec<f64> = simplex.iter().map(|p| f(p)).collect();
    let mut evaluations = n + 1;
    let mut order: Vec<usize> = (0..=n).collect();
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut second = vec![0.0; n];
    while evaluations < budget {
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let (best, worst, next_worst) = (order[0], order[n], order[n - 1]);
        let spread = values[worst] - values[best];
        if values[best] < f64::MAX && spread <= 1e-7 * (values[best].abs() + 1.0) {
            break;
        }
        centroid.iter_mut().for_each(|c| *c = 0.0);
        for &i in &order[..n] {
            for (c, v) in centroid.iter_mut().zip(&simplex[i]) {
                *c += v / dim;
            }
        }
        for j in 0..n {
            trial[j] = centroid[j] + reflect * (centroid[j] - simplex[worst][j]);
        }
        clamp(&mut trial);
        let reflected = f(&trial);
        evaluations += 1;
        if reflected < values[best] {
            for j in 0..n {
                second[j] = centroid[j] + expand * (trial[j] - centroid[j]);
            }
            clamp(&mut second);
            let expanded = f(&second);
            evaluations += 1;
            if expanded < reflected {
                simplex[worst].copy_from_slice(&second);
                values[worst] = expanded;
            } else {
                simplex[worst].copy_from_slice(&trial);
                values[worst] = reflected;
            }
            continue;
        }
        if reflected < values[next_worst] {
            simplex[worst].copy_from_slice(&trial);
            values[worst] = reflected;
            continue;
        }
        // Contract outside (towards the reflection) or inside.
        let outside = reflected < values[worst];
        for j in 0..n {
            let towards = if outside { trial[j] } else { simplex[worst][j] };
            second[j] = centroid[j] + contract * (towards - centroid[j]);
        }
        clamp(&mut second);
        let contracted = f(&second);
        evaluations += 1;
        if contracted < reflected.min(values[worst]) {
            simplex[worst].copy_from_slice(&second);
            values[worst] = contracted;
            continue;
        }
        let anchor = simplex[best].clone();
        for &i in &order[1..] {
            for j in 0..n {
                simplex[i][j] = anchor[j] + shrink * (simplex[i][j] - anchor[j]);
            }
            values[i] = f(&simplex[i]);
        }
        evaluations += n;
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    (simplex.swap_remove(best), values[best])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn air_passengers() -> (Vec<f64>, TimeSeries) {
        let text = include_str!("../../../tests/fixtures/air_passengers.csv");
        let values: Vec<f64> = text
            .lines()
            .skip(1)
            .map(|line| line.split_once(',').unwrap().1.parse().unwrap())
            .take(132)
            .collect();
        let start = chrono::DateTime::parse_from_rfc3339("1949-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let timestamps = (0..132)
            .map(|month| start + chrono::Months::new(month))
            .collect();
        let data = TimeSeries::univariate(timestamps, values.clone()).unwrap();
        (values, data)
    }

    #[test]
    fn the_crates_model_at_the_fitted_parameters_scores_what_was_optimised() {
        let (values, data) = air_passengers();
        for name in [
            "ANN", "AAN", "MAdN", "ANA", "AAdA", "MNM", "MAM", "MAdM", "AAM", "MNA",
        ] {
            let spec = ETSSpec::from_notation(name).unwrap();
            let fit = fit_form(&values, spec, 12, 12).unwrap();
            let model = fit.model(&data).unwrap();
            let aicc = model.aicc().unwrap();
            assert!(
                (aicc - fit.aicc).abs() < 1e-6 * aicc.abs(),
                "{name}: the crate says {aicc}, the fit {}",
                fit.aicc
            );
            assert_eq!(model.spec(), spec);
        }
    }

    #[test]
    fn the_seasonal_states_keep_their_constraint_and_the_parameters_their_bounds() {
        let (values, _) = air_passengers();
        for name in ["MAM", "AAA", "MAdM"] {
            let fit = fit_form(&values, ETSSpec::from_notation(name).unwrap(), 12, 12).unwrap();
            let sum: f64 = fit.seasonals.iter().sum();
            let expected = if name.ends_with('M') { 12.0 } else { 0.0 };
            assert!((sum - expected).abs() < 1e-9, "{name}: {sum}");
            assert!((1e-4..=0.9999).contains(&fit.alpha), "{name}: {fit:?}");
            assert!(fit.beta.unwrap() <= fit.alpha && fit.gamma.unwrap() <= 1.0 - fit.alpha);
            assert!(fit.phi.is_none_or(|phi| (0.8..=0.98).contains(&phi)));
        }
    }

    #[test]
    fn nelder_mead_finds_a_bounded_minimum() {
        let mut rosenbrock =
            |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, value) = nelder_mead(
            &mut rosenbrock,
            vec![-1.0, 1.0],
            &[0.5, 0.5],
            &[-2.0, -2.0],
            &[2.0, 2.0],
            5000,
        );
        assert!(value < 1e-6 && (x[0] - 1.0).abs() < 1e-2, "{x:?} {value}");
        // With the minimum outside the box it stops on the boundary.
        let mut shifted = |x: &[f64]| (x[0] - 3.0).powi(2) + x[1].powi(2);
        let (x, _) = nelder_mead(
            &mut shifted,
            vec![0.0, 1.0],
            &[0.5, 0.5],
            &[-2.0, -2.0],
            &[2.0, 2.0],
            5000,
        );
        assert!((x[0] - 2.0).abs() < 1e-6 && x[1].abs() < 1e-3, "{x:?}");
    }
}
