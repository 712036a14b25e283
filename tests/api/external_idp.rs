//! External identity provider mode: RS256, ES256 and EdDSA tokens verified with public keys from
//! PEM files and a JWKS document, chosen by `kid`; every way a token can be wrong answers 401.
use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use care_hub::auth::Claims;
use care_hub::config::AuthMode;
use care_hub::vocab::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use crate::common::*;
use crate::db_test;

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().expect("openssl is installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A fresh key pair: (private PEM, public PEM file path).
fn keypair(dir: &Path, name: &str, genpkey: &[&str]) -> (Vec<u8>, std::path::PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    args.extend_from_slice(&["-out", private.to_str().unwrap()]);
    openssl(&args);
    openssl(&["pkey", "-in", private.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
    (std::fs::read(&private).unwrap(), public)
}

struct Keys {
    rsa: Vec<u8>,
    rsa_public: Vec<u8>,
    rsa_next: Vec<u8>,
    ec: Vec<u8>,
    ed: Vec<u8>,
    stranger: Vec<u8>,
}

/// Keys `rsa-2026` (RS256) and `ec-1` (ES256) as PEM files; `rsa-2027` (RS256, the next key of a
/// rotation) and `ed-1` (EdDSA) in a JWKS document.
fn setup(dir: &Path) -> (AuthMode, Keys) {
    let rsa_args = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
    let (rsa, rsa_pub) = keypair(dir, "rsa", &rsa_args);
    let (rsa_next, _) = keypair(dir, "rsa-next", &rsa_args);
    let (stranger, _) = keypair(dir, "stranger", &rsa_args);
    let (ec, ec_pub) = keypair(dir, "ec", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let (ed, _) = keypair(dir, "ed", &["-algorithm", "ed25519"]);
    let modulus =
        String::from_utf8(openssl(&["rsa", "-in", dir.join("rsa-next.pem").to_str().unwrap(), "-noout", "-modulus"]))
            .unwrap();
    let modulus = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
    let ed_der = openssl(&["pkey", "-in", dir.join("ed.pem").to_str().unwrap(), "-pubout", "-outform", "DER"]);
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "rsa-2027", "alg": "RS256", "use": "sig", "n": URL_SAFE_NO_PAD.encode(&modulus), "e": "AQAB"},
        {"kty": "OKP", "kid": "ed-1", "alg": "EdDSA", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&ed_der[ed_der.len() - 32..])},
    ]});
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let mode = AuthMode::External {
        pem_keys: vec![("rsa-2026".into(), "RS256".into(), rsa_pub.clone()), ("ec-1".into(), "ES256".into(), ec_pub)],
        jwks_file: Some(jwks_file),
    };
    let keys = Keys { rsa, rsa_public: std::fs::read(rsa_pub).unwrap(), rsa_next, ec, ed, stranger };
    (mode, keys)
}

fn claims() -> Claims {
    let now = start_time().timestamp();
    Claims {
        sub: "idp-user-42".into(),
        role: Role::Caseworker,
        team: Some(TEAM.into()),
        agency: None,
        iss: "care-hub".into(),
        aud: "care-hub".into(),
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: None,
    }
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Claims) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

