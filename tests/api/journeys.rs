//! Agency events and journeys: idempotent batches, out-of-order arrival, corrections, the linkage
//! queue, agency-scoped posting, withdrawals with and without evidence, outcome 14/16 flags, and
//! a rebuild that gives exactly the journeys kept up to date event by event.
use axum::http::StatusCode;
use care_hub::vocab::Role;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::common::*;
use crate::db_test;

struct Fixture {
    hub: String,
    case_id: String,
    crime_ref: String,
}

async fn fixture(app: &TestApp, crime_ref: &str) -> Fixture {
    let v = app.victim(json!({"given_name": "Journey", "family_name": format!("Person {crime_ref}"), "assigned_caseworker": "caseworker-user"})).await;
    let hub = v.body["hub_ref"].as_str().unwrap().to_owned();
    let case = app
        .post(
            &app.caseworker(),
            &format!("/api/v1/victims/{hub}/cases"),
            json!({"offence_group": "violence_with_injury", "date_reported": "2026-10-01", "agency_references": [{"agency": FORCE, "type": "crime_reference", "value": crime_ref}]}),
        )
        .await;
    case.assert_status(StatusCode::CREATED);
    Fixture { hub, case_id: case.body["id"].as_str().unwrap().to_owned(), crime_ref: crime_ref.to_owned() }
}

fn liaison(app: &TestApp) -> String {
    app.token(Role::AgencyLiaison, None, Some(FORCE))
}

fn event(f: &Fixture, id: &str, event_type: &str, day: u32) -> Value {
    json!({
        "source_agency": FORCE, "source_event_id": id, "event_type": event_type,
        "occurred_at": format!("2026-10-{day:02}T10:00:00Z"),
        "case": {"agency": FORCE, "type": "crime_reference", "value": f.crime_ref}
    })
}

async fn send(app: &TestApp, token: &str, events: Vec<Value>) -> TestResponse {
    app.post(token, "/api/v1/journey-events", json!({"events": events})).await
}

async fn journey(app: &TestApp, f: &Fixture) -> Value {
    let r = app.get(&app.caseworker(), &format!("/api/v1/cases/{}/journey", f.case_id)).await;
    r.assert_status(StatusCode::OK);
    r.body
}

db_test!(events_are_idempotent_and_out_of_order_arrival_gives_the_same_journey, |app: TestApp| async move {
    let f = fixture(&app, "CR-J-1").await;
    let token = liaison(&app);
    let first = vec![event(&f, "E1", "REPORTED", 1), event(&f, "E2", "ARREST_INTERVIEW", 3)];
    let r = send(&app, &token, first.clone()).await;
    r.assert_status(StatusCode::OK);
    assert_eq!((r.body["linked"].as_u64(), r.body["duplicates"].as_u64()), (Some(2), Some(0)));
    let before = journey(&app, &f).await;
    // The same batch again changes nothing.
    let again = send(&app, &token, first).await;
    assert_eq!((again.body["linked"].as_u64(), again.body["duplicates"].as_u64()), (Some(0), Some(2)));
    assert_eq!(journey(&app, &f).await["journeys"], before["journeys"]);
    // Later events arrive out of order.
    send(&app, &token, vec![event(&f, "E5", "CHARGED", 12)]).await.assert_status(StatusCode::OK);
    send(
        &app,
        &token,
        vec![
            event(&f, "E4", "ACTION_PLAN", 7),
            event(&f, "E3", "CPS_PRECHARGE", 5),
            event(&f, "E6", "CPS_PRECHARGE", 9),
        ],
    )
    .await
    .assert_status(StatusCode::OK);
    let j = journey(&app, &f).await;
    let mine = &j["journeys"][0];
    assert_eq!(mine["hub_ref"], f.hub.as_str());
    assert_eq!(mine["current_stage"], "CHARGED");
    assert_eq!(mine["furthest_stage"], "CHARGED");
    assert_eq!(mine["action_plan_count"], 1);
    assert_eq!(mine["reported_at"], "2026-10-01T10:00:00Z");
    assert_eq!(mine["charged_at"], "2026-10-12T10:00:00Z");
    assert_eq!(mine["withdrawn"], false);
    let kinds: Vec<&str> =
        j["timeline"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["REPORTED", "ARREST_INTERVIEW", "CPS_PRECHARGE", "ACTION_PLAN", "CPS_PRECHARGE", "CHARGED"]);
    // Key events started Victims' Code obligations for the victim, once each.
    let obligations = app.get(&app.caseworker(), &format!("/api/v1/victims/{}/obligations", f.hub)).await;
    let mut rules: Vec<&str> =
        obligations.body.as_array().unwrap().iter().map(|o| o["rule"].as_str().unwrap()).collect();
    rules.sort_unstable();
    assert_eq!(rules, ["R4_REFERRAL", "R6_ARREST", "R6_CHARGE"]);
});

