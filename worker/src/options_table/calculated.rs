//! The calculated columns of the filtered chain, computed in one pass over the Arrow
//! arrays of a processed-chain batch: `days_to_expiry, moneyness, otm_pct,
//! premium_yield_pct, annualized_yield_pct, breakeven, spread_pct, iv, delta, gamma,
//! theta, vega`.
//!
//! Every formula is a scalar function of `fairlane_shared::options`; this module only
//! walks the arrays, turns `None` into Arrow nulls, and never produces NaN. It does not
//! filter or sort.
//!
//! Conventions (see `domain.md` §2):
//! - The premium is the **bid** when it is positive (what a seller can get now), else
//!   the last traded price; with neither positive, every premium-based column (yields,
//!   break-even, IV and the Greeks) is null. The IV is solved from that same premium,
//!   so the yield and the IV describe one price.
//! - Days to expiry count calendar days from `today` with expiry day as 1 (the shared
//!   `days_to_expiry` rule). A contract that expired before `today` gets null in every
//!   calculated column.
//! - An `option_type` other than exactly `CE` or `PE` leaves the type-dependent columns
//!   (OTM %, yields, break-even, IV, Greeks) null.
//! - IV uses the risk-free rate of [`CalcSettings`] and no dividend yield; no solution
//!   gives a null IV, and a null IV gives null Greeks. Theta is per calendar day, vega
//!   per volatility point. [`add_quote_columns`] skips the solver (IV and Greeks null).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Float64Builder, Int32Builder, RecordBatch,
};
use arrow::datatypes::{Date32Type, Float64Type};
use chrono::{Datelike, NaiveDate};
use fairlane_shared::options::columns;
use fairlane_shared::options::{BlackScholes, OptionType, PricingInputs, implied_volatility};

use crate::options_table::TableError;
use crate::options_table::filter::FieldError;
use crate::options_table::schema::{conform, filtered_chain_schema};

pub use fairlane_shared::options::filter_params::{DEFAULT_RISK_FREE_RATE, MAX_RISK_FREE_RATE};

/// Days from 0001-01-01 (chrono's day 1 is 0001-01-01) to 1970-01-01, Date32's epoch.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// `date` as a Date32 day number.
fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - EPOCH_DAYS_FROM_CE
}

/// The market context of a calculation: the date the chain is valued at and the
/// risk-free rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalcSettings {
    today: NaiveDate,
    risk_free_rate: f64,
    /// `today` as a Date32 day number (days since 1970-01-01).
    today_day_number: i64,
}

impl CalcSettings {
    /// Settings for valuing a chain on `today` at `risk_free_rate`, which must be a
    /// finite annual fraction in `0..=0.5`.
    pub fn new(today: NaiveDate, risk_free_rate: f64) -> Result<Self, TableError> {
        if !(risk_free_rate.is_finite() && (0.0..=MAX_RISK_FREE_RATE).contains(&risk_free_rate)) {
            return Err(TableError::InvalidParam(FieldError::new(
                "risk_free_rate",
                format!("must be between 0 and {MAX_RISK_FREE_RATE} (an annual fraction)"),
            )));
        }
        Ok(Self {
            today,
            risk_free_rate,
            today_day_number: day_number(today),
        })
    }

    /// The valuation date.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The risk-free rate, an annual fraction.
    pub fn risk_free_rate(&self) -> f64 {
        self.risk_free_rate
    }
}

/// Returns `batch` (a processed chain, conformed to its schema first) with the
/// calculated columns appended, in the [`filtered_chain_schema`].
pub fn add_calculated_columns(
    batch: &RecordBatch,
    settings: &CalcSettings,
) -> Result<RecordBatch, TableError> {
    enrich(batch, settings, Model::Solve)
}

/// Like [`add_calculated_columns`] but leaves `iv` and the Greeks null, skipping the
/// implied-volatility solver that costs most of the time: for filtering on the other
/// columns before solving only the rows that survive.
pub fn add_quote_columns(
    batch: &RecordBatch,
    settings: &CalcSettings,
) -> Result<RecordBatch, TableError> {
    enrich(batch, settings, Model::Skip)
}

/// Whether to solve for IV and the Greeks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Model {
    Solve,
    Skip,
}

