//! The test harness: a fresh, migrated database per test (SQLite, and PostgreSQL when
//! `CARE_HUB_TEST_POSTGRES_URL` is set), the real router, and helpers to call it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use care_hub::app::{AppState, router};
use care_hub::clock::FixedClock;
use care_hub::config::Config;
use care_hub::db::Db;
use care_hub::vocab::{AgencyKind, Role};
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tower::ServiceExt;

pub mod smtp;

pub const TEAM: &str = "north-hub";
pub const OTHER_TEAM: &str = "south-hub";
pub const FORCE: &str = "TEST-POLICE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `body` against a fresh app on `backend`; on PostgreSQL only when configured.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run_with(backend, |_| {}, body).await;
}

/// As `run`, with the app's configuration adjusted by `configure` first.
pub async fn run_with<F, Fut>(backend: Backend, configure: impl FnOnce(&mut Config), body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if backend == Backend::Postgres && postgres_url().is_none() {
        eprintln!("CARE_HUB_TEST_POSTGRES_URL is not set: this PostgreSQL variant did not run");
        return;
    }
    body(TestApp::with_config(backend, configure).await).await;
}

/// Declares a test that runs on SQLite and on PostgreSQL; `configure = |c: &mut Config| ...`
/// adjusts the app's configuration first.
#[macro_export]
macro_rules! db_test {
    ($name:ident, configure = $configure:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run_with($crate::common::Backend::Sqlite, $configure, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::run_with($crate::common::Backend::Postgres, $configure, $body).await;
            }
        }
    };
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run($crate::common::Backend::Sqlite, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::run($crate::common::Backend::Postgres, $body).await;
            }
        }
    };
}

pub fn postgres_url() -> Option<String> {
    std::env::var("CARE_HUB_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<FixedClock>,
    pub backend: Backend,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(&self) -> String {
        self.header("etag").expect("response has an ETag").to_owned()
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "body: {}", self.text);
        assert_eq!(self.body["status"], status.as_u16(), "body: {}", self.text);
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["type"], format!("/problems/{code}"));
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        self
    }

    /// The JSON Pointers of the fields at fault.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    }
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 9, 30, 0).unwrap()
}

static SEQ: AtomicU32 = AtomicU32::new(0);
static SQLITE_TEMPLATE: OnceCell<(tempfile::TempDir, PathBuf)> = OnceCell::const_new();
static PG_TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn migrated(url: &str, dir: PathBuf) -> Db {
    let db = Db::connect(&Config::for_tests(url.to_owned(), dir)).await.expect("connect");
    db.migrate().await.expect("migrate");
    db
}

/// A migrated SQLite file, made once per test binary and copied for each test.
async fn sqlite_template() -> &'static PathBuf {
    let (_, path) = SQLITE_TEMPLATE
        .get_or_init(|| async {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("template.db");
            let db = migrated(&format!("sqlite://{}?mode=rwc", path.display()), dir.path().into()).await;
            db.read().execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.expect("checkpoint");
            db.close().await;
            (dir, path)
        })
        .await;
    path
}

fn pg_url_for(base: &str, database: &str) -> String {
    let (prefix, rest) = base.rsplit_once('/').expect("postgres URL has a database");
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{prefix}/{database}{query}")
}

async fn pg_admin(base: &str) -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(base).await.expect("connect to CARE_HUB_TEST_POSTGRES_URL")
}

