//! A real Fairlane binary started by a test: its output is captured line by line so a
//! test can wait for a log event; it is killed when the value is dropped, and its last
//! lines are printed when the test is failing.

use std::collections::HashMap;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

use crate::env::TestEnv;

/// The binaries a test can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// `fairlane-api`.
    Api,
    /// `fairlane-worker`.
    Worker,
    /// `fairlane-scheduler`.
    Scheduler,
    /// `fairlane-sandbox-broker`.
    SandboxBroker,
}

impl Binary {
    /// The executable's name.
    pub fn name(self) -> &'static str {
        match self {
            Binary::Api => "fairlane-api",
            Binary::Worker => "fairlane-worker",
            Binary::Scheduler => "fairlane-scheduler",
            Binary::SandboxBroker => "fairlane-sandbox-broker",
        }
    }
}

#[derive(Default)]
struct Output {
    lines: Mutex<Vec<String>>,
    changed: Notify,
    closed_streams: std::sync::atomic::AtomicUsize,
}

/// A running binary.
pub struct TestProcess {
    binary: Binary,
    child: Child,
    output: Arc<Output>,
}

impl std::fmt::Debug for TestProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProcess")
            .field("binary", &self.binary)
            .field("pid", &self.child.id())
            .finish()
    }
}

impl TestProcess {
    /// Starts `binary` with exactly `env` (plus PATH), JSON logs on.
    pub fn spawn(binary: Binary, args: &[&str], env: &HashMap<String, String>) -> TestProcess {
        let path = TestEnv::get().bin_dir.join(binary.name());
        let mut command = Command::new(&path);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FAIRLANE_LOG_FORMAT", "json")
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", path.display()));
        let output = Arc::new(Output::default());
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    output.lines.lock().unwrap().push(line);
                    output.changed.notify_waiters();
                }
                output
                    .closed_streams
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                output.changed.notify_waiters();
            });
        }
        TestProcess {
            binary,
            child,
            output,
        }
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("process still running")
    }

    /// Every line written so far.
    pub fn lines(&self) -> Vec<String> {
        self.output.lines.lock().unwrap().clone()
    }

    /// Every JSON log event written so far.
    pub fn events(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until a JSON event with `message == wanted` appears; returns it.
    pub async fn wait_for_message(&self, wanted: &str, within: Duration) -> Value {
        self.wait_for_event(|e| e["message"] == wanted, within)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "{} did not log {wanted:?} within {within:?}; output:\n{}",
                    self.binary.name(),
                    self.tail(40)
                )
            })
    }

    /// Waits until an event satisfies `predicate`.
    pub async fn wait_for_event(
        &self,
        predicate: impl Fn(&Value) -> bool,
        within: Duration,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.output.changed.notified();
            if let Some(event) = self.events().into_iter().find(|e| predicate(e)) {
                return Some(event);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.events().into_iter().find(|e| predicate(e));
            }
        }
    }

    /// Sends a signal (e.g. `SIGTERM`, `SIGKILL`, `SIGSTOP`).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid()).expect("pid fits i32"));
        nix::sys::signal::kill(pid, signal).expect("send signal");
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => {
                // Let the readers drain stdout and stderr, so callers see every line.
                let drained = tokio::time::Instant::now() + Duration::from_secs(5);
                while self
                    .output
                    .closed_streams
                    .load(std::sync::atomic::Ordering::SeqCst)
                    < 2
                    && tokio::time::Instant::now() < drained
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                status.expect("wait for child")
            }
            Err(_) => panic!(
                "{} did not exit within {within:?}; output:\n{}",
                self.binary.name(),
                self.tail(40)
            ),
        }
    }

    /// Whether the process has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The last `n` lines, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for TestProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- last output of {} ---\n{}",
                self.binary.name(),
                self.tail(60)
            );
        }
        let _ = self.child.start_kill();
    }
}