db_test!(corrections_retract_or_supersede_earlier_events, |app: TestApp| async move {
    let f = fixture(&app, "CR-J-2").await;
    let token = liaison(&app);
    send(
        &app,
        &token,
        vec![event(&f, "A1", "REPORTED", 1), event(&f, "A2", "ARREST_INTERVIEW", 3), event(&f, "A3", "CHARGED", 10)],
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(journey(&app, &f).await["journeys"][0]["current_stage"], "CHARGED");
    // The charge was entered in error.
    let mut retract = event(&f, "A3-X", "CHARGED", 10);
    retract["correction"] = json!({"action": "retract", "source_event_id": "A3"});
    let r = send(&app, &token, vec![retract]).await;
    r.assert_status(StatusCode::OK);
    let j = journey(&app, &f).await;
    assert_eq!(j["journeys"][0]["current_stage"], "ARREST_INTERVIEW");
    assert_eq!(j["journeys"][0]["charged_at"], Value::Null);
    // The charge obligation is no longer owed.
    let obligations = app.get(&app.caseworker(), &format!("/api/v1/victims/{}/obligations", f.hub)).await;
    let charge = obligations.body.as_array().unwrap().iter().find(|o| o["rule"] == "R6_CHARGE").unwrap().clone();
    assert_eq!(charge["status"], "cancelled");
    // The arrest happened on the 4th, not the 3rd.
    let mut fix = event(&f, "A2-FIX", "ARREST_INTERVIEW", 4);
    fix["correction"] = json!({"action": "supersede", "source_event_id": "A2"});
    send(&app, &token, vec![fix]).await.assert_status(StatusCode::OK);
    let j = journey(&app, &f).await;
    let statuses: Vec<(String, String)> = j["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["source_event_id"].as_str().unwrap().to_owned(), e["status"].as_str().unwrap().to_owned()))
        .collect();
    assert!(statuses.contains(&("A2".into(), "superseded".into())), "{statuses:?}");
    assert!(statuses.contains(&("A2-FIX".into(), "linked".into())));
    assert!(statuses.contains(&("A3".into(), "retracted".into())));
    assert_eq!(j["journeys"][0]["current_stage"], "ARREST_INTERVIEW");
});

db_test!(unmatched_events_wait_in_the_linkage_queue, |app: TestApp| async move {
    let f = fixture(&app, "CR-J-3").await;
    let mut stray = event(&f, "S1", "ARREST_INTERVIEW", 2);
    stray["case"]["value"] = json!("CR-UNKNOWN-9");
    let r = send(&app, &liaison(&app), vec![stray]).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body["unlinked"], 1);
    assert!(r.body["events"][0]["linkage_reason"].as_str().unwrap().contains("CR-UNKNOWN-9"));
    let queue = app.get(&app.supervisor(), "/api/v1/linkage-exceptions").await;
    queue.assert_status(StatusCode::OK);
    assert_eq!(queue.body.as_array().unwrap().len(), 1);
    let id = queue.body[0]["id"].as_str().unwrap().to_owned();
    // The liaison who sent it sees it too; another agency's does not.
    assert_eq!(app.get(&liaison(&app), "/api/v1/linkage-exceptions").await.body.as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&app.token(Role::AgencyLiaison, None, Some("TEST-CPS")), "/api/v1/linkage-exceptions")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Another team cannot attach it to a case it does not work on.
    let other = app
        .post(
            &app.token(Role::Supervisor, Some(OTHER_TEAM), None),
            &format!("/api/v1/linkage-exceptions/{id}/resolve"),
            json!({"case_id": f.case_id}),
        )
        .await;
    assert_eq!(other.fields(), ["/case_id"]);
    let resolved = app
        .post(&app.supervisor(), &format!("/api/v1/linkage-exceptions/{id}/resolve"), json!({"case_id": f.case_id}))
        .await;
    resolved.assert_status(StatusCode::OK);
    assert_eq!(resolved.body["status"], "linked");
    assert_eq!(journey(&app, &f).await["journeys"][0]["current_stage"], "ARREST_INTERVIEW");
    assert_eq!(app.get(&app.supervisor(), "/api/v1/linkage-exceptions").await.body.as_array().unwrap().len(), 0);
});

db_test!(liaisons_send_only_their_own_agencys_events_and_bad_batches_write_nothing, |app: TestApp| async move {
    let f = fixture(&app, "CR-J-4").await;
    let cps = app.token(Role::AgencyLiaison, None, Some("TEST-CPS"));
    send(&app, &cps, vec![event(&f, "X1", "REPORTED", 1)]).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(send(&app, &app.caseworker(), vec![event(&f, "X1", "REPORTED", 1)]).await.status, StatusCode::FORBIDDEN);
    let mut bad = event(&f, "X3", "TELEPORTED", 2);
    bad["occurred_at"] = json!("2030-01-01T00:00:00Z");
    let mut outcome = event(&f, "X4", "OUTCOME", 3);
    outcome["outcome_code"] = json!("99");
    let mut not_a_reason = event(&f, "X6", "TRIAL_INEFFECTIVE", 4);
    not_a_reason["reason_code"] = json!("W9");
    let mut reason_elsewhere = event(&f, "X7", "TRIAL_LISTED", 4);
    reason_elsewhere["reason_code"] = json!("W1");
    let r =
        send(&app, &liaison(&app), vec![event(&f, "X2", "REPORTED", 1), bad, outcome, not_a_reason, reason_elsewhere])
            .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(
        r.fields(),
        [
            "/events/1/event_type",
            "/events/1/occurred_at",
            "/events/2/outcome_code",
            "/events/3/reason_code",
            "/events/4/reason_code"
        ]
    );
    let unknown_field = app
        .post(
            &liaison(&app),
            "/api/v1/journey-events",
            json!({"events": [event(&f, "X5", "REPORTED", 1)], "priority": "high"}),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    let j = journey(&app, &f).await;
    assert_eq!(j["timeline"].as_array().unwrap().len(), 0, "nothing from the refused batches landed");
});

db_test!(an_unevidenced_victim_withdrawal_is_flagged_until_one_is_evidenced, |app: TestApp| async move {
    let f = fixture(&app, "CR-J-5").await;
    let token = liaison(&app);
    let mut outcome = event(&f, "O1", "OUTCOME", 20);
    outcome["outcome_code"] = json!("16");
    send(&app, &token, vec![event(&f, "O0", "SUSPECT_IDENTIFIED", 5), outcome]).await.assert_status(StatusCode::OK);
    let j = journey(&app, &f).await;
    assert_eq!(j["journeys"][0]["withdrawn"], true);
    assert_eq!(j["journeys"][0]["withdrawal_stage"], "SUSPECT_IDENTIFIED");
    assert_eq!(j["journeys"][0]["final_outcome"], "16");
    let flags = app.get(&app.caseworker(), "/api/v1/withdrawal-flags").await;
    assert_eq!(flags.body.as_array().unwrap().len(), 1);
    assert_eq!(flags.body[0]["victim"], f.hub.as_str());
    // It is the caseworker's most urgent task.
    let due = app.get(&app.caseworker(), "/api/v1/me/due-work").await;
    assert_eq!(due.body[0]["kind"], "unevidenced_withdrawal");
    assert_eq!(due.body[0]["hub_ref"], f.hub.as_str());

    let url = format!("/api/v1/cases/{}/withdrawals", f.case_id);
    // A record without evidence is kept, but does not clear the flag.
    let bare = app.post(&app.caseworker(), &url, json!({"victim": f.hub, "withdrawn_on": "2026-10-20", "reasons": ["delay"], "confirmed_with_victim": false})).await;
    bare.assert_status(StatusCode::CREATED);
    assert_eq!(bare.body["evidenced"], false);
    assert_eq!(bare.body["stage"], "NFA", "the stage defaults to the journey's current stage");
    assert_eq!(app.get(&app.caseworker(), "/api/v1/withdrawal-flags").await.body.as_array().unwrap().len(), 1);
    let bad = app.post(&app.caseworker(), &url, json!({"victim": f.hub, "withdrawn_on": "2026-10-20", "reasons": [], "confirmed_with_victim": false, "stage": "LIMBO"})).await;
    assert_eq!(bad.fields(), ["/reasons", "/stage"]);
    let evidenced = app
        .post(
            &app.caseworker(),
            &url,
            json!({"victim": f.hub, "withdrawn_on": "2026-10-20", "stage": "SUSPECT_IDENTIFIED", "reasons": ["fear_of_suspect_or_reprisal", "pressure_or_coercion"], "felt_pressured": true,
                   "evidence": [{"type": "recorded_call", "reference": "CALL-2026-10-20-114"}], "confirmed_with_victim": true}),
        )
        .await;
    evidenced.assert_status(StatusCode::CREATED);
    assert_eq!(evidenced.body["evidenced"], true);
    assert_eq!(evidenced.body["status"], "pending");
    assert_eq!(app.get(&app.caseworker(), "/api/v1/withdrawal-flags").await.body.as_array().unwrap().len(), 0);
    assert!(app.get(&app.caseworker(), "/api/v1/withdrawal-flags?open=false").await.body[0]["cleared_at"].is_string());
    // A supervisor reviews each record once.
    let id = evidenced.body["id"].as_str().unwrap();
    assert_eq!(
        app.post(&app.caseworker(), &format!("/api/v1/withdrawals/{id}/review"), json!({"decision": "approved"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let approved = app
        .post(
            &app.supervisor(),
            &format!("/api/v1/withdrawals/{id}/review"),
            json!({"decision": "approved", "note": "call on file"}),
        )
        .await;
    approved.assert_status(StatusCode::OK);
    assert_eq!(approved.body["status"], "approved");
    app.post(&app.supervisor(), &format!("/api/v1/withdrawals/{id}/review"), json!({"decision": "rejected"}))
        .await
        .assert_problem(StatusCode::CONFLICT, "already-reviewed");
    let list = app.get(&app.caseworker(), &url).await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    // A later outcome 16 for a victim whose withdrawal is evidenced raises no flag.
    let mut later = event(&f, "O2", "OUTCOME", 25);
    later["outcome_code"] = json!("16");
    send(&app, &token, vec![later]).await.assert_status(StatusCode::OK);
    assert_eq!(app.get(&app.caseworker(), "/api/v1/withdrawal-flags").await.body.as_array().unwrap().len(), 0);
});

db_test!(a_rebuild_gives_exactly_the_journeys_kept_up_to_date_as_events_landed, |app: TestApp| async move {
    let mut rng = StdRng::seed_from_u64(7);
    let paths: [&[&str]; 4] = [
        &[
            "REPORTED",
            "INVESTIGATION",
            "SUSPECT_IDENTIFIED",
            "ARREST_INTERVIEW",
            "CPS_PRECHARGE",
            "ACTION_PLAN",
            "CPS_PRECHARGE",
            "CHARGED",
            "FIRST_HEARING",
            "TRIAL_LISTED",
            "TRIAL_INEFFECTIVE:W3",
            "TRIAL_LISTED",
            "TRIAL_INEFFECTIVE",
            "TRIAL_LISTED",
            "TRIAL_EFFECTIVE",
            "VERDICT",
            "SENTENCE",
        ],
        &["REPORTED", "NEEDS_ASSESSED", "INVESTIGATION", "OUTCOME:18"],
        &["REPORTED", "SUSPECT_IDENTIFIED", "ARREST_INTERVIEW", "OUTCOME:16"],
        &["REPORTED", "SUPPORT_REFERRED", "ARREST_INTERVIEW", "CHARGED", "FIRST_HEARING", "DISCONTINUED"],
    ];
    let mut events = Vec::new();
    for c in 0..12 {
        let f = fixture(&app, &format!("CR-RB-{c}")).await;
        if c % 3 == 0 {
            // A second victim on some cases.
            let second = app.any_victim().await;
            app.post(&app.caseworker(), &format!("/api/v1/cases/{}/victims", f.case_id), json!({"hub_ref": second}))
                .await
                .assert_status(StatusCode::CREATED);
        }
        let path = paths[rng.random_range(0..paths.len())];
        let steps = rng.random_range(1..=path.len());
        for (i, step) in path.iter().take(steps).enumerate() {
            let (t, code) = step.split_once(':').map_or((*step, None), |(t, c)| (t, Some(c)));
            let mut e = event(&f, &format!("RB-{c}-{i}"), t, 1 + i as u32 * 2);
            match code {
                Some(code) if t == "TRIAL_INEFFECTIVE" => e["reason_code"] = json!(code),
                Some(code) => e["outcome_code"] = json!(code),
                None => {}
            }
            events.push(e);
        }
    }
    // Arrival order shuffled, in batches of varying size, some sent twice.
    events.shuffle(&mut rng);
    let token = liaison(&app);
    let mut i = 0;
    while i < events.len() {
        let n = rng.random_range(1..=7).min(events.len() - i);
        send(&app, &token, events[i..i + n].to_vec()).await.assert_status(StatusCode::OK);
        if rng.random_bool(0.3) {
            send(&app, &token, events[i..i + n].to_vec()).await.assert_status(StatusCode::OK);
        }
        i += n;
    }
    let incremental = care_hub::journeys::service::snapshot(app.state.db.read()).await.unwrap();
    assert!(incremental.len() >= 12);
    assert!(
        incremental.values().any(|j| j.withdrawn)
            || incremental.values().any(|j| j.ineffective_count > 0)
            || incremental.values().any(|j| j.action_plan_count > 0)
    );
    let tx = app.state.db.begin_write().await.unwrap();
    <care_hub::entities::journeys::Entity as sea_orm::EntityTrait>::delete_many().exec(&*tx).await.unwrap();
    tx.commit().await.unwrap();
    care_hub::journeys::service::rebuild(&app.state.db, app.clock.now_utc()).await.unwrap();
    let rebuilt = care_hub::journeys::service::snapshot(app.state.db.read()).await.unwrap();
    assert_eq!(rebuilt, incremental);
});
