//! Liveness, readiness and the documentation endpoints need no token.
use axum::http::StatusCode;

use crate::common::*;
use crate::db_test;

db_test!(health_readiness_and_docs_are_open, |app: TestApp| async move {
    let r = app.get("", "/healthz").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let r = app.get("", "/readyz").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
    let spec = app.get("", "/openapi.json").await;
    spec.assert_status(StatusCode::OK);
    assert_eq!(spec.body, serde_json::to_value(care_hub::app::openapi_doc()).unwrap());
    let docs = app.get("", "/docs/").await;
    docs.assert_status(StatusCode::OK);
    assert!(docs.text.contains("swagger"), "{}", &docs.text[..docs.text.len().min(200)]);
});

db_test!(readiness_fails_when_the_database_is_gone, |app: TestApp| async move {
    app.state.db.clone().close().await;
    let r = app.get("", "/readyz").await;
    r.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.get("", "/healthz").await.status, StatusCode::OK, "the process is still up");
    let api = app.get(&app.caseworker(), "/api/v1/victims").await;
    api.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
});

db_test!(a_client_request_id_is_echoed, |app: TestApp| async move {
    let r = app.call(axum::http::Method::GET, "/api/v1/nowhere", "", None, &[("x-request-id", "trace-abc-123")]).await;
    assert_eq!(r.header("x-request-id"), Some("trace-abc-123"));
    assert_eq!(r.body["instance"], "trace-abc-123");
});

/// A request stuck behind a lock is abandoned at the configured limit with a 503, and what it
/// started is rolled back.
async fn slow_requests_are_abandoned(backend: Backend) {
    if backend == Backend::Postgres && postgres_url().is_none() {
        return;
    }
    let app = TestApp::with_config(backend, |c| c.request_timeout = std::time::Duration::from_millis(700)).await;
    let before = app.fingerprint().await;
    // On SQLite the blocker owns the one write connection; on PostgreSQL it holds a table lock.
    let blocker = app.state.db.begin_write().await.unwrap();
    if backend == Backend::Postgres {
        use sea_orm::ConnectionTrait;
        blocker.execute_unprepared("LOCK TABLE victims IN EXCLUSIVE MODE").await.unwrap();
    }
    let started = std::time::Instant::now();
    let body = serde_json::json!({"given_name": "Slow", "family_name": "Request"});
    let r = app.post(&app.caseworker(), "/api/v1/victims", body).await;
    blocker.rollback().await.unwrap();
    r.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(r.header("retry-after").is_some());
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "answered at the limit, not after the lock");
    assert_eq!(app.fingerprint().await, before, "nothing half-written");
    let body = serde_json::json!({"given_name": "Fast", "family_name": "Request"});
    app.post(&app.caseworker(), "/api/v1/victims", body).await.assert_status(StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_are_abandoned_sqlite() {
    slow_requests_are_abandoned(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_are_abandoned_postgres() {
    slow_requests_are_abandoned(Backend::Postgres).await;
}
