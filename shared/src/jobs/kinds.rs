//! Job kinds known at submission: which exist, how their params are validated, and
//! their attempt and time limits ([`KindSpec`]). The worker has the code that runs each
//! kind; this module only decides what may be queued.
//!
//! Adding a kind: write its `fn(&Params) -> Result<(), ParamError>` below and add one
//! [`KindDef`] to [`KINDS`]. Diagnostic kinds (`echo`, `sleep`, `crash`) exist only when
//! `FAIRLANE_DIAGNOSTIC_JOBS=1`; elsewhere they are unknown kinds. Likewise a kind's
//! diagnostic switches (`forecast`'s `diagnostic_spin`, a test hook) are boolean params
//! accepted only then; elsewhere they are unknown fields.

use std::time::Duration;

use serde_json::{Map, Value};

/// Longest `echo` message, in characters.
pub const ECHO_MAX_CHARS: usize = 10_000;
/// Longest `sleep`, in milliseconds.
pub const SLEEP_MAX_MS: u64 = 600_000;

/// Limits that come with a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    /// Claims allowed before the job fails for good.
    pub max_attempts: i32,
    /// How long one attempt may run.
    pub timeout: Duration,
}

/// Why params were rejected: the offending field (dotted path, or `kind`) and a message
/// fit for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    /// `kind`, `params`, or `params.<name>`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ParamError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

type Params = Map<String, Value>;

/// One kind: its name, whether it is diagnostic, its limits and its validator.
#[derive(Debug)]
pub struct KindDef {
    /// The name clients use.
    pub name: &'static str,
    /// Accepted only with `FAIRLANE_DIAGNOSTIC_JOBS=1`.
    pub diagnostic: bool,
    /// Limits.
    pub spec: KindSpec,
    /// Boolean test-hook params accepted only with `FAIRLANE_DIAGNOSTIC_JOBS=1`; they are
    /// taken out before `validate` sees the params.
    pub diagnostic_switches: &'static [&'static str],
    /// Checks the params object.
    pub validate: fn(&Params) -> Result<(), ParamError>,
}

/// Every kind this build knows.
pub const KINDS: &[KindDef] = &[
    KindDef {
        name: "echo",
        diagnostic: true,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_secs(30),
        },
        diagnostic_switches: &[],
        validate: validate_echo,
    },
    KindDef {
        name: "sleep",
        diagnostic: true,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_millis(SLEEP_MAX_MS + 30_000),
        },
        diagnostic_switches: &[],
        validate: validate_sleep,
    },
    KindDef {
        name: "crash",
        diagnostic: true,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_secs(30),
        },
        diagnostic_switches: &[],
        validate: validate_crash,
    },
    KindDef {
        name: "options.process",
        diagnostic: false,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_secs(600),
        },
        diagnostic_switches: &[],
        validate: validate_options_process,
    },
    KindDef {
        name: "options.filter",
        diagnostic: false,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_secs(300),
        },
        diagnostic_switches: &[],
        validate: validate_options_filter,
    },
    KindDef {
        name: "forecast",
        diagnostic: false,
        spec: KindSpec {
            max_attempts: 2,
            timeout: Duration::from_secs(60),
        },
        diagnostic_switches: &["diagnostic_spin"],
        validate: validate_forecast,
    },
    KindDef {
        name: "cleanup",
        diagnostic: false,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_secs(300),
        },
        diagnostic_switches: &[],
        validate: validate_cleanup,
    },
];

/// Most symbols one `options.process` job may name (the per-user quota may be lower).
pub const MAX_SYMBOLS: usize = 200;
/// Longest forecast horizon, in periods.
pub const MAX_HORIZON: u64 = 1000;
/// Exchanges with option chains.
pub const OPTION_EXCHANGES: [&str; 2] = ["NFO", "BFO"];
/// Forecast methods.
pub const FORECAST_METHODS: [&str; 5] = ["auto", "ets", "arima", "theta", "seasonal_naive"];
/// Workspace areas the `cleanup` kind may clear.
pub const CLEANUP_AREAS: [&str; 3] = ["temp", "exports", "results"];

/// Whether `symbol` looks like an exchange symbol (`NIFTY`, `M&M`, `BAJAJ-AUTO`).
pub fn valid_symbol(symbol: &str) -> bool {
    (1..=32).contains(&symbol.len())
        && symbol.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'&' | b'-' | b'_')
        })
}

