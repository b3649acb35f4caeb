//! A private Postgres database per test, cloned from the migrated template and dropped
//! at the end.

use tokio_postgres::NoTls;

use crate::env::TestEnv;

/// A database that exists for the life of this value.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// Creates `t_<uuid>` from the template.
    pub async fn create() -> TestDb {
        let env = TestEnv::get();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&env.admin_database_url).await;
        admin
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
                env.template_db
            ))
            .await
            .expect("create test database from the template");
        TestDb {
            url: env.database_url(&name),
            name,
        }
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh connection to it, for assertions on stored rows.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }
}

/// Connects and drives the connection in the background.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test postgres");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = TestEnv::get().admin_database_url.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok((client, connection)) = tokio_postgres::connect(&admin_url, NoTls).await {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}
