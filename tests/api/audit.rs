//! The audit trail: one event per audited action, append-only, and tampering detected.
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use care_hub::entities::audit_events;
use care_hub::vocab::Role;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, Statement};
use serde_json::{Value, json};

use crate::common::*;
use crate::db_test;

async fn events(app: &TestApp) -> Vec<audit_events::Model> {
    audit_events::Entity::find().order_by_asc(audit_events::Column::Seq).all(app.state.db.read()).await.unwrap()
}

/// A request, the reason it gives, and the action and resource its one event must name.
type Step = (&'static str, Method, String, String, Option<Value>, Option<&'static str>, &'static str, &'static str);

/// Sends a request with a known request id and returns the events it wrote.
async fn audited(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    reason: Option<&str>,
) -> (TestResponse, Vec<audit_events::Model>) {
    let before = events(app).await.len();
    let mut headers = vec![("x-request-id", "req-under-test")];
    if method == Method::PATCH {
        headers.push(("if-match", "\"1\""));
    }
    if let Some(r) = reason {
        headers.push(("x-access-reason", r));
    }
    let r = app.call(method, path, token, body, &headers).await;
    let after = events(app).await;
    (r, after[before..].to_vec())
}

db_test!(each_audited_action_writes_exactly_one_event, |app: TestApp| async move {
    let cw = app.caseworker();
    let sup = app.supervisor();
    let admin = app.admin();
    let created = app.victim(json!({"given_name": "Audit", "family_name": "Subject", "agency_references": [{"agency": "TEST-CPS", "type": "cps_urn", "value": "01AB1234526"}]})).await;
    let hub = created.body["hub_ref"].as_str().unwrap().to_owned();
    let dup = app.any_victim().await;
    let case = app
        .post(
            &cw,
            &format!("/api/v1/victims/{hub}/cases"),
            json!({"offence_group": "robbery", "date_reported": "2026-11-01"}),
        )
        .await;
    let case_id = case.body["id"].as_str().unwrap().to_owned();
    let other = app.any_victim().await;
    app.post(&admin, "/api/v1/users", json!({"email": "aud@hub.example", "name": "Aud", "role": "caseworker", "team": TEAM, "password": "an audited passphrase"}))
        .await
        .assert_status(StatusCode::CREATED);
    let login = json!({"email": "aud@hub.example", "password": "an audited passphrase"});

    let v = format!("/api/v1/victims/{hub}");
    let c = format!("/api/v1/cases/{case_id}");
    let steps: Vec<Step> = vec![
        (
            "create victim",
            Method::POST,
            "/api/v1/victims".into(),
            cw.clone(),
            Some(json!({"given_name": "New", "family_name": "Person"})),
            None,
            "create",
            "victim",
        ),
        ("read victim", Method::GET, v.clone(), cw.clone(), None, None, "read", "victim"),
        ("search", Method::GET, "/api/v1/victims?name=audit".into(), cw.clone(), None, None, "read", "victims"),
        (
            "lookup",
            Method::GET,
            "/api/v1/victims/lookup?agency=TEST-CPS&type=cps_urn&value=01AB1234526".into(),
            cw.clone(),
            None,
            None,
            "read",
            "victim",
        ),
        (
            "update victim",
            Method::PATCH,
            v.clone(),
            cw.clone(),
            Some(json!({"preferred_name": "Aud"})),
            None,
            "update",
            "victim",
        ),
        (
            "add reference",
            Method::POST,
            format!("{v}/agency-references"),
            cw.clone(),
            Some(json!({"agency": FORCE, "type": "crime_reference", "value": "AUD-1"})),
            None,
            "update",
            "victim",
        ),
        (
            "open case",
            Method::POST,
            format!("{v}/cases"),
            cw.clone(),
            Some(json!({"offence_group": "arson", "date_reported": "2026-11-02"})),
            None,
            "create",
            "case",
        ),
        ("read case", Method::GET, c.clone(), cw.clone(), None, None, "read", "case"),
        (
            "update case",
            Method::PATCH,
            c.clone(),
            cw.clone(),
            Some(json!({"location_type": "online"})),
            None,
            "update",
            "case",
        ),
        (
            "link victim",
            Method::POST,
            format!("{c}/victims"),
            cw.clone(),
            Some(json!({"hub_ref": other})),
            None,
            "update",
            "case",
        ),
        ("read link", Method::GET, format!("{c}/victims/{other}"), cw.clone(), None, None, "read", "case"),
        ("unlink victim", Method::DELETE, format!("{c}/victims/{other}"), cw.clone(), None, None, "update", "case"),
        (
            "case reference",
            Method::POST,
            format!("{c}/agency-references"),
            cw.clone(),
            Some(json!({"agency": FORCE, "type": "crime_reference", "value": "AUD-CASE"})),
            None,
            "update",
            "case",
        ),
        (
            "case lookup",
            Method::GET,
            "/api/v1/cases/lookup?agency=TEST-POLICE&type=crime_reference&value=AUD-CASE".into(),
            cw.clone(),
            None,
            None,
            "read",
            "case",
        ),
        (
            "merge",
            Method::POST,
            format!("{v}/merge"),
            sup.clone(),
            Some(json!({"duplicate": dup, "reason": "same person"})),
            None,
            "merge",
            "victim",
        ),
        (
            "break-glass read",
            Method::GET,
            v.clone(),
            app.token(Role::Supervisor, Some(OTHER_TEAM), None),
            None,
            Some("safeguarding call at 03:00"),
            "read",
            "victim",
        ),
        (
            "admin read",
            Method::GET,
            v.clone(),
            admin.clone(),
            None,
            Some("complaint investigation C-9"),
            "read",
            "victim",
        ),
        (
            "legal hold",
            Method::POST,
            format!("{v}/legal-hold"),
            sup.clone(),
            Some(json!({"reason": "litigation"})),
            None,
            "update",
            "victim",
        ),
        (
            "subject access export",
            Method::GET,
            format!("{v}/subject-access-export"),
            sup.clone(),
            None,
            None,
            "export",
            "subject_access_export",
        ),
        ("audit query", Method::GET, format!("/api/v1/audit?victim={hub}"), sup.clone(), None, None, "read", "audit"),
        (
            "create team",
            Method::POST,
            "/api/v1/teams".into(),
            admin.clone(),
            Some(json!({"code": "audit-team", "name": "Audit"})),
            None,
            "admin",
            "team",
        ),
        (
            "create agency",
            Method::POST,
            "/api/v1/agencies".into(),
            admin.clone(),
            Some(json!({"code": "AUD-AG", "name": "Audit agency", "kind": "other"})),
            None,
            "admin",
            "agency",
        ),
        (
            "sign in",
            Method::POST,
            "/api/v1/auth/login".into(),
            String::new(),
            Some(login.clone()),
            None,
            "sign_in",
            "session",
        ),
        (
            "failed sign in",
            Method::POST,
            "/api/v1/auth/login".into(),
            String::new(),
            Some(json!({"email": "aud@hub.example", "password": "not the password"})),
            None,
            "sign_in",
            "session",
        ),
    ];
    for (name, method, path, token, body, reason, action, resource) in steps {
        let (r, written) = audited(&app, method, &path, &token, body, reason).await;
        assert!(r.status.is_success() || name == "failed sign in", "{name}: {} {}", r.status, r.text);
        assert_eq!(written.len(), 1, "{name}: exactly one event, got {written:#?}");
        let e = &written[0];
        assert_eq!(e.action.as_str(), action, "{name}");
        assert_eq!(e.resource_type, resource, "{name}");
        assert_eq!(e.request_id.as_deref(), Some("req-under-test"), "{name}");
        assert_eq!(e.reason.as_deref(), reason, "{name}");
        assert_eq!(e.break_glass, name == "break-glass read", "{name}");
        assert_eq!(e.outcome.as_str(), if name == "failed sign in" { "failure" } else { "success" }, "{name}");
        if ["victim", "victims", "case", "subject_access_export"].contains(&resource) {
            assert!(e.victim_id.is_some() || e.subjects.0.len() > 1, "{name}: names the victims whose data it touched");
        }
    }
    // A refused request writes nothing.
    let (r, written) = audited(&app, Method::GET, &v, &app.other_caseworker(), None, None).await;
    r.assert_status(StatusCode::NOT_FOUND);
    assert!(written.is_empty());
    // Refresh and sign-out are audited too.
    let session = app.post("", "/api/v1/auth/login", login).await;
    let (_, refreshed) = audited(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        "",
        Some(json!({"refresh_token": session.body["refresh_token"]})),
        None,
    )
    .await;
    assert_eq!(refreshed.len(), 1);
    assert_eq!(refreshed[0].action.as_str(), "refresh");
});