fn validate_options_process(params: &Params) -> Result<(), ParamError> {
    reject_unknown_fields(params, &["symbols", "expiry", "exchange"])?;
    let symbols = match params.get("symbols") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_SYMBOLS => items,
        Some(Value::Array(_)) => {
            return Err(ParamError::new(
                "params.symbols",
                format!("must hold 1 to {MAX_SYMBOLS} symbols"),
            ));
        }
        Some(_) => {
            return Err(ParamError::new(
                "params.symbols",
                "must be an array of symbols",
            ));
        }
        None => return Err(ParamError::new("params.symbols", "is required")),
    };
    let mut seen = std::collections::HashSet::new();
    for (i, symbol) in symbols.iter().enumerate() {
        let field = format!("params.symbols[{i}]");
        let text = symbol
            .as_str()
            .ok_or_else(|| ParamError::new(&field, "must be a string"))?;
        if !valid_symbol(text) {
            return Err(ParamError::new(
                &field,
                "must be an upper-case exchange symbol such as NIFTY",
            ));
        }
        if !seen.insert(text) {
            return Err(ParamError::new(&field, "appears twice"));
        }
    }
    let expiry = match params.get("expiry") {
        Some(Value::String(text)) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| ParamError::new("params.expiry", "must be a date YYYY-MM-DD"))?,
        Some(_) => {
            return Err(ParamError::new(
                "params.expiry",
                "must be a date YYYY-MM-DD",
            ));
        }
        None => return Err(ParamError::new("params.expiry", "is required")),
    };
    if expiry < crate::instruments::trading_day() {
        return Err(ParamError::new("params.expiry", "has already passed"));
    }
    match params.get("exchange") {
        None => Ok(()),
        Some(Value::String(e)) if OPTION_EXCHANGES.contains(&e.as_str()) => Ok(()),
        Some(_) => Err(ParamError::new("params.exchange", "must be NFO or BFO")),
    }
}

fn validate_options_filter(params: &Params) -> Result<(), ParamError> {
    let Err(errors) = crate::options::filter_params::parse_params(&Value::Object(params.clone()))
    else {
        return Ok(());
    };
    // The first offending field; `parse_params` names fields relative to the params.
    Err(errors.into_iter().next().map_or_else(
        || ParamError::new("params", "are invalid"),
        |e| match e.field.as_str() {
            "params" => ParamError::new("params", e.message),
            field => ParamError::new(&format!("params.{field}"), e.message),
        },
    ))
}

fn validate_forecast(params: &Params) -> Result<(), ParamError> {
    reject_unknown_fields(
        params,
        &[
            "file_id",
            "horizon",
            "date_column",
            "value_column",
            "season_length",
            "method",
            "levels",
        ],
    )?;
    match params.get("file_id") {
        Some(Value::String(id)) if uuid::Uuid::try_parse(id).is_ok() => {}
        Some(_) => {
            return Err(ParamError::new(
                "params.file_id",
                "must be the id of one of your files",
            ));
        }
        None => return Err(ParamError::new("params.file_id", "is required")),
    }
    match params.get("horizon").map(Value::as_u64) {
        Some(Some(h)) if (1..=MAX_HORIZON).contains(&h) => {}
        Some(_) => {
            return Err(ParamError::new(
                "params.horizon",
                format!("must be an integer from 1 to {MAX_HORIZON}"),
            ));
        }
        None => return Err(ParamError::new("params.horizon", "is required")),
    }
    for column in ["date_column", "value_column"] {
        match params.get(column) {
            None => {}
            Some(Value::String(name)) if (1..=200).contains(&name.chars().count()) => {}
            Some(_) => {
                return Err(ParamError::new(
                    &format!("params.{column}"),
                    "must be a column name",
                ));
            }
        }
    }
    match params.get("season_length").map(Value::as_u64) {
        None | Some(Some(1..=1000)) => {}
        Some(_) => {
            return Err(ParamError::new(
                "params.season_length",
                "must be an integer from 1 to 1000",
            ));
        }
    }
    match params.get("method") {
        None => {}
        Some(Value::String(m)) if FORECAST_METHODS.contains(&m.as_str()) => {}
        Some(_) => {
            return Err(ParamError::new(
                "params.method",
                format!("must be one of {}", FORECAST_METHODS.join(", ")),
            ));
        }
    }
    match params.get("levels") {
        None => Ok(()),
        Some(Value::Array(levels)) if !levels.is_empty() && levels.len() <= 5 => {
            let mut seen = std::collections::HashSet::new();
            for (i, level) in levels.iter().enumerate() {
                match level.as_u64() {
                    Some(l @ 1..=99) if seen.insert(l) => {}
                    _ => {
                        return Err(ParamError::new(
                            &format!("params.levels[{i}]"),
                            "must be a distinct integer from 1 to 99",
                        ));
                    }
                }
            }
            Ok(())
        }
        Some(_) => Err(ParamError::new(
            "params.levels",
            "must be 1 to 5 levels such as [80, 95]",
        )),
    }
}

