//! Bearer tokens: every API call needs a valid one; each way a token can be wrong answers 401.
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use care_hub::auth::Claims;
use care_hub::vocab::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};

use crate::common::*;
use crate::db_test;

fn claims(app: &TestApp) -> Claims {
    let now = start_time().timestamp();
    let _ = app;
    Claims {
        sub: "someone".into(),
        role: Role::Caseworker,
        team: Some(TEAM.into()),
        agency: None,
        iss: "care-hub".into(),
        aud: "care-hub".into(),
        iat: now,
        nbf: now,
        exp: now + 900,
        jti: None,
    }
}

fn sign(claims: &Claims, secret: &[u8]) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
}

const SECRET: &[u8] = b"test-secret-that-is-long-enough-for-hs256";

db_test!(every_way_a_token_can_be_wrong_answers_401, |app: TestApp| async move {
    let path = "/api/v1/victims";
    let good = sign(&claims(&app), SECRET);
    app.get(&good, path).await.assert_status(StatusCode::OK);

    let r = app.get("", path).await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let basic = app.call(axum::http::Method::GET, path, "", None, &[("authorization", "Basic YTpi")]).await;
    basic.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    let mut expired = claims(&app);
    expired.exp = start_time().timestamp() - 120;
    let mut early = claims(&app);
    early.nbf = start_time().timestamp() + 600;
    let mut audience = claims(&app);
    audience.aud = "another-service".into();
    let mut issuer = claims(&app);
    issuer.iss = "someone-else".into();
    let mut no_team = claims(&app);
    no_team.team = None;
    let mut liaison = claims(&app);
    liaison.role = Role::AgencyLiaison;
    liaison.team = None;
    let none_alg = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&app)).unwrap());
        format!("{header}.{body}.")
    };
    let hs512 = encode(&Header::new(Algorithm::HS512), &claims(&app), &EncodingKey::from_secret(SECRET)).unwrap();
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut c = claims(&app);
        c.role = Role::Admin;
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        parts.join(".")
    };
    for (name, token) in [
        ("expired", sign(&expired, SECRET)),
        ("not yet valid", sign(&early, SECRET)),
        ("wrong audience", sign(&audience, SECRET)),
        ("wrong issuer", sign(&issuer, SECRET)),
        ("wrong secret", sign(&claims(&app), b"another-secret-that-is-long-enough-too")),
        ("caseworker without team", sign(&no_team, SECRET)),
        ("liaison without agency", sign(&liaison, SECRET)),
        ("alg none", none_alg),
        ("other algorithm", hs512),
        ("tampered claims", tampered),
        ("garbage", "not.a.token".into()),
    ] {
        let r = app.get(&token, path).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.text);
        assert_eq!(r.body["code"], "unauthenticated", "{name}");
    }
    // The service clock decides expiry: moving time past exp expires a good token.
    app.clock.advance(chrono::Duration::minutes(20));
    app.get(&good, path).await.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
});