fn enrich(
    batch: &RecordBatch,
    settings: &CalcSettings,
    model: Model,
) -> Result<RecordBatch, TableError> {
    let batch = conform(batch)?;
    let expiry = batch.column(2).as_primitive::<Date32Type>();
    let strike = float(&batch, 3);
    let kinds = batch.column(4).as_string::<i32>();
    let (last, bid, ask) = (float(&batch, 6), float(&batch, 7), float(&batch, 8));
    let spot = float(&batch, 11);

    let mut out = Columns::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let quote = Quote {
            kind: kinds
                .is_valid(i)
                .then(|| option_type(kinds.value(i)))
                .flatten(),
            expiry: expiry.is_valid(i).then(|| expiry.value(i)),
            strike: value(strike, i),
            spot: value(spot, i),
            bid: value(bid, i),
            ask: value(ask, i),
            last: value(last, i),
        };
        out.push(quote.calculate(settings, model));
    }
    let mut columns = batch.columns().to_vec();
    columns.extend(out.finish());
    Ok(RecordBatch::try_new(filtered_chain_schema(), columns)?)
}

fn float(batch: &RecordBatch, index: usize) -> &Float64Array {
    batch.column(index).as_primitive::<Float64Type>()
}

fn value(array: &Float64Array, i: usize) -> Option<f64> {
    array.is_valid(i).then(|| array.value(i))
}

/// The exact codes `options.process` writes.
fn option_type(code: &str) -> Option<OptionType> {
    match code {
        "CE" => Some(OptionType::Call),
        "PE" => Some(OptionType::Put),
        _ => None,
    }
}

/// The inputs of one row.
struct Quote {
    kind: Option<OptionType>,
    /// Days since 1970-01-01.
    expiry: Option<i32>,
    strike: Option<f64>,
    spot: Option<f64>,
    bid: Option<f64>,
    ask: Option<f64>,
    last: Option<f64>,
}

/// The calculated columns of one row.
#[derive(Default)]
struct Calculated {
    days: Option<i32>,
    moneyness: Option<f64>,
    otm_pct: Option<f64>,
    premium_yield_pct: Option<f64>,
    annualized_yield_pct: Option<f64>,
    breakeven: Option<f64>,
    spread_pct: Option<f64>,
    iv: Option<f64>,
    delta: Option<f64>,
    gamma: Option<f64>,
    theta: Option<f64>,
    vega: Option<f64>,
}

impl Quote {
    fn calculate(&self, settings: &CalcSettings, model: Model) -> Calculated {
        // Day numbers, not dates: a chrono date per row cost more than the yields. A day
        // number no calendar date has is no expiry.
        let expiry = self
            .expiry
            .map(i64::from)
            .filter(|day| (day_number(NaiveDate::MIN)..=day_number(NaiveDate::MAX)).contains(day));
        let Some(days) = expiry.and_then(|e| columns::days_left(e - settings.today_day_number))
        else {
            return Calculated::default();
        };
        let (Some(spot), Some(strike)) = (self.spot, self.strike) else {
            return Calculated {
                days: i32::try_from(days).ok(),
                spread_pct: self.spread_pct(),
                ..Calculated::default()
            };
        };
        let mut row = Calculated {
            days: i32::try_from(days).ok(),
            moneyness: columns::moneyness(spot, strike),
            spread_pct: self.spread_pct(),
            ..Calculated::default()
        };
        let Some(kind) = self.kind else {
            return row;
        };
        row.otm_pct = columns::otm_pct(kind, spot, strike);
        let Some(premium) = self.premium() else {
            return row;
        };
        row.premium_yield_pct = columns::premium_yield_pct(kind, premium, spot, strike);
        row.annualized_yield_pct = row
            .premium_yield_pct
            .map(|y| columns::annualized_yield_pct(y, days));
        row.breakeven = Some(columns::breakeven(kind, premium, spot, strike));
        if model == Model::Skip {
            return row;
        }
        let years = columns::years_to_expiry(days);
        let Some(inputs) = PricingInputs::new(spot, strike, years, settings.risk_free_rate, 0.0)
        else {
            return row;
        };
        let model = implied_volatility(kind, &inputs, premium)
            .and_then(|iv| Some((iv, BlackScholes::new(inputs, iv)?)));
        if let Some((iv, model)) = model {
            let greeks = model.greeks(kind);
            row.iv = Some(iv);
            row.delta = Some(greeks.delta);
            row.gamma = Some(greeks.gamma);
            row.theta = Some(greeks.theta_per_day());
            row.vega = Some(greeks.vega_per_point());
        }
        row
    }

