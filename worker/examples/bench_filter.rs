//! The Rust side of `ops/benches/filter`: generates a synthetic processed chain as
//! Parquet with a fixed seed, and times Fairlane's calculated columns, filter, sort and
//! limit over it. Not a test and not part of the worker.
//!
//! `bench_filter gen PATH ROWS SEED` writes the chain; `bench_filter run PATH OUT
//! REPEATS` times the pipeline stage by stage on one thread with every column computed
//! for every row; read plus `screen_chain` (what the `options.filter` job runs: every
//! column for every row, then filter, sort and limit) on one thread and on every core;
//! and read plus `filter_chain` (model-free filters before the IV solver) on one thread
//! and on every core (best of REPEATS for each figure). It checks all of them give the
//! same rows, writes the surviving rows to OUT as Parquet and prints the timings as one
//! JSON object.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use chrono::NaiveDate;
use fairlane_shared::options::{BlackScholes, OptionType, PricingInputs};
use fairlane_worker::options_table::schema::FETCHED_AT_TZ;
use fairlane_worker::options_table::{
    CalcSettings, ExportFormat, add_calculated_columns, filter_chain, filtered_chain_schema,
    keep_matching, parse_params, processed_chain_schema, read_parquet, screen_chain,
    sort_and_limit, write_batches,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The valuation date of the benchmark; the generated expiries are relative to it.
const TODAY: &str = "2026-11-20";
const UNDERLYINGS: usize = 250;
const BATCH_ROWS: usize = 64 * 1024;

/// The filter the benchmark applies: a typical premium seller's screen.
const PARAMS: &str = r#"{
  "source_job_id": "00000000-0000-0000-0000-000000000000",
  "filters": {"min_oi": 100, "min_volume": 10, "otm_pct_min": 0, "otm_pct_max": 15,
              "min_annualized_yield": 10, "max_spread_pct": 10,
              "delta_min": -0.4, "delta_max": 0.4, "dte_min": 1, "dte_max": 45},
  "sort_by": "annualized_yield_pct", "descending": true, "limit": 50000,
  "risk_free_rate": 0.065
}"#;

fn main() -> anyhow::Result<()> {
    // As the worker does (see `fairlane_worker::memory`).
    fairlane_worker::memory::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["gen", path, rows, seed] => generate(Path::new(path), rows.parse()?, seed.parse()?),
        ["run", path, out, repeats] => run(Path::new(path), Path::new(out), repeats.parse()?),
        _ => anyhow::bail!("usage: bench_filter gen PATH ROWS SEED | run PATH OUT REPEATS"),
    }
}

fn today() -> NaiveDate {
    TODAY.parse().expect("a date")
}

