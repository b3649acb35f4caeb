//! The shared instruments cache in Postgres (`instruments`, `instrument_dumps`): the
//! broker's daily dump, fetched at most once per trading day (Asia/Kolkata) per exchange
//! for all users, and the lookups built on it — option expiries of an underlying, the
//! option chain of an expiry, and the cash instrument quoted for an underlying's price.
//!
//! It does not talk to the broker by itself: [`refresh_if_stale`] takes a client that the
//! caller built with some user's credentials.

use chrono::{FixedOffset, NaiveDate, Utc};

use crate::kite::{Instrument, KiteClient, KiteError};

/// India Standard Time (no daylight saving).
fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("valid offset")
}

/// Today's trading day in Asia/Kolkata.
pub fn trading_day() -> NaiveDate {
    Utc::now().with_timezone(&ist()).date_naive()
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentsError {
    /// The broker refused or failed.
    #[error(transparent)]
    Broker(#[from] KiteError),
    /// Postgres failed.
    #[error(transparent)]
    Database(#[from] crate::Error),
}

impl From<tokio_postgres::Error> for InstrumentsError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Database(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for InstrumentsError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Database(e.into())
    }
}

/// Whether `exchange`'s dump of today is cached.
pub async fn is_fresh(
    client: &impl tokio_postgres::GenericClient,
    exchange: &str,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT trading_day FROM instrument_dumps WHERE exchange = $1",
            &[&exchange],
        )
        .await?;
    Ok(row.is_some_and(|r| r.get::<_, NaiveDate>(0) >= trading_day()))
}

/// Fetches and stores `exchange`'s dump unless today's is cached. Concurrent callers (on
/// any process) serialise on an advisory lock, so the broker is asked once. Returns
/// whether this call fetched.
pub async fn refresh_if_stale(
    db: &deadpool_postgres::Pool,
    kite: &KiteClient,
    exchange: &str,
) -> Result<bool, InstrumentsError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('fairlane-instruments:' || $1))",
        &[&exchange],
    )
    .await?;
    if is_fresh(&*tx, exchange).await? {
        return Ok(false);
    }
    let rows = kite.instruments(exchange).await?;
    store(&tx, exchange, &rows).await?;
    tx.commit().await?;
    tracing::info!(
        exchange,
        rows = rows.len(),
        "refreshed the instruments cache"
    );
    Ok(true)
}

async fn store(
    tx: &tokio_postgres::Transaction<'_>,
    exchange: &str,
    rows: &[Instrument],
) -> Result<(), tokio_postgres::Error> {
    tx.execute("DELETE FROM instruments WHERE exchange = $1", &[&exchange])
        .await?;
    for chunk in rows.chunks(5000) {
        let mut symbols = Vec::with_capacity(chunk.len());
        let mut tokens = Vec::with_capacity(chunk.len());
        let mut names = Vec::with_capacity(chunk.len());
        let mut expiries = Vec::with_capacity(chunk.len());
        let mut strikes = Vec::with_capacity(chunk.len());
        let mut types = Vec::with_capacity(chunk.len());
        let mut segments = Vec::with_capacity(chunk.len());
        let mut lots = Vec::with_capacity(chunk.len());
        let mut ticks = Vec::with_capacity(chunk.len());
        for row in chunk {
            symbols.push(row.tradingsymbol.as_str());
            tokens.push(i64::try_from(row.instrument_token).unwrap_or(i64::MAX));
            names.push(row.name.as_str());
            expiries.push(row.expiry);
            strikes.push(row.strike);
            types.push(row.instrument_type.to_string());
            segments.push(row.segment.as_str());
            lots.push(i32::try_from(row.lot_size).unwrap_or(i32::MAX));
            ticks.push(row.tick_size);
        }
        tx.execute(
            "INSERT INTO instruments (exchange, tradingsymbol, instrument_token, name, expiry, strike,
                                      instrument_type, segment, lot_size, tick_size)
             SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::date[], $6::float8[],
                                      $7::text[], $8::text[], $9::int[], $10::float8[])
             ON CONFLICT (exchange, tradingsymbol) DO NOTHING",
            &[&exchange, &symbols, &tokens, &names, &expiries, &strikes, &types, &segments, &lots, &ticks],
        )
        .await?;
    }
    let count = i32::try_from(rows.len()).unwrap_or(i32::MAX);
    tx.execute(
        "INSERT INTO instrument_dumps (exchange, trading_day, fetched_at, row_count) VALUES ($1, $2, now(), $3)
         ON CONFLICT (exchange) DO UPDATE SET trading_day = $2, fetched_at = now(), row_count = $3",
        &[&exchange, &trading_day(), &count],
    )
    .await?;
    Ok(())
}

/// Option expiries of `symbol` on `exchange`, from today on, ascending.
pub async fn expiries(
    client: &impl tokio_postgres::GenericClient,
    exchange: &str,
    symbol: &str,
) -> Result<Vec<NaiveDate>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT DISTINCT expiry FROM instruments
             WHERE exchange = $1 AND name = $2 AND instrument_type IN ('CE', 'PE') AND expiry >= $3
             ORDER BY expiry",
            &[&exchange, &symbol, &trading_day()],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// One option contract of a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainContract {
    /// e.g. `NIFTY25NOV24000CE`.
    pub tradingsymbol: String,
    /// The underlying (`NIFTY`).
    pub underlying: String,
    /// Expiry.
    pub expiry: NaiveDate,
    /// Strike.
    pub strike: f64,
    /// `CE` or `PE`.
    pub option_type: String,
    /// Contract size.
    pub lot_size: i32,
}

/// The options of `symbols` on `exchange` expiring on `expiry`, by symbol, type, strike.
pub async fn chain(
    client: &impl tokio_postgres::GenericClient,
    exchange: &str,
    symbols: &[String],
    expiry: NaiveDate,
) -> Result<Vec<ChainContract>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT tradingsymbol, name, expiry, strike, instrument_type, lot_size FROM instruments
             WHERE exchange = $1 AND name = ANY($2) AND expiry = $3 AND instrument_type IN ('CE', 'PE')
             ORDER BY name, instrument_type, strike",
            &[&exchange, &symbols, &expiry],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ChainContract {
            tradingsymbol: r.get(0),
            underlying: r.get(1),
            expiry: r.get(2),
            strike: r.get(3),
            option_type: r.get(4),
            lot_size: r.get(5),
        })
        .collect())
}

/// Index underlyings whose cash instrument has another name on NSE.
const INDEX_SYMBOLS: [(&str, &str); 5] = [
    ("NIFTY", "NIFTY 50"),
    ("BANKNIFTY", "NIFTY BANK"),
    ("FINNIFTY", "NIFTY FIN SERVICE"),
    ("MIDCPNIFTY", "NIFTY MID SELECT"),
    ("NIFTYNXT50", "NIFTY NEXT 50"),
];

/// The `NSE:<tradingsymbol>` quote key of an underlying's cash instrument, when the NSE
/// dump has it (indices use their index name, stocks their own symbol).
pub async fn cash_key(
    client: &impl tokio_postgres::GenericClient,
    underlying: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let mapped = INDEX_SYMBOLS
        .iter()
        .find(|(name, _)| *name == underlying)
        .map_or(underlying, |(_, cash)| cash);
    let row = client
        .query_opt(
            "SELECT tradingsymbol FROM instruments WHERE exchange = 'NSE' AND tradingsymbol = $1",
            &[&mapped],
        )
        .await?;
    Ok(row.map(|r| crate::kite::instrument_key("NSE", r.get::<_, &str>(0))))
}
