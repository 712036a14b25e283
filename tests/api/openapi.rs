//! The OpenAPI document: committed copy current, every operation's errors and headers declared,
//! and every request body's example accepted by the real API.
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::common::*;
use crate::db_test;

const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/api-spec/openapi.yaml");

fn spec() -> Value {
    serde_json::to_value(care_hub::app::openapi_doc()).unwrap()
}

fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn committed_spec_matches_the_code() {
    let generated = care_hub::openapi::to_yaml(&care_hub::app::openapi_doc()).unwrap();
    if std::env::var("CARE_HUB_UPDATE_SPEC").is_ok_and(|v| v == "1") {
        std::fs::write(SPEC_PATH, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(SPEC_PATH).unwrap_or_default();
    assert!(
        committed == generated,
        "api-spec/openapi.yaml is stale: run `CARE_HUB_UPDATE_SPEC=1 cargo test --test api openapi` (or `cargo run -- openapi > api-spec/openapi.yaml`) and commit it"
    );
}

#[test]
fn every_operation_declares_the_errors_it_can_return() {
    let spec = spec();
    let mut missing = Vec::new();
    for (method, path, op) in operations(&spec) {
        let responses = op["responses"].as_object().unwrap();
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let has = |place: &str| params.iter().any(|p| p["in"] == place);
        let mut expected = vec![];
        if path.starts_with("/api/") {
            expected.extend(["401", "403", "503"]);
        }
        if has("path") {
            expected.extend(["400", "404"]);
        }
        if has("query") {
            expected.push("400");
        }
        if op.get("requestBody").is_some() {
            expected.extend(["400", "413", "415", "422"]);
        }
        if method == "patch" {
            expected.extend(["412", "428"]);
        }
        for status in expected {
            if !responses.contains_key(status) {
                missing.push(format!("{method} {path}: {status}"));
            }
        }
        assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} has no success response");
        if path.starts_with("/api/") {
            assert!(
                op.get("operationId").is_some() && op.get("tags").is_some(),
                "{method} {path} needs an id and a tag"
            );
        }
    }
    assert!(missing.is_empty(), "undeclared error responses: {missing:#?}");
}

#[test]
fn every_201_carries_a_location_header() {
    let spec = spec();
    for (method, path, op) in operations(&spec) {
        if let Some(created) = op["responses"].get("201") {
            assert!(created["headers"].get("Location").is_some(), "{method} {path}: 201 without Location");
        }
    }
}

/// Follows a `$ref` within the document.
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => spec.pointer(r.trim_start_matches('#')).expect("ref resolves"),
        None => v,
    }
}

fn request_example(spec: &Value, op: &Value) -> Option<Value> {
    let content = op["requestBody"]["content"].as_object()?;
    let media = content.values().next()?;
    if let Some(e) = media.get("example") {
        return Some(e.clone());
    }
    let schema = resolve(spec, &media["schema"]);
    schema.get("example").cloned().or_else(|| schema["examples"].get(0).cloned())
}

/// An agency event that matched no case, waiting in the linkage queue.
async fn queued_event(app: &TestApp) -> String {
    let e = json!({"events": [{"source_agency": FORCE, "source_event_id": uuid::Uuid::new_v4().to_string(), "event_type": "REPORTED",
        "occurred_at": "2026-11-01T10:00:00Z", "case": {"agency": FORCE, "type": "crime_reference", "value": "CR-NOWHERE"}}]});
    let r = app.post(&app.admin(), "/api/v1/journey-events", e).await;
    r.assert_status(StatusCode::OK);
    r.body["events"][0]["id"].as_str().unwrap().to_owned()
}