db_test!(supervisors_see_who_looked_at_their_teams_victims, |app: TestApp| async move {
    let hub = app.any_victim().await;
    app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}")).await.assert_status(StatusCode::OK);
    app.get_with_reason(
        &app.token(Role::Supervisor, Some(OTHER_TEAM), None),
        &format!("/api/v1/victims/{hub}"),
        "urgent safeguarding",
    )
    .await
    .assert_status(StatusCode::OK);
    let log = app.get(&app.supervisor(), &format!("/api/v1/audit?victim={hub}")).await;
    log.assert_status(StatusCode::OK);
    let items = log.body["items"].as_array().unwrap();
    let actions: Vec<(&str, &str, bool)> = items
        .iter()
        .map(|e| {
            (e["action"].as_str().unwrap(), e["actor_role"].as_str().unwrap(), e["break_glass"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        actions,
        [("read", "supervisor", true), ("read", "caseworker", false), ("create", "caseworker", false)],
        "newest first"
    );
    assert_eq!(items[0]["victims"], json!([hub]));
    assert_eq!(items[0]["reason"], "urgent safeguarding");
    let flagged = app.get(&app.supervisor(), "/api/v1/audit?break_glass=true").await;
    assert_eq!(flagged.body["items"].as_array().unwrap().len(), 1, "break-glass access is there to review");
    // Caseworkers do not query the audit; another team's supervisor cannot ask about this victim.
    app.get(&app.caseworker(), "/api/v1/audit").await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get(&app.token(Role::Supervisor, Some(OTHER_TEAM), None), &format!("/api/v1/audit?victim={hub}"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
    let all = app.get(&app.admin(), "/api/v1/audit?action=read&limit=1").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    assert!(all.body["next_cursor"].is_string());
    let ok = app.get(&app.admin(), "/api/v1/audit/verify").await;
    ok.assert_status(StatusCode::OK);
    assert_eq!(ok.body["ok"], true);
    assert_eq!(ok.body["events_checked"], ok.body["head_seq"]);
    app.get(&app.supervisor(), "/api/v1/audit/verify").await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
});

async fn raw(app: &TestApp, sql: &str) -> Result<(), String> {
    let db = app.state.db.read();
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

db_test!(the_database_refuses_to_change_or_delete_audit_events, |app: TestApp| async move {
    app.any_victim().await;
    let update = raw(&app, "UPDATE audit_events SET actor = 'someone else'").await;
    assert!(update.as_ref().is_err_and(|e| e.contains("append-only")), "{update:?}");
    let delete = raw(&app, "DELETE FROM audit_events").await;
    assert!(delete.as_ref().is_err_and(|e| e.contains("append-only")), "{delete:?}");
    if app.backend == Backend::Postgres {
        let truncate = raw(&app, "TRUNCATE audit_events").await;
        assert!(truncate.as_ref().is_err_and(|e| e.contains("append-only")), "{truncate:?}");
    }
    assert!(care_hub::audit::verify(app.state.db.read()).await.unwrap().ok);
});

/// Lets the test itself tamper, as someone with direct database access could.
async fn disable_guards(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => {
            raw(app, "DROP TRIGGER audit_events_no_update").await.unwrap();
            raw(app, "DROP TRIGGER audit_events_no_delete").await.unwrap();
        }
        Backend::Postgres => raw(app, "ALTER TABLE audit_events DISABLE TRIGGER USER").await.unwrap(),
    }
}

async fn app_with_events(backend: Backend) -> TestApp {
    let app = TestApp::new(backend).await;
    let hub = app.any_victim().await;
    for _ in 0..4 {
        app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}")).await.assert_status(StatusCode::OK);
    }
    app
}

async fn first_break(app: &TestApp) -> (i64, String) {
    let v = app.get(&app.admin(), "/api/v1/audit/verify").await;
    v.assert_status(StatusCode::OK);
    assert_eq!(v.body["ok"], false, "{}", v.text);
    (v.body["first_break"]["seq"].as_i64().unwrap(), v.body["first_break"]["problem"].as_str().unwrap().to_owned())
}

async fn tampering_is_detected(backend: Backend) {
    if backend == Backend::Postgres && postgres_url().is_none() {
        return;
    }
    // Altered: one field of event 8.
    let app = app_with_events(backend).await;
    disable_guards(&app).await;
    raw(&app, "UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 8").await.unwrap();
    assert_eq!(first_break(&app).await, (8, "altered".into()));

    // Removed: event 7 gone.
    let app = app_with_events(backend).await;
    disable_guards(&app).await;
    raw(&app, "DELETE FROM audit_events WHERE seq = 7").await.unwrap();
    assert_eq!(first_break(&app).await, (7, "missing".into()));

    // Reordered: events 8 and 9 swap places.
    let app = app_with_events(backend).await;
    disable_guards(&app).await;
    raw(&app, "UPDATE audit_events SET seq = -1 WHERE seq = 8").await.unwrap();
    raw(&app, "UPDATE audit_events SET seq = 8 WHERE seq = 9").await.unwrap();
    raw(&app, "UPDATE audit_events SET seq = 9 WHERE seq = -1").await.unwrap();
    let (seq, problem) = first_break(&app).await;
    assert_eq!(seq, 8);
    assert!(problem == "reordered" || problem == "altered", "{problem}");

    // Truncated: the newest event removed.
    let app = app_with_events(backend).await;
    disable_guards(&app).await;
    let last = events(&app).await.last().unwrap().seq;
    raw(&app, &format!("DELETE FROM audit_events WHERE seq = {last}")).await.unwrap();
    let (seq, problem) = first_break(&app).await;
    assert_eq!((seq, problem.as_str()), (last, "truncated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_detected_sqlite() {
    tampering_is_detected(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_detected_postgres() {
    tampering_is_detected(Backend::Postgres).await;
}

db_test!(concurrent_reads_keep_one_unbroken_chain, |app: TestApp| async move {
    let hub = app.any_victim().await;
    let path = format!("/api/v1/victims/{hub}");
    let mut tasks = Vec::new();
    let app = std::sync::Arc::new(app);
    for _ in 0..40 {
        let app = app.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let token = app.caseworker();
            let req = Request::builder()
                .uri(&path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            app.send(req).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let reads = events(&app).await.iter().filter(|e| e.action.as_str() == "read").count();
    assert_eq!(reads, 40);
    let v = care_hub::audit::verify(app.state.db.read()).await.unwrap();
    assert!(v.ok, "{v:?}");
});

db_test!(concurrent_writes_keep_one_unbroken_chain, |app: TestApp| async move {
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"given_name": "Parallel", "family_name": format!("Writer{i}")});
            app.post(&app.caseworker(), "/api/v1/victims", body).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let v = care_hub::audit::verify(app.state.db.read()).await.unwrap();
    assert!(v.ok, "{v:?}");
});

db_test!(a_read_batch_waits_for_a_change_holding_the_head_then_joins_the_chain, |app: TestApp| async move {
    // A change that has appended its event holds the chain's head (on PostgreSQL its row lock; on
    // SQLite the writer) until it commits; a read arriving meanwhile is linked after it.
    let hub = app.any_victim().await;
    let tx = app.state.db.begin_write().await.unwrap();
    let actor = care_hub::audit::Actor { id: "holder".into(), ..Default::default() };
    let event = care_hub::audit::Event::new(care_hub::vocab::AuditAction::Update, "test");
    care_hub::audit::record(&tx, &actor, start_time(), event).await.unwrap();
    let app = std::sync::Arc::new(app);
    let reader = {
        let app = app.clone();
        tokio::spawn(async move { app.get(&app.caseworker(), &format!("/api/v1/victims/{hub}")).await.status })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "the read was answered before its audit event could be committed");
    tx.commit().await.unwrap();
    assert_eq!(reader.await.unwrap(), StatusCode::OK);
    let all = events(&app).await;
    let holder = all.iter().position(|e| e.actor == "holder").expect("the change's event");
    let read = all.iter().rposition(|e| e.action.as_str() == "read").expect("the read's event");
    assert!(read > holder, "the read is linked after the change it waited for");
    assert!(care_hub::audit::verify(app.state.db.read()).await.unwrap().ok);
});

db_test!(an_abandoned_transaction_does_not_hold_the_chain, |app: TestApp| async move {
    let db = app.state.db.clone();
    let slow = match app.backend {
        Backend::Postgres => "SELECT pg_sleep(2)",
        Backend::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT count(*) FROM c"
        }
    };
    // A change that has appended its audit event (on PostgreSQL: locked the chain's head) and is
    // cut off mid-statement, as when its client disconnects or its request times out.
    let abandoned = tokio::spawn(async move {
        let tx = db.begin_write().await.unwrap();
        let actor = care_hub::audit::Actor { id: "abandoned".into(), ..Default::default() };
        let event = care_hub::audit::Event::new(care_hub::vocab::AuditAction::Update, "test");
        care_hub::audit::record(&tx, &actor, start_time(), event).await.unwrap();
        tx.execute_unprepared(slow).await.unwrap();
        tx.commit().await.unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    abandoned.abort();
    let _ = abandoned.await;
    // The next change goes through as soon as the cut-off statement ends (a database cannot stop a
    // statement half-way), not when the connection happens to be reused; the abandoned event never
    // happened. (Before WriteTx, the transaction stayed open on its pooled connection and this
    // request ran into its 10-second limit.)
    let started = std::time::Instant::now();
    app.post(&app.caseworker(), "/api/v1/victims", json!({"given_name": "After", "family_name": "Abandoned"}))
        .await
        .assert_status(StatusCode::CREATED);
    // Well under the test app's 10-second request limit, which is what a leaked transaction costs.
    assert!(started.elapsed() < std::time::Duration::from_secs(9), "waited {:?}", started.elapsed());
    assert!(events(&app).await.iter().all(|e| e.actor != "abandoned"));
    assert!(care_hub::audit::verify(app.state.db.read()).await.unwrap().ok);
});

db_test!(requests_cut_off_at_any_point_leave_nothing_half_done, |app: TestApp| async move {
    let app = std::sync::Arc::new(app);
    let before = app.fingerprint().await;
    let mut created = 0;
    for i in 0..300u64 {
        let task = {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"given_name": "Cut", "family_name": format!("Off{i}"), "agency_references": [{"agency": FORCE, "type": "crime_reference", "value": format!("CUT-{i}")}]});
                app.post(&app.caseworker(), "/api/v1/victims", body).await.status
            })
        };
        // Cut the request off somewhere between arriving and committing.
        tokio::time::sleep(std::time::Duration::from_micros(i * 97 % 4000)).await;
        task.abort();
        if let Ok(status) = task.await {
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    // Each victim either exists whole (record, reference, audit event) or not at all.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = app.fingerprint().await;
    let victims = after["victims.rows"] - before["victims.rows"];
    created += victims;
    assert_eq!(after["agency_references.rows"] - before["agency_references.rows"], victims, "a reference per record");
    assert_eq!(after["audit_events.rows"] - before["audit_events.rows"], victims, "an audit event per record");
    // No connection went back to the pool inside a transaction. A cut-off request's rollback is
    // sent as its connection goes back, on another task, so a loaded machine may take a moment;
    // a connection really left inside a transaction would stay so until the server's 15 s
    // idle-in-transaction timeout.
    if app.backend == Backend::Postgres {
        let db = app.state.db.read();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
        loop {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                     AND state = 'idle in transaction'",
                ))
                .await
                .unwrap()
                .unwrap();
            let open = row.try_get::<i64>("", "n").unwrap();
            if open == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{open} cut-off requests left their transactions open");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    // Nothing is left holding a lock: the next change goes through without waiting out a lock
    // (a held one would make it wait the 10 s lock timeout and fail).
    let started = std::time::Instant::now();
    app.post(&app.caseworker(), "/api/v1/victims", json!({"given_name": "Still", "family_name": "Working"}))
        .await
        .assert_status(StatusCode::CREATED);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "waited {:?}", started.elapsed());
    assert!(care_hub::audit::verify(app.state.db.read()).await.unwrap().ok);
    eprintln!("{created} of 300 cut-off requests had committed");
});
