//! Contact log, contact plans, the 28-day clock, Victims' Code obligations in working days, due
//! work and the compliance report, with the clock moved by the test.
use axum::http::{Method, StatusCode};
use chrono::Utc;
use serde_json::{Value, json};

use crate::common::*;
use crate::db_test;

fn at(s: &str) -> chrono::DateTime<Utc> {
    s.parse().unwrap()
}

async fn plan(app: &TestApp, hub: &str) -> TestResponse {
    let r = app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}/contact-plan")).await;
    r.assert_status(StatusCode::OK);
    r
}

async fn put_plan(app: &TestApp, hub: &str, etag: &str, body: Value) -> TestResponse {
    app.call(
        Method::PUT,
        &format!("/api/v1/victims/{hub}/contact-plan"),
        &app.caseworker(),
        Some(body),
        &[("if-match", etag)],
    )
    .await
}

async fn contact(app: &TestApp, hub: &str, when: &str, outcome: &str, kind: &str) -> TestResponse {
    app.post(
        &app.caseworker(),
        &format!("/api/v1/victims/{hub}/contacts"),
        json!({"occurred_at": when, "channel": "phone", "outcome": outcome, "kind": kind}),
    )
    .await
}

async fn new_victim(app: &TestApp, extra: Value) -> String {
    let mut body = json!({"given_name": "Casey", "family_name": format!("Example{}", uuid::Uuid::new_v4().simple())});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    app.victim(body).await.body["hub_ref"].as_str().unwrap().to_owned()
}

