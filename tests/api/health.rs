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
