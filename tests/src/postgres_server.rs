//! A private PostgreSQL cluster owned by one test, for faults that would disturb the
//! shared test server (stopping or restarting Postgres). Built with the same `initdb`
//! and `pg_ctl` that `ops/test` uses (`FAIRLANE_TEST_PG_BIN`); as root the cluster runs
//! as the `postgres` user, since Postgres refuses root.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::redis_server::free_port;

/// A running (or stopped) private cluster.
#[derive(Debug)]
pub struct PostgresServer {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
}

fn as_postgres(program: &Path) -> Command {
    if nix::unistd::Uid::effective().is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PostgresServer {
    /// Creates and starts a cluster with a trusted superuser `fairlane` and a database
    /// `fairlane`.
    pub fn start() -> Self {
        let bin = PathBuf::from(
            std::env::var("FAIRLANE_TEST_PG_BIN")
                .expect("FAIRLANE_TEST_PG_BIN: run through ops/test"),
        );
        let dir = tempfile::Builder::new()
            .prefix("fl-pg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let data = dir.path().join("data");
        if nix::unistd::Uid::effective().is_root() {
            let status = Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success());
            std::fs::set_permissions(
                dir.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .unwrap();
        }
        let output = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "fairlane",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ])
            .output()
            .expect("initdb");
        assert!(
            output.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let server = Self {
            dir,
            port: free_port(),
            bin,
        };
        server.pg_ctl(&["start", "-w", "-t", "60"]);
        let status = Command::new("psql")
            .arg(format!(
                "postgres://fairlane@127.0.0.1:{}/postgres",
                server.port
            ))
            .args(["-qc", "CREATE DATABASE fairlane"])
            .status()
            .or_else(|_| {
                Command::new(server.bin.join("psql"))
                    .arg(format!(
                        "postgres://fairlane@127.0.0.1:{}/postgres",
                        server.port
                    ))
                    .args(["-qc", "CREATE DATABASE fairlane"])
                    .status()
            })
            .expect("psql");
        assert!(status.success());
        server
    }

    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let output = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-o", &options])
            .args(action)
            .output()
            .expect("pg_ctl");
        assert!(
            output.status.success(),
            "pg_ctl {action:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The `fairlane` database's URL.
    pub fn url(&self) -> String {
        format!("postgres://fairlane@127.0.0.1:{}/fairlane", self.port)
    }

    /// Stops it at once (`-m immediate`: like a crash; no clean shutdown).
    pub fn crash(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        self.pg_ctl(&["start", "-w", "-t", "60"]);
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["stop", "-m", "immediate"])
            .output();
    }
}
