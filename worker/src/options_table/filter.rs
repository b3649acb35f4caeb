//! The filter → sort → limit steps of `options.filter` over a batch that already has
//! the calculated columns. The params and their validation are
//! `fairlane_shared::options::filter_params`.
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
pub use fairlane_shared::options::filter_params::{
    FieldError, FilterJobParams, Filters, parse_params,
};

use crate::options_table::TableError;

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

    use uuid::Uuid;

    use super::*;
    use crate::options_table::calculated::{
        CalcSettings, DEFAULT_RISK_FREE_RATE, add_calculated_columns,
    };
    use crate::options_table::fixtures::{chain, row, today};
    use crate::options_table::{filter_chain, filtered_chain_schema, screen_chain};

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
    fn the_job_keeps_every_row_and_the_rows_of_the_pipeline() {
        let slices: Vec<_> = (0..7).map(|i| chain().slice(i, 1)).collect();
        for threads in [1, 3] {
            let threads = std::num::NonZeroUsize::new(threads).unwrap();
            for filters in [json!({}), json!({"delta_min": 0.15, "min_oi": 1000})] {
                let p = params(json!({"source_job_id": Uuid::nil(), "filters": filters,
                                      "sort_by": "delta", "descending": true, "limit": 3}));
                let screened = screen_chain(&slices, &p, today(), threads).unwrap();
                let every_row =
                    arrow::compute::concat_batches(&filtered_chain_schema(), &screened.every_row)
                        .unwrap();
                assert_eq!(every_row, enriched(), "{filters}");
                let piped = filter_chain(&[chain()], &p, today(), threads).unwrap();
                assert_eq!(screened.kept, piped, "{filters}");
            }
        }
    }
}
