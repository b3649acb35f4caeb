//! The ETS model search behind the `ets` model: AutoETS's selection by AICc over the
//! error/trend/season forms of the `anofox-forecast` crate (same forms, same guards),
//! each fitted by `ets_fit`, minus the damped seasonal forms that cannot be
//! competitive.
//!
//! A damped form differs from its undamped twin by one parameter, φ ∈ [0.8, 0.98];
//! the damped seasonal forms are also the costliest to fit (the most parameters). So the
//! undamped forms are fitted first, and a damped seasonal form is fitted only when its
//! undamped twin's AICc is within `DAMPED_MARGIN` of the best so far. The margin is
//! wide: 10 AICc units is a likelihood ratio of about e⁵ that damping alone would have
//! to make up. The damped non-seasonal forms are cheap and always fitted.
//!
//! It is not a new model: the selected fit runs as the crate's `ETS`; which forms are
//! tried and how each is fitted differ from the crate's `AutoETS`, whose guards it keeps (spikes in the tail or
//! an intermittent series restrict it to trend-free forms, multiplicative forms need
//! positive values, seasonal forms need three seasons with some seasonal signal).

use anofox_forecast::core::TimeSeries;
use anofox_forecast::models::exponential::{
    ETS, ETSSeasonalType, ETSSpec, ErrorType, SpikeDiagnosis, TrendType, cap_spikes,
    diagnose_spikes,
};

use crate::forecast::ets_fit;

/// How far (AICc) an undamped seasonal form may be from the best for its damped twin
/// to be fitted.
pub const DAMPED_MARGIN: f64 = 10.0;

/// The selected ETS model and how the search went.
#[derive(Debug)]
pub struct EtsFit {
    /// The fitted model with the smallest AICc.
    pub model: ETS,
    /// Every fitted form with its AICc, best first.
    pub scores: Vec<(ETSSpec, f64)>,
    /// Whether the spike / intermittency guard restricted the search.
    pub guarded: bool,
}

/// Searches the ETS forms for `data` with season length `period` (1 = none); `None`
/// when no form fits.
pub fn search(data: &TimeSeries, period: usize) -> Option<EtsFit> {
    let raw = data.primary_values();
    if raw.len() < 4 {
        return None;
    }
    let diagnosis = diagnose_spikes(raw, period);
    let guarded = diagnosis != SpikeDiagnosis::Clean;
    let capped;
    let data = if diagnosis == SpikeDiagnosis::SpikyTail {
        capped =
            TimeSeries::univariate(data.timestamps().to_vec(), cap_spikes(raw, period)).ok()?;
        &capped
    } else {
        data
    };
    let values = data.primary_values();
    let positive = values.iter().all(|&v| v > 0.0);
    let seasonal = period > 1 && values.len() >= 3 * period && has_seasonal_signal(values, period);

    let errors: &[ErrorType] = if positive {
        &[ErrorType::Additive, ErrorType::Multiplicative]
    } else {
        &[ErrorType::Additive]
    };
    let trends: &[TrendType] = if guarded {
        &[TrendType::None]
    } else {
        &[
            TrendType::None,
            TrendType::Additive,
            TrendType::AdditiveDamped,
        ]
    };
    let seasons: &[ETSSeasonalType] = match (seasonal, positive) {
        (false, _) => &[ETSSeasonalType::None],
        (true, false) => &[ETSSeasonalType::None, ETSSeasonalType::Additive],
        (true, true) => &[
            ETSSeasonalType::None,
            ETSSeasonalType::Additive,
            ETSSeasonalType::Multiplicative,
        ],
    };
    let mut forms: Vec<ETSSpec> = Vec::new();
    for &error in errors {
        for &trend in trends {
            for &season in seasons {
                let spec = ETSSpec::new(error, trend, season);
                if !spec.is_r_restricted() {
                    forms.push(spec);
                }
            }
        }
    }
    // Cheap forms first, then the undamped seasonal ones, then their damped twins.
    forms.sort_by_key(|spec| match (spec.has_seasonal(), spec.is_damped()) {
        (false, _) => 0,
        (true, false) => 1,
        (true, true) => 2,
    });

    let mut scores: Vec<(ETSSpec, f64)> = Vec::new();
    let mut best: Option<ets_fit::FormFit> = None;
    for spec in forms {
        if spec.has_seasonal() && spec.is_damped() {
            let twin = ETSSpec::new(spec.error, TrendType::Additive, spec.seasonal);
            let best_aicc = best.as_ref().map_or(f64::INFINITY, |best| best.aicc);
            let competitive = scores
                .iter()
                .any(|(fitted, aicc)| *fitted == twin && *aicc <= best_aicc + DAMPED_MARGIN);
            if !competitive {
                continue;
            }
        }
        let form_period = if spec.has_seasonal() { period } else { 1 };
        let min_len = if spec.has_seasonal() {
            2 * form_period
        } else {
            2
        };
        if values.len() < min_len {
            continue;
        }
        let Some(fit) = ets_fit::fit_form(values, spec, form_period, period) else {
            continue;
        };
        scores.push((spec, fit.aicc));
        if best.as_ref().is_none_or(|best| fit.aicc < best.aicc) {
            best = Some(fit);
        }
    }
    let model = best?.model(data)?;
    scores.sort_by(|a, b| a.1.total_cmp(&b.1));
    Some(EtsFit {
        model,
        scores,
        guarded,
    })
}

