//! Service recovery: the workflow (every transition allowed and refused), SLA targets in working
//! days, bad input, If-Match, automatic issues opened once, escalation emailed once.
use std::time::Duration;

use axum::http::{Method, StatusCode};
use care_hub::mail::Mailer;
use chrono::Utc;
use serde_json::{Value, json};

use crate::common::smtp::SmtpSink;
use crate::common::*;
use crate::db_test;

const STATES: [&str; 5] = ["open", "in_progress", "escalated", "resolved", "closed"];

fn allowed(from: &str) -> &'static [&'static str] {
    match from {
        "open" => &["in_progress", "escalated", "resolved"],
        "in_progress" => &["escalated", "resolved"],
        "escalated" => &["in_progress", "resolved"],
        "resolved" => &["closed", "open"],
        _ => &["open"],
    }
}

fn at(s: &str) -> chrono::DateTime<Utc> {
    s.parse().unwrap()
}

async fn open_issue(app: &TestApp, hub: &str, severity: &str) -> TestResponse {
    let r = app
        .post(&app.caseworker(), "/api/v1/service-issues", json!({"victim": hub, "category": "wrong_or_changed_information", "description": "Given the wrong trial date", "severity": severity, "owner_agency": FORCE, "withdrawal_risk": true, "code_right": 8}))
        .await;
    r.assert_status(StatusCode::CREATED);
    r
}

async fn move_to(app: &TestApp, id: &str, etag: &str, to: &str) -> TestResponse {
    let mut body = json!({"to": to, "note": format!("to {to}")});
    if to == "resolved" {
        body["resolution"] = json!({"outcome": "resolved", "victim_stayed_engaged": true});
    }
    app.call(
        Method::POST,
        &format!("/api/v1/service-issues/{id}/transitions"),
        &app.caseworker(),
        Some(body),
        &[("if-match", etag)],
    )
    .await
}

/// A new issue walked to `state`; returns (id, etag).
async fn issue_in(app: &TestApp, hub: &str, state: &str) -> (String, String) {
    let r = open_issue(app, hub, "medium").await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mut etag = r.etag();
    let path: &[&str] = match state {
        "open" => &[],
        "in_progress" => &["in_progress"],
        "escalated" => &["escalated"],
        "resolved" => &["resolved"],
        _ => &["resolved", "closed"],
    };
    for step in path {
        let m = move_to(app, &id, &etag, step).await;
        m.assert_status(StatusCode::OK);
        etag = m.etag();
    }
    (id, etag)
}

db_test!(every_transition_is_allowed_or_refused_as_the_workflow_says, |app: TestApp| async move {
    let hub = app.any_victim().await;
    for from in STATES {
        for to in STATES {
            let (id, etag) = issue_in(&app, &hub, from).await;
            let r = move_to(&app, &id, &etag, to).await;
            if allowed(from).contains(&to) {
                r.assert_status(StatusCode::OK);
                assert_eq!(r.body["status"], to, "{from} -> {to}");
                let log = &r.body["actions"];
                let last = &log[log.as_array().unwrap().len() - 1];
                assert_eq!((last["from_status"].as_str(), last["to_status"].as_str()), (Some(from), Some(to)));
            } else {
                r.assert_problem(StatusCode::CONFLICT, "invalid-transition");
                let listed: Vec<&str> =
                    r.body["allowed"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
                assert_eq!(listed, allowed(from), "{from} -> {to}");
                let current = app.get(&app.caseworker(), &format!("/api/v1/service-issues/{id}")).await;
                assert_eq!(current.body["status"], from, "a refused move changes nothing");
            }
        }
    }
    // Reopening clears the resolution.
    let (id, etag) = issue_in(&app, &hub, "closed").await;
    let reopened = move_to(&app, &id, &etag, "open").await;
    assert_eq!(reopened.body["resolution_outcome"], Value::Null);
    assert_eq!(reopened.body["closed_at"], Value::Null);
});

db_test!(targets_are_working_days_from_severity, |app: TestApp| async move {
    let hub = app.any_victim().await;
    // Christmas Eve 2026, a Thursday: Christmas, a weekend, Boxing Day's substitute, then New Year.
    app.clock.set(at("2026-12-24T10:00:00Z"));
    for (severity, target) in
        [("critical", "2026-12-29"), ("high", "2026-12-31"), ("medium", "2027-01-05"), ("low", "2027-01-12")]
    {
        let r = open_issue(&app, &hub, severity).await;
        assert_eq!(r.body["target_on"], target, "{severity}");
        assert_eq!(r.body["overdue"], false);
    }
    // Raising the severity moves the target.
    let r = open_issue(&app, &hub, "low").await;
    let id = r.body["id"].as_str().unwrap();
    let p = app
        .patch(&app.caseworker(), &format!("/api/v1/service-issues/{id}"), &r.etag(), json!({"severity": "critical"}))
        .await;
    p.assert_status(StatusCode::OK);
    assert_eq!(p.body["target_on"], "2026-12-29");
    app.clock.set(at("2026-12-30T10:00:00Z"));
    assert_eq!(app.get(&app.caseworker(), &format!("/api/v1/service-issues/{id}")).await.body["overdue"], true);
    let overdue = app.get(&app.caseworker(), "/api/v1/service-issues?overdue=true").await;
    let ids: Vec<&str> = overdue.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&id) && ids.len() == 2, "{ids:?}");
});

