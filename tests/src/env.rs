//! The `FAIRLANE_TEST_*` variables that `ops/test` exports.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Where the throwaway servers and the binaries are.
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// Superuser URL of the test cluster's `postgres` database.
    pub admin_database_url: String,
    /// The migrated template database each test clones.
    pub template_db: String,
    /// URL of the shared test Redis.
    pub redis_url: String,
    /// Directory holding `fairlane-api`, `fairlane-worker`, `fairlane-scheduler`.
    pub bin_dir: PathBuf,
}

impl TestEnv {
    /// Reads the environment once; panics with instructions when run outside `ops/test`.
    pub fn get() -> &'static TestEnv {
        static ENV: OnceLock<TestEnv> = OnceLock::new();
        ENV.get_or_init(|| {
            let var = |name: &str| {
                std::env::var(name).unwrap_or_else(|_| {
                    panic!("{name} is not set: run the end-to-end tests through `ops/test`")
                })
            };
            TestEnv {
                admin_database_url: var("FAIRLANE_TEST_DATABASE_URL"),
                template_db: var("FAIRLANE_TEST_TEMPLATE_DB"),
                redis_url: var("FAIRLANE_TEST_REDIS_URL"),
                bin_dir: std::env::var("FAIRLANE_TEST_BIN_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|_| default_bin_dir()),
            }
        })
    }

    /// The database URL for database `name` on the test cluster.
    pub fn database_url(&self, name: &str) -> String {
        let base = self
            .admin_database_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&self.admin_database_url);
        format!("{base}/{name}")
    }
}

/// `target/debug`, found from this test executable (`target/debug/deps/<test>`).
fn default_bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .expect("target dir")
}