/// AutoETS's seasonal-signal check: the one-way ANOVA F ratio of the values grouped by
/// season position over whole seasons is above 1.
fn has_seasonal_signal(values: &[f64], period: usize) -> bool {
    let cycles = values.len() / period;
    if cycles < 3 {
        return true;
    }
    let means: Vec<f64> = (0..period)
        .map(|j| (0..cycles).map(|c| values[c * period + j]).sum::<f64>() / cycles as f64)
        .collect();
    let grand = means.iter().sum::<f64>() / period as f64;
    let between = means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() * cycles as f64;
    let within: f64 = (0..period)
        .flat_map(|j| (0..cycles).map(move |c| (j, c)))
        .map(|(j, c)| (values[c * period + j] - means[j]).powi(2))
        .sum();
    let df_between = (period - 1) as f64;
    let df_within = (cycles * period - period) as f64;
    if within > 0.0 && df_within > 0.0 {
        (between / df_between) / (within / df_within) > 1.0
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use anofox_forecast::models::Forecaster;
    use anofox_forecast::models::exponential::AutoETS;

    use super::*;

    fn air_passengers() -> TimeSeries {
        let text = include_str!("../../../tests/fixtures/air_passengers.csv");
        let values: Vec<f64> = text
            .lines()
            .skip(1)
            .map(|line| line.split_once(',').unwrap().1.parse().unwrap())
            .collect();
        let start = chrono::DateTime::parse_from_rfc3339("1949-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let timestamps = (0..132)
            .map(|month| start + chrono::Months::new(month))
            .collect();
        TimeSeries::univariate(timestamps, values[..132].to_vec()).unwrap()
    }

    #[test]
    fn it_selects_what_the_crates_autoets_selects() {
        let data = air_passengers();
        let fit = search(&data, 12).unwrap();
        let mut auto = AutoETS::with_period(12);
        auto.fit(&data).unwrap();
        assert_eq!(Some(fit.model.spec()), auto.selected_spec());
        assert_eq!(fit.model.spec().short_name(), "ETS(M,A,M)");
        // Fitted more cheaply, but as well: the likelihood is no worse than the
        // crate's own multi-start fit of the same form.
        let mut crate_fit = ETS::new(fit.model.spec(), 12);
        crate_fit.fit(&data).unwrap();
        let (ours, theirs) = (
            fit.model.log_likelihood().unwrap(),
            crate_fit.log_likelihood().unwrap(),
        );
        assert!(ours >= theirs - 0.5, "{ours} vs {theirs}");
        assert!(!fit.guarded);
    }

    #[test]
    fn damped_seasonal_forms_are_fitted_only_when_their_twin_is_competitive() {
        let fit = search(&air_passengers(), 12).unwrap();
        let aicc = |name: &str| {
            let spec = ETSSpec::from_notation(name).unwrap();
            fit.scores.iter().find(|(s, _)| *s == spec).map(|(_, a)| *a)
        };
        let best = fit.scores[0].1;
        // MAM is the best, so its damped twin is fitted; AAA and MAA are far behind.
        assert_eq!(aicc("MAM"), Some(best));
        assert!(aicc("MAdM").is_some());
        assert!(aicc("AAA").unwrap() > best + DAMPED_MARGIN);
        assert!(aicc("MAA").unwrap() > best + DAMPED_MARGIN);
        assert_eq!((aicc("AAdA"), aicc("MAdA")), (None, None));
        // The non-seasonal damped forms are always fitted; A-error M-season never is.
        assert!(aicc("AAdN").is_some() && aicc("MAdN").is_some());
        assert_eq!(aicc("ANM"), None);
        assert!(fit.scores.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
