//! The synthetic market of one trading day: underlyings, their NFO futures and option
//! chains, and a quote for every listed instrument.
//!
//! Everything is a pure function of `(seed, date)`: spots are drawn around fixed base
//! prices, option prices come from Black–Scholes (`fairlane_shared::options`) with a
//! volatility smile and a little noise, and books, OI and volume fall off away from the
//! money. Some far strikes are illiquid: listed in the dump but absent from quotes, as
//! Kite leaves instruments without data out of `data`. Prices do not move intraday.

use std::collections::HashMap;

use chrono::NaiveDate;
use fairlane_shared::kite::{Depth, DepthLevel, Instrument, InstrumentType, Ohlc, Quote};
use fairlane_shared::options::{BlackScholes, OptionType, PricingInputs};

mod symbols;
mod underlyings;

use crate::expiries;
use crate::market::symbols::{future_symbol, option_symbol};
use crate::market::underlyings::UNDERLYINGS;
use crate::noise::unit;

const RISK_FREE_RATE: f64 = 0.065;
const TICK: f64 = 0.05;

/// What a listed instrument is, for pricing.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Cash,
    Future,
    Option {
        kind: OptionType,
        steps_from_atm: i64,
        strikes_each_side: i64,
    },
}

#[derive(Debug, Clone)]
struct Listing {
    instrument: Instrument,
    underlying: usize,
    kind: Kind,
}

/// One day's market.
#[derive(Debug)]
pub(crate) struct Market {
    seed: u64,
    date: NaiveDate,
    spots: Vec<f64>,
    listings: Vec<Listing>,
    by_key: HashMap<String, usize>,
}

impl Market {
    /// Builds the market of `date`.
    pub(crate) fn new(seed: u64, date: NaiveDate) -> Self {
        let day = date.to_string();
        let spots: Vec<f64> = UNDERLYINGS
            .iter()
            .map(|u| round_tick(u.base_price * (0.97 + 0.06 * unit(seed, &["spot", u.name, &day]))))
            .collect();
        let mut listings = Vec::new();
        let mut next_token = 1000u64;
        let mut token = |segment: u64| {
            next_token += 1;
            (next_token, next_token * 256 + segment)
        };
        for (index, u) in UNDERLYINGS.iter().enumerate() {
            let (exchange_token, instrument_token) = token(if u.is_index { 9 } else { 1 });
            listings.push(Listing {
                instrument: Instrument {
                    instrument_token,
                    exchange_token,
                    tradingsymbol: u.cash_symbol.to_owned(),
                    name: u.cash_symbol.to_owned(),
                    last_price: spots[index],
                    expiry: None,
                    strike: 0.0,
                    tick_size: if u.is_index { 0.0 } else { TICK },
                    lot_size: if u.is_index { 0 } else { 1 },
                    instrument_type: InstrumentType::Equity,
                    segment: if u.is_index { "INDICES" } else { "NSE" }.to_owned(),
                    exchange: "NSE".to_owned(),
                },
                underlying: index,
                kind: Kind::Cash,
            });
        }
        for (index, u) in UNDERLYINGS.iter().enumerate() {
            let monthlies = expiries::monthly(date);
            let mut all_expiries: Vec<(NaiveDate, bool)> =
                monthlies.iter().map(|d| (*d, true)).collect();
            if u.has_weeklies {
                all_expiries.extend(expiries::weekly(date).into_iter().map(|d| (d, false)));
            }
            all_expiries.sort();
            let atm = (spots[index] / u.strike_step).round() * u.strike_step;
            for (expiry, is_monthly) in all_expiries {
                if is_monthly {
                    let (exchange_token, instrument_token) = token(2);
                    listings.push(Listing {
                        instrument: Instrument {
                            instrument_token,
                            exchange_token,
                            tradingsymbol: future_symbol(u.name, expiry),
                            name: u.name.to_owned(),
                            last_price: 0.0,
                            expiry: Some(expiry),
                            strike: 0.0,
                            tick_size: TICK,
                            lot_size: u.lot_size,
                            instrument_type: InstrumentType::Future,
                            segment: "NFO-FUT".to_owned(),
                            exchange: "NFO".to_owned(),
                        },
                        underlying: index,
                        kind: Kind::Future,
                    });
                }
                for steps in -u.strikes_each_side..=u.strikes_each_side {
                    let strike = atm + steps as f64 * u.strike_step;
                    for kind in [OptionType::Call, OptionType::Put] {
                        let (exchange_token, instrument_token) = token(2);
                        listings.push(Listing {
                            instrument: Instrument {
                                instrument_token,
                                exchange_token,
                                tradingsymbol: option_symbol(
                                    u.name, expiry, is_monthly, strike, kind,
                                ),
                                name: u.name.to_owned(),
                                last_price: 0.0,
                                expiry: Some(expiry),
                                strike,
                                tick_size: TICK,
                                lot_size: u.lot_size,
                                instrument_type: InstrumentType::Option(kind),
                                segment: "NFO-OPT".to_owned(),
                                exchange: "NFO".to_owned(),
                            },
                            underlying: index,
                            kind: Kind::Option {
                                kind,
                                steps_from_atm: steps.abs(),
                                strikes_each_side: u.strikes_each_side,
                            },
                        });
                    }
                }
            }
        }
        let by_key = listings
            .iter()
            .enumerate()
            .map(|(i, l)| (l.instrument.key(), i))
            .collect();
        Self {
            seed,
            date,
            spots,
            listings,
            by_key,
        }
    }

