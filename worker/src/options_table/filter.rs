//! The `options.filter` parameters, their validation, and the filter → sort → limit
//! steps over a batch that already has the calculated columns.
//!
//! Every filter is a column predicate; all active ones are AND-ed into one
//! `BooleanArray`, and a row whose predicate is null (a null in a filtered column) is
//! dropped. Delta bounds compare the signed delta (puts are negative), as shown in the
//! `delta` column. Sorting puts nulls last in either direction and breaks ties by
//! `tradingsymbol` so that results are deterministic. This module neither reads files
//! nor computes columns.

use arrow::array::{
    BooleanArray, Datum, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::compute::kernels::boolean::and;
use arrow::compute::kernels::cmp::{eq, gt_eq, lt_eq};
use arrow::compute::{SortColumn, SortOptions, filter_record_batch, lexsort_to_indices};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::options_table::TableError;
use crate::options_table::calculated::{DEFAULT_RISK_FREE_RATE, MAX_RISK_FREE_RATE};
use crate::options_table::schema::filtered_chain_schema;

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
                .is_none_or(|c| filtered_chain_schema().column_with_name(c).is_some()),
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

/// The AND of every active filter over `batch` (a filtered-chain batch), or `None`
/// when no filter is set.
pub fn predicate(
    batch: &RecordBatch,
    filters: &Filters,
) -> Result<Option<BooleanArray>, TableError> {
    let mut terms: Vec<BooleanArray> = Vec::new();
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| TableError::Schema(format!("missing column {name:?}")))
    };
    if let Some(kind) = &filters.option_type {
        terms.push(eq(&column("option_type")?, &StringArray::new_scalar(kind))?);
    }
    let bounds: [(&str, Option<f64>, Option<f64>); 4] = [
        ("otm_pct", filters.otm_pct_min, filters.otm_pct_max),
        ("annualized_yield_pct", filters.min_annualized_yield, None),
        ("spread_pct", None, filters.max_spread_pct),
        ("delta", filters.delta_min, filters.delta_max),
    ];
    for (name, lo, hi) in bounds {
        let values = column(name)?;
        push_bounds(
            &mut terms,
            &values,
            lo.map(Float64Array::new_scalar),
            hi.map(Float64Array::new_scalar),
        )?;
    }
    for (name, lo) in [("oi", filters.min_oi), ("volume", filters.min_volume)] {
        push_bounds(
            &mut terms,
            &column(name)?,
            lo.map(Int64Array::new_scalar),
            None,
        )?;
    }
    push_bounds(
        &mut terms,
        &column("days_to_expiry")?,
        filters.dte_min.map(Int32Array::new_scalar),
        filters.dte_max.map(Int32Array::new_scalar),
    )?;
    let mut terms = terms.into_iter();
    let Some(first) = terms.next() else {
        return Ok(None);
    };
    Ok(Some(terms.try_fold(first, |acc, term| and(&acc, &term))?))
}

fn push_bounds<D: Datum>(
    terms: &mut Vec<BooleanArray>,
    values: &dyn Datum,
    lo: Option<D>,
    hi: Option<D>,
) -> Result<(), TableError> {
    if let Some(lo) = lo {
        terms.push(gt_eq(values, &lo)?);
    }
    if let Some(hi) = hi {
        terms.push(lt_eq(values, &hi)?);
    }
    Ok(())
}

/// The rows of `batch` that pass every filter (a null predicate drops the row).
pub fn keep_matching(batch: &RecordBatch, filters: &Filters) -> Result<RecordBatch, TableError> {
    match predicate(batch, filters)? {
        Some(mask) => Ok(filter_record_batch(batch, &mask)?),
        None => Ok(batch.clone()),
    }
}

