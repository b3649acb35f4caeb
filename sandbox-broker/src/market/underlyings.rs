//! The underlyings of the synthetic market and how their derivatives are listed:
//! base prices, strike steps and counts, lot sizes and volatilities close to the real
//! NSE contracts. Data only; pricing is in the parent module.

/// An underlying and how its derivatives are listed.
pub(crate) struct Underlying {
    /// The NFO `name` column (`NIFTY`).
    pub(crate) name: &'static str,
    /// The NSE tradingsymbol of the cash instrument (`NIFTY 50`).
    pub(crate) cash_symbol: &'static str,
    /// An index (segment `INDICES`, not tradable) rather than a stock.
    pub(crate) is_index: bool,
    /// The spot is drawn within ±3 % of this each day.
    pub(crate) base_price: f64,
    /// Distance between strikes.
    pub(crate) strike_step: f64,
    /// Strikes listed above and below the at-the-money one.
    pub(crate) strikes_each_side: i64,
    /// Contract size.
    pub(crate) lot_size: u32,
    /// At-the-money volatility; the smile rises away from the money.
    pub(crate) base_vol: f64,
    /// Weekly expiries are listed besides the monthly ones.
    pub(crate) has_weeklies: bool,
}

/// The listed underlyings.
pub(crate) const UNDERLYINGS: [Underlying; 5] = [
    Underlying {
        name: "NIFTY",
        cash_symbol: "NIFTY 50",
        is_index: true,
        base_price: 24_000.0,
        strike_step: 50.0,
        strikes_each_side: 40,
        lot_size: 75,
        base_vol: 0.13,
        has_weeklies: true,
    },
    Underlying {
        name: "BANKNIFTY",
        cash_symbol: "NIFTY BANK",
        is_index: true,
        base_price: 52_000.0,
        strike_step: 100.0,
        strikes_each_side: 30,
        lot_size: 35,
        base_vol: 0.15,
        has_weeklies: false,
    },
    Underlying {
        name: "RELIANCE",
        cash_symbol: "RELIANCE",
        is_index: false,
        base_price: 1_400.0,
        strike_step: 10.0,
        strikes_each_side: 20,
        lot_size: 500,
        base_vol: 0.22,
        has_weeklies: false,
    },
    Underlying {
        name: "INFY",
        cash_symbol: "INFY",
        is_index: false,
        base_price: 1_550.0,
        strike_step: 20.0,
        strikes_each_side: 15,
        lot_size: 400,
        base_vol: 0.25,
        has_weeklies: false,
    },
    Underlying {
        name: "TCS",
        cash_symbol: "TCS",
        is_index: false,
        base_price: 3_400.0,
        strike_step: 50.0,
        strikes_each_side: 15,
        lot_size: 175,
        base_vol: 0.21,
        has_weeklies: false,
    },
];
