//! Running a forecast in the `fairlane-forecast` child process so its time limit is
//! real: at the deadline the child gets SIGKILL and is reaped, which stops CPU-bound
//! model fitting that a tokio timeout could not. Both sides of the protocol live here:
//! `run` (the worker) and `serve` (the child's main). One JSON request on stdin, one
//! JSON reply on stdout. The child inherits no environment, so it never sees secrets.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;

use fairlane_shared::config::{ConfigError, Env};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::time::Instant;

use crate::forecast::error::ForecastError;
use crate::forecast::output::ForecastOutput;
use crate::forecast::params::ForecastParams;
use crate::forecast::pipeline::forecast_file;

/// The child binary's file name.
pub const BINARY_NAME: &str = "fairlane-forecast";
/// Variable naming the child binary; by default it sits next to the running executable.
pub const BINARY_VARIABLE: &str = "FAIRLANE_FORECAST_BIN";
/// Variable enabling diagnostic behaviour (`API.md`); the child needs it to honour
/// `diagnostic_spin`.
pub const DIAGNOSTIC_VARIABLE: &str = "FAIRLANE_DIAGNOSTIC_JOBS";
/// Bytes of the child's stderr quoted in a `process_failed` error.
const STDERR_TAIL_BYTES: usize = 2000;

/// What the child is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastRequest {
    /// The input CSV.
    pub input_path: PathBuf,
    /// The job's parameters.
    pub params: ForecastParams,
    /// Test hook: busy-loop forever instead of forecasting, so a test can prove the
    /// deadline kills the child. Rejected unless the child runs with diagnostics on.
    #[serde(default)]
    pub diagnostic_spin: bool,
}

/// The child's answer on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildReply {
    /// The forecast.
    Ok(Box<ForecastOutput>),
    /// Why there is none.
    Error(ForecastError),
}

/// Where the child binary is and how to start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastBinary {
    /// Path of `fairlane-forecast`.
    pub path: PathBuf,
    /// Pass `FAIRLANE_DIAGNOSTIC_JOBS=1` to the child (enables `diagnostic_spin`).
    pub diagnostic_jobs: bool,
}

impl ForecastBinary {
    /// Reads `FAIRLANE_FORECAST_BIN` (default: `fairlane-forecast` in the directory of
    /// the running executable) and `FAIRLANE_DIAGNOSTIC_JOBS` (default off).
    pub fn from_env(env: &Env) -> Result<ForecastBinary, ConfigError> {
        let path = match env
            .get(BINARY_VARIABLE)
            .filter(|path| !path.trim().is_empty())
        {
            Some(path) => PathBuf::from(path.trim()),
            None => std::env::current_exe()
                .map(|exe| exe.with_file_name(BINARY_NAME))
                .map_err(|error| {
                    ConfigError::new(
                        BINARY_VARIABLE,
                        format!("not set, and the running executable's path is unknown: {error}"),
                    )
                })?,
        };
        Ok(ForecastBinary {
            path,
            diagnostic_jobs: env.flag_or(DIAGNOSTIC_VARIABLE, false)?,
        })
    }

    /// Fails, naming `FAIRLANE_FORECAST_BIN`, when the binary is not a file: checked at
    /// worker start so a missing child is a configuration error, not failing jobs.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.path.is_file() {
            Ok(())
        } else {
            Err(ConfigError::new(
                BINARY_VARIABLE,
                format!(
                    "{} is not a file (build {BINARY_NAME} or set the variable)",
                    self.path.display()
                ),
            ))
        }
    }
}

