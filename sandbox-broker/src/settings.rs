//! The sandbox's settings: flags, each with a `FAIRLANE_SANDBOX_*` variable (documented
//! in `.env.example`). Invalid values stop the process with exit code 2 and a message
//! naming the flag.

use std::net::IpAddr;

use clap::Parser;

/// A Kite Connect v3 stand-in with a deterministic synthetic market.
#[derive(Debug, Clone, Parser)]
#[command(name = "fairlane-sandbox-broker", version)]
pub(crate) struct SandboxSettings {
    /// Listen address.
    #[arg(long, env = "FAIRLANE_SANDBOX_HOST", default_value = "127.0.0.1")]
    pub(crate) host: IpAddr,
    /// Listen port (0 picks a free one; the `listening` log line names it).
    #[arg(long, env = "FAIRLANE_SANDBOX_PORT", default_value_t = 8090)]
    pub(crate) port: u16,
    /// Seed of the synthetic market and of fault injection.
    #[arg(long, env = "FAIRLANE_SANDBOX_SEED", default_value_t = 42)]
    pub(crate) seed: u64,
    /// Latency added to every API answer, in milliseconds.
    #[arg(long, env = "FAIRLANE_SANDBOX_LATENCY_MS", default_value_t = 0)]
    pub(crate) latency_ms: u64,
    /// Share of API requests answered with a 502/503/504 (0 to 1), drawn
    /// deterministically from the seed in arrival order.
    #[arg(long, env = "FAIRLANE_SANDBOX_FAIL_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub(crate) fail_rate: f64,
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    let rate: f64 = raw.trim().parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is not between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_rates_are_bounded() {
        let settings = SandboxSettings::try_parse_from([
            "sandbox",
            "--port",
            "0",
            "--seed",
            "7",
            "--fail-rate",
            "0.25",
        ])
        .unwrap();
        assert_eq!(settings.port, 0);
        assert_eq!(settings.seed, 7);
        assert_eq!(settings.fail_rate, 0.25);
        assert!(SandboxSettings::try_parse_from(["sandbox", "--fail-rate", "1.5"]).is_err());
    }
}
