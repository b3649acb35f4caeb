//! The params of an `options.filter` job (API.md): their shape, defaults and
//! validation, shared by the API (which rejects bad params with 422 naming the field)
//! and the worker (which runs the filter). Also the column names of the processed and
//! filtered chains, which `sort_by` must name.
//!
//! This module only parses and checks; the Arrow filter engine is the worker's
//! `options_table`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The risk-free rate used when the job does not set one (an Indian 91-day T-bill
/// level), as an annual fraction.
pub const DEFAULT_RISK_FREE_RATE: f64 = 0.065;
/// The highest accepted risk-free rate.
pub const MAX_RISK_FREE_RATE: f64 = 0.5;

/// The processed chain's columns, in file order (API.md's result-file names).
pub const PROCESSED_CHAIN_COLUMNS: [&str; 13] = [
    "tradingsymbol",
    "underlying",
    "expiry",
    "strike",
    "option_type",
    "lot_size",
    "last_price",
    "bid",
    "ask",
    "volume",
    "oi",
    "underlying_price",
    "fetched_at",
];

/// The filtered chain's columns: the processed ones, then the calculated ones.
pub const FILTERED_CHAIN_COLUMNS: [&str; 25] = [
    "tradingsymbol",
    "underlying",
    "expiry",
    "strike",
    "option_type",
    "lot_size",
    "last_price",
    "bid",
    "ask",
    "volume",
    "oi",
    "underlying_price",
    "fetched_at",
    "days_to_expiry",
    "moneyness",
    "otm_pct",
    "premium_yield_pct",
    "annualized_yield_pct",
    "breakeven",
    "spread_pct",
    "iv",
    "delta",
    "gamma",
    "theta",
    "vega",
];

/// The largest accepted `limit`.
pub const MAX_LIMIT: u32 = 100_000;
/// The largest accepted days-to-expiry bound (ten years).
pub const MAX_DTE: i32 = 3650;

/// The params of an `options.filter` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterJobParams {
    /// The `options.process` job whose processed chain is filtered.
    pub source_job_id: Uuid,
    /// The row filters; none means every row.
    #[serde(default)]
    pub filters: Filters,
    /// A filtered-chain column to sort by; none keeps the source order.
    #[serde(default)]
    pub sort_by: Option<String>,
    /// Sort largest first.
    #[serde(default)]
    pub descending: bool,
    /// Keep at most this many rows (1..=100 000) after sorting; none keeps all.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Annual fraction in 0..=0.5; [`DEFAULT_RISK_FREE_RATE`] when absent.
    #[serde(default)]
    pub risk_free_rate: Option<f64>,
}

/// Row filters; each one set is a bound on one column, inclusive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// `CE` or `PE`.
    pub option_type: Option<String>,
    /// Minimum open interest.
    pub min_oi: Option<i64>,
    /// Minimum traded volume.
    pub min_volume: Option<i64>,
    /// Lowest OTM % (negative admits in-the-money strikes).
    pub otm_pct_min: Option<f64>,
    /// Highest OTM %.
    pub otm_pct_max: Option<f64>,
    /// Lowest annualized yield, in percent.
    pub min_annualized_yield: Option<f64>,
    /// Highest bid-ask spread, in percent of mid.
    pub max_spread_pct: Option<f64>,
    /// Lowest (signed) delta.
    pub delta_min: Option<f64>,
    /// Highest (signed) delta.
    pub delta_max: Option<f64>,
    /// Fewest days to expiry.
    pub dte_min: Option<i32>,
    /// Most days to expiry.
    pub dte_max: Option<i32>,
}

/// One invalid parameter: its dotted path (`filters.min_oi`) and what is wrong, for
/// the API's 422 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The parameter's path, e.g. `limit` or `filters.delta_min`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses and validates the params of an `options.filter` job; on failure returns
/// every offending field found (a malformed document gives the first one serde meets).
pub fn parse_params(value: &serde_json::Value) -> Result<FilterJobParams, Vec<FieldError>> {
    let params = FilterJobParams::deserialize(value).map_err(|e| vec![locate(value, &e)])?;
    params.validate()?;
    Ok(params)
}

