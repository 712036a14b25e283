//! Bad input gets a clear 4xx problem and loses nothing: one table of cases, each checked for
//! its status, its code, the field at fault, and an unchanged database.
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::common::*;
use crate::db_test;

struct Case {
    name: &'static str,
    method: Method,
    /// `{ref}` is replaced by an existing hub reference.
    path: &'static str,
    content_type: &'static str,
    if_match: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    code: &'static str,
    field: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let post = |name, body: &str, status, code, field| Case {
        name,
        method: Method::POST,
        path: "/api/v1/victims",
        content_type: "application/json",
        if_match: None,
        body: body.as_bytes().to_vec(),
        status,
        code,
        field,
    };
    let u = StatusCode::UNPROCESSABLE_ENTITY;
    vec![
        post(
            "malformed JSON",
            r#"{"given_name": "A", "family_name": "#,
            StatusCode::BAD_REQUEST,
            "malformed-json",
            None,
        ),
        post(
            "trailing garbage",
            r#"{"given_name": "A", "family_name": "B"} x"#,
            StatusCode::BAD_REQUEST,
            "malformed-json",
            None,
        ),
        post("not an object", r"[1, 2]", u, "validation-failed", Some("")),
        post(
            "unknown field",
            r#"{"given_name": "A", "family_name": "B", "nickname": "C"}"#,
            u,
            "validation-failed",
            Some("/nickname"),
        ),
        post(
            "unknown nested field",
            r#"{"given_name": "A", "family_name": "B", "contact": {"fax": "1"}}"#,
            u,
            "validation-failed",
            Some("/contact/fax"),
        ),
        post("wrong type", r#"{"given_name": 42, "family_name": "B"}"#, u, "validation-failed", Some("/given_name")),
        post("missing required field", r#"{"given_name": "A"}"#, u, "validation-failed", Some("/family_name")),
        post(
            "bad enum value",
            r#"{"given_name": "A", "family_name": "B", "sex": "unknown"}"#,
            u,
            "validation-failed",
            Some("/sex"),
        ),
        post(
            "bad date",
            r#"{"given_name": "A", "family_name": "B", "date_of_birth": "14/03/1988"}"#,
            u,
            "validation-failed",
            Some("/date_of_birth"),
        ),
        post(
            "bad nested enum",
            r#"{"given_name": "A", "family_name": "B", "enhanced_reasons": [{"reason": "tired", "assessed_on": "2026-01-01"}]}"#,
            u,
            "validation-failed",
            Some("/enhanced_reasons/0/reason"),
        ),
        Case {
            content_type: "text/plain",
            ..post(
                "not JSON content",
                r#"{"given_name": "A", "family_name": "B"}"#,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                None,
            )
        },
        Case {
            body: format!(
                r#"{{"given_name": "A", "family_name": "B", "communication_needs": "{}"}}"#,
                "x".repeat(70_000)
            )
            .into_bytes(),
            ..post("oversized body", "", StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", None)
        },
        Case {
            path: "/api/v1/victims?allow_duplicate=maybe",
            ..post(
                "bad query value",
                r#"{"given_name": "A", "family_name": "B"}"#,
                StatusCode::BAD_REQUEST,
                "invalid-query",
                Some("allow_duplicate"),
            )
        },
        Case {
            method: Method::GET,
            path: "/api/v1/victims?nmae=smith",
            ..post("unknown query parameter", "", StatusCode::BAD_REQUEST, "invalid-query", Some("nmae"))
        },
        Case {
            method: Method::GET,
            path: "/api/v1/victims?limit=500",
            ..post("limit too large", "", StatusCode::BAD_REQUEST, "invalid-query", Some("limit"))
        },
        Case {
            method: Method::GET,
            path: "/api/v1/victims?cursor=!!",
            ..post("bad cursor", "", StatusCode::BAD_REQUEST, "invalid-query", Some("cursor"))
        },
        Case {
            method: Method::GET,
            path: "/api/v1/victims/VCH-0123456789Z",
            ..post("bad reference check character", "", StatusCode::BAD_REQUEST, "invalid-path-parameter", Some("ref"))
        },
        Case {
            method: Method::GET,
            path: "/api/v1/victims/12345",
            ..post("not a reference", "", StatusCode::BAD_REQUEST, "invalid-path-parameter", Some("ref"))
        },
        Case {
            method: Method::GET,
            path: "/api/v1/cases/not-a-uuid",
            ..post("bad case id", "", StatusCode::BAD_REQUEST, "invalid-path-parameter", Some("id"))
        },
        Case {
            method: Method::PATCH,
            path: "/api/v1/victims/{ref}",
            if_match: Some("\"7\""),
            ..post(
                "stale If-Match",
                r#"{"preferred_name": "Z"}"#,
                StatusCode::PRECONDITION_FAILED,
                "stale-version",
                None,
            )
        },
        Case {
            method: Method::PATCH,
            path: "/api/v1/victims/{ref}",
            if_match: Some("\"1\""),
            ..post(
                "patch of a read-only field",
                r#"{"hub_ref": "VCH-0000000000X"}"#,
                u,
                "validation-failed",
                Some("/hub_ref"),
            )
        },
        Case {
            method: Method::PATCH,
            path: "/api/v1/victims/{ref}",
            if_match: Some("\"1\""),
            ..post("patch that is not an object", r#""text""#, StatusCode::BAD_REQUEST, "malformed-patch", None)
        },
        Case {
            method: Method::PATCH,
            path: "/api/v1/victims/{ref}",
            if_match: Some("\"1\""),
            ..post(
                "patch clearing a required field",
                r#"{"family_name": null}"#,
                u,
                "validation-failed",
                Some("/family_name"),
            )
        },
        Case {
            method: Method::DELETE,
            path: "/api/v1/victims",
            ..post("method not allowed", "", StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", None)
        },
        Case {
            method: Method::GET,
            path: "/api/v1/nothing-here",
            ..post("unknown route", "", StatusCode::NOT_FOUND, "not-found", None)
        },
    ]
}

db_test!(bad_input_is_answered_with_a_problem_and_nothing_is_written, |app: TestApp| async move {
    let hub_ref = app.any_victim().await;
    let token = app.caseworker();
    for case in cases() {
        let before = app.fingerprint().await;
        let mut req = Request::builder()
            .method(case.method.clone())
            .uri(case.path.replace("{ref}", &hub_ref))
            .header("authorization", format!("Bearer {token}"));
        if !case.body.is_empty() {
            req = req.header("content-type", case.content_type);
        }
        if let Some(m) = case.if_match {
            req = req.header("if-match", m);
        }
        let r = app.send(req.body(Body::from(case.body)).unwrap()).await;
        assert_eq!(r.status, case.status, "{}: {}", case.name, r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}", case.name);
        assert_eq!(r.body["code"], case.code, "{}: {}", case.name, r.text);
        assert_eq!(r.body["status"], case.status.as_u16(), "{}", case.name);
        assert!(r.body["instance"].as_str().is_some_and(|i| !i.is_empty()), "{}: the request id is quoted", case.name);
        if let Some(field) = case.field {
            assert_eq!(r.fields().first().map(String::as_str), Some(field), "{}: {}", case.name, r.text);
        }
        assert_eq!(app.fingerprint().await, before, "{}: nothing written", case.name);
    }
});

db_test!(problems_never_leak_internals, |app: TestApp| async move {
    let r = app
        .post(
            &app.caseworker(),
            "/api/v1/victims",
            json!({"given_name": "A", "family_name": "B", "date_of_birth": "1990-02-30"}),
        )
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    let text = r.text.to_lowercase();
    for leak in ["sqlx", "sea_orm", "select ", "insert ", "panicked", "src/"] {
        assert!(!text.contains(leak), "problem mentions {leak}: {}", r.text);
    }
});
