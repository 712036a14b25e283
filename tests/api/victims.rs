//! The victim record: create, read, search, update with If-Match, duplicates, agency references.
use axum::http::StatusCode;
use care_hub::vocab::Role;
use serde_json::json;

use crate::common::*;
use crate::db_test;

fn full_victim() -> serde_json::Value {
    json!({
        "victim_type": "direct",
        "given_name": "  Siobhán ",
        "family_name": "O'Brien",
        "preferred_name": "Shiv",
        "date_of_birth": "1988-03-14",
        "contact": {
            "phone": "07700 900321",
            "email": "siobhan@example.org",
            "address": {"line1": "2 Test Road", "town": "Testville", "postcode": "zz9 9zz"},
            "preferred_channel": "sms",
            "restrictions": "No letters to home address"
        },
        "language": "ga",
        "interpreter_needed": false,
        "communication_needs": "Prefers written summaries",
        "ethnicity": "white_irish",
        "sex": "female",
        "disability": "no",
        "enhanced_reasons": [{"reason": "intimidated", "assessed_on": "2026-11-10"}],
        "needs_assessment": {"assessed_on": "2026-11-10", "assessed_by": "PC 99 Test", "needs": ["safety planning"]},
        "assigned_caseworker": "caseworker-user"
    })
}

db_test!(create_returns_the_normalised_record_with_location_and_etag, |app: TestApp| async move {
    let r = app.victim(full_victim()).await;
    let hub_ref = r.body["hub_ref"].as_str().unwrap();
    assert!(hub_ref.starts_with("VCH-") && hub_ref.len() == 15, "{hub_ref}");
    assert_eq!(r.header("location"), Some(format!("/api/v1/victims/{hub_ref}").as_str()));
    assert_eq!(r.etag(), "\"1\"");
    let b = &r.body;
    assert_eq!(b["given_name"], "Siobhán");
    assert_eq!(b["contact"]["address"]["postcode"], "ZZ9 9ZZ");
    assert_eq!(b["team"], TEAM);
    assert_eq!(b["enhanced_rights"], true);
    assert_eq!(b["version"], 1);
    assert_eq!(b["created_at"], "2026-11-16T09:30:00Z");
    assert_eq!(b["needs_assessment"]["needs"], json!(["safety planning"]));

    let got = app.get(&app.caseworker(), &format!("/api/v1/victims/{hub_ref}")).await;
    got.assert_status(StatusCode::OK);
    assert_eq!(got.etag(), "\"1\"");
    assert_eq!(got.body, r.body, "GET returns what POST returned");
    assert_canonical_victim(&got.body);
    // A lower-case reference with O for 0 and L for 1 finds the same record.
    let typed = hub_ref.to_lowercase().replace('0', "o").replace('1', "l");
    app.get(&app.caseworker(), &format!("/api/v1/victims/{typed}")).await.assert_status(StatusCode::OK);
});