    /// The date this market is for.
    pub(crate) fn date(&self) -> NaiveDate {
        self.date
    }

    /// The instruments dump of `exchange` (`NSE` or `NFO`; empty for others).
    pub(crate) fn instruments(&self, exchange: Option<&str>) -> impl Iterator<Item = &Instrument> {
        self.listings
            .iter()
            .map(|l| &l.instrument)
            .filter(move |i| exchange.is_none_or(|e| i.exchange == e))
    }

    /// A full quote, or `None` for unknown or illiquid instruments.
    pub(crate) fn quote(&self, key: &str, timestamp: &str) -> Option<Quote> {
        let listing = &self.listings[*self.by_key.get(key)?];
        let symbol = listing.instrument.tradingsymbol.as_str();
        let draw = |label: &str| unit(self.seed, &[label, symbol, &self.date.to_string()]);
        let spot = self.spots[listing.underlying];
        let u = &UNDERLYINGS[listing.underlying];
        let years = listing
            .instrument
            .expiry
            .map(|e| ((e - self.date).num_days() as f64 + 0.5) / 365.0)
            .unwrap_or(0.0);
        let (price, liquidity) = match listing.kind {
            Kind::Cash => (spot, 1.0),
            Kind::Future => (round_tick(spot * (RISK_FREE_RATE * years).exp()), 1.0),
            Kind::Option {
                kind,
                steps_from_atm,
                strikes_each_side,
            } => {
                let distance = steps_from_atm as f64 / strikes_each_side as f64;
                if distance > 0.6 && draw("listed") < 0.4 {
                    return None;
                }
                let strike = listing.instrument.strike;
                let smile = u.base_vol
                    * (1.0 + 1.5 * (strike / spot).ln().powi(2) * 100.0 / (1.0 + 100.0 * years));
                let vol = smile * (0.97 + 0.06 * draw("vol"));
                let inputs = PricingInputs::new(spot, strike, years, RISK_FREE_RATE, 0.0)?;
                let fair = BlackScholes::new(inputs, vol)?.price(kind);
                (
                    round_tick((fair * (0.99 + 0.02 * draw("price"))).max(TICK)),
                    (-3.0 * distance * distance).exp(),
                )
            }
        };
        let lot = u64::from(listing.instrument.lot_size.max(1));
        let half_spread = round_tick((price * 0.004 / liquidity.max(0.05)).max(TICK));
        let level = |side: f64, i: usize| {
            let level_price = round_tick(price + side * (half_spread + i as f64 * TICK));
            DepthLevel {
                price: level_price.max(0.0),
                quantity: lot * (1 + (20.0 * draw(&format!("qty{side}{i}"))) as u64),
                orders: 1 + (5.0 * draw(&format!("orders{side}{i}"))) as u64,
            }
        };
        let is_derivative = !matches!(listing.kind, Kind::Cash);
        let oi = if is_derivative {
            (lot as f64 * (200.0 + 4000.0 * liquidity * draw("oi"))).round()
        } else {
            0.0
        };
        let volume = (lot as f64 * (10.0 + 2000.0 * liquidity * draw("volume"))).round() as u64;
        let close = round_tick(price * (0.98 + 0.04 * draw("close")));
        Some(Quote {
            instrument_token: listing.instrument.instrument_token,
            timestamp: Some(timestamp.to_owned()),
            last_trade_time: Some(timestamp.to_owned()),
            last_price: price,
            last_quantity: lot,
            buy_quantity: lot * 100,
            sell_quantity: lot * 100,
            volume,
            average_price: round_tick((price + close) / 2.0),
            oi,
            oi_day_high: (oi * 1.05).round(),
            oi_day_low: (oi * 0.95).round(),
            net_change: round_tick(price - close),
            lower_circuit_limit: round_tick(price * 0.8),
            upper_circuit_limit: round_tick(price * 1.2),
            ohlc: Ohlc {
                open: close,
                high: round_tick(price.max(close) * 1.01),
                low: round_tick(price.min(close) * 0.99),
                close,
            },
            depth: Depth {
                buy: (0..5).map(|i| level(-1.0, i)).collect(),
                sell: (0..5).map(|i| level(1.0, i)).collect(),
            },
        })
    }
}