    /// The bid when positive, else the last traded price when positive.
    fn premium(&self) -> Option<f64> {
        let positive = |p: Option<f64>| p.filter(|p| p.is_finite() && *p > 0.0);
        positive(self.bid).or_else(|| positive(self.last))
    }

    fn spread_pct(&self) -> Option<f64> {
        columns::spread_pct(self.bid?, self.ask?)
    }
}

/// Builders for the calculated columns, in schema order.
struct Columns {
    days: Int32Builder,
    floats: [Float64Builder; 11],
}

impl Columns {
    fn with_capacity(rows: usize) -> Self {
        Self {
            days: Int32Builder::with_capacity(rows),
            floats: std::array::from_fn(|_| Float64Builder::with_capacity(rows)),
        }
    }

    fn push(&mut self, row: Calculated) {
        self.days.append_option(row.days);
        let values = [
            row.moneyness,
            row.otm_pct,
            row.premium_yield_pct,
            row.annualized_yield_pct,
            row.breakeven,
            row.spread_pct,
            row.iv,
            row.delta,
            row.gamma,
            row.theta,
            row.vega,
        ];
        for (builder, value) in self.floats.iter_mut().zip(values) {
            // The shared functions never return NaN or ±inf; keep that promise even
            // for non-finite inputs.
            builder.append_option(value.filter(|v| v.is_finite()));
        }
    }

    fn finish(mut self) -> Vec<ArrayRef> {
        let mut columns: Vec<ArrayRef> = vec![Arc::new(self.days.finish())];
        columns.extend(
            self.floats
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        columns
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Int32Array;
    use arrow::datatypes::Int32Type;

    use super::*;
    use crate::options_table::fixtures::{SPOT, chain, row, today};
    use OptionType::{Call, Put};

    fn enriched() -> RecordBatch {
        let settings = CalcSettings::new(today(), DEFAULT_RISK_FREE_RATE).unwrap();
        add_calculated_columns(&chain(), &settings).unwrap()
    }

    fn col<'a>(batch: &'a RecordBatch, name: &str) -> &'a Float64Array {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
    }

    fn days(batch: &RecordBatch) -> &Int32Array {
        batch
            .column_by_name("days_to_expiry")
            .unwrap()
            .as_primitive::<Int32Type>()
    }