db_test!(bad_input_and_stale_writes_change_nothing, |app: TestApp| async move {
    let hub = app.any_victim().await;
    let unknown = app
        .post(
            &app.caseworker(),
            "/api/v1/service-issues",
            json!({"victim": hub, "category": "cosmic_rays", "description": "x", "severity": "low"}),
        )
        .await;
    assert_eq!(unknown.fields(), ["/category"]);
    let bad_right = app
        .post(
            &app.caseworker(),
            "/api/v1/service-issues",
            json!({"victim": hub, "category": "other", "description": "x", "severity": "low", "code_right": 13}),
        )
        .await;
    assert_eq!(bad_right.fields(), ["/code_right"]);
    assert_eq!(app.get(&app.caseworker(), "/api/v1/service-issues").await.body["items"].as_array().unwrap().len(), 0);

    let r = open_issue(&app, &hub, "high").await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let url = format!("/api/v1/service-issues/{id}/transitions");
    let cw = app.caseworker();
    let limbo = app.call(Method::POST, &url, &cw, Some(json!({"to": "limbo"})), &[("if-match", &r.etag())]).await;
    assert_eq!(limbo.fields(), ["/to"]);
    let no_outcome =
        app.call(Method::POST, &url, &cw, Some(json!({"to": "resolved"})), &[("if-match", &r.etag())]).await;
    assert_eq!(no_outcome.fields(), ["/resolution"]);
    assert_eq!(
        app.call(Method::POST, &url, &cw, Some(json!({"to": "in_progress"})), &[]).await.status,
        StatusCode::PRECONDITION_REQUIRED
    );
    let moved = move_to(&app, &id, &r.etag(), "in_progress").await;
    moved.assert_status(StatusCode::OK);
    // A second writer who read the old version loses.
    assert_eq!(move_to(&app, &id, &r.etag(), "escalated").await.status, StatusCode::PRECONDITION_FAILED);
    let stale_patch =
        app.patch(&cw, &format!("/api/v1/service-issues/{id}"), &r.etag(), json!({"severity": "low"})).await;
    assert_eq!(stale_patch.status, StatusCode::PRECONDITION_FAILED);
    let now = app.get(&cw, &format!("/api/v1/service-issues/{id}")).await;
    assert_eq!((now.body["status"].as_str(), now.body["severity"].as_str()), (Some("in_progress"), Some("high")));
    assert_eq!(now.body["actions"].as_array().unwrap().len(), 2, "opened, then one transition");
    // A formal complaint gets its own 10-working-day acknowledgement deadline.
    let resolved = app
        .call(Method::POST, &url, &cw, Some(json!({"to": "resolved", "resolution": {"outcome": "partly_resolved", "victim_stayed_engaged": false, "complaint_reference": "PSD-2026-0091"}})), &[("if-match", &now.etag())])
        .await;
    resolved.assert_status(StatusCode::OK);
    assert_eq!(resolved.body["complaint_ack_due"], "2026-11-30");
    // Actions are logged; another team sees none of it.
    let action = app
        .post(
            &cw,
            &format!("/api/v1/service-issues/{id}/actions"),
            json!({"kind": "agency_chased", "note": "Emailed the listing office"}),
        )
        .await;
    action.assert_status(StatusCode::CREATED);
    assert_eq!(
        app.get(&app.other_caseworker(), &format!("/api/v1/service-issues/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&app.other_caseworker(), "/api/v1/service-issues").await.body["items"].as_array().unwrap().len(),
        0
    );
});

db_test!(automatic_issues_open_once_and_escalate_once_by_email, |app: TestApp| async move {
    let admin = app.admin();
    app.post(
        &admin,
        "/api/v1/users",
        json!({"email": "sam.supervisor@hub.example", "name": "Sam", "role": "supervisor", "team": TEAM}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let agency = app.get(&admin, &format!("/api/v1/agencies/{FORCE}")).await;
    app.patch(
        &admin,
        &format!("/api/v1/agencies/{FORCE}"),
        &agency.etag(),
        json!({"liaison_email": "victim.liaison@police.example"}),
    )
    .await
    .assert_status(StatusCode::OK);
    let quiet = app.any_victim().await;
    let arrested = app.any_victim().await;
    app.clock.set(at("2026-11-20T10:00:00Z"));
    app.post(&app.caseworker(), &format!("/api/v1/victims/{arrested}/contacts"), json!({"occurred_at": "2026-11-20T09:00:00Z", "channel": "phone", "outcome": "reached", "kind": "routine_update"})).await.assert_status(StatusCode::CREATED);
    app.post(
        &app.caseworker(),
        &format!("/api/v1/victims/{arrested}/key-events"),
        json!({"event": "arrest", "occurred_at": "2026-11-19T09:00:00Z"}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let manual = open_issue(&app, &arrested, "critical").await;

    // 23 December: the quiet victim is 9 days overdue; the arrest was never passed on.
    app.clock.set(at("2026-12-23T06:00:00Z"));
    let scan = app.post(&app.admin(), "/api/v1/reminders/runs", json!({})).await;
    scan.assert_status(StatusCode::OK);
    assert_eq!(scan.body["issues_opened"], 2, "{}", scan.body);
    assert_eq!(scan.body["issues_escalated"], 1, "the manual critical issue is past its target");
    let again = app.post(&app.admin(), "/api/v1/reminders/runs", json!({})).await;
    assert_eq!((again.body["issues_opened"].as_u64(), again.body["issues_escalated"].as_u64()), (Some(0), Some(0)));
    let list = app.get(&app.supervisor(), "/api/v1/service-issues?limit=50").await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let auto: Vec<&Value> = items.iter().filter(|i| i["raised_by"] == "automatic").collect();
    let cats: std::collections::BTreeSet<&str> = auto.iter().map(|i| i["category"].as_str().unwrap()).collect();
    assert_eq!(cats, ["no_update", "victims_code_deadline_missed"].into_iter().collect());
    assert!(auto.iter().any(|i| i["victim"] == quiet.as_str()));
    let escalated =
        app.get(&app.caseworker(), &format!("/api/v1/service-issues/{}", manual.body["id"].as_str().unwrap())).await;
    assert_eq!(escalated.body["status"], "escalated");

    // The automatic ones escalate once when their own target passes (high: 3 working days).
    app.clock.set(at("2027-01-05T06:00:00Z"));
    let later = app.post(&app.admin(), "/api/v1/reminders/runs", json!({})).await;
    assert_eq!(later.body["issues_escalated"], 2, "{}", later.body);
    assert_eq!(app.post(&app.admin(), "/api/v1/reminders/runs", json!({})).await.body["issues_escalated"], 0);

    let sink = SmtpSink::start().await;
    let mailer =
        Mailer::from_url(&sink.url(), &app.state.config.reminders.mail_from, "care-hub.test", Duration::from_secs(5))
            .unwrap();
    care_hub::reminders::dispatch::drain(&app.state.db, &mailer, &app.state.config.reminders, &*app.clock)
        .await
        .unwrap();
    let messages = sink.messages();
    let escalations: Vec<_> =
        messages.iter().filter(|m| m.header("subject").unwrap().contains("service issue past its target")).collect();
    // The manual issue (owned by the force): supervisor and liaison; the two automatic ones: supervisor.
    assert_eq!(
        escalations.len(),
        4,
        "{:?}",
        escalations.iter().map(|m| (&m.to, m.header("subject"))).collect::<Vec<_>>()
    );
    assert_eq!(escalations.iter().filter(|m| m.to == ["victim.liaison@police.example".to_owned()]).count(), 1);

    // The report counts them; analysts get small numbers withheld.
    let report = app.get(&app.supervisor(), "/api/v1/reports/service-recovery?from=2026-11-01&to=2027-01-31").await;
    report.assert_status(StatusCode::OK);
    // Three by 23 December, and on 5 January the other victim's update was overdue too.
    assert_eq!(report.body["overall"]["issues"], 4);
    let analyst = app
        .get(
            &app.token(care_hub::vocab::Role::Analyst, None, None),
            "/api/v1/reports/service-recovery?from=2026-11-01&to=2027-01-31",
        )
        .await;
    assert_eq!(analyst.body["overall"]["issues"], Value::Null);
    assert_eq!(analyst.body["overall"]["suppressed"], true);
});
