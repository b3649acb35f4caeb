//! Parsing Kite's instruments dump: the 12-column CSV of `GET /instruments/:exchange`.
//!
//! Columns are read by header name, so an extra column does not break the parse; an
//! empty `expiry` or `strike` is a cash instrument. Fetching and caching the dump is the
//! client's and the job's concern, not this module's.

use crate::kite::error::KiteError;
use crate::kite::types::Instrument;

/// The dump's header, in Kite's column order.
pub const INSTRUMENT_COLUMNS: [&str; 12] = [
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
];

#[derive(serde::Deserialize)]
struct Row {
    instrument_token: u64,
    exchange_token: u64,
    tradingsymbol: String,
    #[serde(default)]
    name: String,
    last_price: Option<f64>,
    expiry: Option<chrono::NaiveDate>,
    strike: Option<f64>,
    tick_size: Option<f64>,
    lot_size: Option<f64>,
    instrument_type: String,
    #[serde(default)]
    segment: String,
    exchange: String,
}

/// Parses a dump into typed rows; a malformed row fails the whole parse with its line.
pub fn parse_instruments(csv_text: &str) -> Result<Vec<Instrument>, KiteError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.deserialize::<Row>() {
        let row = record.map_err(|e| KiteError::Decode(format!("instruments CSV: {e}")))?;
        rows.push(Instrument {
            instrument_token: row.instrument_token,
            exchange_token: row.exchange_token,
            tradingsymbol: row.tradingsymbol,
            name: row.name,
            last_price: row.last_price.unwrap_or(0.0),
            expiry: row.expiry,
            strike: row.strike.unwrap_or(0.0),
            tick_size: row.tick_size.unwrap_or(0.0),
            // pykiteconnect casts to int; a float column ("75.0") is accepted the same way.
            lot_size: row.lot_size.map_or(0, |lots| lots.max(0.0) as u32),
            instrument_type: row.instrument_type.into(),
            segment: row.segment,
            exchange: row.exchange,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kite::types::InstrumentType;
    use crate::options::OptionType;

    #[test]
    fn parses_the_documented_sample_rows() {
        let text = format!(
            "{}\n{}\n{}\n{}\n",
            INSTRUMENT_COLUMNS.join(","),
            "408065,1594,INFY,INFOSYS,0,,,0.05,1,EQ,NSE,NSE",
            "5720578,22346,NIFTY159500CE,,23.0,2015-12-31,9500,0.05,75,CE,NFO-OPT,NFO",
            "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE",
        );
        let rows = parse_instruments(&text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].expiry, None);
        assert_eq!(rows[0].instrument_type, InstrumentType::Equity);
        let option = &rows[1];
        assert_eq!(option.expiry, Some("2015-12-31".parse().unwrap()));
        assert_eq!(option.strike, 9500.0);
        assert_eq!(option.lot_size, 75);
        assert_eq!(option.instrument_type.option_type(), Some(OptionType::Call));
        assert_eq!(option.key(), "NFO:NIFTY159500CE");
        assert_eq!(rows[2].key(), "NSE:NIFTY 50");
    }

    #[test]
    fn a_malformed_row_is_a_decode_error() {
        let text = format!(
            "{}\nabc,1,X,,0,,,0.05,1,EQ,NSE,NSE\n",
            INSTRUMENT_COLUMNS.join(",")
        );
        assert!(matches!(
            parse_instruments(&text),
            Err(KiteError::Decode(_))
        ));
        let text = format!(
            "{}\n1,1,X,,0,2015-13-45,,0.05,1,FUT,NFO-FUT,NFO\n",
            INSTRUMENT_COLUMNS.join(",")
        );
        assert!(parse_instruments(&text).is_err());
    }
}