fn validate_cleanup(params: &Params) -> Result<(), ParamError> {
    reject_unknown_fields(params, &["older_than_days", "areas"])?;
    match params.get("older_than_days").map(Value::as_u64) {
        None | Some(Some(0..=3650)) => {}
        Some(_) => {
            return Err(ParamError::new(
                "params.older_than_days",
                "must be an integer from 0 to 3650",
            ));
        }
    }
    match params.get("areas") {
        None => Ok(()),
        Some(Value::Array(areas)) if !areas.is_empty() => {
            for (i, area) in areas.iter().enumerate() {
                if !area.as_str().is_some_and(|a| CLEANUP_AREAS.contains(&a)) {
                    return Err(ParamError::new(
                        &format!("params.areas[{i}]"),
                        format!("must be one of {}", CLEANUP_AREAS.join(", ")),
                    ));
                }
            }
            Ok(())
        }
        Some(_) => Err(ParamError::new(
            "params.areas",
            "must be a non-empty array of areas",
        )),
    }
}

/// The limits of `kind`, diagnostic or not; `None` for an unknown kind.
pub fn spec(kind: &str) -> Option<KindSpec> {
    KINDS.iter().find(|k| k.name == kind).map(|k| k.spec)
}

/// Validates `params` for `kind` and returns the kind's limits.
pub fn validate(
    kind: &str,
    params: &Value,
    diagnostics_enabled: bool,
) -> Result<KindSpec, ParamError> {
    let def = KINDS
        .iter()
        .find(|k| k.name == kind && (diagnostics_enabled || !k.diagnostic))
        .ok_or_else(|| ParamError::new("kind", format!("unknown job kind {kind:?}")))?;
    let mut object = params
        .as_object()
        .ok_or_else(|| ParamError::new("params", "must be an object"))?
        .clone();
    for switch in def.diagnostic_switches {
        let field = format!("params.{switch}");
        match object.remove(*switch) {
            None => {}
            Some(_) if !diagnostics_enabled => {
                return Err(ParamError::new(&field, "unknown field"));
            }
            Some(Value::Bool(_)) => {}
            Some(_) => return Err(ParamError::new(&field, "must be true or false")),
        }
    }
    (def.validate)(&object)?;
    Ok(def.spec)
}

fn reject_unknown_fields(params: &Params, known: &[&str]) -> Result<(), ParamError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(field) => Err(ParamError::new(&format!("params.{field}"), "unknown field")),
        None => Ok(()),
    }
}

fn validate_echo(params: &Params) -> Result<(), ParamError> {
    reject_unknown_fields(params, &["message"])?;
    match params.get("message") {
        Some(Value::String(m)) if m.chars().count() <= ECHO_MAX_CHARS => Ok(()),
        Some(Value::String(_)) => Err(ParamError::new(
            "params.message",
            format!("must be at most {ECHO_MAX_CHARS} characters"),
        )),
        Some(_) => Err(ParamError::new("params.message", "must be a string")),
        None => Err(ParamError::new("params.message", "is required")),
    }
}

fn validate_sleep(params: &Params) -> Result<(), ParamError> {
    reject_unknown_fields(params, &["ms"])?;
    match params.get("ms").map(Value::as_u64) {
        Some(Some(ms)) if ms <= SLEEP_MAX_MS => Ok(()),
        Some(_) => Err(ParamError::new(
            "params.ms",
            format!("must be an integer from 0 to {SLEEP_MAX_MS}"),
        )),
        None => Err(ParamError::new("params.ms", "is required")),
    }
}