impl FilterJobParams {
    /// Checks every range, enum and cross-field rule; returns all violations.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &str, message: &str| {
            if !ok {
                errors.push(FieldError::new(field, message));
            }
        };
        let f = &self.filters;
        check(
            f.option_type
                .as_deref()
                .is_none_or(|t| matches!(t, "CE" | "PE")),
            "filters.option_type",
            "must be CE or PE",
        );
        check(
            f.min_oi.is_none_or(|v| v >= 0),
            "filters.min_oi",
            "must not be negative",
        );
        check(
            f.min_volume.is_none_or(|v| v >= 0),
            "filters.min_volume",
            "must not be negative",
        );
        let within = |v: Option<f64>, lo: f64, hi: f64| v.is_none_or(|v| (lo..=hi).contains(&v));
        for (field, value) in [
            ("filters.otm_pct_min", f.otm_pct_min),
            ("filters.otm_pct_max", f.otm_pct_max),
        ] {
            check(
                within(value, -100.0, 1000.0),
                field,
                "must be between -100 and 1000 (percent)",
            );
        }
        check(
            within(f.min_annualized_yield, 0.0, 100_000.0),
            "filters.min_annualized_yield",
            "must be between 0 and 100000 (percent)",
        );
        check(
            within(f.max_spread_pct, 0.0, 200.0),
            "filters.max_spread_pct",
            "must be between 0 and 200 (percent of mid)",
        );
        for (field, value) in [
            ("filters.delta_min", f.delta_min),
            ("filters.delta_max", f.delta_max),
        ] {
            check(within(value, -1.0, 1.0), field, "must be between -1 and 1");
        }
        for (field, value) in [
            ("filters.dte_min", f.dte_min),
            ("filters.dte_max", f.dte_max),
        ] {
            check(
                value.is_none_or(|v| (0..=MAX_DTE).contains(&v)),
                field,
                "must be between 0 and 3650 days",
            );
        }
        let ordered = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
            (Some(lo), Some(hi)) => lo <= hi,
            _ => true,
        };
        check(
            ordered(f.otm_pct_min, f.otm_pct_max),
            "filters.otm_pct_max",
            "must not be below otm_pct_min",
        );
        check(
            ordered(f.delta_min, f.delta_max),
            "filters.delta_max",
            "must not be below delta_min",
        );
        check(
            ordered(f.dte_min.map(f64::from), f.dte_max.map(f64::from)),
            "filters.dte_max",
            "must not be below dte_min",
        );
        check(
            self.sort_by
                .as_deref()
                .is_none_or(|c| FILTERED_CHAIN_COLUMNS.contains(&c)),
            "sort_by",
            "must be a column of the filtered chain",
        );
        check(
            self.limit.is_none_or(|l| (1..=MAX_LIMIT).contains(&l)),
            "limit",
            "must be between 1 and 100000",
        );
        check(
            within(self.risk_free_rate, 0.0, MAX_RISK_FREE_RATE),
            "risk_free_rate",
            "must be between 0 and 0.5 (an annual fraction)",
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The risk-free rate to value the chain at.
    pub fn risk_free_rate(&self) -> f64 {
        self.risk_free_rate.unwrap_or(DEFAULT_RISK_FREE_RATE)
    }
}

/// Names the field a deserialization error is about: an unknown or missing field by
/// its name, a mistyped one by probing each known field on its own.
fn locate(value: &serde_json::Value, error: &serde_json::Error) -> FieldError {
    let message = error.to_string();
    let in_filters = value
        .get("filters")
        .is_some_and(|f| Filters::deserialize(f).is_err());
    let prefix = if in_filters { "filters." } else { "" };
    if let Some(name) = message.split('`').nth(1)
        && (message.starts_with("unknown field") || message.starts_with("missing field"))
    {
        return FieldError::new(format!("{prefix}{name}"), message);
    }
    let probe = |obj: Option<&serde_json::Value>, prefix: &str, fields: &[(&str, Probe)]| {
        fields.iter().find_map(|(name, probe)| {
            let v = obj?.get(*name)?;
            probe(v).map(|m| FieldError::new(format!("{prefix}{name}"), m))
        })
    };
    let filters_fields: [(&str, Probe); 11] = [
        ("option_type", is::<Option<String>>),
        ("min_oi", is::<Option<i64>>),
        ("min_volume", is::<Option<i64>>),
        ("otm_pct_min", is::<Option<f64>>),
        ("otm_pct_max", is::<Option<f64>>),
        ("min_annualized_yield", is::<Option<f64>>),
        ("max_spread_pct", is::<Option<f64>>),
        ("delta_min", is::<Option<f64>>),
        ("delta_max", is::<Option<f64>>),
        ("dte_min", is::<Option<i32>>),
        ("dte_max", is::<Option<i32>>),
    ];
    let top_fields: [(&str, Probe); 5] = [
        ("source_job_id", is::<Uuid>),
        ("sort_by", is::<Option<String>>),
        ("descending", is::<bool>),
        ("limit", is::<Option<u32>>),
        ("risk_free_rate", is::<Option<f64>>),
    ];
    probe(value.get("filters"), "filters.", &filters_fields)
        .or_else(|| probe(Some(value), "", &top_fields))
        .unwrap_or_else(|| {
            let field = if in_filters { "filters" } else { "params" };
            FieldError::new(field, message)
        })
}