/// Sorts `batch` by `params.sort_by` (nulls last, ties by `tradingsymbol`), then keeps
/// the first `params.limit` rows. Without `sort_by` the order is unchanged.
pub fn sort_and_limit(
    batch: &RecordBatch,
    params: &FilterJobParams,
) -> Result<RecordBatch, TableError> {
    let limit = params.limit.map(|l| l as usize);
    let Some(sort_by) = &params.sort_by else {
        let rows = limit.unwrap_or(usize::MAX).min(batch.num_rows());
        return Ok(batch.slice(0, rows));
    };
    let key = batch.column_by_name(sort_by).ok_or_else(|| {
        TableError::InvalidParam(FieldError::new(
            "sort_by",
            "must be a column of the filtered chain",
        ))
    })?;
    let mut columns = vec![SortColumn {
        values: key.clone(),
        options: Some(SortOptions {
            descending: params.descending,
            nulls_first: false,
        }),
    }];
    if sort_by != "tradingsymbol" {
        let symbol = batch
            .column_by_name("tradingsymbol")
            .ok_or_else(|| TableError::Schema("missing column \"tradingsymbol\"".into()))?;
        columns.push(SortColumn {
            values: symbol.clone(),
            options: Some(SortOptions {
                descending: false,
                nulls_first: false,
            }),
        });
    }
    let indices = lexsort_to_indices(&columns, limit)?;
    Ok(arrow::compute::take_record_batch(batch, &indices)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use serde_json::json;

    use super::*;
    use crate::options_table::calculated::{CalcSettings, add_calculated_columns};
    use crate::options_table::filter_chain;
    use crate::options_table::fixtures::{chain, row, today};

    fn enriched() -> RecordBatch {
        let settings = CalcSettings::new(today(), DEFAULT_RISK_FREE_RATE).unwrap();
        add_calculated_columns(&chain(), &settings).unwrap()
    }

    fn symbols(batch: &RecordBatch) -> Vec<String> {
        batch
            .column_by_name("tradingsymbol")
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap().to_owned())
            .collect()
    }

    fn symbol(i: usize) -> String {
        symbols(&chain())[i].clone()
    }

    /// The fixture symbols kept by `filters`.
    fn kept(filters: Filters) -> Vec<String> {
        symbols(&keep_matching(&enriched(), &filters).unwrap())
    }

    fn rows(indices: &[usize]) -> Vec<String> {
        indices.iter().map(|&i| symbol(i)).collect()
    }

    #[test]
    fn no_filters_keep_every_row() {
        assert_eq!(kept(Filters::default()).len(), 7);
    }

    #[test]
    fn each_filter_keeps_the_expected_rows() {
        use row::*;
        let cases: Vec<(Filters, Vec<usize>)> = vec![
            (
                Filters {
                    option_type: Some("PE".into()),
                    ..Filters::default()
                },
                vec![PUT, NO_IV],
            ),
            (
                Filters {
                    min_oi: Some(40_000),
                    ..Filters::default()
                },
                vec![CALL, PUT, EXPIRY_DAY],
            ),
            (
                Filters {
                    min_volume: Some(1_000),
                    ..Filters::default()
                },
                vec![CALL, EXPIRY_DAY],
            ),
            // OTM % of the calls: 2.08, 0.42, 4.17, 0; of the puts 2.08, -8.33.
            (
                Filters {
                    otm_pct_min: Some(1.0),
                    otm_pct_max: Some(3.0),
                    ..Filters::default()
                },
                vec![CALL, PUT],
            ),
            (
                Filters {
                    otm_pct_max: Some(0.0),
                    ..Filters::default()
                },
                vec![NO_IV, MONTHLY],
            ),
            // Annualized: call 12.6 %, put 15.1 %, expiry day 28.9 %, no book 1.1 %,
            // deep ITM put 301 %, monthly 17.4 %.
            (
                Filters {
                    min_annualized_yield: Some(15.0),
                    ..Filters::default()
                },
                vec![PUT, EXPIRY_DAY, NO_IV, MONTHLY],
            ),
            // Spreads: 6.67, 5.71, 10, none, 6.45, expired, 2.47.
            (
                Filters {
                    max_spread_pct: Some(6.0),
                    ..Filters::default()
                },
                vec![PUT, MONTHLY],
            ),
            // Deltas: 0.196, -0.193, 0.240, 0.027, none, expired, 0.580.
            (
                Filters {
                    delta_min: Some(0.15),
                    delta_max: Some(0.6),
                    ..Filters::default()
                },
                vec![CALL, EXPIRY_DAY, MONTHLY],
            ),
            (
                Filters {
                    delta_max: Some(0.0),
                    ..Filters::default()
                },
                vec![PUT],
            ),
            (
                Filters {
                    dte_min: Some(2),
                    dte_max: Some(30),
                    ..Filters::default()
                },
                vec![CALL, PUT, NO_BOOK, NO_IV],
            ),
            (
                Filters {
                    dte_max: Some(1),
                    ..Filters::default()
                },
                vec![EXPIRY_DAY],
            ),
        ];
        for (filters, want) in cases {
            assert_eq!(kept(filters.clone()), rows(&want), "{filters:?}");
        }
    }

    #[test]
    fn filters_combine_with_and() {
        let filters = Filters {
            option_type: Some("CE".into()),
            min_oi: Some(10_000),
            dte_min: Some(7),
            ..Filters::default()
        };
        assert_eq!(kept(filters), rows(&[row::CALL, row::NO_BOOK]));
    }

    fn params(value: serde_json::Value) -> FilterJobParams {
        parse_params(&value).unwrap()
    }

    #[test]
    fn sorting_puts_nulls_last_and_limits() {
        let id = Uuid::nil();
        let batch = enriched();
        let by_iv = |descending, limit: Option<u32>| {
            let p = params(json!({"source_job_id": id, "sort_by": "iv",
                                  "descending": descending, "limit": limit}));
            symbols(&sort_and_limit(&batch, &p).unwrap())
        };
        let ascending = by_iv(false, None);
        let descending = by_iv(true, None);
        assert_eq!(ascending.len(), 7);
        // Rows without IV (expired, no solution) come last both ways, by symbol.
        let nulls = [symbol(row::EXPIRED), symbol(row::NO_IV)];
        assert_eq!(ascending[5..], nulls);
        assert_eq!(descending[5..], nulls);
        let mut reversed = ascending[..5].to_vec();
        reversed.reverse();
        assert_eq!(descending[..5], reversed);
        assert_eq!(by_iv(true, Some(2)), descending[..2]);

        let p = params(json!({"source_job_id": id, "limit": 3}));
        assert_eq!(
            symbols(&sort_and_limit(&batch, &p).unwrap()),
            symbols(&chain())[..3]
        );
    }

    #[test]
    fn the_pipeline_filters_then_sorts_then_limits() {
        let p = params(json!({
            "source_job_id": Uuid::nil(),
            "filters": {"min_annualized_yield": 15.0, "dte_max": 30},
            "sort_by": "annualized_yield_pct", "descending": true, "limit": 2
        }));
        let one = std::num::NonZeroUsize::MIN;
        let out = filter_chain(&[chain()], &p, today(), one).unwrap();
        assert_eq!(symbols(&out), rows(&[row::NO_IV, row::EXPIRY_DAY]));
        assert_eq!(out.schema(), filtered_chain_schema());
        // Many small batches over several threads give the same answer.
        let rows_of_one: Vec<_> = (0..7).map(|i| chain().slice(i, 1)).collect();
        let three = std::num::NonZeroUsize::new(3).unwrap();
        assert_eq!(filter_chain(&rows_of_one, &p, today(), three).unwrap(), out);
    }

    #[test]
    fn the_pipeline_equals_computing_every_column_first() {
        let one = std::num::NonZeroUsize::MIN;
        for filters in [
            json!({}),
            json!({"delta_min": 0.15, "delta_max": 0.6}),
            json!({"delta_max": 0.0, "min_oi": 1000}),
            json!({"option_type": "CE", "max_spread_pct": 7.0, "delta_min": 0.1}),
            json!({"dte_min": 2, "otm_pct_min": -10.0, "delta_min": -0.5, "delta_max": 0.5}),
        ] {
            let p = params(json!({"source_job_id": Uuid::nil(), "filters": filters,
                                  "sort_by": "delta", "descending": true}));
            let naive = sort_and_limit(&keep_matching(&enriched(), &p.filters).unwrap(), &p);
            let piped = filter_chain(&[chain()], &p, today(), one).unwrap();
            assert_eq!(piped, naive.unwrap(), "{filters}");
        }
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
