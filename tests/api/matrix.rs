//! The authorisation matrix: every operation in the OpenAPI document, called by every kind of
//! caller, answers the status this table says. An operation missing from the table fails the test.
//!
//! Callers: a caseworker and a supervisor of the record's team and of another team, a liaison of
//! an agency the record is linked to and of one it is not, an analyst, and an admin without and
//! with a recorded reason (`X-Access-Reason`).
use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use care_hub::vocab::Role;
use serde_json::{Value, json};

use crate::common::*;
use crate::db_test;

const CALLERS: [&str; 9] = [
    "cw-own",
    "cw-other",
    "sup-own",
    "sup-other",
    "liaison-linked",
    "liaison-unlinked",
    "analyst",
    "admin",
    "admin+reason",
];

/// (method, path, expected status per caller in `CALLERS` order).
const MATRIX: &[(&str, &str, &str)] = &[
    ("get", "/healthz", "200 200 200 200 200 200 200 200 200"),
    ("get", "/readyz", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/auth/login", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/auth/refresh", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/auth/logout", "204 204 204 204 204 204 204 204 204"),
    ("get", "/api/v1/me", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/me/password", "403 403 403 403 403 403 403 403 403"),
    ("get", "/api/v1/users", "403 403 403 403 403 403 403 200 200"),
    ("post", "/api/v1/users", "403 403 403 403 403 403 403 201 201"),
    ("get", "/api/v1/users/{id}", "403 403 403 403 403 403 403 200 200"),
    ("patch", "/api/v1/users/{id}", "403 403 403 403 403 403 403 200 200"),
    ("post", "/api/v1/users/{id}/password", "403 403 403 403 403 403 403 204 204"),
    ("get", "/api/v1/teams", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/teams", "403 403 403 403 403 403 403 201 201"),
    ("get", "/api/v1/teams/{code}", "200 200 200 200 200 200 200 200 200"),
    ("patch", "/api/v1/teams/{code}", "403 403 403 403 403 403 403 200 200"),
    ("get", "/api/v1/agencies", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/agencies", "403 403 403 403 403 403 403 201 201"),
    ("get", "/api/v1/agencies/{code}", "200 200 200 200 200 200 200 200 200"),
    ("patch", "/api/v1/agencies/{code}", "403 403 403 403 403 403 403 200 200"),
    ("get", "/api/v1/retention-policies", "403 403 200 200 403 403 403 200 200"),
    ("get", "/api/v1/retention-policies/{class}", "403 403 200 200 403 403 403 200 200"),
    ("patch", "/api/v1/retention-policies/{class}", "403 403 403 403 403 403 403 200 200"),
    ("post", "/api/v1/retention/runs", "403 403 403 403 403 403 403 200 200"),
    ("get", "/api/v1/audit", "403 403 200 200 403 403 403 200 200"),
    ("get", "/api/v1/audit/verify", "403 403 403 403 403 403 403 200 200"),
    ("get", "/api/v1/victims", "200 200 200 200 200 200 403 403 200"),
    ("post", "/api/v1/victims", "201 201 201 201 403 403 403 403 403"),
    ("get", "/api/v1/victims/lookup", "200 404 200 404 200 404 403 403 200"),
    ("get", "/api/v1/victims/{ref}", "200 404 200 404 200 404 403 403 200"),
    ("patch", "/api/v1/victims/{ref}", "200 404 200 404 403 403 403 403 403"),
    ("post", "/api/v1/victims/{ref}/merge", "403 403 200 404 403 403 403 403 403"),
    ("get", "/api/v1/victims/{ref}/subject-access-export", "403 403 200 404 403 403 403 403 200"),
    ("post", "/api/v1/victims/{ref}/agency-references", "201 404 201 404 403 403 403 403 403"),
    ("get", "/api/v1/victims/{ref}/agency-references/{id}", "200 404 200 404 200 404 403 403 200"),
    ("delete", "/api/v1/victims/{ref}/agency-references/{id}", "204 404 204 404 403 403 403 403 403"),
    ("get", "/api/v1/victims/{ref}/legal-hold", "403 403 200 404 403 403 403 200 200"),
    ("post", "/api/v1/victims/{ref}/legal-hold", "403 403 201 404 403 403 403 201 201"),
    ("delete", "/api/v1/victims/{ref}/legal-hold", "403 403 204 404 403 403 403 204 204"),
    ("post", "/api/v1/victims/{ref}/cases", "201 404 201 404 403 403 403 403 403"),
    ("get", "/api/v1/cases/lookup", "200 404 200 404 200 404 403 403 200"),
    ("get", "/api/v1/cases/{id}", "200 404 200 404 200 404 403 403 200"),
    ("patch", "/api/v1/cases/{id}", "200 404 200 404 403 403 403 403 403"),
    ("post", "/api/v1/cases/{id}/victims", "201 404 201 404 403 403 403 403 403"),
    ("get", "/api/v1/cases/{id}/victims/{ref}", "200 404 200 404 200 404 403 403 200"),
    ("delete", "/api/v1/cases/{id}/victims/{ref}", "204 404 204 404 403 403 403 403 403"),
    ("post", "/api/v1/cases/{id}/agency-references", "201 404 201 404 403 403 403 403 403"),
    ("get", "/api/v1/cases/{id}/agency-references/{ref_id}", "200 404 200 404 200 404 403 403 200"),
    ("delete", "/api/v1/cases/{id}/agency-references/{ref_id}", "204 404 204 404 403 403 403 403 403"),
    ("get", "/api/v1/victims/{ref}/contacts", "200 404 200 404 404 404 403 403 200"),
    ("post", "/api/v1/victims/{ref}/contacts", "201 404 201 404 403 403 403 403 403"),
    ("get", "/api/v1/victims/{ref}/contact-plan", "200 404 200 404 404 404 403 403 200"),
    ("put", "/api/v1/victims/{ref}/contact-plan", "200 404 200 404 403 403 403 403 403"),
    ("post", "/api/v1/victims/{ref}/key-events", "201 404 201 404 403 403 403 403 403"),
    ("get", "/api/v1/victims/{ref}/obligations", "200 404 200 404 404 404 403 403 200"),
    ("get", "/api/v1/me/due-work", "200 200 200 200 403 403 403 403 403"),
    ("get", "/api/v1/obligation-rules", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/obligation-rules", "403 403 403 403 403 403 403 201 201"),
    ("get", "/api/v1/obligation-rules/{code}", "200 200 200 200 200 200 200 200 200"),
    ("patch", "/api/v1/obligation-rules/{code}", "403 403 403 403 403 403 403 200 200"),
    ("get", "/api/v1/bank-holidays", "200 200 200 200 200 200 200 200 200"),
    ("put", "/api/v1/bank-holidays", "403 403 403 403 403 403 403 200 200"),
    ("get", "/api/v1/outbox", "403 403 403 403 403 403 403 200 200"),
    ("post", "/api/v1/outbox/{id}/retry", "403 403 403 403 403 403 403 200 200"),
    ("post", "/api/v1/reminders/runs", "403 403 403 403 403 403 403 200 200"),
    ("get", "/api/v1/reports/contact-compliance", "403 403 200 200 403 403 200 200 200"),
    ("get", "/api/v1/reports/attrition/flow", "403 403 200 200 403 403 200 200 200"),
    ("get", "/api/v1/reports/attrition/rates", "403 403 200 200 403 403 200 200 200"),
    ("get", "/api/v1/reports/timeliness", "403 403 200 200 403 403 200 200 200"),
    ("get", "/api/v1/reports/trials", "403 403 200 200 403 403 200 200 200"),
    ("get", "/api/v1/reports/compliance", "403 403 200 200 403 403 200 200 200"),
    ("get", "/api/v1/reports/board-pack", "403 403 200 200 403 403 200 200 200"),
    ("post", "/api/v1/journey-events", "403 403 403 403 200 403 403 200 200"),
    ("get", "/api/v1/cases/{id}/journey", "200 404 200 404 200 404 403 403 200"),
    ("get", "/api/v1/linkage-exceptions", "403 403 200 200 200 200 403 200 200"),
    ("post", "/api/v1/linkage-exceptions/{id}/resolve", "200 422 200 422 403 403 403 403 403"),
    ("get", "/api/v1/reference/stages", "200 200 200 200 200 200 200 200 200"),
    ("get", "/api/v1/reference/outcome-codes", "200 200 200 200 200 200 200 200 200"),
    ("get", "/api/v1/cases/{id}/withdrawals", "200 404 200 404 404 404 403 403 200"),
    ("post", "/api/v1/cases/{id}/withdrawals", "201 404 201 404 403 403 403 403 403"),
    ("post", "/api/v1/withdrawals/{id}/review", "403 403 200 404 403 403 403 403 403"),
    ("get", "/api/v1/withdrawal-flags", "200 200 200 200 403 403 403 200 200"),
    ("get", "/api/v1/service-issues", "200 200 200 200 403 403 403 403 200"),
    ("post", "/api/v1/service-issues", "201 422 201 422 403 403 403 403 403"),
    ("get", "/api/v1/service-issues/{id}", "200 404 200 404 404 404 403 403 200"),
    ("patch", "/api/v1/service-issues/{id}", "200 404 200 404 403 403 403 403 403"),
    ("post", "/api/v1/service-issues/{id}/transitions", "200 404 200 404 403 403 403 403 403"),
    ("post", "/api/v1/service-issues/{id}/actions", "201 404 201 404 403 403 403 403 403"),
    ("get", "/api/v1/service-issue-categories", "200 200 200 200 200 200 200 200 200"),
    ("post", "/api/v1/service-issue-categories", "403 403 403 403 403 403 403 201 201"),
    ("get", "/api/v1/reports/service-recovery", "403 403 200 200 403 403 200 200 200"),
    ("get", "/api/v1/exports/linked-journeys", "403 403 403 403 403 403 200 403 403"),
];

/// Fresh objects for one call: a victim of the caller-under-test's "own" team linked to
/// TEST-CPS (a victim reference and a case reference), a second victim on the case, a spare
/// victim, and a user, team and agency for the admin operations.
struct Fixture {
    victim: String,
    victim_ref_id: String,
    urn: String,
    case_id: String,
    case_ref_id: String,
    case_urn: String,
    second: String,
    spare: String,
    user_id: String,
    team: String,
    agency: String,
    login: Value,
    n: usize,
}

async fn fixture(app: &TestApp, n: usize) -> Fixture {
    let cw = app.caseworker();
    let admin = app.admin();
    let urn = format!("01AB{n:05}26");
    let case_urn = format!("01CD{n:05}26");
    let victim = app.victim(json!({"given_name": "Matrix", "family_name": format!("Subject{n}"), "agency_references": [{"agency": "TEST-CPS", "type": "cps_urn", "value": urn}]})).await;
    let hub = victim.body["hub_ref"].as_str().unwrap().to_owned();
    let victim_ref_id = victim.body["agency_references"][0]["id"].as_str().unwrap().to_owned();
    let case = app
        .post(&cw, &format!("/api/v1/victims/{hub}/cases"), json!({"offence_group": "robbery", "date_reported": "2026-11-01", "agency_references": [{"agency": "TEST-CPS", "type": "cps_urn", "value": case_urn}]}))
        .await;
    case.assert_status(StatusCode::CREATED);
    let case_id = case.body["id"].as_str().unwrap().to_owned();
    let case_ref_id = case.body["agency_references"][0]["id"].as_str().unwrap().to_owned();
    let second = app.any_victim().await;
    app.post(&cw, &format!("/api/v1/cases/{case_id}/victims"), json!({"hub_ref": second}))
        .await
        .assert_status(StatusCode::CREATED);
    let spare = app.any_victim().await;
    let email = format!("matrix{n}@hub.example");
    let password = "matrix passphrase long enough";
    let user = app
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": email, "name": "M", "role": "caseworker", "team": TEAM, "password": password}),
        )
        .await;
    user.assert_status(StatusCode::CREATED);
    let team = format!("mx-team-{n}");
    app.post(&admin, "/api/v1/teams", json!({"code": team, "name": "Matrix team"}))
        .await
        .assert_status(StatusCode::CREATED);
    let agency = format!("MX-AG-{n}");
    app.post(&admin, "/api/v1/agencies", json!({"code": agency, "name": "Matrix agency", "kind": "other"}))
        .await
        .assert_status(StatusCode::CREATED);
    Fixture {
        victim: hub,
        victim_ref_id,
        urn,
        case_id,
        case_ref_id,
        case_urn,
        second,
        spare,
        user_id: user.body["id"].as_str().unwrap().to_owned(),
        team,
        agency,
        login: json!({"email": email, "password": password}),
        n,
    }
}

fn caller_token(app: &TestApp, caller: &str) -> (String, Option<&'static str>) {
    match caller {
        "cw-own" => (app.caseworker(), None),
        "cw-other" => (app.other_caseworker(), None),
        "sup-own" => (app.supervisor(), None),
        "sup-other" => (app.token(Role::Supervisor, Some(OTHER_TEAM), None), None),
        "liaison-linked" => (app.token(Role::AgencyLiaison, None, Some("TEST-CPS")), None),
        "liaison-unlinked" => (app.token(Role::AgencyLiaison, None, Some("TEST-COURT")), None),
        "analyst" => (app.token(Role::Analyst, None, None), None),
        "admin" => (app.admin(), None),
        _ => (app.admin(), Some("authorisation matrix test")),
    }
}

/// The concrete URL and body for calling `path` against `f`.
async fn request_for(app: &TestApp, method: &str, path: &str, f: &Fixture) -> (String, Option<Value>) {
    // Objects only some operations need are made only for them.
    let outbox_id =
        if path.starts_with("/api/v1/outbox/") { failed_notification(app).await.to_string() } else { String::new() };
    let event_id =
        if path.starts_with("/api/v1/linkage-exceptions/") { queued_event(app).await } else { String::new() };
    let withdrawal_id =
        if path.starts_with("/api/v1/withdrawals/") { pending_withdrawal(app, f).await } else { String::new() };
    let issue_id = if path.starts_with("/api/v1/service-issues/") { issue(app, f).await } else { String::new() };
    let template = path
        .replace("/outbox/{id}", "/outbox/{outbox_id}")
        .replace("/linkage-exceptions/{id}", "/linkage-exceptions/{event_id}")
        .replace("/withdrawals/{id}", "/withdrawals/{withdrawal_id}")
        .replace("/service-issues/{id}", "/service-issues/{issue_id}");
    let url = template
        .replace("{ref}", if path.starts_with("/api/v1/cases/{id}/victims/") { &f.second } else { &f.victim })
        .replace("/agency-references/{id}", &format!("/agency-references/{}", f.victim_ref_id))
        .replace("{ref_id}", &f.case_ref_id)
        .replace("/users/{id}", &format!("/users/{}", f.user_id))
        .replace("{outbox_id}", &outbox_id)
        .replace("{event_id}", &event_id)
        .replace("{withdrawal_id}", &withdrawal_id)
        .replace("{issue_id}", &issue_id)
        .replace("/obligation-rules/{code}", "/obligation-rules/R6_ARREST")
        .replace("{id}", &f.case_id)
        .replace("{class}", "victim_record")
        .replace("/teams/{code}", &format!("/teams/{}", f.team))
        .replace("{code}", &f.agency);
    let url = match path {
        "/api/v1/victims/lookup" => format!("{url}?agency=TEST-CPS&type=cps_urn&value={}", f.urn),
        "/api/v1/cases/lookup" => format!("{url}?agency=TEST-CPS&type=cps_urn&value={}", f.case_urn),
        _ => url,
    };
    let n = f.n;
    let body = match (method, path) {
        ("post", "/api/v1/auth/login") => Some(f.login.clone()),
        ("post", "/api/v1/auth/refresh" | "/api/v1/auth/logout") => {
            let session = app.post("", "/api/v1/auth/login", f.login.clone()).await;
            Some(json!({"refresh_token": session.body["refresh_token"]}))
        }
        ("post", "/api/v1/me/password") => {
            Some(json!({"current_password": "whatever it was", "new_password": "a new long passphrase"}))
        }
        ("post", "/api/v1/users") => Some(
            json!({"email": format!("new{n}-{}@hub.example", uuid::Uuid::new_v4()), "name": "N", "role": "analyst"}),
        ),
        ("post", "/api/v1/users/{id}/password") => Some(json!({"password": "an admin-set passphrase"})),
        ("post", "/api/v1/teams") => Some(
            json!({"code": format!("new-team-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "name": "New"}),
        ),
        ("patch", "/api/v1/users/{id}" | "/api/v1/teams/{code}" | "/api/v1/agencies/{code}") => {
            Some(json!({"name": "Renamed"}))
        }
        ("post", "/api/v1/agencies") => Some(
            json!({"code": format!("NEW-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()), "name": "New", "kind": "other"}),
        ),
        ("patch", "/api/v1/retention-policies/{class}") => Some(json!({"retain_days": 2200})),
        ("post", "/api/v1/retention/runs") => Some(json!({"dry_run": true})),
        ("post", "/api/v1/victims") => {
            Some(json!({"given_name": "Created", "family_name": format!("ByMatrix{}", uuid::Uuid::new_v4().simple())}))
        }
        ("patch", "/api/v1/victims/{ref}") => Some(json!({"preferred_name": "Mx"})),
        ("post", "/api/v1/victims/{ref}/merge") => Some(json!({"duplicate": f.spare, "reason": "matrix"})),
        ("post", "/api/v1/victims/{ref}/agency-references") => Some(
            json!({"agency": FORCE, "type": "crime_reference", "value": format!("MX-V-{}", uuid::Uuid::new_v4().simple())}),
        ),
        ("post", "/api/v1/victims/{ref}/legal-hold") => Some(json!({"reason": "matrix"})),
        ("post", "/api/v1/victims/{ref}/cases") => {
            Some(json!({"offence_group": "arson", "date_reported": "2026-11-02"}))
        }
        ("patch", "/api/v1/cases/{id}") => Some(json!({"location_type": "online"})),
        ("post", "/api/v1/cases/{id}/victims") => Some(json!({"hub_ref": f.spare})),
        ("post", "/api/v1/cases/{id}/agency-references") => Some(
            json!({"agency": FORCE, "type": "crime_reference", "value": format!("MX-C-{}", uuid::Uuid::new_v4().simple())}),
        ),
        ("post", "/api/v1/victims/{ref}/contacts") => Some(
            json!({"occurred_at": "2026-11-13T10:00:00Z", "channel": "phone", "outcome": "reached", "kind": "routine_update"}),
        ),
        ("put", "/api/v1/victims/{ref}/contact-plan") => Some(json!({"interval_days": 14})),
        ("post", "/api/v1/victims/{ref}/key-events") => {
            Some(json!({"event": "arrest", "occurred_at": "2026-11-13T10:00:00Z"}))
        }
        ("post", "/api/v1/obligation-rules") => Some(json!({
            "code": format!("MX_{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()),
            "code_ref": "R6", "trigger_event": "matrix_event", "description": "Matrix rule",
            "responsible": "police_force", "working_days_standard": 5, "working_days_enhanced": 1,
            "clock_starts": "event", "key_decision": true, "active": true
        })),
        ("patch", "/api/v1/obligation-rules/{code}") => {
            Some(json!({"description": "Tell the victim a suspect was arrested"}))
        }
        ("put", "/api/v1/bank-holidays") => Some(json!({
            "division": "england-and-wales",
            "events": [{"date": "2026-12-25", "title": "Christmas Day"}, {"date": "2026-12-28", "title": "Boxing Day"}]
        })),
        ("post", "/api/v1/reminders/runs") => Some(json!({})),
        ("post", "/api/v1/journey-events") => Some(json!({"events": [{
            "source_agency": "TEST-CPS", "source_event_id": uuid::Uuid::new_v4().to_string(), "event_type": "CPS_PRECHARGE",
            "occurred_at": "2026-11-13T10:00:00Z", "case": {"agency": "TEST-CPS", "type": "cps_urn", "value": f.case_urn}
        }]})),
        ("post", "/api/v1/linkage-exceptions/{id}/resolve") => Some(json!({"case_id": f.case_id})),
        ("post", "/api/v1/cases/{id}/withdrawals") => Some(
            json!({"victim": f.victim, "withdrawn_on": "2026-11-13", "reasons": ["delay"], "confirmed_with_victim": false}),
        ),
        ("post", "/api/v1/withdrawals/{id}/review") => Some(json!({"decision": "approved"})),
        ("post", "/api/v1/service-issues") => Some(
            json!({"victim": f.victim, "category": "no_update", "description": "No update for weeks", "severity": "high"}),
        ),
        ("patch", "/api/v1/service-issues/{id}") => Some(json!({"withdrawal_risk": true})),
        ("post", "/api/v1/service-issues/{id}/transitions") => Some(json!({"to": "in_progress"})),
        ("post", "/api/v1/service-issues/{id}/actions") => Some(json!({"kind": "note", "note": "Matrix"})),
        ("post", "/api/v1/service-issue-categories") => Some(
            json!({"code": format!("mx_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "name": "Matrix category"}),
        ),
        _ => None,
    };
    (url, body)
}

/// An agency event that matched no case.
async fn queued_event(app: &TestApp) -> String {
    let e = json!({"events": [{"source_agency": FORCE, "source_event_id": uuid::Uuid::new_v4().to_string(), "event_type": "REPORTED",
        "occurred_at": "2026-11-01T10:00:00Z", "case": {"agency": FORCE, "type": "crime_reference", "value": "CR-NOWHERE"}}]});
    let r = app.post(&app.admin(), "/api/v1/journey-events", e).await;
    r.assert_status(StatusCode::OK);
    r.body["events"][0]["id"].as_str().unwrap().to_owned()
}

/// A service issue on the fixture's victim.
async fn issue(app: &TestApp, f: &Fixture) -> String {
    let r = app
        .post(
            &app.caseworker(),
            "/api/v1/service-issues",
            json!({"victim": f.victim, "category": "no_update", "description": "Matrix", "severity": "low"}),
        )
        .await;
    r.assert_status(StatusCode::CREATED);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A withdrawal awaiting review on the fixture's case.
async fn pending_withdrawal(app: &TestApp, f: &Fixture) -> String {
    let r = app
        .post(&app.caseworker(), &format!("/api/v1/cases/{}/withdrawals", f.case_id), json!({"victim": f.victim, "withdrawn_on": "2026-11-02", "reasons": ["delay"], "confirmed_with_victim": true}))
        .await;
    r.assert_status(StatusCode::CREATED);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A notification parked as failed, for the retry endpoint.
async fn failed_notification(app: &TestApp) -> uuid::Uuid {
    use sea_orm::{ActiveModelTrait, Set};
    let id = uuid::Uuid::now_v7();
    let tx = app.state.db.begin_write().await.unwrap();
    care_hub::entities::outbox::ActiveModel {
        id: Set(id),
        dedupe_key: Set(format!("matrix|{id}")),
        kind: Set("daily_digest".into()),
        recipient: Set("someone@hub.example".into()),
        subject: Set("s".into()),
        body: Set("b".into()),
        status: Set(care_hub::vocab::OutboxStatus::Failed),
        attempts: Set(8),
        next_attempt_at: Set(start_time()),
        lease_until: Set(None),
        last_error: Set(Some("550 no such user".into())),
        created_at: Set(start_time()),
        sent_at: Set(None),
        ..Default::default()
    }
    .insert(&*tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

db_test!(every_operation_answers_every_caller_as_the_matrix_says, |app: TestApp| async move {
    // The table covers the document exactly.
    let spec = serde_json::to_value(care_hub::app::openapi_doc()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> =
        MATRIX.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(unlisted.is_empty(), "operations missing from the authorisation matrix: {unlisted:?}");
    assert!(stale.is_empty(), "matrix rows for operations that no longer exist: {stale:?}");

    let shared = fixture(&app, 0).await;
    let mut n = 1;
    let mut failures = Vec::new();
    for (method, path, expected) in MATRIX {
        let expected: Vec<u16> = expected.split_whitespace().map(|s| s.parse().unwrap()).collect();
        assert_eq!(expected.len(), CALLERS.len(), "{method} {path}");
        for (caller, want) in CALLERS.iter().zip(expected) {
            // Reads share one fixture; anything that may change state gets its own.
            let fresh;
            let f = if *method == "get" {
                &shared
            } else {
                fresh = fixture(&app, n).await;
                n += 1;
                &fresh
            };
            let (url, body) = request_for(&app, method, path, f).await;
            let (token, reason) = caller_token(&app, caller);
            let mut req = Request::builder()
                .method(method.to_uppercase().parse::<Method>().unwrap())
                .uri(&url)
                .header("authorization", format!("Bearer {token}"));
            if let Some(r) = reason {
                req = req.header("x-access-reason", r);
            }
            if *method == "patch" || *method == "put" || path.ends_with("/transitions") {
                // The current version, as the caller would have read it.
                let current = app
                    .get_with_reason(&app.admin(), url.trim_end_matches("/transitions"), "matrix: read the version")
                    .await;
                let version = current.header("etag").map_or_else(|| "\"1\"".to_owned(), str::to_owned);
                req = req.header("if-match", version);
            }
            let req = match body {
                Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
                None => req.body(Body::empty()).unwrap(),
            };
            let r = app.send(req).await;
            if r.status.as_u16() != want {
                failures.push(format!(
                    "{method} {path} as {caller}: expected {want}, got {} {}",
                    r.status.as_u16(),
                    r.text.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} calls differ from the matrix:\n{}",
        failures.len(),
        MATRIX.len() * CALLERS.len(),
        failures.join("\n")
    );
});
