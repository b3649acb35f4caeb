//! [`TestApp`]: one isolated Fairlane deployment (database, Redis namespace, data
//! directory) with the real API binary running on a free port, and helpers to start
//! workers and the scheduler against the same deployment.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::db::TestDb;
use crate::process::{Binary, TestProcess};
use crate::redis_server::RedisNamespace;

/// How long a binary may take to start.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a [`TestApp`] with non-default settings.
#[derive(Debug, Default)]
pub struct TestAppBuilder {
    redis_url: Option<String>,
    env: HashMap<String, String>,
}

impl TestAppBuilder {
    /// Uses this Redis server instead of the shared one.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// Sets an extra `FAIRLANE_*` variable for every process of this deployment.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.insert(name.to_owned(), value.into());
        self
    }

    /// Creates the database, namespace and data directory, and starts the API.
    pub async fn spawn(self) -> TestApp {
        let db = TestDb::create().await;
        let redis = match &self.redis_url {
            Some(url) => RedisNamespace::on(url),
            None => RedisNamespace::new(),
        };
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut env: HashMap<String, String> = [
            ("FAIRLANE_DATABASE_URL", db.url().to_owned()),
            ("FAIRLANE_DATABASE_POOL_SIZE", "4".to_owned()),
            ("FAIRLANE_REDIS_URL", redis.url.clone()),
            ("FAIRLANE_REDIS_PREFIX", redis.prefix.clone()),
            ("FAIRLANE_DATA_DIR", data_dir.path().display().to_string()),
            ("FAIRLANE_HTTP_HOST", "127.0.0.1".to_owned()),
            ("FAIRLANE_HTTP_PORT", "0".to_owned()),
            ("FAIRLANE_STARTUP_TIMEOUT_SECS", "10".to_owned()),
            (
                "FAIRLANE_LOG",
                "info,tokio_postgres=warn,refinery_core=warn".to_owned(),
            ),
            (
                "FAIRLANE_ENCRYPTION_KEYS",
                format!("1:{}", random_key_b64()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.env);
        let api = TestProcess::spawn(Binary::Api, &[], &env);
        let listening = api.wait_for_message("listening", START_TIMEOUT).await;
        let addr = listening["addr"]
            .as_str()
            .expect("listening event has addr")
            .to_owned();
        fairlane_shared::tls::install();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        TestApp {
            api,
            base_url: format!("http://{addr}"),
            client,
            env,
            _data_dir: data_dir,
            redis,
            db,
        }
    }
}

/// One isolated deployment with its API running. Dropping it stops every process and
/// removes the database, the Redis keys and the data directory.
pub struct TestApp {
    /// The API process.
    pub api: TestProcess,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// An HTTP client without cookies.
    pub client: reqwest::Client,
    env: HashMap<String, String>,
    _data_dir: tempfile::TempDir,
    /// The Redis namespace.
    pub redis: RedisNamespace,
    /// The database.
    pub db: TestDb,
}

/// A response read whole: status, headers and body (JSON when it parses).
#[derive(Debug)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Raw body.
    pub text: String,
    /// The body as JSON, or `Value::Null`.
    pub json: Value,
}

impl TestResponse {
    /// A header's value as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the body is the error envelope with this code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.json["error"]["code"], code, "body: {}", self.text);
        assert!(
            self.json["error"]["message"].is_string(),
            "body: {}",
            self.text
        );
        assert!(
            self.json["error"]["details"].is_object(),
            "body: {}",
            self.text
        );
    }
}

impl TestApp {
    /// The default deployment.
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    /// A builder for non-default deployments.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// An absolute URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The environment every process of this deployment gets.
    pub fn env(&self) -> &HashMap<String, String> {
        &self.env
    }

    /// Starts a worker against this deployment and waits until it is ready.
    pub async fn start_worker(&self) -> TestProcess {
        let worker = TestProcess::spawn(Binary::Worker, &[], &self.env);
        worker.wait_for_message("worker ready", START_TIMEOUT).await;
        worker
    }

    /// Starts the scheduler against this deployment and waits until it is ready.
    pub async fn start_scheduler(&self) -> TestProcess {
        let scheduler = TestProcess::spawn(Binary::Scheduler, &[], &self.env);
        scheduler
            .wait_for_message("scheduler ready", START_TIMEOUT)
            .await;
        scheduler
    }