    #[track_caller]
    fn close(got: Option<f64>, want: Option<f64>) {
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-9, "got {g}, want {w}"),
            _ => assert_eq!(got, want),
        }
    }

    /// Checks one row against the shared scalar functions, premium = bid.
    fn cross_check(
        batch: &RecordBatch,
        i: usize,
        kind: OptionType,
        strike: f64,
        premium: f64,
        dte: u32,
    ) {
        assert_eq!(days(batch).value(i), i32::try_from(dte).unwrap());
        let get = |name: &str| value(col(batch, name), i);
        close(get("moneyness"), columns::moneyness(SPOT, strike));
        close(get("otm_pct"), columns::otm_pct(kind, SPOT, strike));
        let yield_pct = columns::premium_yield_pct(kind, premium, SPOT, strike);
        close(get("premium_yield_pct"), yield_pct);
        close(
            get("annualized_yield_pct"),
            yield_pct.map(|y| columns::annualized_yield_pct(y, dte)),
        );
        close(
            get("breakeven"),
            Some(columns::breakeven(kind, premium, SPOT, strike)),
        );
        let inputs =
            PricingInputs::new(SPOT, strike, columns::years_to_expiry(dte), 0.065, 0.0).unwrap();
        let iv = implied_volatility(kind, &inputs, premium).expect("an IV");
        close(get("iv"), Some(iv));
        let greeks = BlackScholes::new(inputs, iv).unwrap().greeks(kind);
        close(get("delta"), Some(greeks.delta));
        close(get("gamma"), Some(greeks.gamma));
        close(get("theta"), Some(greeks.theta_per_day()));
        close(get("vega"), Some(greeks.vega_per_point()));
    }

    #[test]
    fn rows_match_the_shared_scalar_functions() {
        let batch = enriched();
        assert_eq!(batch.schema(), filtered_chain_schema());
        cross_check(&batch, row::CALL, Call, 24_500.0, 58.0, 7);
        cross_check(&batch, row::PUT, Put, 23_500.0, 68.0, 7);
        cross_check(&batch, row::MONTHLY, Call, 24_000.0, 400.0, 35);
        // Spot checks by hand: 58/24000 over 7 days, 4/60 of mid.
        close(
            value(col(&batch, "premium_yield_pct"), row::CALL),
            Some(100.0 * 58.0 / 24_000.0),
        );
        close(
            value(col(&batch, "annualized_yield_pct"), row::CALL),
            Some(100.0 * 58.0 / 24_000.0 * 365.0 / 7.0),
        );
        close(
            value(col(&batch, "spread_pct"), row::CALL),
            Some(100.0 * 4.0 / 60.0),
        );
        close(
            value(col(&batch, "breakeven"), row::PUT),
            Some(23_500.0 - 68.0),
        );
        let delta = value(col(&batch, "delta"), row::PUT).unwrap();
        assert!((-0.5..0.0).contains(&delta), "{delta}");
    }

    #[test]
    fn expiry_day_counts_as_one_day() {
        let batch = enriched();
        cross_check(&batch, row::EXPIRY_DAY, Call, 24_100.0, 19.0, 1);
    }

    #[test]
    fn an_expired_contract_gets_nulls_everywhere() {
        let batch = enriched();
        for column in batch.columns().iter().skip(13) {
            assert!(column.is_null(row::EXPIRED), "{:?}", column.data_type());
        }
    }

    #[test]
    fn a_missing_book_prices_from_the_last_trade_without_spread() {
        let batch = enriched();
        cross_check(&batch, row::NO_BOOK, Call, 25_000.0, 5.0, 7);
        assert!(col(&batch, "spread_pct").is_null(row::NO_BOOK));
    }

    #[test]
    fn a_price_below_intrinsic_value_gives_null_iv_and_greeks() {
        let batch = enriched();
        let i = row::NO_IV;
        for name in ["iv", "delta", "gamma", "theta", "vega"] {
            assert!(col(&batch, name).is_null(i), "{name}");
        }
        close(
            value(col(&batch, "premium_yield_pct"), i),
            Some(100.0 * 1_500.0 / 26_000.0),
        );
        for name in ["moneyness", "otm_pct", "breakeven", "spread_pct"] {
            assert!(col(&batch, name).is_valid(i), "{name}");
        }
    }

    #[test]
    fn no_calculated_column_holds_nan_or_infinity() {
        let batch = enriched();
        for column in batch.columns().iter().skip(14) {
            let floats = column.as_primitive::<Float64Type>();
            assert!(floats.iter().flatten().all(f64::is_finite));
        }
    }

    #[test]
    fn quote_columns_are_the_calculated_ones_without_the_model() {
        let settings = CalcSettings::new(today(), DEFAULT_RISK_FREE_RATE).unwrap();
        let quick = add_quote_columns(&chain(), &settings).unwrap();
        let full = enriched();
        assert_eq!(quick.schema(), full.schema());
        for (name, (q, f)) in full
            .schema()
            .fields()
            .iter()
            .map(|f| f.name())
            .zip(quick.columns().iter().zip(full.columns()))
        {
            if ["iv", "delta", "gamma", "theta", "vega"].contains(&name.as_str()) {
                assert_eq!(q.null_count(), q.len(), "{name}");
            } else {
                assert_eq!(q, f, "{name}");
            }
        }
    }

    #[test]
    fn the_risk_free_rate_is_validated_and_used() {
        assert!(CalcSettings::new(today(), -0.01).is_err());
        assert!(CalcSettings::new(today(), 0.51).is_err());
        assert!(CalcSettings::new(today(), f64::NAN).is_err());
        let zero = CalcSettings::new(today(), 0.0).unwrap();
        let batch = add_calculated_columns(&chain(), &zero).unwrap();
        let inputs = PricingInputs::new(SPOT, 24_500.0, 7.0 / 365.0, 0.0, 0.0).unwrap();
        close(
            value(col(&batch, "iv"), row::CALL),
            implied_volatility(Call, &inputs, 58.0),
        );
    }
}