db_test!(records_of_another_team_answer_404_and_other_roles_403, |app: TestApp| async move {
    let hub_ref = app.any_victim().await;
    let path = format!("/api/v1/victims/{hub_ref}");
    app.get(&app.other_caseworker(), &path).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.get(&app.token(Role::Analyst, None, None), &path).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // A liaison sees only records linked to their agency.
    app.get(&app.token(Role::AgencyLiaison, None, Some(FORCE)), &path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.get(&app.supervisor(), &path).await.assert_status(StatusCode::OK);
    app.get(&app.admin(), &path).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let admin_read = app.get_with_reason(&app.admin(), &path, "Subject access request SAR-17").await;
    admin_read.assert_status(StatusCode::OK);
    assert_eq!(admin_read.body["contact"], serde_json::Value::Null, "contact details stay with the team");
    assert_eq!(admin_read.body["redacted"], json!(["contact"]));
    let refused = app.patch(&app.other_caseworker(), &path, "\"1\"", json!({"preferred_name": "X"})).await;
    refused.assert_problem(StatusCode::NOT_FOUND, "not-found");
});

db_test!(patch_is_a_merge_patch_that_bumps_the_version, |app: TestApp| async move {
    let created = app.victim(full_victim()).await;
    let path = format!("/api/v1/victims/{}", created.body["hub_ref"].as_str().unwrap());
    app.clock.advance(chrono::Duration::hours(1));
    let r = app
        .patch(&app.caseworker(), &path, "\"1\"", json!({
            "preferred_name": null,
            "contact": {"phone": "+44 7700 900999", "address": {"line2": "Flat 3"}},
            "enhanced_reasons": [{"reason": "vulnerable", "assessed_on": "2026-11-15"}, {"reason": "intimidated", "assessed_on": "2026-11-10"}]
        }))
        .await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.etag(), "\"2\"");
    let b = &r.body;
    assert_eq!(b["version"], 2);
    assert_eq!(b["preferred_name"], serde_json::Value::Null);
    assert_eq!(b["contact"]["phone"], "+44 7700 900999");
    assert_eq!(b["contact"]["address"]["line1"], "2 Test Road", "untouched nested fields stay");
    assert_eq!(b["contact"]["address"]["line2"], "Flat 3");
    assert_eq!(b["contact"]["email"], "siobhan@example.org");
    assert_eq!(b["enhanced_reasons"].as_array().unwrap().len(), 2);
    assert_eq!(b["updated_at"], "2026-11-16T10:30:00Z");
    assert_eq!(b["created_at"], "2026-11-16T09:30:00Z");
    // Clearing every reason clears enhanced rights, which are derived.
    let r = app.patch(&app.caseworker(), &path, "\"2\"", json!({"enhanced_reasons": null})).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body["enhanced_rights"], false);
});

db_test!(stale_if_match_is_refused_and_nothing_changes, |app: TestApp| async move {
    let hub_ref = app.any_victim().await;
    let path = format!("/api/v1/victims/{hub_ref}");
    app.patch(&app.caseworker(), &path, "\"1\"", json!({"preferred_name": "First"}))
        .await
        .assert_status(StatusCode::OK);
    let before = app.fingerprint().await;
    let stale = app.patch(&app.caseworker(), &path, "\"1\"", json!({"preferred_name": "Second"})).await;
    stale.assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
    assert_eq!(stale.body["current_version"], 2);
    let missing = app
        .call(axum::http::Method::PATCH, &path, &app.caseworker(), Some(json!({"preferred_name": "Third"})), &[])
        .await;
    missing.assert_problem(StatusCode::PRECONDITION_REQUIRED, "if-match-required");
    app.patch(&app.caseworker(), &path, "*", json!({"preferred_name": "Fourth"}))
        .await
        .assert_problem(StatusCode::PRECONDITION_REQUIRED, "if-match-required");
    app.patch(&app.caseworker(), &path, "W/\"2\"", json!({"preferred_name": "Fifth"}))
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
    assert_eq!(app.fingerprint().await, before);
    assert_eq!(app.get(&app.caseworker(), &path).await.body["preferred_name"], "First");
});

db_test!(two_caseworkers_editing_at_once_never_lose_an_update, |app: TestApp| async move {
    let hub_ref = app.any_victim().await;
    let path = format!("/api/v1/victims/{hub_ref}");
    let a = app.caseworker();
    let b = app.supervisor();
    let (ra, rb) = tokio::join!(
        app.patch(&a, &path, "\"1\"", json!({"communication_needs": "from A"})),
        app.patch(&b, &path, "\"1\"", json!({"language": "cy"})),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED], "{} / {}", ra.text, rb.text);
    let now = app.get(&a, &path).await;
    assert_eq!(now.body["version"], 2);
    let winner_a = ra.status == StatusCode::OK;
    assert_eq!(now.body["communication_needs"] == "from A", winner_a);
    assert_eq!(now.body["language"] == "cy", !winner_a);
});