fn generate(path: &Path, rows: usize, seed: u64) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let spots: Vec<f64> = (0..UNDERLYINGS)
        .map(|_| (rng.random_range(50.0..25_000.0_f64) * 20.0).round() / 20.0)
        .collect();
    // Expired last week, this week, next week, this month, next month, quarter.
    let expiries = [-7_i64, 0, 6, 13, 34, 69, 97];
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let fetched_at = 1_795_600_000_000_i64;
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = BATCH_ROWS.min(rows - start);
        let mut chain = Chain::with_capacity(n);
        for i in start..start + n {
            let u = i % UNDERLYINGS;
            let spot = spots[u];
            let days = expiries[rng.random_range(0..expiries.len())];
            let expiry = today() + chrono::Duration::days(days);
            let kind = if rng.random_bool(0.5) {
                OptionType::Call
            } else {
                OptionType::Put
            };
            let step = (spot / 200.0).max(0.5).round();
            let strike = ((spot * rng.random_range(0.7..1.3)) / step)
                .round()
                .max(1.0)
                * step;
            let vol = rng.random_range(0.08..0.8);
            let years = (days.max(1) as f64) / 365.0;
            let fair = PricingInputs::new(spot, strike, years, 0.065, 0.0)
                .and_then(|inputs| BlackScholes::new(inputs, vol))
                .map_or(0.05, |bs| bs.price(kind));
            let price = (fair * rng.random_range(0.97..1.03) * 20.0)
                .round()
                .max(1.0)
                / 20.0;
            let half_spread = price * rng.random_range(0.005..0.15) / 2.0;
            let (bid, ask) = match rng.random_range(0..100) {
                0..5 => (None, None),
                5..8 => (Some(0.0), Some(price + half_spread)),
                _ => (
                    Some(((price - half_spread) * 20.0).round().max(0.0) / 20.0),
                    Some(((price + half_spread) * 20.0).round() / 20.0),
                ),
            };
            chain.symbol.push(format!(
                "U{u:03}{}{strike}{kind}{i:07}",
                expiry.format("%y%m%d")
            ));
            chain.underlying.push(format!("U{u:03}"));
            chain
                .expiry
                .push(i32::try_from((expiry - epoch).num_days())?);
            chain.strike.push(strike);
            chain.kind.push(kind.code());
            chain.last.push(price);
            chain.bid.push(bid);
            chain.ask.push(ask);
            chain.volume.push(rng.random_range(0..20_000));
            chain.oi.push(rng.random_range(0..500_000));
            chain.spot.push(spot);
        }
        batches.push(chain.finish(fetched_at)?);
        start += n;
    }
    let dir = path.parent().context("the path has a directory")?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .context("the path has a file name")?;
    let written = write_batches(
        ExportFormat::Parquet,
        &processed_chain_schema(),
        &batches,
        dir,
        stem,
    )?;
    writeln!(
        std::io::stderr(),
        "wrote {rows} contracts to {} ({} bytes)",
        written.path.display(),
        written.size
    )?;
    Ok(())
}

/// Column vectors of one generated batch.
#[derive(Default)]
struct Chain {
    symbol: Vec<String>,
    underlying: Vec<String>,
    expiry: Vec<i32>,
    strike: Vec<f64>,
    kind: Vec<&'static str>,
    last: Vec<f64>,
    bid: Vec<Option<f64>>,
    ask: Vec<Option<f64>>,
    volume: Vec<i64>,
    oi: Vec<i64>,
    spot: Vec<f64>,
}

impl Chain {
    fn with_capacity(n: usize) -> Self {
        Self {
            symbol: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    fn finish(self, fetched_at: i64) -> anyhow::Result<RecordBatch> {
        let n = self.symbol.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(self.symbol)),
            Arc::new(StringArray::from(self.underlying)),
            Arc::new(Date32Array::from(self.expiry)),
            Arc::new(Float64Array::from(self.strike)),
            Arc::new(StringArray::from(self.kind)),
            Arc::new(Int64Array::from(vec![50; n])),
            Arc::new(Float64Array::from(self.last)),
            Arc::new(Float64Array::from(self.bid)),
            Arc::new(Float64Array::from(self.ask)),
            Arc::new(Int64Array::from(self.volume)),
            Arc::new(Int64Array::from(self.oi)),
            Arc::new(Float64Array::from(self.spot)),
            Arc::new(
                TimestampMillisecondArray::from(vec![fetched_at; n]).with_timezone(FETCHED_AT_TZ),
            ),
        ];
        Ok(RecordBatch::try_new(processed_chain_schema(), columns)?)
    }
}

/// Seconds of each figure of one run.
#[derive(Clone, Copy)]
struct Timings {
    read: f64,
    /// Every calculated column for every row, one thread.
    calculated: f64,
    filter: f64,
    sort_limit: f64,
    /// read + calculated + filter + sort_limit.
    staged: f64,
    /// Read plus `screen_chain` (the job's work) on one thread.
    job_1: f64,
    /// The same on every core.
    job_n: f64,
    /// Read plus `filter_chain` (model-free filters first) on one thread.
    pipeline_1: f64,
    /// The same on every core.
    pipeline_n: f64,
}

impl Timings {
    fn min(self, other: Timings) -> Timings {
        Timings {
            read: self.read.min(other.read),
            calculated: self.calculated.min(other.calculated),
            filter: self.filter.min(other.filter),
            sort_limit: self.sort_limit.min(other.sort_limit),
            staged: self.staged.min(other.staged),
            job_1: self.job_1.min(other.job_1),
            job_n: self.job_n.min(other.job_n),
            pipeline_1: self.pipeline_1.min(other.pipeline_1),
            pipeline_n: self.pipeline_n.min(other.pipeline_n),
        }
    }
}

