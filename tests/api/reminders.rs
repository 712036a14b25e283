//! Reminder jobs end to end: the due scan queues escalations and digests once however often and
//! however many scanners run; dispatchers deliver each to a real SMTP server on loopback once,
//! retry while it is down, and park what it refuses for an admin.
use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use care_hub::mail::Mailer;
use care_hub::reminders::{dispatch, scan};
use chrono::Utc;
use serde_json::{Value, json};

use crate::common::smtp::{Mode, SmtpSink};
use crate::common::*;
use crate::db_test;

fn at(s: &str) -> chrono::DateTime<Utc> {
    s.parse().unwrap()
}

fn mailer(app: &TestApp, sink: &SmtpSink) -> Mailer {
    let r = &app.state.config.reminders;
    Mailer::from_url(&sink.url(), &r.mail_from, "care-hub.test", Duration::from_secs(5)).unwrap()
}

async fn drain(app: &TestApp, mailer: &Mailer) -> dispatch::DispatchReport {
    dispatch::drain(&app.state.db, mailer, &app.state.config.reminders, &*app.clock).await.unwrap()
}

async fn user(app: &TestApp, email: &str, role: &str) -> String {
    let r = app
        .post(&app.admin(), "/api/v1/users", json!({"email": email, "name": "Hub User", "role": role, "team": TEAM}))
        .await;
    r.assert_status(StatusCode::CREATED);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn victim(app: &TestApp, given: &str, family: &str, caseworker: Option<&str>) -> String {
    let r = app.victim(json!({"given_name": given, "family_name": family, "assigned_caseworker": caseworker})).await;
    r.body["hub_ref"].as_str().unwrap().to_owned()
}

async fn run_scan(app: &TestApp) -> Value {
    let r = app.post(&app.admin(), "/api/v1/reminders/runs", json!({})).await;
    r.assert_status(StatusCode::OK);
    r.body
}

async fn outbox(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&app.admin(), &format!("/api/v1/outbox?limit=200{query}")).await;
    r.assert_status(StatusCode::OK);
    r.body["items"].as_array().unwrap().clone()
}

db_test!(the_scan_queues_each_notice_once_and_the_emails_hold_no_names, |app: TestApp| async move {
    let cw = user(&app, "casey.worker@hub.example", "caseworker").await;
    user(&app, "sam.supervisor@hub.example", "supervisor").await;
    let overdue = victim(&app, "Zebedee", "Quartermain", Some(&cw)).await;
    let soon = victim(&app, "Ottoline", "Brackenbury", Some("casey.worker@hub.example")).await;
    let unassigned = victim(&app, "Peregrine", "Fothergill", None).await;
    // 10 December: Brackenbury updated and an arrest recorded; nobody tells them of it.
    app.clock.set(at("2026-12-10T12:00:00Z"));
    app.post(&app.caseworker(), &format!("/api/v1/victims/{soon}/contacts"), json!({"occurred_at": "2026-12-10T10:00:00Z", "channel": "phone", "outcome": "reached", "kind": "routine_update"}))
        .await
        .assert_status(StatusCode::CREATED);
    app.post(
        &app.caseworker(),
        &format!("/api/v1/victims/{soon}/key-events"),
        json!({"event": "arrest", "occurred_at": "2026-12-10T09:00:00Z"}),
    )
    .await
    .assert_status(StatusCode::CREATED);

    // 5 January, 06:30 London: escalations go, the digest waits for 07:00.
    app.clock.set(at("2027-01-05T06:30:00Z"));
    let early = run_scan(&app).await;
    assert_eq!(early["overdue_victims"], 2, "{early}");
    assert_eq!(early["breached_obligations"], 1);
    assert_eq!(early["escalations_queued"], 3);
    assert_eq!(early["digest_due"], false);
    assert_eq!(early["digests_queued"], 0);
    // 07:05: one digest for the caseworker, one for the supervisor (the unassigned victim).
    app.clock.set(at("2027-01-05T07:05:00Z"));
    let digest = run_scan(&app).await;
    assert_eq!(digest["escalations_queued"], 0);
    assert_eq!(digest["digests_queued"], 2);
    // Scans that run again queue nothing new.
    let again = run_scan(&app).await;
    assert_eq!((again["escalations_queued"].as_u64(), again["digests_queued"].as_u64()), (Some(0), Some(0)));
    let queued = outbox(&app, "&status=pending").await;
    assert_eq!(queued.len(), 5);

    let sink = SmtpSink::start().await;
    let report = drain(&app, &mailer(&app, &sink)).await;
    assert_eq!((report.sent, report.retrying, report.failed), (5, 0, 0));
    let messages = sink.wait_for(5, Duration::from_secs(5)).await;
    assert_eq!(messages.len(), 5);
    for m in &messages {
        let text = format!("{}{}", m.data, m.body());
        for name in ["Zebedee", "Quartermain", "Ottoline", "Brackenbury", "Peregrine", "Fothergill"] {
            assert!(!text.contains(name), "an email names a victim: {text}");
        }
        assert!(m.header("message-id").unwrap().ends_with("@care-hub.test>"));
    }
    let to = |who: &str| messages.iter().filter(|m| m.to == [who.to_owned()]).collect::<Vec<_>>();
    let casey = to("casey.worker@hub.example");
    assert_eq!(casey.len(), 1, "the caseworker's digest");
    let body = casey[0].body();
    assert!(body.contains(&overdue) && body.contains(&soon) && body.contains("R6_ARREST"), "{body}");
    assert!(!body.contains(&unassigned));
    let sam = to("sam.supervisor@hub.example");
    assert_eq!(sam.len(), 4, "three escalations and a digest");
    let subjects: BTreeSet<String> = sam.iter().map(|m| m.header("subject").unwrap()).collect();
    assert!(subjects.iter().any(|s| s.contains("update overdue") && s.contains(&unassigned)), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("deadline missed") && s.contains(&soon)), "{subjects:?}");
    // Each message's Message-ID is its outbox row's.
    let sent = outbox(&app, "&status=sent").await;
    assert_eq!(sent.len(), 5);
    let ids: BTreeSet<String> = sent.iter().map(|r| format!("<{}@care-hub.test>", r["id"].as_str().unwrap())).collect();
    let got: BTreeSet<String> = messages.iter().map(|m| m.header("message-id").unwrap()).collect();
    assert_eq!(ids, got);
    // Nothing is left to send.
    assert_eq!(drain(&app, &mailer(&app, &sink)).await.sent, 0);
});

