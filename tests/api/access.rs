//! Who sees what: break glass, admins' reasons, agency liaisons' minimal view, contact details
//! kept to the team, subject access exports, legal hold and retention.
use axum::http::{Method, StatusCode};
use care_hub::vocab::Role;
use serde_json::json;

use crate::common::*;
use crate::db_test;

fn person() -> serde_json::Value {
    json!({
        "given_name": "Robin", "family_name": "Access", "date_of_birth": "1979-06-15",
        "contact": {"phone": "07700 900555", "email": "robin@example.org", "restrictions": "text only"},
        "language": "cy", "interpreter_needed": true, "ethnicity": "black_african", "sex": "female",
        "enhanced_reasons": [{"reason": "intimidated", "assessed_on": "2026-11-01"}],
        "agency_references": [{"agency": "TEST-CPS", "type": "cps_urn", "value": "01AB7654326"}]
    })
}

db_test!(break_glass_and_admin_reads_need_a_reason_and_hide_contact_details, |app: TestApp| async move {
    let created = app.victim(person()).await;
    let path = format!("/api/v1/victims/{}", created.body["hub_ref"].as_str().unwrap());
    let outsider = app.token(Role::Supervisor, Some(OTHER_TEAM), None);
    app.get(&outsider, &path).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
    let glass = app.get_with_reason(&outsider, &path, "Police called out of hours: risk to life").await;
    glass.assert_status(StatusCode::OK);
    assert_eq!(glass.body["contact"], serde_json::Value::Null);
    assert_eq!(glass.body["redacted"], json!(["contact"]));
    assert_eq!(glass.body["language"], "cy");
    assert_canonical_victim(&glass.body);
    // Break glass reads; it never writes.
    let write = app
        .call(
            Method::PATCH,
            &path,
            &outsider,
            Some(json!({"language": "en"})),
            &[("if-match", "\"1\""), ("x-access-reason", "x")],
        )
        .await;
    write.assert_problem(StatusCode::NOT_FOUND, "not-found");
    // A caseworker's reason does not open another team's record.
    app.get_with_reason(&app.other_caseworker(), &path, "curious")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.get(&app.admin(), &path).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let admin = app.get_with_reason(&app.admin(), &path, "Data protection officer review DPO-4").await;
    assert_eq!(admin.body["contact"], serde_json::Value::Null);
    app.call(
        Method::PATCH,
        &path,
        &app.admin(),
        Some(json!({"language": "en"})),
        &[("if-match", "\"1\""), ("x-access-reason", "x")],
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // The team sees everything.
    let own = app.get(&app.caseworker(), &path).await;
    assert_eq!(own.body["contact"]["phone"], "07700 900555");
    assert!(own.body.get("redacted").is_none());
});

db_test!(agency_liaisons_see_the_minimum_of_linked_records_only, |app: TestApp| async move {
    let created = app.victim(person()).await;
    let hub = created.body["hub_ref"].as_str().unwrap().to_owned();
    let cw = app.caseworker();
    let linked_case = app
        .post(&cw, &format!("/api/v1/victims/{hub}/cases"), json!({"offence_group": "robbery", "date_reported": "2026-11-01", "agency_references": [{"agency": "TEST-POLICE-N", "type": "crime_reference", "value": "N-77"}]}))
        .await;
    let other_case = app
        .post(
            &cw,
            &format!("/api/v1/victims/{hub}/cases"),
            json!({"offence_group": "rape", "date_reported": "2026-10-01"}),
        )
        .await;
    let unlinked = app.any_victim().await;
    let cps = app.token(Role::AgencyLiaison, None, Some("TEST-CPS"));
    let court = app.token(Role::AgencyLiaison, None, Some("TEST-COURT"));
    let force = app.token(Role::AgencyLiaison, None, Some(FORCE));

    let seen = app.get(&cps, &format!("/api/v1/victims/{hub}")).await;
    seen.assert_status(StatusCode::OK);
    let keys: Vec<&str> = seen.body.as_object().unwrap().keys().map(String::as_str).collect();
    for hidden in ["contact", "ethnicity", "sex", "disability", "needs_assessment", "team", "assigned_caseworker"] {
        assert!(!keys.contains(&hidden), "a liaison must not see {hidden}: {}", seen.text);
    }
    assert_eq!(seen.body["interpreter_needed"], true);
    assert_eq!(seen.body["agency_references"].as_array().unwrap().len(), 1);
    assert_eq!(seen.body["cases"], json!([]), "no case of this victim concerns the CPS area");
    let _: care_hub::victims::dto::AgencyVictimView = serde_json::from_value(seen.body.clone()).unwrap();
    // The force's liaison sees the case its BCU holds a reference for, and only that one.
    let by_force = app.get(&force, &format!("/api/v1/victims/{hub}")).await;
    by_force.assert_status(StatusCode::OK);
    assert_eq!(by_force.body["cases"].as_array().unwrap().len(), 1);
    assert_eq!(by_force.body["cases"][0]["id"], linked_case.body["id"]);
    app.get(&force, &format!("/api/v1/cases/{}", linked_case.body["id"].as_str().unwrap()))
        .await
        .assert_status(StatusCode::OK);
    app.get(&court, &format!("/api/v1/cases/{}", linked_case.body["id"].as_str().unwrap()))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    let _ = other_case;
    // Unlinked records do not exist for a liaison.
    app.get(&court, &format!("/api/v1/victims/{hub}")).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
    app.get(&cps, &format!("/api/v1/victims/{unlinked}")).await.assert_problem(StatusCode::NOT_FOUND, "not-found");
    let found = app.get(&cps, "/api/v1/victims/lookup?agency=TEST-CPS&type=cps_urn&value=01AB7654326").await;
    assert_eq!(found.body["hub_ref"], hub.as_str());
    assert!(found.body.get("contact").is_none());
    let list = app.get(&cps, "/api/v1/victims").await;
    let refs: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().map(|i| i["hub_ref"].as_str().unwrap()).collect();
    assert_eq!(refs, [hub.as_str()]);
    // Liaisons do not change records.
    app.call(
        Method::PATCH,
        &format!("/api/v1/victims/{hub}"),
        &cps,
        Some(json!({"language": "en"})),
        &[("if-match", "\"1\"")],
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.post(&cps, "/api/v1/victims", json!({"given_name": "A", "family_name": "B"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
});

db_test!(a_subject_access_export_holds_everything_and_who_saw_it, |app: TestApp| async move {
    let created = app.victim(person()).await;
    let hub = created.body["hub_ref"].as_str().unwrap().to_owned();
    let dup = app
        .victim(json!({"given_name": "Robyn", "family_name": "Access", "contact": {"email": "old@example.org"}}))
        .await;
    let dup_ref = dup.body["hub_ref"].as_str().unwrap().to_owned();
    app.get(&app.caseworker(), &format!("/api/v1/victims/{dup_ref}")).await.assert_status(StatusCode::OK);
    app.post(
        &app.caseworker(),
        &format!("/api/v1/victims/{hub}/cases"),
        json!({"offence_group": "fraud", "date_reported": "2026-11-03"}),
    )
    .await;
    app.post(
        &app.supervisor(),
        &format!("/api/v1/victims/{hub}/merge"),
        json!({"duplicate": dup_ref, "reason": "same person"}),
    )
    .await
    .assert_status(StatusCode::OK);
    app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}")).await.assert_status(StatusCode::OK);

    let path = format!("/api/v1/victims/{hub}/subject-access-export");
    app.get(&app.caseworker(), &path).await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get_with_reason(&app.token(Role::Supervisor, Some(OTHER_TEAM), None), &path, "curious")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let export = app.get(&app.supervisor(), &path).await;
    export.assert_status(StatusCode::OK);
    let b = &export.body;
    assert_eq!(b["record"]["hub_ref"], hub.as_str());
    assert_eq!(b["record"]["contact"]["phone"], "07700 900555", "the person gets their own contact details");
    assert_eq!(b["cases"].as_array().unwrap().len(), 1);
    assert_eq!(b["merged_records"][0]["hub_ref"], dup_ref.as_str());
    assert_eq!(b["merges"][0]["reason"], "same person");
    let log = b["access_log"].as_array().unwrap();
    let reads_of_dup = log.iter().filter(|e| e["action"] == "read" && e["victims"] == json!([dup_ref])).count();
    assert_eq!(reads_of_dup, 1, "the merged record's history comes along");
    assert!(log.iter().any(|e| e["action"] == "merge"));
    // The export itself is recorded.
    let again = app.get(&app.supervisor(), &path).await;
    assert!(again.body["access_log"].as_array().unwrap().iter().any(|e| e["action"] == "export"));
    app.get_with_reason(&app.admin(), &path, "SAR-2026-031").await.assert_status(StatusCode::OK);
});

db_test!(retention_anonymises_closed_records_unless_held, |app: TestApp| async move {
    let cw = app.caseworker();
    let sup = app.supervisor();
    let mut refs = Vec::new();
    for (given, closed) in [("Old", true), ("Held", true), ("Open", false)] {
        let mut body = person();
        body["given_name"] = json!(given);
        body["agency_references"][0]["value"] = json!(format!("01AB{:05}26", refs.len() + 1));
        let v = app.victim(body).await;
        let hub = v.body["hub_ref"].as_str().unwrap().to_owned();
        let case = app
            .post(&cw, &format!("/api/v1/victims/{hub}/cases"), json!({"offence_group": "robbery", "date_reported": "2019-01-10", "agency_references": [{"agency": FORCE, "type": "crime_reference", "value": format!("RET-{given}")}]}))
            .await;
        if closed {
            let path = format!("/api/v1/cases/{}", case.body["id"].as_str().unwrap());
            app.patch(&cw, &path, "\"1\"", json!({"status": "closed", "closed_on": "2019-06-30"}))
                .await
                .assert_status(StatusCode::OK);
        }
        refs.push(hub);
    }
    let hold =
        app.post(&sup, &format!("/api/v1/victims/{}/legal-hold", refs[1]), json!({"reason": "civil claim"})).await;
    hold.assert_status(StatusCode::CREATED);
    assert_eq!(app.get(&sup, &format!("/api/v1/victims/{}/legal-hold", refs[1])).await.body["held"], true);
    app.post(&cw, &format!("/api/v1/victims/{}/legal-hold", refs[1]), json!({"reason": "x"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Six years after 2019-06-30 the first closed record is due (the clock says 2026).
    app.post(&sup, "/api/v1/retention/runs", json!({"dry_run": true}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let dry = app.post(&app.admin(), "/api/v1/retention/runs", json!({"dry_run": true})).await;
    dry.assert_status(StatusCode::OK);
    assert_eq!(dry.body["anonymised"], json!([refs[0]]));
    assert_eq!(dry.body["held"], json!([refs[1]]));
    assert_eq!(
        app.get(&cw, &format!("/api/v1/victims/{}", refs[0])).await.body["given_name"],
        "Old",
        "a dry run changes nothing"
    );

    let run = app.post(&app.admin(), "/api/v1/retention/runs", json!({})).await;
    assert_eq!(run.body["anonymised"], json!([refs[0]]));
    let gone = app.get(&cw, &format!("/api/v1/victims/{}", refs[0])).await;
    gone.assert_status(StatusCode::OK);
    let g = &gone.body;
    assert_eq!((g["given_name"].as_str(), g["family_name"].as_str()), (Some("Anonymised"), Some("Anonymised")));
    assert_eq!(g["contact"]["phone"], serde_json::Value::Null);
    assert_eq!(g["date_of_birth"], "1979-01-01", "year of birth kept for age bands");
    assert_eq!(g["ethnicity"], "black_african", "equality fields kept for reporting");
    assert_eq!(g["agency_references"], json!([]));
    assert_eq!(g["cases"].as_array().unwrap().len(), 1, "cases kept for reporting");
    app.get(&cw, "/api/v1/cases/lookup?agency=TEST-POLICE&type=crime_reference&value=RET-Old")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    assert_eq!(app.get(&cw, &format!("/api/v1/victims/{}", refs[1])).await.body["given_name"], "Held");
    assert_eq!(app.get(&cw, &format!("/api/v1/victims/{}", refs[2])).await.body["given_name"], "Open");
    // Running again does nothing new; lifting the hold lets the next run anonymise it.
    let again = app.post(&app.admin(), "/api/v1/retention/runs", json!({})).await;
    assert_eq!(again.body["anonymised"], json!([]));
    app.delete(&sup, &format!("/api/v1/victims/{}/legal-hold", refs[1])).await.assert_status(StatusCode::NO_CONTENT);
    let after = app.post(&app.admin(), "/api/v1/retention/runs", json!({})).await;
    assert_eq!(after.body["anonymised"], json!([refs[1]]));
    let audit = app.get(&app.admin(), "/api/v1/audit?action=anonymise").await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 2, "each record anonymised once, audited once");
    // A longer policy (admin only) keeps records longer.
    let policy = app.get(&app.admin(), "/api/v1/retention-policies/victim_record").await;
    assert_eq!(policy.body["retain_days"], 2192);
    app.patch(&sup, "/api/v1/retention-policies/victim_record", "\"1\"", json!({"retain_days": 3650}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.patch(&app.admin(), "/api/v1/retention-policies/victim_record", "\"1\"", json!({"retain_days": 5}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    app.patch(&app.admin(), "/api/v1/retention-policies/victim_record", "\"1\"", json!({"retain_days": 3650}))
        .await
        .assert_status(StatusCode::OK);
});