db_test!(identity_provider_tokens_are_checked_key_by_key, |app: TestApp| async move {
    let dir = tempfile::tempdir().unwrap();
    let (mode, keys) = setup(dir.path());
    let app = TestApp::with_config(app.backend, |c| c.jwt.mode = mode).await;
    let rsa = EncodingKey::from_rsa_pem(&keys.rsa).unwrap();
    let rsa_next = EncodingKey::from_rsa_pem(&keys.rsa_next).unwrap();
    let ec = EncodingKey::from_ec_pem(&keys.ec).unwrap();
    let ed = EncodingKey::from_ed_pem(&keys.ed).unwrap();
    let stranger = EncodingKey::from_rsa_pem(&keys.stranger).unwrap();
    let c = claims();

    // Each trusted key, by its own algorithm; during a rotation both RSA keys are accepted.
    for (name, token) in [
        ("RS256 from a PEM file", sign(Algorithm::RS256, Some("rsa-2026"), &rsa, &c)),
        ("RS256, the next key, from the JWKS", sign(Algorithm::RS256, Some("rsa-2027"), &rsa_next, &c)),
        ("ES256 from a PEM file", sign(Algorithm::ES256, Some("ec-1"), &ec, &c)),
        ("EdDSA from the JWKS", sign(Algorithm::EdDSA, Some("ed-1"), &ed, &c)),
    ] {
        let me = app.get(&token, "/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK, "{name}: {}", me.text);
        assert_eq!(me.body["sub"], "idp-user-42", "{name}");
    }

    let mut expired = claims();
    expired.exp = start_time().timestamp() - 120;
    let mut early = claims();
    early.nbf = start_time().timestamp() + 600;
    let mut audience = claims();
    audience.aud = "someone-else".into();
    let mut issuer = claims();
    issuer.iss = "https://evil.example".into();
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"rsa-2026"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap())
    );
    for (name, token) in [
        ("no kid", sign(Algorithm::RS256, None, &rsa, &c)),
        ("unknown kid", sign(Algorithm::RS256, Some("rsa-1999"), &rsa, &c)),
        ("signed by an untrusted key under a trusted kid", sign(Algorithm::RS256, Some("rsa-2026"), &stranger, &c)),
        ("right key, another key's kid", sign(Algorithm::RS256, Some("rsa-2027"), &rsa, &c)),
        ("algorithm the kid does not allow", sign(Algorithm::RS256, Some("ec-1"), &rsa, &c)),
        (
            "HS256 keyed with the RSA public key (HS/RS confusion)",
            sign(Algorithm::HS256, Some("rsa-2026"), &EncodingKey::from_secret(&keys.rsa_public), &c),
        ),
        ("alg none", none_alg),
        ("expired", sign(Algorithm::RS256, Some("rsa-2026"), &rsa, &expired)),
        ("not yet valid", sign(Algorithm::RS256, Some("rsa-2026"), &rsa, &early)),
        ("wrong audience", sign(Algorithm::RS256, Some("rsa-2026"), &rsa, &audience)),
        ("wrong issuer", sign(Algorithm::RS256, Some("rsa-2026"), &rsa, &issuer)),
        (
            "a built-in HS256 token",
            sign(Algorithm::HS256, None, &EncodingKey::from_secret(b"test-secret-that-is-long-enough-for-hs256"), &c),
        ),
    ] {
        let r = app.get(&token, "/api/v1/me").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.text);
        assert_eq!(r.body["code"], "unauthenticated", "{name}");
    }

    // Sign-in belongs to the identity provider.
    app.post("", "/api/v1/auth/login", json!({"email": "a@b.example", "password": "whatever it is"}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not-found");
});

#[test]
fn a_misconfigured_key_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let jwt = |mode| care_hub::config::JwtConfig {
        mode,
        secret: String::new().into(),
        generated: false,
        issuer: "care-hub".into(),
        audience: "care-hub".into(),
        ttl: std::time::Duration::from_mins(15),
        refresh_ttl: std::time::Duration::from_hours(1),
    };
    let missing = AuthMode::External {
        pem_keys: vec![("k".into(), "RS256".into(), dir.path().join("absent.pem"))],
        jwks_file: None,
    };
    let e = care_hub::auth::TokenService::new(&jwt(missing), b"").err().unwrap().to_string();
    assert!(e.contains("CARE_HUB_JWT_PUBLIC_KEYS"), "{e}");
    let (_, public) = keypair(dir.path(), "rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    let hs = AuthMode::External { pem_keys: vec![("k".into(), "HS256".into(), public)], jwks_file: None };
    let e = care_hub::auth::TokenService::new(&jwt(hs), b"").err().unwrap().to_string();
    assert!(e.contains("HS256 is not accepted"), "{e}");
    let none = AuthMode::External { pem_keys: vec![], jwks_file: None };
    assert!(care_hub::auth::TokenService::new(&jwt(none), b"").is_err());
}