db_test!(smtp_down_then_up_delivers_everything_once, |app: TestApp| async move {
    user(&app, "sam.supervisor@hub.example", "supervisor").await;
    let mut refs = Vec::new();
    for i in 0..12 {
        refs.push(victim(&app, "Down", &format!("Then Up {i}"), None).await);
    }
    app.clock.set(at("2027-01-05T06:00:00Z"));
    assert_eq!(run_scan(&app).await["escalations_queued"], 12);
    let sink = SmtpSink::start().await;
    let mailer = mailer(&app, &sink);
    sink.stop().await;
    let down = drain(&app, &mailer).await;
    assert_eq!((down.sent, down.retrying, down.failed), (0, 12, 0));
    let pending = outbox(&app, "&status=pending").await;
    assert!(pending.iter().all(|r| r["attempts"] == 1 && r["last_error"].is_string()));
    // Back up, but the retry is not due yet: nothing goes.
    sink.restart().await;
    assert_eq!(drain(&app, &mailer).await.sent, 0);
    // After the back-off everything goes, once.
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(drain(&app, &mailer).await.sent, 12);
    let messages = sink.wait_for(12, Duration::from_secs(5)).await;
    let ids: BTreeSet<String> = messages.iter().map(|m| m.header("message-id").unwrap()).collect();
    assert_eq!((messages.len(), ids.len()), (12, 12));
    assert_eq!(drain(&app, &mailer).await.sent, 0);
});

db_test!(a_refused_message_is_parked_for_an_admin_to_retry, |app: TestApp| async move {
    user(&app, "sam.supervisor@hub.example", "supervisor").await;
    victim(&app, "Refused", "Once", None).await;
    app.clock.set(at("2027-01-05T06:00:00Z"));
    run_scan(&app).await;
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::RejectPermanently);
    let mailer = mailer(&app, &sink);
    assert_eq!(drain(&app, &mailer).await.failed, 1);
    let failed = outbox(&app, "&status=failed").await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["last_error"].as_str().unwrap().contains("550"));
    let id = failed[0]["id"].as_str().unwrap();
    // Only a failed one can be retried.
    let retried = app.post(&app.admin(), &format!("/api/v1/outbox/{id}/retry"), json!(null)).await;
    retried.assert_status(StatusCode::OK);
    assert_eq!(retried.body["status"], "pending");
    app.post(&app.admin(), &format!("/api/v1/outbox/{id}/retry"), json!(null))
        .await
        .assert_problem(StatusCode::CONFLICT, "not-failed");
    sink.set_mode(Mode::Accept);
    assert_eq!(drain(&app, &mailer).await.sent, 1);
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await.len(), 1);
    // Out of attempts is the same as refused: a temporary failure every time ends up parked.
    assert_eq!(outbox(&app, "&status=failed").await.len(), 0);
});

db_test!(two_scanners_and_two_dispatchers_deliver_each_notice_once, |app: TestApp| async move {
    user(&app, "sam.supervisor@hub.example", "supervisor").await;
    user(&app, "sky.supervisor@hub.example", "supervisor").await;
    let cw = user(&app, "casey.worker@hub.example", "caseworker").await;
    for i in 0..40 {
        victim(&app, "Many", &format!("Overdue {i}"), if i % 2 == 0 { Some(cw.as_str()) } else { None }).await;
    }
    app.clock.set(at("2027-01-05T08:00:00Z"));
    let sink = SmtpSink::start().await;
    let mailer = mailer(&app, &sink);
    let (config, now) = (&app.state.config, app.clock.now_utc());
    let db = &app.state.db;
    // Scanners and dispatchers all at once; dispatchers keep going until the scanners are done
    // and nothing is left.
    let scanners = async {
        let (a, b) = tokio::join!(scan::run(db, config, now), scan::run(db, config, now));
        a.unwrap().escalations_queued + b.unwrap().escalations_queued
    };
    let dispatcher = || async {
        let mut sent = 0;
        for _ in 0..20 {
            sent += drain(&app, &mailer).await.sent;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sent
    };
    let (escalations, sent_a, sent_b) = tokio::join!(scanners, dispatcher(), dispatcher());
    // 40 victims overdue, two supervisors: 80 escalations; digests for the caseworker and both supervisors.
    assert_eq!(escalations, 80);
    let rows = outbox(&app, "").await;
    assert_eq!(rows.len(), 83);
    assert!(rows.iter().all(|r| r["status"] == "sent"), "{rows:?}");
    assert_eq!(sent_a + sent_b, 83);
    let messages = sink.wait_for(83, Duration::from_secs(5)).await;
    let ids: BTreeSet<String> = messages.iter().map(|m| m.header("message-id").unwrap()).collect();
    assert_eq!((messages.len(), ids.len()), (83, 83), "each notice delivered exactly once");
});