/// Runs `request` in a fresh child and returns its result. At `deadline` the child is
/// killed with SIGKILL and reaped, and the error is `timeout`. Dropping the returned
/// future (a cancelled job) also kills the child.
pub async fn run(
    binary: &ForecastBinary,
    request: &ForecastRequest,
    deadline: Instant,
) -> Result<ForecastOutput, ForecastError> {
    let limit_ms = u64::try_from(
        deadline
            .saturating_duration_since(Instant::now())
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    let request_json =
        serde_json::to_vec(request).map_err(|error| ForecastError::InvalidRequest {
            message: error.to_string(),
        })?;
    let mut command = Command::new(&binary.path);
    command
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if binary.diagnostic_jobs {
        command.env(DIAGNOSTIC_VARIABLE, "1");
    }
    let mut child = command
        .spawn()
        .map_err(|error| ForecastError::ProcessFailed {
            reason: format!("cannot start {}: {error}", binary.path.display()),
        })?;
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(ForecastError::ProcessFailed {
            reason: "the child's pipes are missing".into(),
        });
    };

    let finished = tokio::time::timeout_at(deadline, async {
        // A child that dies early closes its stdin; its exit status tells why.
        let _ignored = async {
            stdin.write_all(&request_json).await?;
            stdin.shutdown().await
        }
        .await;
        drop(stdin);
        let mut reply = Vec::new();
        let mut errors = Vec::new();
        let (read_reply, read_errors) = tokio::join!(
            stdout.read_to_end(&mut reply),
            stderr.read_to_end(&mut errors)
        );
        let status = child.wait().await;
        (status, read_reply.and(read_errors), reply, errors)
    })
    .await;

    let Ok((status, read, reply, errors)) = finished else {
        // SIGKILL, then wait: the child is gone and reaped when this returns.
        child
            .kill()
            .await
            .map_err(|error| ForecastError::ProcessFailed {
                reason: format!("cannot kill the child after the deadline: {error}"),
            })?;
        return Err(ForecastError::Timeout { limit_ms });
    };
    let process_failed = |what: String| {
        let tail_start = errors.len().saturating_sub(STDERR_TAIL_BYTES);
        let tail = String::from_utf8_lossy(&errors[tail_start..]);
        ForecastError::ProcessFailed {
            reason: format!("{what}; stderr: {}", tail.trim()),
        }
    };
    let status =
        status.map_err(|error| process_failed(format!("cannot wait for the child: {error}")))?;
    read.map_err(|error| process_failed(format!("cannot read the child's output: {error}")))?;
    if !status.success() {
        return Err(process_failed(format!("the child exited with {status}")));
    }
    match serde_json::from_slice::<ChildReply>(&reply) {
        Ok(ChildReply::Ok(output)) => Ok(*output),
        Ok(ChildReply::Error(error)) => Err(error),
        Err(error) => Err(process_failed(format!(
            "the child's reply is not valid: {error}"
        ))),
    }
}

/// The child's side: reads one request from `input`, forecasts, writes one reply to
/// `output`. Only I/O errors on `output` are returned; everything else is a reply.
pub fn serve(
    mut input: impl Read,
    mut output: impl Write,
    diagnostic_jobs: bool,
) -> std::io::Result<()> {
    let mut text = String::new();
    let reply = match input
        .read_to_string(&mut text)
        .map_err(|error| error.to_string())
        .and_then(|_| {
            serde_json::from_str::<ForecastRequest>(&text).map_err(|error| error.to_string())
        }) {
        Err(message) => ChildReply::Error(ForecastError::InvalidRequest { message }),
        Ok(request) if request.diagnostic_spin && diagnostic_jobs => spin_forever(),
        Ok(request) if request.diagnostic_spin => {
            ChildReply::Error(ForecastError::InvalidRequest {
                message: format!("diagnostic_spin needs {DIAGNOSTIC_VARIABLE}=1"),
            })
        }
        Ok(request) => match forecast_file(&request.input_path, &request.params) {
            Ok(forecast) => ChildReply::Ok(Box::new(forecast)),
            Err(error) => ChildReply::Error(error),
        },
    };
    serde_json::to_writer(&mut output, &reply)?;
    output.flush()
}

/// Burns one core until killed (the `diagnostic_spin` test hook).
fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_text(input: &str, diagnostic_jobs: bool) -> ChildReply {
        let mut output = Vec::new();
        serve(input.as_bytes(), &mut output, diagnostic_jobs).unwrap();
        serde_json::from_slice(&output).unwrap()
    }

    #[test]
    fn bad_requests_get_an_invalid_request_reply() {
        let ChildReply::Error(error) = serve_text("{not json", false) else {
            panic!("expected an error reply");
        };
        assert_eq!(error.code(), "invalid_request");
    }

    #[test]
    fn spinning_needs_diagnostics() {
        let request =
            r#"{"input_path": "/x.csv", "params": {"horizon": 1}, "diagnostic_spin": true}"#;
        let ChildReply::Error(error) = serve_text(request, false) else {
            panic!("expected an error reply");
        };
        assert!(error.to_string().contains(DIAGNOSTIC_VARIABLE), "{error}");
    }

    #[test]
    fn input_errors_travel_as_replies() {
        let request = r#"{"input_path": "/nonexistent.csv", "params": {"horizon": 1}}"#;
        let ChildReply::Error(error) = serve_text(request, false) else {
            panic!("expected an error reply");
        };
        assert_eq!(error.code(), "unreadable_file");
    }

    #[test]
    fn a_missing_binary_is_a_config_error_naming_its_variable() {
        let binary = ForecastBinary {
            path: PathBuf::from("/nonexistent/fairlane-forecast"),
            diagnostic_jobs: false,
        };
        assert_eq!(binary.check().unwrap_err().variable, BINARY_VARIABLE);
    }

    #[test]
    fn the_binary_defaults_to_the_running_executables_directory() {
        let binary = ForecastBinary::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(binary.path.file_name().unwrap(), BINARY_NAME);
        assert!(!binary.diagnostic_jobs);
        let named = ForecastBinary::from_env(&Env::from_pairs([
            (BINARY_VARIABLE, "/opt/fl/fairlane-forecast"),
            (DIAGNOSTIC_VARIABLE, "1"),
        ]))
        .unwrap();
        assert_eq!(named.path, PathBuf::from("/opt/fl/fairlane-forecast"));
        assert!(named.diagnostic_jobs);
    }
}
