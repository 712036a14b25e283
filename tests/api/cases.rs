//! Cases: opened for a victim, shared by several, with their own agency references.
use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::db_test;

fn case_body() -> serde_json::Value {
    json!({
        "offence_group": "violence_with_injury",
        "offence_description": "ABH",
        "priority_flags": ["domestic_abuse", "vawg"],
        "area": "TEST-POLICE-N",
        "date_reported": "2026-11-10",
        "offence_date": "2026-11-09",
        "relationship": "partner_ex_partner",
        "location_type": "private_residence",
        "agency_references": [{"agency": FORCE, "type": "crime_reference", "value": "CR-1001"}]
    })
}

db_test!(a_case_is_opened_for_a_victim_and_shows_on_the_record, |app: TestApp| async move {
    let cw = app.caseworker();
    let hub_ref = app.any_victim().await;
    let r = app.post(&cw, &format!("/api/v1/victims/{hub_ref}/cases"), case_body()).await;
    r.assert_status(StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.header("location"), Some(format!("/api/v1/cases/{id}").as_str()));
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["victims"][0]["hub_ref"], hub_ref.as_str());
    assert_eq!(r.body["victims"][0]["role"], "victim");
    assert_eq!(r.body["agency_references"][0]["value"], "CR-1001");
    let got = app.get(&cw, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(got.body, r.body);
    let record = app.get(&cw, &format!("/api/v1/victims/{hub_ref}")).await;
    assert_eq!(record.body["cases"][0]["id"], id);
    assert_eq!(record.body["cases"][0]["offence_group"], "violence_with_injury");
    let found = app.get(&cw, "/api/v1/cases/lookup?agency=TEST-POLICE&type=crime_reference&value=cr-1001").await;
    assert_eq!(found.body["id"], id);
    app.get(&app.other_caseworker(), &format!("/api/v1/cases/{id}"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    // The same crime reference cannot open a second case.
    app.post(&cw, &format!("/api/v1/victims/{hub_ref}/cases"), case_body())
        .await
        .assert_problem(StatusCode::CONFLICT, "reference-in-use");
});

db_test!(closing_a_case_records_the_date_and_needs_if_match, |app: TestApp| async move {
    let cw = app.caseworker();
    let hub_ref = app.any_victim().await;
    let r = app.post(&cw, &format!("/api/v1/victims/{hub_ref}/cases"), case_body()).await;
    let path = format!("/api/v1/cases/{}", r.body["id"].as_str().unwrap());
    app.patch(&cw, &path, "\"1\"", json!({"status": "open", "closed_on": "2026-11-12"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    app.patch(&cw, &path, "\"1\"", json!({"role": "witness"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    let closed =
        app.patch(&cw, &path, "\"1\"", json!({"status": "closed", "priority_flags": ["domestic_abuse"]})).await;
    closed.assert_status(StatusCode::OK);
    assert_eq!(closed.body["closed_on"], "2026-11-16");
    assert_eq!(closed.body["priority_flags"], json!(["domestic_abuse"]));
    assert_eq!(closed.body["version"], 2);
    app.patch(&cw, &path, "\"1\"", json!({"status": "open"}))
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
    let reopened = app.patch(&cw, &path, "\"2\"", json!({"status": "open", "closed_on": null})).await;
    reopened.assert_status(StatusCode::OK);
    assert_eq!(reopened.body["closed_on"], serde_json::Value::Null);
});

db_test!(a_case_can_involve_several_victims, |app: TestApp| async move {
    let cw = app.caseworker();
    let first = app.any_victim().await;
    let second = app.any_victim().await;
    let r = app
        .post(
            &cw,
            &format!("/api/v1/victims/{first}/cases"),
            json!({"offence_group": "arson", "date_reported": "2026-11-11"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let linked =
        app.post(&cw, &format!("/api/v1/cases/{id}/victims"), json!({"hub_ref": second, "role": "witness"})).await;
    linked.assert_status(StatusCode::CREATED);
    assert_eq!(linked.header("location"), Some(format!("/api/v1/cases/{id}/victims/{second}").as_str()));
    assert_eq!(linked.body["role"], "witness");
    app.post(&cw, &format!("/api/v1/cases/{id}/victims"), json!({"hub_ref": second}))
        .await
        .assert_problem(StatusCode::CONFLICT, "already-linked");
    assert_eq!(app.get(&cw, &format!("/api/v1/cases/{id}/victims/{second}")).await.body, linked.body);
    assert_eq!(app.get(&cw, &format!("/api/v1/victims/{second}")).await.body["cases"][0]["role"], "witness");
    app.delete(&cw, &format!("/api/v1/cases/{id}/victims/{first}")).await.assert_status(StatusCode::NO_CONTENT);
    app.delete(&cw, &format!("/api/v1/cases/{id}/victims/{second}"))
        .await
        .assert_problem(StatusCode::CONFLICT, "last-victim");
    // Another team's victim cannot be linked by this team.
    let theirs = app
        .post(&app.other_caseworker(), "/api/v1/victims", json!({"given_name": "Their", "family_name": "Victim"}))
        .await;
    let theirs_ref = theirs.body["hub_ref"].as_str().unwrap();
    app.post(&cw, &format!("/api/v1/cases/{id}/victims"), json!({"hub_ref": theirs_ref}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
});

db_test!(case_references_are_added_found_and_removed, |app: TestApp| async move {
    let cw = app.caseworker();
    let hub_ref = app.any_victim().await;
    let r = app
        .post(
            &cw,
            &format!("/api/v1/victims/{hub_ref}/cases"),
            json!({"offence_group": "rape", "date_reported": "2026-10-01"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/cases/{id}/agency-references");
    let added = app.post(&cw, &base, json!({"agency": "TEST-COURT", "type": "ccrn", "value": "26/1234/000123A"})).await;
    added.assert_status(StatusCode::CREATED);
    let ref_id = added.body["id"].as_str().unwrap();
    assert_eq!(added.header("location"), Some(format!("{base}/{ref_id}").as_str()));
    assert_eq!(app.get(&cw, &format!("{base}/{ref_id}")).await.body, added.body);
    assert_eq!(
        app.get(&cw, "/api/v1/cases/lookup?agency=TEST-COURT&type=ccrn&value=26/1234/000123A").await.body["id"],
        id.as_str()
    );
    // A case's reference is not a victim's.
    app.get(&cw, "/api/v1/victims/lookup?agency=TEST-COURT&type=ccrn&value=26/1234/000123A")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.post(&cw, &base, json!({"agency": "TEST-COURT", "type": "ccrn", "value": "26/1234/000123S"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    app.delete(&cw, &format!("{base}/{ref_id}")).await.assert_status(StatusCode::NO_CONTENT);
    app.get(&cw, &format!("{base}/{ref_id}")).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
});

db_test!(case_fields_are_checked, |app: TestApp| async move {
    let cw = app.caseworker();
    let hub_ref = app.any_victim().await;
    let before = app.fingerprint().await;
    let r = app
        .post(
            &cw,
            &format!("/api/v1/victims/{hub_ref}/cases"),
            json!({
                "offence_group": "robbery", "date_reported": "2026-11-01", "offence_date": "2026-11-05",
                "priority_flags": ["stalking", "stalking"]
            }),
        )
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(r.fields(), ["/offence_date", "/priority_flags/1"]);
    let r = app
        .post(
            &cw,
            &format!("/api/v1/victims/{hub_ref}/cases"),
            json!({"offence_group": "robbery", "date_reported": "2026-11-01", "area": "TEST-CPS"}),
        )
        .await;
    assert_eq!(r.fields(), ["/area"]);
    let r = app
        .post(
            &cw,
            &format!("/api/v1/victims/{hub_ref}/cases"),
            json!({"offence_group": "mugging", "date_reported": "2026-11-01"}),
        )
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(r.fields(), ["/offence_group"]);
    assert_eq!(app.fingerprint().await, before);
});