db_test!(search_finds_by_name_birth_date_reference_and_pages, |app: TestApp| async move {
    let cw = app.caseworker();
    app.victim(full_victim()).await;
    for (given, family, dob) in
        [("Siobhan", "Smith", "1990-01-01"), ("Sam", "Obrien-Jones", "1971-05-05"), ("Pat", "Test", "1988-03-14")]
    {
        app.victim(json!({"given_name": given, "family_name": family, "date_of_birth": dob})).await;
    }
    app.post(&app.other_caseworker(), "/api/v1/victims", json!({"given_name": "Siobhan", "family_name": "Other"}))
        .await
        .assert_status(StatusCode::CREATED);
    let names = |r: &TestResponse| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|i| i["family_name"].as_str().unwrap().to_owned()).collect()
    };
    let r = app.get(&cw, "/api/v1/victims?name=siob").await;
    r.assert_status(StatusCode::OK);
    assert_eq!(names(&r), ["O'Brien", "Smith"], "accents ignored; other team's record not shown");
    assert_eq!(names(&app.get(&cw, "/api/v1/victims?name=obrien").await), ["O'Brien", "Obrien-Jones"]);
    assert_eq!(names(&app.get(&cw, "/api/v1/victims?name=jones%20sam").await), ["Obrien-Jones"]);
    assert_eq!(names(&app.get(&cw, "/api/v1/victims?date_of_birth=1988-03-14").await), ["O'Brien", "Test"]);
    let admin_search =
        app.get_with_reason(&app.admin(), &format!("/api/v1/victims?name=siobhan&team={OTHER_TEAM}"), "audit").await;
    assert_eq!(names(&admin_search), ["Other"]);
    app.get(&cw, &format!("/api/v1/victims?team={OTHER_TEAM}"))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Pages of two over four records, no repeats, no gaps.
    let mut seen = Vec::new();
    let mut path = "/api/v1/victims?limit=2".to_owned();
    loop {
        let page = app.get(&cw, &path).await;
        page.assert_status(StatusCode::OK);
        assert!(page.body["items"].as_array().unwrap().len() <= 2);
        seen.extend(names(&page));
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/victims?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["O'Brien", "Smith", "Obrien-Jones", "Test"]);
});

db_test!(a_likely_duplicate_is_refused_unless_confirmed, |app: TestApp| async move {
    let first = app.victim(full_victim()).await;
    let hub_ref = first.body["hub_ref"].as_str().unwrap();
    let before = app.fingerprint().await;
    let again = json!({"given_name": "SIOBHAN", "family_name": "obrien", "date_of_birth": "1988-03-14"});
    let r = app.post(&app.caseworker(), "/api/v1/victims", again.clone()).await;
    r.assert_problem(StatusCode::CONFLICT, "possible-duplicate");
    assert_eq!(r.body["existing"], json!([{"hub_ref": hub_ref, "team": TEAM, "matched_on": "name_and_date_of_birth"}]));
    assert_eq!(app.fingerprint().await, before, "nothing written");
    // The caller checked: a different person with the same name and birthday.
    app.post(&app.caseworker(), "/api/v1/victims?allow_duplicate=true", again).await.assert_status(StatusCode::CREATED);
});

db_test!(a_shared_agency_reference_points_at_the_existing_record, |app: TestApp| async move {
    let reference = json!({"agency": FORCE, "type": "crime_reference", "value": "crn-77/26"});
    let mut body = full_victim();
    body["agency_references"] = json!([reference]);
    let first = app.victim(body).await;
    assert_eq!(first.body["agency_references"][0]["value"], "CRN-77/26");
    let hub_ref = first.body["hub_ref"].as_str().unwrap();
    let before = app.fingerprint().await;
    let r = app
        .post(&app.caseworker(), "/api/v1/victims?allow_duplicate=true", json!({
            "given_name": "Someone", "family_name": "Else", "agency_references": [{"agency": "test-police", "type": "crime_reference", "value": "CRN-77/26"}]
        }))
        .await;
    r.assert_problem(StatusCode::CONFLICT, "possible-duplicate");
    assert_eq!(r.body["existing"][0]["hub_ref"], hub_ref);
    assert_eq!(r.body["existing"][0]["matched_on"], "agency_reference");
    assert_eq!(app.fingerprint().await, before);
});

