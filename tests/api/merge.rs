//! Merging duplicate records: everything moves to the survivor and the old reference still resolves.
use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::db_test;

db_test!(merge_moves_references_cases_and_fills_blanks, |app: TestApp| async move {
    let cw = app.caseworker();
    let sup = app.supervisor();
    let survivor =
        app.victim(json!({"given_name": "Jo", "family_name": "Merge", "contact": {"phone": "07700 900001"}})).await;
    let survivor_ref = survivor.body["hub_ref"].as_str().unwrap().to_owned();
    let dup = app
        .victim(json!({
            "given_name": "Joanne", "family_name": "Merge", "date_of_birth": "1970-07-07",
            "contact": {"phone": "07700 900002", "email": "jo@example.org"},
            "enhanced_reasons": [{"reason": "vulnerable", "assessed_on": "2026-11-01"}],
            "agency_references": [{"agency": FORCE, "type": "crime_reference", "value": "DUP-1"}]
        }))
        .await;
    let dup_ref = dup.body["hub_ref"].as_str().unwrap().to_owned();
    let case = app
        .post(
            &cw,
            &format!("/api/v1/victims/{dup_ref}/cases"),
            json!({"offence_group": "robbery", "date_reported": "2026-11-01"}),
        )
        .await;
    case.assert_status(StatusCode::CREATED);
    let case_id = case.body["id"].as_str().unwrap().to_owned();

    let request = json!({"duplicate": dup_ref, "reason": "Same person recorded twice"});
    app.post(&cw, &format!("/api/v1/victims/{survivor_ref}/merge"), request.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let merged = app.post(&sup, &format!("/api/v1/victims/{survivor_ref}/merge"), request.clone()).await;
    merged.assert_status(StatusCode::OK);
    let b = &merged.body;
    assert_eq!(b["merged_ref"], dup_ref.as_str());
    assert_eq!(b["moved_references"], 1);
    assert_eq!(b["moved_cases"], 1);
    assert_eq!(b["filled_fields"], json!(["date_of_birth", "email", "enhanced_reasons"]));
    let s = &b["survivor"];
    assert_eq!(s["contact"]["phone"], "07700 900001", "the survivor keeps its own values");
    assert_eq!(s["contact"]["email"], "jo@example.org");
    assert_eq!(s["enhanced_rights"], true);
    assert_eq!(s["agency_references"][0]["value"], "DUP-1");
    assert_eq!(s["cases"][0]["id"], case_id.as_str());
    assert_eq!(s["merged_refs"], json!([dup_ref]));
    assert_eq!(s["version"], 2);

    // The old reference resolves to the survivor, which says where it lives.
    let old = app.get(&cw, &format!("/api/v1/victims/{dup_ref}")).await;
    old.assert_status(StatusCode::OK);
    assert_eq!(old.body["hub_ref"], survivor_ref.as_str());
    assert_eq!(old.header("content-location"), Some(format!("/api/v1/victims/{survivor_ref}").as_str()));
    assert_canonical_victim(&old.body);
    assert_eq!(&old.body, s, "the merge answer shows the record as read");
    let by_ref = app.get(&cw, &format!("/api/v1/victims?hub_ref={dup_ref}")).await;
    assert_eq!(by_ref.body["items"][0]["hub_ref"], survivor_ref.as_str());
    let listed = app.get(&cw, "/api/v1/victims?name=merge").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "merged records are not listed");
    let case_now = app.get(&cw, &format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(case_now.body["victims"][0]["hub_ref"], survivor_ref.as_str());

    let before = app.fingerprint().await;
    app.post(&sup, &format!("/api/v1/victims/{survivor_ref}/merge"), request)
        .await
        .assert_problem(StatusCode::CONFLICT, "already-merged");
    app.post(&sup, &format!("/api/v1/victims/{survivor_ref}/merge"), json!({"duplicate": survivor_ref, "reason": "x"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    app.post(
        &sup,
        &format!("/api/v1/victims/{survivor_ref}/merge"),
        json!({"duplicate": "VCH-0000000000X", "reason": "x"}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(app.fingerprint().await, before);
});

db_test!(a_case_shared_by_both_records_keeps_one_link, |app: TestApp| async move {
    let cw = app.caseworker();
    let a = app.any_victim().await;
    let b = app.any_victim().await;
    let case = app
        .post(
            &cw,
            &format!("/api/v1/victims/{a}/cases"),
            json!({"offence_group": "burglary", "date_reported": "2026-11-02"}),
        )
        .await;
    let case_id = case.body["id"].as_str().unwrap().to_owned();
    app.post(&cw, &format!("/api/v1/cases/{case_id}/victims"), json!({"hub_ref": b}))
        .await
        .assert_status(StatusCode::CREATED);
    let merged = app
        .post(&app.supervisor(), &format!("/api/v1/victims/{a}/merge"), json!({"duplicate": b, "reason": "same"}))
        .await;
    merged.assert_status(StatusCode::OK);
    assert_eq!(merged.body["moved_cases"], 0);
    let case_now = app.get(&cw, &format!("/api/v1/cases/{case_id}")).await;
    assert_eq!(case_now.body["victims"].as_array().unwrap().len(), 1);
    // A record merged into one that is later merged again follows to the final survivor.
    let c = app.any_victim().await;
    app.post(&app.supervisor(), &format!("/api/v1/victims/{c}/merge"), json!({"duplicate": a, "reason": "same again"}))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(app.get(&cw, &format!("/api/v1/victims/{b}")).await.body["hub_ref"], c.as_str());
});
