//! Options analytics as pure functions: the normal distribution, Black–Scholes–Merton
//! prices and Greeks, implied volatility, and the calculated columns of a filtered chain
//! (days to expiry, moneyness, OTM %, yields, break-even, spread %).
//!
//! Nothing here does I/O, knows about brokers or Arrow arrays: the job kinds call these
//! scalar functions per row. Formulas follow `domain.md` §2; percent results are in
//! percent units (5.2 = 5.2 %), volatilities and rates are annual fractions.

pub mod black_scholes;
pub mod columns;
pub mod filter_params;
pub mod implied_vol;
pub mod normal;

pub use black_scholes::{BlackScholes, Greeks, PricingInputs};
pub use implied_vol::implied_volatility;

use std::fmt;
use std::str::FromStr;

/// Call or put. Kite's instrument types `CE` and `PE` parse into these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OptionType {
    /// The right to buy (`CE`).
    Call,
    /// The right to sell (`PE`).
    Put,
}

impl OptionType {
    /// Kite's code: `CE` or `PE`.
    pub fn code(self) -> &'static str {
        match self {
            OptionType::Call => "CE",
            OptionType::Put => "PE",
        }
    }
}

impl fmt::Display for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for OptionType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CE" | "CALL" | "C" => Ok(OptionType::Call),
            "PE" | "PUT" | "P" => Ok(OptionType::Put),
            other => Err(format!("expected CE or PE, got {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_types_parse_from_kite_codes() {
        assert_eq!("CE".parse::<OptionType>().unwrap(), OptionType::Call);
        assert_eq!("pe".parse::<OptionType>().unwrap(), OptionType::Put);
        assert!("FUT".parse::<OptionType>().is_err());
        assert_eq!(OptionType::Put.to_string(), "PE");
    }
}