/// A migrated PostgreSQL database used as the template for each test's database. Databases
/// left behind by test processes that no longer run are dropped first.
async fn pg_template(base: &str) -> &'static String {
    PG_TEMPLATE
        .get_or_init(|| async {
            let admin = pg_admin(base).await;
            let rows = admin
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT datname FROM pg_database WHERE datname LIKE 'care_hub_t%'",
                ))
                .await
                .expect("list databases");
            for row in rows {
                let name: String = row.try_get("", "datname").expect("datname");
                let pid = name.split('_').nth(3).and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                }
            }
            let name = format!("care_hub_tmpl_{}", std::process::id());
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.expect("drop");
            admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create template");
            let dir = std::env::temp_dir();
            migrated(&pg_url_for(base, &name), dir).await.close().await;
            admin.close().await.ok();
            name
        })
        .await
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::with_config(backend, |_| {}).await
    }

    /// A fresh app whose configuration `configure` adjusts first.
    pub async fn with_config(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, pg_database) = match backend {
            Backend::Sqlite => {
                let path = dir.path().join("care-hub.db");
                std::fs::copy(sqlite_template().await, &path).expect("copy template");
                (format!("sqlite://{}?mode=rwc", path.display()), None)
            }
            Backend::Postgres => {
                let base = postgres_url().expect("postgres configured");
                let template = pg_template(&base).await;
                let name = format!("care_hub_t_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
                let admin = pg_admin(&base).await;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                (pg_url_for(&base, &name), Some(name))
            }
        };
        let mut config = Config::for_tests(url, dir.path().into());
        configure(&mut config);
        let db = Db::connect(&config).await.expect("connect test database");
        let clock = Arc::new(FixedClock::new(start_time()));
        let state = AppState::new(config, db, clock.clone()).expect("state");
        let app = TestApp { router: router(state.clone()), state, clock, backend, _dir: dir, pg_database };
        app.seed_reference_data().await;
        app
    }

    /// Two teams and a police force with a BCU, which most tests need (made directly, so they
    /// exist whatever the sign-in mode).
    async fn seed_reference_data(&self) {
        let system = care_hub::audit::Actor { id: "test-setup".into(), ..Default::default() };
        let now = self.clock.now_utc();
        let db = &self.state.db;
        for (code, name) in [(TEAM, "North Hub"), (OTHER_TEAM, "South Hub")] {
            let team = care_hub::teams::dto::TeamInput { code: code.into(), name: name.into(), active: None };
            care_hub::teams::service::create(db, &system, &team, now).await.expect("team");
        }
        for (code, name, kind, parent) in [
            (FORCE, "Test Police", AgencyKind::PoliceForce, None),
            ("TEST-POLICE-N", "Test Police North", AgencyKind::PoliceBcu, Some(FORCE)),
            ("TEST-CPS", "CPS Test Area", AgencyKind::CpsArea, None),
            ("TEST-COURT", "Test Crown Court", AgencyKind::Court, None),
        ] {
            let agency = care_hub::agencies::dto::AgencyInput {
                code: code.into(),
                name: name.into(),
                kind,
                parent: parent.map(str::to_owned),
                liaison_email: None,
                active: None,
            };
            care_hub::agencies::service::create(db, &system, agency, now).await.expect("agency");
        }
    }

    pub fn token(&self, role: Role, team: Option<&str>, agency: Option<&str>) -> String {
        self.state
            .tokens
            .issue(&format!("{}-user", role.as_str()), role, team, agency, self.clock.now_utc(), None)
            .expect("token")
    }

    pub fn caseworker(&self) -> String {
        self.token(Role::Caseworker, Some(TEAM), None)
    }

    pub fn other_caseworker(&self) -> String {
        self.token(Role::Caseworker, Some(OTHER_TEAM), None)
    }

    pub fn supervisor(&self) -> String {
        self.token(Role::Supervisor, Some(TEAM), None)
    }

    pub fn admin(&self) -> String {
        self.token(Role::Admin, None, None)
    }

    /// Sends a request through the real router.
    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(req).await.expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse { status, headers, body, text }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if !token.is_empty() {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => {
                req.header("content-type", "application/json").body(Body::from(serde_json::to_vec(&b).expect("json")))
            }
            None => req.body(Body::empty()),
        };
        self.send(req.expect("request")).await
    }

    pub async fn get(&self, token: &str, path: &str) -> TestResponse {
        self.call(Method::GET, path, token, None, &[]).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> TestResponse {
        self.call(Method::POST, path, token, Some(body), &[]).await
    }

    pub async fn patch(&self, token: &str, path: &str, if_match: &str, body: Value) -> TestResponse {
        self.call(Method::PATCH, path, token, Some(body), &[("if-match", if_match)]).await
    }

    /// A GET giving a reason (admins must; supervisors outside their team may).
    pub async fn get_with_reason(&self, token: &str, path: &str, reason: &str) -> TestResponse {
        self.call(Method::GET, path, token, None, &[("x-access-reason", reason)]).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> TestResponse {
        self.call(Method::DELETE, path, token, None, &[]).await
    }

    /// Creates a victim in the caseworker's team; returns the created record.
    pub async fn victim(&self, body: Value) -> TestResponse {
        let r = self.post(&self.caseworker(), "/api/v1/victims", body).await;
        r.assert_status(StatusCode::CREATED);
        r
    }

    /// A minimal victim with a unique name.
    pub async fn any_victim(&self) -> String {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let r = self.victim(json!({"given_name": "Test", "family_name": format!("Person{n}")})).await;
        r.body["hub_ref"].as_str().unwrap().to_owned()
    }

    /// Row counts of every table plus the sum of versions: equal fingerprints mean nothing was written.
    pub async fn fingerprint(&self) -> BTreeMap<String, i64> {
        let db = self.state.db.read();
        let mut out = BTreeMap::new();
        for (table, extra) in [
            ("teams", "SUM(version)"),
            ("agencies", "SUM(version)"),
            ("victims", "SUM(version)"),
            ("cases", "SUM(version)"),
            ("case_victims", "0"),
            ("agency_references", "0"),
            ("victim_merges", "0"),
            ("users", "SUM(version)"),
            ("refresh_tokens", "0"),
            ("audit_events", "0"),
        ] {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE({extra}, 0) AS BIGINT) AS v FROM {table}"
                    ),
                ))
                .await
                .expect("count")
                .expect("row");
            out.insert(format!("{table}.rows"), row.try_get::<i64>("", "n").expect("n"));
            out.insert(format!("{table}.versions"), row.try_get::<i64>("", "v").expect("v"));
        }
        out
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else { return };
        let Some(base) = postgres_url() else { return };
        // Drop runs outside any runtime we may block on: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let admin = pg_admin(&base).await;
                let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                admin.close().await.ok();
            });
        })
        .join();
    }
}

/// Asserts `body` is exactly what serde writes for a victim record: the SQL-built JSON has the
/// same fields, formats and nothing else, on either backend.
#[track_caller]
pub fn assert_canonical_victim(body: &Value) {
    let view: care_hub::victims::dto::VictimView =
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("not a VictimView: {e}: {body}"));
    assert_eq!(&serde_json::to_value(view).unwrap(), body);
}

/// Convenience on the fixed clock.
pub trait ClockExt {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl ClockExt for FixedClock {
    fn now_utc(&self) -> DateTime<Utc> {
        care_hub::clock::Clock::now(self)
    }
}
