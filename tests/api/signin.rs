//! Sign-in with the built-in issuer: passwords, rotating refresh tokens, lockout, users admin.
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use care_hub::vocab::Role;
use serde_json::json;

use crate::common::*;
use crate::db_test;

const PASSWORD: &str = "a long enough passphrase";

async fn make_user(app: &TestApp, email: &str, role: &str, team: Option<&str>) -> String {
    let r = app
        .post(
            &app.admin(),
            "/api/v1/users",
            json!({"email": email, "name": "Test User", "role": role, "team": team, "password": PASSWORD}),
        )
        .await;
    r.assert_status(StatusCode::CREATED);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A sign-in from a given client address.
async fn login_from(app: &TestApp, email: &str, password: &str, addr: [u8; 4]) -> TestResponse {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(json!({"email": email, "password": password}).to_string()))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::from((addr, 40000))));
    app.send(req).await
}

db_test!(a_user_signs_in_refreshes_and_signs_out, |app: TestApp| async move {
    let id = make_user(&app, "Sam@Hub.example", "caseworker", Some(TEAM)).await;
    let r = login_from(&app, "sam@hub.example", PASSWORD, [10, 0, 0, 1]).await;
    r.assert_status(StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let me = app.get(&access, "/api/v1/me").await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.body["sub"], id.as_str());
    assert_eq!(me.body["team"], TEAM);
    assert_eq!(me.body["user"]["email"], "sam@hub.example");
    assert!(me.body["user"]["last_login_at"].is_string());
    // The token works for the caseworker's own work.
    app.post(&access, "/api/v1/victims", json!({"given_name": "Via", "family_name": "Login"}))
        .await
        .assert_status(StatusCode::CREATED);

    // Rotation: the refresh token works once and is replaced.
    let rotated = app.post("", "/api/v1/auth/refresh", json!({"refresh_token": refresh})).await;
    rotated.assert_status(StatusCode::OK);
    let refresh2 = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    app.get(rotated.body["access_token"].as_str().unwrap(), "/api/v1/me").await.assert_status(StatusCode::OK);

    // Presenting the old one again is reuse: the whole family is revoked, the new one too.
    app.post("", "/api/v1/auth/refresh", json!({"refresh_token": refresh}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.post("", "/api/v1/auth/refresh", json!({"refresh_token": refresh2}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // A new session signs out.
    let again = login_from(&app, "sam@hub.example", PASSWORD, [10, 0, 0, 1]).await;
    let refresh3 = again.body["refresh_token"].as_str().unwrap().to_owned();
    let out = app.post("", "/api/v1/auth/logout", json!({"refresh_token": refresh3})).await;
    out.assert_status(StatusCode::NO_CONTENT);
    app.post("", "/api/v1/auth/refresh", json!({"refresh_token": refresh3}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    // Unknown tokens sign out quietly too.
    app.post("", "/api/v1/auth/logout", json!({"refresh_token": "nonsense"}))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    // Refresh tokens expire.
    let late = login_from(&app, "sam@hub.example", PASSWORD, [10, 0, 0, 1]).await;
    app.clock.advance(chrono::Duration::hours(25));
    app.post("", "/api/v1/auth/refresh", json!({"refresh_token": late.body["refresh_token"]}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
});

db_test!(wrong_passwords_lock_the_account_then_the_address, |app: TestApp| async move {
    make_user(&app, "locked@hub.example", "caseworker", Some(TEAM)).await;
    make_user(&app, "other@hub.example", "caseworker", Some(TEAM)).await;
    for _ in 0..4 {
        login_from(&app, "locked@hub.example", "wrong password!", [10, 0, 0, 2])
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    // An unknown address answers exactly like a wrong password.
    let unknown = login_from(&app, "nobody@hub.example", "wrong password!", [10, 0, 0, 9]).await;
    unknown.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    login_from(&app, "locked@hub.example", "wrong password!", [10, 0, 0, 3])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    // Five failures: locked, even with the right password, from any address.
    let locked = login_from(&app, "locked@hub.example", PASSWORD, [10, 0, 0, 4]).await;
    locked.assert_problem(StatusCode::TOO_MANY_REQUESTS, "sign-in-locked");
    let retry: i64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
    // Another account is unaffected; the lock ends after the lockout.
    login_from(&app, "other@hub.example", PASSWORD, [10, 0, 0, 4]).await.assert_status(StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(16));
    login_from(&app, "locked@hub.example", PASSWORD, [10, 0, 0, 4]).await.assert_status(StatusCode::OK);

    // Twenty failures from one address lock that address for every account.
    for i in 0..20 {
        let email = format!("guess{i}@hub.example");
        login_from(&app, &email, "wrong password!", [10, 9, 9, 9])
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    login_from(&app, "other@hub.example", PASSWORD, [10, 9, 9, 9])
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "sign-in-locked");
    login_from(&app, "other@hub.example", PASSWORD, [10, 9, 9, 10]).await.assert_status(StatusCode::OK);
});

db_test!(admins_manage_users_and_disabling_ends_sessions, |app: TestApp| async move {
    let admin = app.admin();
    app.post(
        &app.supervisor(),
        "/api/v1/users",
        json!({"email": "x@hub.example", "name": "X", "role": "caseworker", "team": TEAM}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let bad = app
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "not-an-email", "name": "", "role": "caseworker", "password": "short"}),
        )
        .await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed");
    let liaison = app
        .post(
            &admin,
            "/api/v1/users",
            json!({"email": "l@hub.example", "name": "L", "role": "agency_liaison", "agency": "NOPE"}),
        )
        .await;
    assert_eq!(liaison.fields(), ["/agency"]);
    let id = make_user(&app, "dana@hub.example", "caseworker", Some(TEAM)).await;
    app.post(&admin, "/api/v1/users", json!({"email": "DANA@hub.example", "name": "Dup", "role": "analyst"}))
        .await
        .assert_problem(StatusCode::CONFLICT, "user-exists");
    let listed = app.get(&admin, "/api/v1/users?role=caseworker").await;
    assert_eq!(listed.body["items"][0]["email"], "dana@hub.example");
    assert_eq!(listed.body["items"][0]["has_password"], true);
    assert!(
        listed.body["items"][0].get("password").is_none() && !listed.text.contains("argon2"),
        "no password or hash leaves the service"
    );

    let session = login_from(&app, "dana@hub.example", PASSWORD, [10, 0, 1, 1]).await;
    let path = format!("/api/v1/users/{id}");
    let promoted = app.patch(&admin, &path, "\"1\"", json!({"role": "supervisor"})).await;
    promoted.assert_status(StatusCode::OK);
    assert_eq!(promoted.body["role"], "supervisor");
    // A role change ends existing sessions; so does disabling.
    app.post("", "/api/v1/auth/refresh", json!({"refresh_token": session.body["refresh_token"]}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let disabled = app.patch(&admin, &path, "\"2\"", json!({"active": false})).await;
    disabled.assert_status(StatusCode::OK);
    login_from(&app, "dana@hub.example", PASSWORD, [10, 0, 1, 1])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    app.patch(&admin, &path, "\"3\"", json!({"active": true})).await.assert_status(StatusCode::OK);

    // An admin sets a new password; the user changes it again themselves.
    app.post(&admin, &format!("{path}/password"), json!({"password": "brand new admin-set passphrase"}))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    login_from(&app, "dana@hub.example", PASSWORD, [10, 0, 1, 1])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let signed_in = login_from(&app, "dana@hub.example", "brand new admin-set passphrase", [10, 0, 1, 1]).await;
    let token = signed_in.body["access_token"].as_str().unwrap();
    let wrong = app
        .post(
            token,
            "/api/v1/me/password",
            json!({"current_password": "not it at all", "new_password": "my own choice of phrase"}),
        )
        .await;
    assert_eq!(wrong.fields(), ["/current_password"]);
    let weak = app
        .post(
            token,
            "/api/v1/me/password",
            json!({"current_password": "brand new admin-set passphrase", "new_password": "short"}),
        )
        .await;
    assert_eq!(weak.fields(), ["/new_password"]);
    app.post(
        token,
        "/api/v1/me/password",
        json!({"current_password": "brand new admin-set passphrase", "new_password": "my own choice of phrase"}),
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    login_from(&app, "dana@hub.example", "my own choice of phrase", [10, 0, 1, 1]).await.assert_status(StatusCode::OK);
    // Development tokens are not users: no password to change.
    app.post(
        &app.caseworker(),
        "/api/v1/me/password",
        json!({"current_password": "x", "new_password": "my own choice of phrase"}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
});

db_test!(each_token_has_a_request_budget, |app: TestApp| async move {
    let app = TestApp::with_config(app.backend, |c| c.rate_limit_per_minute = 10).await;
    let first = app.caseworker();
    let second = app.token(Role::Caseworker, Some(TEAM), None);
    for _ in 0..10 {
        app.get(&first, "/api/v1/teams").await.assert_status(StatusCode::OK);
    }
    let limited = app.get(&first, "/api/v1/teams").await;
    limited.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    app.get(&second, "/api/v1/teams").await.assert_status(StatusCode::OK);
});