fn round_tick(price: f64) -> f64 {
    ((price / TICK).round() * TICK * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market() -> Market {
        Market::new(42, "2026-11-22".parse().unwrap())
    }

    #[test]
    fn the_market_is_deterministic_in_seed_and_date() {
        let (a, b) = (market(), market());
        let key = "NSE:NIFTY 50";
        assert_eq!(a.quote(key, "t"), b.quote(key, "t"));
        let other = Market::new(43, a.date());
        assert_ne!(
            a.quote(key, "t").unwrap().last_price,
            other.quote(key, "t").unwrap().last_price
        );
    }

    #[test]
    fn chains_have_weekly_and_monthly_expiries_with_kite_symbols() {
        let market = market();
        let nifty: Vec<&Instrument> = market
            .instruments(Some("NFO"))
            .filter(|i| i.name == "NIFTY" && i.instrument_type.option_type().is_some())
            .collect();
        let expiries: std::collections::BTreeSet<_> =
            nifty.iter().filter_map(|i| i.expiry).collect();
        assert_eq!(expiries.len(), 7, "{expiries:?}");
        assert!(
            nifty
                .iter()
                .any(|i| i.tradingsymbol.starts_with("NIFTY26NOV")
                    && i.tradingsymbol.ends_with("CE"))
        );
        assert!(
            nifty
                .iter()
                .any(|i| i.tradingsymbol.starts_with("NIFTY26D01"))
        );
        assert!(
            market
                .instruments(Some("NSE"))
                .any(|i| i.tradingsymbol == "NIFTY BANK" && i.segment == "INDICES")
        );
    }

    #[test]
    fn option_quotes_are_priced_sensibly_and_some_are_missing() {
        let market = market();
        let spot = market.quote("NSE:NIFTY 50", "t").unwrap().last_price;
        let mut missing = 0;
        for instrument in market
            .instruments(Some("NFO"))
            .filter(|i| i.name == "NIFTY")
        {
            let Some(quote) = market.quote(&instrument.key(), "t") else {
                missing += 1;
                continue;
            };
            assert!(quote.last_price > 0.0);
            let (bid, ask) = (quote.best_bid().unwrap_or(0.0), quote.best_ask().unwrap());
            assert!(
                bid <= quote.last_price && quote.last_price <= ask,
                "{instrument:?} {quote:?}"
            );
            if let Some(OptionType::Call) = instrument.instrument_type.option_type() {
                assert!(quote.last_price + 1.0 >= (spot - instrument.strike).max(0.0) * 0.99);
            }
        }
        assert!(missing > 10, "{missing}");
        assert!(market.quote("NFO:NOPE", "t").is_none());
    }
}
