//! [`SandboxBroker`]: the real `fairlane-sandbox-broker` binary on a free port, for
//! tests of the broker client and of the options jobs. Not a mock: it is the same
//! binary `ops/up` runs.

use std::time::Duration;

use serde_json::Value;

use crate::app::START_TIMEOUT;
use crate::process::{Binary, TestProcess};

/// A running sandbox broker.
#[derive(Debug)]
pub struct SandboxBroker {
    /// The process.
    pub process: TestProcess,
    /// `http://127.0.0.1:<port>`, for `FAIRLANE_BROKER_URL`.
    pub base_url: String,
    client: reqwest::Client,
}

impl SandboxBroker {
    /// Starts a sandbox with the defaults (seed 42, no latency, no faults).
    pub async fn spawn() -> SandboxBroker {
        SandboxBroker::spawn_with(&[]).await
    }

    /// Starts a sandbox with extra `FAIRLANE_SANDBOX_*` variables.
    pub async fn spawn_with(env: &[(&str, &str)]) -> SandboxBroker {
        let mut vars: std::collections::HashMap<String, String> = [
            ("FAIRLANE_SANDBOX_HOST", "127.0.0.1"),
            ("FAIRLANE_SANDBOX_PORT", "0"),
            ("FAIRLANE_LOG", "info"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let process = TestProcess::spawn(Binary::SandboxBroker, &[], &vars);
        let listening = process.wait_for_message("listening", START_TIMEOUT).await;
        let addr = listening["addr"]
            .as_str()
            .expect("listening event has addr")
            .to_owned();
        SandboxBroker {
            process,
            base_url: format!("http://{addr}"),
            client: {
                fairlane_shared::tls::install();
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("http client")
            },
        }
    }

    /// `GET /__sandbox/stats`: `{requests, served, rate_limited, token_errors,
    /// input_errors, faults_injected}`.
    pub async fn stats(&self) -> Value {
        self.client
            .get(format!("{}/__sandbox/stats", self.base_url))
            .send()
            .await
            .expect("stats request")
            .json()
            .await
            .expect("stats JSON")
    }
}