db_test!(agency_references_link_and_look_up_one_record, |app: TestApp| async move {
    let cw = app.caseworker();
    let hub_ref = app.any_victim().await;
    let other = app.any_victim().await;
    let base = format!("/api/v1/victims/{hub_ref}/agency-references");
    let added = app.post(&cw, &base, json!({"agency": "TEST-CPS", "type": "cps_urn", "value": "01 ab 23456 21"})).await;
    added.assert_status(StatusCode::CREATED);
    let id = added.body["id"].as_str().unwrap();
    assert_eq!(added.header("location"), Some(format!("{base}/{id}").as_str()));
    assert_eq!(added.body["value"], "01AB2345621");
    assert_eq!(app.get(&cw, &format!("{base}/{id}")).await.body, added.body);

    let found = app.get(&cw, "/api/v1/victims/lookup?agency=TEST-CPS&type=cps_urn&value=01AB2345621").await;
    found.assert_status(StatusCode::OK);
    assert_eq!(found.body["hub_ref"], hub_ref.as_str());
    assert_eq!(found.body["agency_references"][0]["id"], id);
    app.get(&app.other_caseworker(), "/api/v1/victims/lookup?agency=TEST-CPS&type=cps_urn&value=01AB2345621")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    let search = app.get(&cw, "/api/v1/victims?reference=01AB2345621").await;
    assert_eq!(search.body["items"][0]["hub_ref"], hub_ref.as_str());

    // One reference, one record.
    let before = app.fingerprint().await;
    app.post(
        &cw,
        &format!("/api/v1/victims/{other}/agency-references"),
        json!({"agency": "TEST-CPS", "type": "cps_urn", "value": "01AB2345621"}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "reference-in-use");
    app.post(&cw, &base, json!({"agency": "TEST-CPS", "type": "cps_urn", "value": "01AB2345621"}))
        .await
        .assert_problem(StatusCode::CONFLICT, "reference-exists");
    let bad = app.post(&cw, &base, json!({"agency": "NOPE", "type": "cps_urn", "value": "12345"})).await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(bad.fields(), ["/agency", "/value"]);
    assert_eq!(app.fingerprint().await, before);

    app.delete(&cw, &format!("{base}/{id}")).await.assert_status(StatusCode::NO_CONTENT);
    app.get(&cw, "/api/v1/victims/lookup?agency=TEST-CPS&type=cps_urn&value=01AB2345621")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.delete(&cw, &format!("{base}/{id}")).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
});

db_test!(moving_a_record_to_another_team_needs_a_supervisor, |app: TestApp| async move {
    let hub_ref = app.any_victim().await;
    let path = format!("/api/v1/victims/{hub_ref}");
    app.patch(&app.caseworker(), &path, "\"1\"", json!({"team": OTHER_TEAM}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.patch(&app.supervisor(), &path, "\"1\"", json!({"team": "no-such-team"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    let moved =
        app.patch(&app.supervisor(), &path, "\"1\"", json!({"team": OTHER_TEAM, "assigned_caseworker": null})).await;
    moved.assert_status(StatusCode::OK);
    assert_eq!(moved.body["team"], OTHER_TEAM);
    app.get(&app.caseworker(), &path).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.get(&app.other_caseworker(), &path).await.assert_status(StatusCode::OK);
});

db_test!(invalid_fields_are_all_named_at_once, |app: TestApp| async move {
    let before = app.fingerprint().await;
    let r = app
        .post(&app.caseworker(), "/api/v1/victims", json!({
            "given_name": "  ",
            "family_name": "Valid",
            "date_of_birth": "2027-01-01",
            "contact": {"email": "not-an-email", "phone": "12"},
            "language": "english please",
            "enhanced_reasons": [{"reason": "vulnerable", "assessed_on": "2026-01-01"}, {"reason": "vulnerable", "assessed_on": "2026-02-01"}],
            "team": OTHER_TEAM
        }))
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(
        r.fields(),
        [
            "/given_name",
            "/date_of_birth",
            "/contact/phone",
            "/contact/email",
            "/language",
            "/enhanced_reasons/1/reason"
        ]
    );
    // A valid record for another team is refused for a caseworker; admins do not write records.
    app.post(&app.caseworker(), "/api/v1/victims", json!({"given_name": "A", "family_name": "B", "team": OTHER_TEAM}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post(&app.admin(), "/api/v1/victims", json!({"given_name": "A", "family_name": "B"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let ghost = app.token(Role::Caseworker, Some("ghost-team"), None);
    let r = app.post(&ghost, "/api/v1/victims", json!({"given_name": "A", "family_name": "B"})).await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(r.fields(), ["/team"]);
    assert_eq!(app.fingerprint().await, before);
});