fn validate_crash(params: &Params) -> Result<(), ParamError> {
    reject_unknown_fields(params, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diagnostic_kinds_exist_only_when_enabled() {
        assert!(validate("echo", &json!({"message": "hi"}), true).is_ok());
        let err = validate("echo", &json!({"message": "hi"}), false).unwrap_err();
        assert_eq!(err.field, "kind");
        assert_eq!(
            validate("nope", &json!({}), true).unwrap_err().field,
            "kind"
        );
    }

    #[test]
    fn diagnostic_switches_exist_only_when_enabled() {
        let spin = json!({"file_id": uuid::Uuid::nil(), "horizon": 1, "diagnostic_spin": true});
        assert!(validate("forecast", &spin, true).is_ok());
        let err = validate("forecast", &spin, false).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("params.diagnostic_spin", "unknown field")
        );
        let not_bool = json!({"file_id": uuid::Uuid::nil(), "horizon": 1, "diagnostic_spin": 1});
        let err = validate("forecast", &not_bool, true).unwrap_err();
        assert_eq!(err.field, "params.diagnostic_spin");
        let elsewhere = json!({"older_than_days": 1, "diagnostic_spin": true});
        assert!(validate("cleanup", &elsewhere, true).is_err());
    }

    #[test]
    fn params_are_checked_field_by_field() {
        let cases = [
            ("echo", json!({}), "params.message"),
            ("echo", json!({"message": 5}), "params.message"),
            (
                "echo",
                json!({"message": "x".repeat(ECHO_MAX_CHARS + 1)}),
                "params.message",
            ),
            ("echo", json!({"message": "a", "extra": 1}), "params.extra"),
            ("sleep", json!({"ms": -1}), "params.ms"),
            ("sleep", json!({"ms": SLEEP_MAX_MS + 1}), "params.ms"),
            ("sleep", json!({"ms": 1.5}), "params.ms"),
            ("crash", json!({"mode": "abort"}), "params.mode"),
            ("echo", json!([1]), "params"),
        ];
        for (kind, params, field) in cases {
            assert_eq!(
                validate(kind, &params, true).unwrap_err().field,
                field,
                "{kind} {params}"
            );
        }
        assert_eq!(
            validate("sleep", &json!({"ms": SLEEP_MAX_MS}), true)
                .unwrap()
                .max_attempts,
            3
        );
        assert!(validate("crash", &json!({}), true).is_ok());
        let expiry = (crate::instruments::trading_day() + chrono::Days::new(7)).to_string();
        let real_cases = [
            (
                "options.process",
                json!({"symbols": [], "expiry": expiry}),
                "params.symbols",
            ),
            (
                "options.process",
                json!({"symbols": ["nifty"], "expiry": expiry}),
                "params.symbols[0]",
            ),
            (
                "options.process",
                json!({"symbols": ["NIFTY", "NIFTY"], "expiry": expiry}),
                "params.symbols[1]",
            ),
            (
                "options.process",
                json!({"symbols": ["NIFTY"], "expiry": "2020-01-01"}),
                "params.expiry",
            ),
            (
                "options.process",
                json!({"symbols": ["NIFTY"], "expiry": "tomorrow"}),
                "params.expiry",
            ),
            (
                "options.process",
                json!({"symbols": ["NIFTY"], "expiry": expiry, "exchange": "NSE"}),
                "params.exchange",
            ),
            (
                "options.filter",
                json!({"source_job_id": "x"}),
                "params.source_job_id",
            ),
            (
                "options.filter",
                json!({"source_job_id": uuid::Uuid::nil(), "filters": {"delta_min": 2}}),
                "params.filters.delta_min",
            ),
            (
                "options.filter",
                json!({"source_job_id": uuid::Uuid::nil(), "sort_by": "secret"}),
                "params.sort_by",
            ),
            ("forecast", json!({"horizon": 12}), "params.file_id"),
            (
                "forecast",
                json!({"file_id": "../x", "horizon": 12}),
                "params.file_id",
            ),
            (
                "forecast",
                json!({"file_id": uuid::Uuid::nil(), "horizon": 0}),
                "params.horizon",
            ),
            (
                "forecast",
                json!({"file_id": uuid::Uuid::nil(), "horizon": 12, "method": "magic"}),
                "params.method",
            ),
            (
                "forecast",
                json!({"file_id": uuid::Uuid::nil(), "horizon": 12, "levels": [80, 80]}),
                "params.levels[1]",
            ),
            (
                "forecast",
                json!({"file_id": uuid::Uuid::nil(), "horizon": 12, "levels": [100]}),
                "params.levels[0]",
            ),
            (
                "cleanup",
                json!({"older_than_days": -1}),
                "params.older_than_days",
            ),
            ("cleanup", json!({"areas": ["uploads"]}), "params.areas[0]"),
        ];
        for (kind, params, field) in real_cases {
            assert_eq!(
                validate(kind, &params, false).unwrap_err().field,
                field,
                "{kind} {params}"
            );
        }
        assert!(
            validate(
                "options.process",
                &json!({"symbols": ["NIFTY", "M&M"], "expiry": expiry}),
                false
            )
            .is_ok()
        );
        assert!(
            validate(
                "forecast",
                &json!({"file_id": uuid::Uuid::nil(), "horizon": 12, "levels": [80, 95]}),
                false
            )
            .is_ok()
        );
        assert!(validate("cleanup", &json!({}), false).is_ok());
        assert!(
            validate(
                "echo",
                &json!({"message": "x".repeat(ECHO_MAX_CHARS)}),
                true
            )
            .is_ok()
        );
    }
}