type Probe = fn(&serde_json::Value) -> Option<String>;

fn is<T: DeserializeOwned>(value: &serde_json::Value) -> Option<String> {
    T::deserialize(value).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(value: serde_json::Value) -> FilterJobParams {
        parse_params(&value).unwrap()
    }

    #[test]
    fn params_parse_with_defaults() {
        let p = params(json!({"source_job_id": Uuid::nil()}));
        assert_eq!(p.filters, Filters::default());
        assert_eq!((p.sort_by, p.descending, p.limit), (None, false, None));
        assert_eq!(p.risk_free_rate, None);
        assert_eq!(
            params(json!({"source_job_id": Uuid::nil()})).risk_free_rate(),
            0.065
        );
    }

    fn fields(value: serde_json::Value) -> Vec<String> {
        let mut body = json!({"source_job_id": Uuid::nil()});
        body.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        parse_params(&body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn validation_names_every_offending_field() {
        let cases = [
            (
                json!({"filters": {"option_type": "FUT"}}),
                vec!["filters.option_type"],
            ),
            (
                json!({"filters": {"min_oi": -1, "min_volume": -5}}),
                vec!["filters.min_oi", "filters.min_volume"],
            ),
            (
                json!({"filters": {"otm_pct_min": 5.0, "otm_pct_max": 2.0}}),
                vec!["filters.otm_pct_max"],
            ),
            (
                json!({"filters": {"otm_pct_max": 5000.0}}),
                vec!["filters.otm_pct_max"],
            ),
            (
                json!({"filters": {"min_annualized_yield": -1.0}}),
                vec!["filters.min_annualized_yield"],
            ),
            (
                json!({"filters": {"max_spread_pct": 250.0}}),
                vec!["filters.max_spread_pct"],
            ),
            (
                json!({"filters": {"delta_min": -1.5}}),
                vec!["filters.delta_min"],
            ),
            (
                json!({"filters": {"delta_min": 0.5, "delta_max": 0.3}}),
                vec!["filters.delta_max"],
            ),
            (
                json!({"filters": {"dte_min": 10, "dte_max": 5}}),
                vec!["filters.dte_max"],
            ),
            (
                json!({"filters": {"dte_max": 4000}}),
                vec!["filters.dte_max"],
            ),
            (json!({"sort_by": "password"}), vec!["sort_by"]),
            (json!({"limit": 0}), vec!["limit"]),
            (json!({"limit": 100_001}), vec!["limit"]),
            (json!({"risk_free_rate": 0.6}), vec!["risk_free_rate"]),
            (
                json!({"limit": 0, "risk_free_rate": -0.1}),
                vec!["limit", "risk_free_rate"],
            ),
        ];
        for (body, want) in cases {
            assert_eq!(fields(body.clone()), want, "{body}");
        }
    }

    #[test]
    fn malformed_params_name_the_field() {
        let cases = [
            (json!({"colour": "red"}), "colour"),
            (json!({"filters": {"min_io": 5}}), "filters.min_io"),
            (json!({"filters": {"min_oi": "many"}}), "filters.min_oi"),
            (json!({"limit": "ten"}), "limit"),
            (json!({"limit": -3}), "limit"),
            (json!({"descending": "yes"}), "descending"),
            (json!({"source_job_id": "not-a-uuid"}), "source_job_id"),
        ];
        for (body, want) in cases {
            assert_eq!(fields(body.clone()), vec![want], "{body}");
        }
        let missing = parse_params(&json!({})).unwrap_err();
        assert_eq!(missing[0].field, "source_job_id");
        let not_an_object = parse_params(&json!([1, 2])).unwrap_err();
        assert_eq!(not_an_object[0].field, "params");
    }
}