    /// Runs `fairlane-api <args>` (a CLI command) to completion with this deployment's
    /// configuration; returns its exit status and output.
    pub async fn run_cli(&self, args: &[&str]) -> (std::process::ExitStatus, String) {
        let mut process = TestProcess::spawn(Binary::Api, args, &self.env);
        let status = process.wait_exit(Duration::from_secs(60)).await;
        (status, process.lines().join("\n"))
    }

    /// Sends a request with an optional JSON body and reads the whole response.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> TestResponse {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.expect("send request")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.request(Method::POST, path, Some(body)).await
    }

    /// Polls `GET path` until `predicate` holds or `within` passes; returns the last response.
    pub async fn poll(
        &self,
        path: &str,
        within: Duration,
        predicate: impl Fn(&TestResponse) -> bool,
    ) -> TestResponse {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let response = self.get(path).await;
            if predicate(&response) || tokio::time::Instant::now() >= deadline {
                return response;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A random 32-byte key, base64.
pub fn random_key_b64() -> String {
    use base64::Engine;
    let bytes: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| *u.as_bytes())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A signed-in user as a test sees it.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The account's id.
    pub id: String,
    /// Email used to register.
    pub email: String,
    /// Password used to register.
    pub password: String,
    /// Bearer session token.
    pub token: String,
    /// CSRF token of that session.
    pub csrf_token: String,
    /// The `user` object.
    pub user: Value,
}

impl TestApp {
    /// Registers and logs in a fresh user with a unique email.
    pub async fn signed_in_user(&self) -> TestUser {
        let email = format!(
            "user-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        self.signed_in_user_with(&email, "correct-horse-battery-staple")
            .await
    }

    /// Registers and logs in a user with this email and password.
    pub async fn signed_in_user_with(&self, email: &str, password: &str) -> TestUser {
        let registered = self
            .post_json(
                "/api/v1/auth/register",
                &serde_json::json!({ "email": email, "password": password, "name": "Test User" }),
            )
            .await;
        assert_eq!(registered.status, 201, "register: {}", registered.text);
        let login = self.login(email, password).await;
        assert_eq!(login.status, 200, "login: {}", login.text);
        TestUser {
            id: registered.json["user"]["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            token: login.json["token"].as_str().unwrap().to_owned(),
            csrf_token: login.json["csrf_token"].as_str().unwrap().to_owned(),
            user: login.json["user"].clone(),
        }
    }

    /// `POST /auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    /// A request authenticated with `Authorization: Bearer <token>`.
    pub async fn request_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.expect("send request")).await
    }

    /// `GET path` as `token`.
    pub async fn get_as(&self, token: &str, path: &str) -> TestResponse {
        self.request_as(token, Method::GET, path, None).await
    }

    /// Submits `body` to `POST /jobs` as `token` and polls the job until it is
    /// terminal (panics after `within`); returns the final `job` object.
    pub async fn run_job_as(&self, token: &str, body: &Value, within: Duration) -> Value {
        let created = self
            .request_as(token, Method::POST, "/api/v1/jobs", Some(body))
            .await;
        assert_eq!(created.status, 202, "submit: {}", created.text);
        let id = created.json["job"]["id"].as_str().unwrap().to_owned();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let job = self.get_as(token, &format!("/api/v1/jobs/{id}")).await.json["job"].clone();
            if matches!(
                job["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job did not finish within {within:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The bytes of file `id` from `GET /files/{id}/content` as `token` (must be 200).
    pub async fn download_as(&self, token: &str, id: &str) -> Vec<u8> {
        let response = self
            .client
            .get(self.url(&format!("/api/v1/files/{id}/content")))
            .bearer_auth(token)
            .send()
            .await
            .expect("send request");
        assert_eq!(response.status(), 200, "download {id}");
        response.bytes().await.expect("read body").to_vec()
    }

    /// `POST /files` as `token`: `bytes` as the multipart field `file` named `name`.
    pub async fn upload_as(&self, token: &str, name: &str, bytes: Vec<u8>) -> TestResponse {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        let response = self
            .client
            .post(self.url("/api/v1/files"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("send upload");
        read(response).await
    }
}

/// Reads a response whole.
pub async fn read(response: reqwest::Response) -> TestResponse {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    TestResponse {
        status,
        headers,
        text,
        json,
    }
}