db_test!(only_a_reached_update_resets_the_28_day_clock, |app: TestApp| async move {
    // Taken on on Monday 16 November: the first update is due 28 days later.
    let hub = new_victim(&app, json!({})).await;
    let p = plan(&app, &hub).await;
    assert_eq!(p.header("etag"), Some("\"0\""));
    assert_eq!(p.body["agreed"], false);
    assert_eq!(p.body["interval_days"], 28);
    assert_eq!(p.body["next_due_on"], "2026-12-14");
    assert_eq!(p.body["status"], "on_track");

    // Attempts are kept and counted but move nothing.
    app.clock.set(at("2026-11-20T12:00:00Z"));
    contact(&app, &hub, "2026-11-20T10:00:00Z", "attempted_no_answer", "routine_update")
        .await
        .assert_status(StatusCode::CREATED);
    contact(&app, &hub, "2026-11-20T11:00:00Z", "left_message", "routine_update")
        .await
        .assert_status(StatusCode::CREATED);
    // A reached contact that is not an update (needs review) does not reset it either.
    contact(&app, &hub, "2026-11-20T11:30:00Z", "reached", "needs_review").await.assert_status(StatusCode::CREATED);
    let p = plan(&app, &hub).await;
    assert_eq!(p.body["next_due_on"], "2026-12-14");
    assert_eq!(p.body["attempts_since_last_update"], 2);

    // A reached routine update does.
    let c = contact(&app, &hub, "2026-11-20T11:45:00Z", "reached", "routine_update").await;
    c.assert_status(StatusCode::CREATED);
    assert_eq!(c.body["counts_as_update"], true);
    assert_eq!(c.header("location"), Some(format!("/api/v1/victims/{hub}/contacts").as_str()));
    let p = plan(&app, &hub).await;
    assert_eq!(p.body["next_due_on"], "2026-12-18");
    assert_eq!(p.body["attempts_since_last_update"], 0);

    // Due soon three days ahead, overdue the day after the due date.
    app.clock.set(at("2026-12-14T09:00:00Z"));
    assert_eq!(plan(&app, &hub).await.body["status"], "on_track");
    app.clock.set(at("2026-12-15T09:00:00Z"));
    assert_eq!(plan(&app, &hub).await.body["status"], "due_soon");
    app.clock.set(at("2026-12-18T22:00:00Z"));
    assert_eq!(plan(&app, &hub).await.body["status"], "due_soon", "still the 18th in London");
    app.clock.set(at("2026-12-19T00:30:00Z"));
    assert_eq!(plan(&app, &hub).await.body["status"], "overdue");

    // The log lists everything, newest first.
    let log = app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}/contacts")).await;
    log.assert_status(StatusCode::OK);
    let outcomes: Vec<&str> =
        log.body["items"].as_array().unwrap().iter().map(|c| c["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["reached", "reached", "left_message", "attempted_no_answer"]);
});

db_test!(bad_contacts_are_refused_naming_the_field, |app: TestApp| async move {
    let hub = new_victim(&app, json!({})).await;
    let url = format!("/api/v1/victims/{hub}/contacts");
    let cw = app.caseworker();
    let future = app.post(&cw, &url, json!({"occurred_at": "2027-01-01T00:00:00Z", "channel": "phone", "outcome": "reached", "kind": "routine_update"})).await;
    future.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(future.fields(), ["/occurred_at"]);
    let bad_channel = app.post(&cw, &url, json!({"occurred_at": "2026-11-13T10:00:00Z", "channel": "pigeon", "outcome": "reached", "kind": "routine_update"})).await;
    assert_eq!(bad_channel.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_channel.fields(), ["/channel"]);
    let unknown = app.post(&cw, &url, json!({"occurred_at": "2026-11-13T10:00:00Z", "channel": "phone", "outcome": "reached", "kind": "routine_update", "mood": "ok"})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.fields(), ["/mood"]);
    let not_reached = app.post(&cw, &url, json!({"occurred_at": "2026-11-13T10:00:00Z", "channel": "phone", "outcome": "attempted_no_answer", "kind": "key_decision", "discharges": [uuid::Uuid::now_v7()]})).await;
    assert_eq!(not_reached.fields(), ["/discharges"]);
    let stranger = app.post(&cw, &url, json!({"occurred_at": "2026-11-13T10:00:00Z", "channel": "phone", "outcome": "reached", "kind": "key_decision", "discharges": [uuid::Uuid::now_v7()]})).await;
    assert_eq!(stranger.fields(), ["/discharges/0"]);
    // Nothing was written by any of them.
    let log = app.get(&cw, &url).await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 0);
    // Another team cannot record contacts for this victim, nor read them.
    assert_eq!(app.post(&app.other_caseworker(), &url, json!({"occurred_at": "2026-11-13T10:00:00Z", "channel": "phone", "outcome": "reached", "kind": "routine_update"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&app.other_caseworker(), &url).await.status, StatusCode::NOT_FOUND);
});

db_test!(the_agreed_plan_suspension_and_opt_out_drive_the_status, |app: TestApp| async move {
    let hub = new_victim(&app, json!({})).await;
    // If-Match is required, and must be current.
    let missing = app
        .call(
            Method::PUT,
            &format!("/api/v1/victims/{hub}/contact-plan"),
            &app.caseworker(),
            Some(json!({"interval_days": 14})),
            &[],
        )
        .await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(
        put_plan(&app, &hub, "\"3\"", json!({"interval_days": 14})).await.status,
        StatusCode::PRECONDITION_FAILED
    );
    let too_long = put_plan(&app, &hub, "\"0\"", json!({"interval_days": 29})).await;
    assert_eq!(too_long.fields(), ["/interval_days"]);

    let p = put_plan(
        &app,
        &hub,
        "\"0\"",
        json!({"interval_days": 14, "preferred_channel": "sms", "preferred_times": "after 6pm"}),
    )
    .await;
    p.assert_status(StatusCode::OK);
    assert_eq!(p.header("etag"), Some("\"1\""));
    assert_eq!(p.body["agreed"], true);
    assert_eq!(p.body["next_due_on"], "2026-11-30");
    // A stale write loses.
    assert_eq!(
        put_plan(&app, &hub, "\"0\"", json!({"interval_days": 7})).await.status,
        StatusCode::PRECONDITION_FAILED
    );

    let past_review = put_plan(
        &app,
        &hub,
        "\"1\"",
        json!({"interval_days": 14, "suspension": {"reason": "phone answered by suspect", "review_on": "2026-11-01"}}),
    )
    .await;
    assert_eq!(past_review.fields(), ["/suspension/review_on"]);
    let s = put_plan(
        &app,
        &hub,
        "\"1\"",
        json!({"interval_days": 14, "suspension": {"reason": "phone answered by suspect", "review_on": "2026-11-27"}}),
    )
    .await;
    s.assert_status(StatusCode::OK);
    assert_eq!(s.body["status"], "suspended");
    assert_eq!(s.body["next_due_on"], Value::Null);
    assert_eq!(s.body["suspension"]["review_on"], "2026-11-27");

    let o = put_plan(&app, &hub, "\"2\"", json!({"interval_days": 14, "routine_opt_out": {"on": "2026-11-16", "reason": "wants updates only on key decisions"}})).await;
    o.assert_status(StatusCode::OK);
    assert_eq!(o.body["status"], "opted_out");
    assert_eq!(o.body["suspension"], Value::Null);

    // Back to normal: due 14 days from when the hub took them on.
    let back = put_plan(&app, &hub, "\"3\"", json!({"interval_days": 14})).await;
    assert_eq!(back.body["status"], "on_track");
    assert_eq!(back.body["next_due_on"], "2026-11-30");
});

db_test!(closed_cases_stop_reminders, |app: TestApp| async move {
    let hub = new_victim(&app, json!({})).await;
    let case = app
        .post(
            &app.caseworker(),
            &format!("/api/v1/victims/{hub}/cases"),
            json!({"offence_group": "robbery", "date_reported": "2026-11-10"}),
        )
        .await;
    case.assert_status(StatusCode::CREATED);
    let id = case.body["id"].as_str().unwrap();
    assert_eq!(plan(&app, &hub).await.body["status"], "on_track");
    let closed = app
        .patch(
            &app.caseworker(),
            &format!("/api/v1/cases/{id}"),
            &case.etag(),
            json!({"status": "closed", "closed_on": "2026-11-16"}),
        )
        .await;
    closed.assert_status(StatusCode::OK);
    let p = plan(&app, &hub).await;
    assert_eq!(p.body["status"], "closed");
    assert_eq!(p.body["next_due_on"], Value::Null);
    // Closed victims are not chased: nothing is due even long after.
    app.clock.set(at("2027-03-01T09:00:00Z"));
    assert_eq!(plan(&app, &hub).await.body["status"], "closed");
    let reopened = app
        .patch(
            &app.caseworker(),
            &format!("/api/v1/cases/{id}"),
            &closed.etag(),
            json!({"status": "open", "closed_on": null}),
        )
        .await;
    reopened.assert_status(StatusCode::OK);
    assert_eq!(plan(&app, &hub).await.body["status"], "overdue");
});

async fn key_event(app: &TestApp, hub: &str, body: Value) -> TestResponse {
    app.post(&app.caseworker(), &format!("/api/v1/victims/{hub}/key-events"), body).await
}

db_test!(key_events_create_obligations_due_in_working_days, |app: TestApp| async move {
    let standard = new_victim(&app, json!({})).await;
    let enhanced =
        new_victim(&app, json!({"enhanced_reasons": [{"reason": "vulnerable", "assessed_on": "2026-11-16"}]})).await;
    // Christmas Eve 2026 is a Thursday: Friday 25th and Monday 28th (Boxing Day substitute) are
    // bank holidays, then New Year's Day.
    app.clock.set(at("2026-12-24T18:00:00Z"));
    let s = key_event(&app, &standard, json!({"event": "arrest", "occurred_at": "2026-12-24T16:00:00Z"})).await;
    s.assert_status(StatusCode::CREATED);
    let o = &s.body["obligations"][0];
    assert_eq!(o["rule"], "R6_ARREST");
    assert_eq!(o["working_days"], 5);
    assert_eq!(o["due_on"], "2027-01-05");
    assert_eq!(o["enhanced"], false);
    let e = key_event(&app, &enhanced, json!({"event": "arrest", "occurred_at": "2026-12-24T16:00:00Z"})).await;
    assert_eq!(e.body["obligations"][0]["due_on"], "2026-12-29");
    assert_eq!(e.body["obligations"][0]["enhanced"], true);

    // A hearing date: the Witness Care Unit's clock starts when it received it, 1 working day for everyone.
    let h = key_event(&app, &standard, json!({"event": "hearing_listed", "occurred_at": "2026-12-01T10:00:00Z", "received_at": "2026-12-18T15:00:00Z"})).await;
    assert_eq!(h.body["obligations"][0]["rule"], "R8_HEARING");
    assert_eq!(h.body["obligations"][0]["clock_started_on"], "2026-12-18");
    assert_eq!(h.body["obligations"][0]["due_on"], "2026-12-21");

    // The same agency event twice creates one obligation.
    let first = key_event(
        &app,
        &standard,
        json!({"event": "charged", "occurred_at": "2026-12-23T10:00:00Z", "source_event_id": "CPS-991"}),
    )
    .await;
    let again = key_event(
        &app,
        &standard,
        json!({"event": "charged", "occurred_at": "2026-12-23T10:00:00Z", "source_event_id": "CPS-991"}),
    )
    .await;
    assert_eq!(first.body["obligations"][0]["id"], again.body["obligations"][0]["id"]);

    let unknown =
        key_event(&app, &standard, json!({"event": "alien_abduction", "occurred_at": "2026-12-23T10:00:00Z"})).await;
    assert_eq!(unknown.fields(), ["/event"]);
    let backwards = key_event(
        &app,
        &standard,
        json!({"event": "arrest", "occurred_at": "2026-12-23T10:00:00Z", "received_at": "2026-12-22T10:00:00Z"}),
    )
    .await;
    assert_eq!(backwards.fields(), ["/received_at"]);

    let list = app.get(&app.caseworker(), &format!("/api/v1/victims/{standard}/obligations?status=open")).await;
    list.assert_status(StatusCode::OK);
    let rules: Vec<&str> = list.body.as_array().unwrap().iter().map(|o| o["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["R8_HEARING", "R6_CHARGE", "R6_ARREST"]);
    // The hearing obligation is already past due on Christmas Eve: a breach.
    assert_eq!(list.body[0]["breached"], true);
    assert_eq!(list.body[2]["breached"], false);
});

db_test!(a_reached_contact_discharges_obligations_on_time_or_late, |app: TestApp| async move {
    let hub = new_victim(&app, json!({})).await;
    app.clock.set(at("2026-11-20T18:00:00Z"));
    let arrest = key_event(&app, &hub, json!({"event": "arrest", "occurred_at": "2026-11-16T10:00:00Z"})).await;
    let arrest_id = arrest.body["obligations"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(arrest.body["obligations"][0]["due_on"], "2026-11-23");
    let verdict = key_event(
        &app,
        &hub,
        json!({"event": "verdict", "occurred_at": "2026-11-17T10:00:00Z", "received_at": "2026-11-17T12:00:00Z"}),
    )
    .await;
    let verdict_id = verdict.body["obligations"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(verdict.body["obligations"][0]["due_on"], "2026-11-18");

    let url = format!("/api/v1/victims/{hub}/contacts");
    let body = |when: &str, ids: Vec<&str>| json!({"occurred_at": when, "channel": "phone", "outcome": "reached", "kind": "key_decision", "discharges": ids});
    app.post(&app.caseworker(), &url, body("2026-11-20T10:00:00Z", vec![&arrest_id, &verdict_id]))
        .await
        .assert_status(StatusCode::CREATED);
    let list = app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}/obligations")).await;
    let by_id = |id: &str| list.body.as_array().unwrap().iter().find(|o| o["id"] == id).unwrap().clone();
    assert_eq!(by_id(&arrest_id)["status"], "discharged");
    assert_eq!(by_id(&arrest_id)["breached"], false);
    assert_eq!(by_id(&verdict_id)["status"], "discharged");
    assert_eq!(by_id(&verdict_id)["breached"], true, "discharged two days after the due date");
    // A discharged obligation cannot be discharged again; the failed contact leaves nothing behind.
    let twice = app.post(&app.caseworker(), &url, body("2026-11-20T11:00:00Z", vec![&arrest_id])).await;
    assert_eq!(twice.fields(), ["/discharges/0"]);
    assert_eq!(app.get(&app.caseworker(), &url).await.body["items"].as_array().unwrap().len(), 1);
    // The key-decision contact also counts as an update.
    assert_eq!(plan(&app, &hub).await.body["next_due_on"], "2026-12-18");
});

db_test!(opting_out_of_key_decisions_waives_their_obligations, |app: TestApp| async move {
    let hub = new_victim(&app, json!({})).await;
    put_plan(&app, &hub, "\"0\"", json!({"interval_days": 28, "routine_opt_out": {"on": "2026-11-16", "reason": "only the outcome, please"}, "key_decisions_opt_out": true}))
        .await
        .assert_status(StatusCode::OK);
    let r = key_event(&app, &hub, json!({"event": "arrest", "occurred_at": "2026-11-16T08:00:00Z"})).await;
    assert_eq!(r.body["obligations"][0]["status"], "waived");
    assert_eq!(r.body["obligations"][0]["breached"], false);
    // Non-key deadlines (a complaint answer) are still owed.
    let c = key_event(&app, &hub, json!({"event": "complaint_received", "occurred_at": "2026-11-16T08:00:00Z"})).await;
    assert_eq!(c.body["obligations"][0]["status"], "open");
    assert_eq!(c.body["obligations"][0]["due_on"], "2026-11-30");
});

db_test!(due_work_lists_the_callers_caseload_most_urgent_first, |app: TestApp| async move {
    let mine = json!({"assigned_caseworker": "caseworker-user"});
    let overdue = new_victim(&app, mine.clone()).await;
    let soon = new_victim(&app, mine.clone()).await;
    let with_deadline = new_victim(&app, mine.clone()).await;
    let someone_elses = new_victim(&app, json!({"assigned_caseworker": "another-user"})).await;
    // Nearly four weeks on.
    app.clock.set(at("2026-12-12T09:00:00Z"));
    contact(&app, &soon, "2026-11-17T10:00:00Z", "reached", "routine_update").await.assert_status(StatusCode::CREATED);
    put_plan(&app, &overdue, "\"0\"", json!({"interval_days": 7})).await.assert_status(StatusCode::OK);
    contact(&app, &with_deadline, "2026-12-09T10:00:00Z", "reached", "routine_update")
        .await
        .assert_status(StatusCode::CREATED);
    key_event(&app, &with_deadline, json!({"event": "charged", "occurred_at": "2026-12-09T09:00:00Z"}))
        .await
        .assert_status(StatusCode::CREATED);

    let due = app.get(&app.caseworker(), "/api/v1/me/due-work").await;
    due.assert_status(StatusCode::OK);
    let items: Vec<(String, String)> = due
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap().to_owned(), i["hub_ref"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        items,
        [
            ("update_overdue".to_owned(), overdue.clone()),
            ("obligation_due".to_owned(), with_deadline.clone()),
            ("update_due_soon".to_owned(), soon.clone()),
        ]
    );
    assert_eq!(due.body[0]["days_overdue"], 19);
    assert_eq!(due.body[1]["rule"], "R6_CHARGE");
    assert!(!due.text.contains(&someone_elses));
    // A supervisor sees the whole team; a caseworker may not ask for it.
    let team = app.get(&app.supervisor(), "/api/v1/me/due-work?scope=team").await;
    assert!(team.text.contains(&someone_elses));
    assert_eq!(app.get(&app.caseworker(), "/api/v1/me/due-work?scope=team").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&app.caseworker(), "/api/v1/me/due-work?scope=everyone").await.status, StatusCode::BAD_REQUEST);
});

db_test!(contact_compliance_report_counts_on_time_updates_and_deadlines, |app: TestApp| async move {
    // Five victims always updated on time, two who missed a due date; one key decision on time, one late.
    let mut on_time = Vec::new();
    for _ in 0..5 {
        on_time.push(new_victim(&app, json!({})).await);
    }
    let late_a = new_victim(&app, json!({})).await;
    let late_b = new_victim(&app, json!({})).await;
    app.clock.set(at("2027-01-20T09:00:00Z"));
    for hub in &on_time {
        contact(&app, hub, "2026-12-01T10:00:00Z", "reached", "routine_update")
            .await
            .assert_status(StatusCode::CREATED);
        contact(&app, hub, "2026-12-20T10:00:00Z", "reached", "routine_update")
            .await
            .assert_status(StatusCode::CREATED);
        contact(&app, hub, "2027-01-10T10:00:00Z", "reached", "routine_update")
            .await
            .assert_status(StatusCode::CREATED);
    }
    // Due 14 December; updated only on 20 December.
    contact(&app, &late_a, "2026-12-20T10:00:00Z", "reached", "routine_update")
        .await
        .assert_status(StatusCode::CREATED);
    contact(&app, &late_b, "2026-12-20T10:00:00Z", "reached", "routine_update")
        .await
        .assert_status(StatusCode::CREATED);
    let a = key_event(&app, &on_time[0], json!({"event": "arrest", "occurred_at": "2026-12-01T09:00:00Z"})).await;
    let b = key_event(&app, &on_time[1], json!({"event": "arrest", "occurred_at": "2026-12-01T09:00:00Z"})).await;
    let discharge = |hub: &str, when: &str, id: &Value| json!({"occurred_at": when, "channel": "phone", "outcome": "reached", "kind": "key_decision", "discharges": [id], "summary": hub});
    app.post(
        &app.caseworker(),
        &format!("/api/v1/victims/{}/contacts", on_time[0]),
        discharge(&on_time[0], "2026-12-02T10:00:00Z", &a.body["obligations"][0]["id"]),
    )
    .await
    .assert_status(StatusCode::CREATED);
    app.post(
        &app.caseworker(),
        &format!("/api/v1/victims/{}/contacts", on_time[1]),
        discharge(&on_time[1], "2026-12-15T10:00:00Z", &b.body["obligations"][0]["id"]),
    )
    .await
    .assert_status(StatusCode::CREATED);

    let url = "/api/v1/reports/contact-compliance?from=2026-12-01&to=2027-01-15";
    let r = app.get(&app.supervisor(), url).await;
    r.assert_status(StatusCode::OK);
    let all = &r.body["overall"];
    assert_eq!(all["victims"], 7);
    assert_eq!(all["victims_updated_within_interval"], 5);
    assert_eq!(all["key_decisions_due"], 2);
    assert_eq!(all["key_decisions_on_time"], 1);
    assert_eq!(all["key_decisions_breached"], 1);
    assert_eq!(all["key_decisions_on_time_rate"], 0.5);
    assert_eq!(r.body["by_team"][0]["group"], TEAM);
    assert_eq!(r.body["by_agency"][0]["group"], "police_force");
    // Analysts get the same report with small numbers withheld.
    let analyst = app.get(&app.token(care_hub::vocab::Role::Analyst, None, None), url).await;
    analyst.assert_status(StatusCode::OK);
    assert_eq!(analyst.body["overall"]["victims"], 7);
    assert_eq!(analyst.body["overall"]["key_decisions_due"], Value::Null);
    assert_eq!(analyst.body["overall"]["key_decisions_on_time_rate"], Value::Null);
    assert_eq!(analyst.body["overall"]["suppressed"], true);
    // Caseworkers do not see reports; a supervisor only their team's.
    assert_eq!(app.get(&app.caseworker(), url).await.status, StatusCode::FORBIDDEN);
    let other = format!("{url}&team={OTHER_TEAM}");
    assert_eq!(app.get(&app.supervisor(), &other).await.status, StatusCode::FORBIDDEN);
});

db_test!(records_without_a_schedule_get_one_before_reminders_run, |app: TestApp| async move {
    use sea_orm::EntityTrait;
    let hub = new_victim(&app, json!({})).await;
    // As for a record created before contact schedules existed.
    let tx = app.state.db.begin_write().await.unwrap();
    care_hub::entities::contact_schedule::Entity::delete_many().exec(&*tx).await.unwrap();
    tx.commit().await.unwrap();
    let cfg = &app.state.config.reminders;
    assert_eq!(care_hub::contacts::schedule::backfill(&app.state.db, cfg, app.clock.now_utc()).await.unwrap(), 1);
    assert_eq!(care_hub::contacts::schedule::backfill(&app.state.db, cfg, app.clock.now_utc()).await.unwrap(), 0);
    assert_eq!(plan(&app, &hub).await.body["next_due_on"], "2026-12-14");
});
