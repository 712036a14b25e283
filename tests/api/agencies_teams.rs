//! Reference data: agencies and teams, read by everyone, changed by admins.
use axum::http::StatusCode;
use care_hub::vocab::Role;
use serde_json::json;

use crate::common::*;
use crate::db_test;

db_test!(admins_manage_agencies_and_everyone_reads_them, |app: TestApp| async move {
    let admin = app.admin();
    let body =
        json!({"code": "cps-north", "name": "CPS North", "kind": "cps_area", "liaison_email": "cps@example.org"});
    app.post(&app.caseworker(), "/api/v1/agencies", body.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let created = app.post(&admin, "/api/v1/agencies", body.clone()).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.header("location"), Some("/api/v1/agencies/CPS-NORTH"));
    assert_eq!(created.body["code"], "CPS-NORTH");
    app.post(&admin, "/api/v1/agencies", body).await.assert_problem(StatusCode::CONFLICT, "agency-exists");

    let analyst = app.token(Role::Analyst, None, None);
    let cps = app.get(&analyst, "/api/v1/agencies?kind=cps_area").await;
    cps.assert_status(StatusCode::OK);
    let codes: Vec<_> =
        cps.body["items"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(codes, ["TEST-CPS", "CPS-NORTH"]);
    let children = app.get(&analyst, &format!("/api/v1/agencies?parent={FORCE}")).await;
    assert_eq!(children.body["items"][0]["code"], "TEST-POLICE-N");

    let path = "/api/v1/agencies/CPS-NORTH";
    let got = app.get(&analyst, path).await;
    assert_eq!(got.etag(), "\"1\"");
    let changed = app.patch(&admin, path, "\"1\"", json!({"name": "CPS North East", "liaison_email": null})).await;
    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.body["name"], "CPS North East");
    assert_eq!(changed.body["liaison_email"], serde_json::Value::Null);
    app.patch(&admin, path, "\"1\"", json!({"name": "Stale"}))
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED, "stale-version");
    app.patch(&admin, path, "\"2\"", json!({"code": "NEW"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    app.get(&analyst, "/api/v1/agencies/NOPE").await.assert_problem(StatusCode::NOT_FOUND, "not-found");
});

db_test!(agency_parents_must_exist_and_not_loop, |app: TestApp| async move {
    let admin = app.admin();
    let r = app
        .post(
            &admin,
            "/api/v1/agencies",
            json!({"code": "BCU-X", "name": "X", "kind": "police_bcu", "parent": "NOWHERE"}),
        )
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(r.fields(), ["/parent"]);
    // TEST-POLICE-N's parent is TEST-POLICE: making the force a child of its BCU would loop.
    let r = app.patch(&admin, &format!("/api/v1/agencies/{FORCE}"), "\"1\"", json!({"parent": "TEST-POLICE-N"})).await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    assert_eq!(r.body["errors"][0]["code"], "cycle");
    let r = app
        .post(&admin, "/api/v1/agencies", json!({"code": "x", "name": "", "kind": "court", "liaison_email": "nope"}))
        .await;
    assert_eq!(r.fields(), ["/code", "/name", "/liaison_email"]);
});

db_test!(admins_manage_teams, |app: TestApp| async move {
    let admin = app.admin();
    app.post(&app.supervisor(), "/api/v1/teams", json!({"code": "east-hub", "name": "East"}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let created = app.post(&admin, "/api/v1/teams", json!({"code": "East-Hub", "name": "East Hub"})).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.header("location"), Some("/api/v1/teams/east-hub"));
    app.post(&admin, "/api/v1/teams", json!({"code": "east-hub", "name": "Again"}))
        .await
        .assert_problem(StatusCode::CONFLICT, "team-exists");
    app.post(&admin, "/api/v1/teams", json!({"code": "no spaces", "name": "Bad"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    let list = app.get(&app.caseworker(), "/api/v1/teams").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 3);
    let off = app.patch(&admin, "/api/v1/teams/east-hub", "\"1\"", json!({"active": false})).await;
    off.assert_status(StatusCode::OK);
    assert_eq!(off.body["active"], false);
    // An inactive team takes no new records.
    let east = app.token(Role::Caseworker, Some("east-hub"), None);
    app.post(&east, "/api/v1/victims", json!({"given_name": "A", "family_name": "B"}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
});

db_test!(team_lists_refuse_unknown_parameters, |app: TestApp| async move {
    let r = app.get(&app.caseworker(), "/api/v1/teams?lmit=5").await;
    r.assert_problem(StatusCode::BAD_REQUEST, "invalid-query");
    assert_eq!(r.body["errors"][0]["field"], "lmit");
});