/// A service issue on the victim.
async fn service_issue(app: &TestApp, hub_ref: &str) -> String {
    let r = app
        .post(
            &app.caseworker(),
            "/api/v1/service-issues",
            json!({"victim": hub_ref, "category": "no_update", "description": "No news", "severity": "low"}),
        )
        .await;
    r.assert_status(StatusCode::CREATED);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A withdrawal record awaiting review.
async fn withdrawal(app: &TestApp, case_id: &str, hub_ref: &str) -> String {
    let r = app
        .post(&app.caseworker(), &format!("/api/v1/cases/{case_id}/withdrawals"), json!({"victim": hub_ref, "withdrawn_on": "2026-11-02", "reasons": ["delay"], "confirmed_with_victim": true}))
        .await;
    r.assert_status(StatusCode::CREATED);
    r.body["id"].as_str().unwrap().to_owned()
}

db_test!(every_request_body_example_is_accepted_as_is, |app: TestApp| async move {
    let spec = spec();
    let hub_ref = app.any_victim().await;
    let case = app
        .post(
            &app.caseworker(),
            &format!("/api/v1/victims/{hub_ref}/cases"),
            json!({"offence_group": "robbery", "date_reported": "2026-11-01"}),
        )
        .await;
    let case_id = case.body["id"].as_str().unwrap().to_owned();
    let admin = app.admin();
    // The examples name EXAMPLE-POLICE; give them an agency of that code.
    app.post(
        &admin,
        "/api/v1/agencies",
        json!({"code": "EXAMPLE-POLICE", "name": "Example Police", "kind": "police_force"}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    // The sign-in example's user, with the example's password.
    let login_example = request_example(&spec, &spec["paths"]["/api/v1/auth/login"]["post"]).unwrap();
    let alex = app
        .post(&admin, "/api/v1/users", json!({"email": login_example["email"], "name": "Alex", "role": "supervisor", "team": TEAM, "password": login_example["password"]}))
        .await;
    alex.assert_status(StatusCode::CREATED);
    let alex_id = alex.body["id"].as_str().unwrap().to_owned();

    let mut ops: Vec<_> = operations(&spec).into_iter().filter(|(_, _, op)| op.get("requestBody").is_some()).collect();
    // Reference data first: later examples name the team and agency the earlier ones create.
    ops.sort_by_key(|(_, path, _)| !(path.starts_with("/api/v1/agencies") || path.starts_with("/api/v1/teams")));
    let mut checked = 0;
    for (method, path, op) in ops {
        let example =
            request_example(&spec, &op).unwrap_or_else(|| panic!("{method} {path}: request body has no example"));
        // Merges and links name another victim; give them a real one.
        let example = match path.as_str() {
            p if p.ends_with("/merge") => json!({"duplicate": app.any_victim().await, "reason": example["reason"]}),
            "/api/v1/cases/{id}/victims" => json!({"hub_ref": app.any_victim().await, "role": "victim"}),
            // A withdrawal names a victim on the case; a queued event is attached to a real case.
            "/api/v1/cases/{id}/withdrawals" | "/api/v1/service-issues" => {
                let mut e = example;
                e["victim"] = json!(hub_ref);
                e
            }
            "/api/v1/linkage-exceptions/{id}/resolve" => json!({"case_id": case_id}),
            _ => example,
        };
        let other_id = match path.as_str() {
            "/api/v1/linkage-exceptions/{id}/resolve" => Some(queued_event(&app).await),
            "/api/v1/withdrawals/{id}/review" => Some(withdrawal(&app, &case_id, &hub_ref).await),
            p if p.starts_with("/api/v1/service-issues/{id}") => Some(service_issue(&app, &hub_ref).await),
            _ => None,
        };
        let id =
            if path.starts_with("/api/v1/users") { alex_id.as_str() } else { other_id.as_deref().unwrap_or(&case_id) };
        let url = path
            .replace("{ref}", &hub_ref)
            .replace("{id}", id)
            .replace(
                "{code}",
                if path.contains("teams") {
                    TEAM
                } else if path.contains("obligation-rules") {
                    "R6_ARREST"
                } else {
                    "EXAMPLE-POLICE"
                },
            )
            .replace("{class}", "victim_record");
        let token = match path.as_str() {
            p if [
                "/api/v1/agencies",
                "/api/v1/teams",
                "/api/v1/users",
                "/api/v1/retention",
                "/api/v1/obligation-rules",
                "/api/v1/bank-holidays",
                "/api/v1/reminders",
                "/api/v1/journey-events",
                "/api/v1/service-issue-categories",
            ]
            .iter()
            .any(|a| p.starts_with(a)) =>
            {
                admin.clone()
            }
            p if p.ends_with("/merge") || p.ends_with("/legal-hold") || p.ends_with("/review") => app.supervisor(),
            "/api/v1/me/password" => {
                let signed_in = app.post("", "/api/v1/auth/login", login_example.clone()).await;
                signed_in.body["access_token"].as_str().unwrap().to_owned()
            }
            _ => app.caseworker(),
        };
        let mut req = Request::builder()
            .method(method.to_uppercase().parse::<Method>().unwrap())
            .uri(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if method == "put" || path.ends_with("/transitions") {
            // A versioned resource names its version; a first version is "0".
            let current = app.get(&token, url.trim_end_matches("/transitions")).await;
            if let Some(etag) = current.header("etag") {
                req = req.header("if-match", etag.to_owned());
            }
        }
        if method == "patch" {
            let current = app.get(&token, &url).await;
            assert!(
                current.header("etag").is_some(),
                "GET {url} (to patch it) gave no ETag: {} {}",
                current.status,
                current.text
            );
            req = req.header("if-match", current.etag());
        }
        let r = app.send(req.body(Body::from(example.to_string())).unwrap()).await;
        // Victim and case references share one example, and a reference belongs to one record:
        // the second use conflicts, which shows the example was valid. A refresh token cannot be
        // a real one in an example: it parses, and is refused as unknown.
        let reused = r.status == StatusCode::CONFLICT && r.body["code"] == "reference-in-use";
        let placeholder_token = path == "/api/v1/auth/refresh" && r.status == StatusCode::UNAUTHORIZED;
        assert!(
            r.status.is_success() || reused || placeholder_token,
            "{method} {path}: the example was refused: {} {}",
            r.status,
            r.text
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} request bodies checked");
});