fn run(path: &Path, out: &Path, repeats: usize) -> anyhow::Result<()> {
    let params = parse_params(&serde_json::from_str(PARAMS)?)
        .map_err(|e| anyhow::anyhow!("bad benchmark params: {e:?}"))?;
    let settings = CalcSettings::new(today(), params.risk_free_rate())?;
    let threads = std::thread::available_parallelism()?;
    let mut best: Option<Timings> = None;
    let mut result = None;
    let mut rows = (0, 0);
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        let batches = read_parquet(path, NonZeroUsize::MIN)?;
        let t1 = Instant::now();
        let enriched = batches
            .iter()
            .map(|b| add_calculated_columns(b, &settings))
            .collect::<Result<Vec<_>, _>>()?;
        let t2 = Instant::now();
        let kept = enriched
            .iter()
            .map(|b| keep_matching(b, &params.filters))
            .collect::<Result<Vec<_>, _>>()?;
        let kept = arrow::compute::concat_batches(&filtered_chain_schema(), &kept)?;
        let t3 = Instant::now();
        let top = sort_and_limit(&kept, &params)?;
        let t4 = Instant::now();
        let one = filter_chain(
            &read_parquet(path, NonZeroUsize::MIN)?,
            &params,
            today(),
            NonZeroUsize::MIN,
        )?;
        let t5 = Instant::now();
        let all = filter_chain(&read_parquet(path, threads)?, &params, today(), threads)?;
        let t6 = Instant::now();
        let job_one = screen_chain(
            &read_parquet(path, NonZeroUsize::MIN)?,
            &params,
            today(),
            NonZeroUsize::MIN,
        )?;
        let t7 = Instant::now();
        let job_all = screen_chain(&read_parquet(path, threads)?, &params, today(), threads)?;
        let t8 = Instant::now();
        anyhow::ensure!(
            one == top && all == top,
            "filter_chain disagrees with the staged run"
        );
        anyhow::ensure!(
            job_one.kept == top && job_all.kept == top,
            "screen_chain disagrees with the staged run"
        );
        let secs = |a: Instant, b: Instant| (b - a).as_secs_f64();
        let timings = Timings {
            read: secs(t0, t1),
            calculated: secs(t1, t2),
            filter: secs(t2, t3),
            sort_limit: secs(t3, t4),
            staged: secs(t0, t4),
            job_1: secs(t6, t7),
            job_n: secs(t7, t8),
            pipeline_1: secs(t4, t5),
            pipeline_n: secs(t5, t6),
        };
        best = Some(best.map_or(timings, |b| b.min(timings)));
        rows = (
            batches.iter().map(RecordBatch::num_rows).sum(),
            kept.num_rows(),
        );
        result = Some(top);
    }
    let (best, top) = (best.context("one run")?, result.context("one run")?);
    let dir = out.parent().context("the output has a directory")?;
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .context("the output has a file name")?;
    write_batches(
        ExportFormat::Parquet,
        &filtered_chain_schema(),
        std::slice::from_ref(&top),
        dir,
        stem,
    )?;
    writeln!(
        std::io::stdout(),
        "{{\"rows\": {}, \"matched\": {}, \"returned\": {}, \"read_s\": {:.6}, \
         \"calculated_s\": {:.6}, \"filter_s\": {:.6}, \"sort_limit_s\": {:.6}, \
         \"staged_total_s\": {:.6}, \"job_1_thread_s\": {:.6}, \
         \"job_all_threads_s\": {:.6}, \"pipeline_1_thread_s\": {:.6}, \
         \"pipeline_all_threads_s\": {:.6}, \"threads\": {}}}",
        rows.0,
        rows.1,
        top.num_rows(),
        best.read,
        best.calculated,
        best.filter,
        best.sort_limit,
        best.staged,
        best.job_1,
        best.job_n,
        best.pipeline_1,
        best.pipeline_n,
        threads
    )?;
    Ok(())
}
