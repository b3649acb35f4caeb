//! Job kinds known at submission: which exist, how their params are validated, and
//! their attempt and time limits ([`KindSpec`]). The worker has the code that runs each
//! kind; this module only decides what may be queued.
//!
//! Adding a kind: write its `fn(&Params) -> Result<(), ParamError>` below and add one
//! [`KindDef`] to [`KINDS`]. Diagnostic kinds (`echo`, `sleep`, `crash`) exist only when
//! `FAIRLANE_DIAGNOSTIC_JOBS=1`; elsewhere they are unknown kinds.

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
        validate: validate_echo,
    },
    KindDef {
        name: "sleep",
        diagnostic: true,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_millis(SLEEP_MAX_MS + 30_000),
        },
        validate: validate_sleep,
    },
    KindDef {
        name: "crash",
        diagnostic: true,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_secs(30),
        },
        validate: validate_crash,
    },
    KindDef {
        name: "cleanup",
        diagnostic: false,
        spec: KindSpec {
            max_attempts: 3,
            timeout: Duration::from_secs(300),
        },
        validate: validate_cleanup,
    },
];

/// Exchanges with option chains.
pub const OPTION_EXCHANGES: [&str; 2] = ["NFO", "BFO"];
/// Workspace areas the `cleanup` kind may clear.
pub const CLEANUP_AREAS: [&str; 3] = ["temp", "exports", "results"];

/// Whether `symbol` looks like an exchange symbol (`NIFTY`, `M&M`, `BAJAJ-AUTO`).
pub fn valid_symbol(symbol: &str) -> bool {
    (1..=32).contains(&symbol.len())
        && symbol.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'&' | b'-' | b'_')
        })
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
    let object = params
        .as_object()
        .ok_or_else(|| ParamError::new("params", "must be an object"))?;
    (def.validate)(object)?;
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
        for (params, field) in [
            (json!({"older_than_days": -1}), "params.older_than_days"),
            (json!({"areas": ["uploads"]}), "params.areas[0]"),
        ] {
            assert_eq!(
                validate("cleanup", &params, false).unwrap_err().field,
                field,
                "{params}"
            );
        }
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
