//! Who is calling: bearer-token verification, sign-in, the per-token rate limit, and the
//! `Principal` every handler authorises against.
pub mod access;
mod passwords;
mod rate_limit;
mod routes;
pub mod signin;
mod token;

pub use passwords::{hash_password, verify_password};
pub use rate_limit::RateLimiter;
pub use token::{Claims, TokenService};

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::vocab::Role;

/// Where a request came from and why it was made; recorded with every audit event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    /// `X-Access-Reason`: why the caller opens a record outside their usual scope.
    pub reason: Option<String>,
}

/// The header in which admins, and supervisors breaking glass, say why they open a record.
pub const REASON_HEADER: &str = "x-access-reason";

impl RequestMeta {
    fn from_parts(parts: &Parts, trust_forwarded_for: bool) -> Self {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let forwarded = trust_forwarded_for
            .then(|| header("x-forwarded-for").and_then(|v| v.split(',').next()).map(str::trim))
            .flatten()
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let socket = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        RequestMeta {
            request_id: header("x-request-id").map(str::to_owned),
            client_addr: forwarded.or(socket),
            reason: header(REASON_HEADER).filter(|r| !r.is_empty()).map(|r| r.chars().take(500).collect()),
        }
    }
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta::from_parts(parts, state.config.trust_forwarded_for))
    }
}

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable user id (`sub`).
    pub sub: String,
    pub role: Role,
    /// Team code; required for caseworkers and supervisors.
    pub team: Option<String>,
    /// Agency code; required for agency liaisons.
    pub agency: Option<String>,
    /// What the rate limit counts by: the token's `jti`, or a digest of the token.
    pub token_id: String,
    pub meta: RequestMeta,
}

impl Principal {
    /// A caller acting inside the service itself (jobs, the demo loader), not over HTTP.
    #[must_use]
    pub fn service(name: &str, role: Role, team: Option<&str>) -> Self {
        Principal {
            sub: name.to_owned(),
            role,
            team: team.map(str::to_owned),
            agency: None,
            token_id: String::new(),
            meta: RequestMeta::default(),
        }
    }

    /// Refuses the call unless the caller holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> AppResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!("the {} role cannot do this", self.role.as_str())))
        }
    }

    /// The caller's team, for roles that work a team caseload.
    #[must_use]
    pub fn team(&self) -> Option<&str> {
        self.team.as_deref()
    }

    #[must_use]
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| AppError::unauthorized("send Authorization: Bearer <token>"))?;
        let token = bearer_token(header)?;
        let mut principal = state.tokens.verify(token, state.clock.now())?;
        state.rate_limiter.check(&principal.token_id)?;
        principal.meta = RequestMeta::from_parts(parts, state.config.trust_forwarded_for);
        Ok(principal)
    }
}

/// The token of an `Authorization: Bearer <token>` header; anything else is 401.
pub(crate) fn bearer_token(header: &axum::http::HeaderValue) -> AppResult<&str> {
    header
        .to_str()
        .ok()
        .and_then(|h| {
            let (scheme, token) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::unauthorized("the Authorization header must be Bearer <token>"))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::login))
        .routes(routes!(routes::refresh))
        .routes(routes!(routes::logout))
        .routes(routes!(routes::me))
        .routes(routes!(routes::change_password))
}

#[cfg(test)]
mod fuzz {
    use axum::http::{HeaderValue, StatusCode};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    use super::{TokenService, bearer_token};
    use crate::config::{AuthMode, JwtConfig};
    use crate::vocab::Role;

    const SECRET: &[u8] = b"fuzzing-secret-not-for-production-000000";

    fn tokens() -> TokenService {
        let config = JwtConfig {
            mode: AuthMode::BuiltIn,
            secret: String::from_utf8(SECRET.to_vec()).unwrap().into(),
            generated: false,
            issuer: "care-hub".into(),
            audience: "care-hub".into(),
            ttl: std::time::Duration::from_mins(15),
            refresh_ttl: std::time::Duration::from_hours(1),
        };
        TokenService::new(&config, SECRET).unwrap()
    }

    /// A token, then one change: a byte replaced, a part dropped, a part re-encoded from
    /// arbitrary JSON (a forged header or claims with the old signature).
    fn mangled() -> impl Strategy<Value = String> {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
        let good = tokens().issue("fuzz", Role::Caseworker, Some("north-hub"), None, now, None).unwrap();
        let parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let (g1, g2, p2) = (good.clone(), good, parts.clone());
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(move |(i, b)| {
                let mut bytes = g1.clone().into_bytes();
                let i = i % bytes.len();
                bytes[i] = b;
                String::from_utf8_lossy(&bytes).into_owned()
            }),
            any::<usize>().prop_map(move |i| {
                let mut p = p2.clone();
                p.remove(i % 3);
                p.join(".")
            }),
            (0usize..2, "\\{[a-z\":, 0-9A-Z_{}-]{0,80}\\}").prop_map(move |(i, json)| {
                let mut p = parts.clone();
                p[i] = URL_SAFE_NO_PAD.encode(json);
                p.join(".")
            }),
            any::<String>(),
            Just(g2),
        ]
    }

    proptest! {
        #[test]
        fn fuzz_authorization_headers_give_a_token_or_401(raw in proptest::collection::vec(any::<u8>(), 0..80), bearer in any::<bool>()) {
            let mut bytes = if bearer { b"Bearer ".to_vec() } else { Vec::new() };
            bytes.extend(raw);
            if let Ok(header) = HeaderValue::from_bytes(&bytes) {
                match bearer_token(&header) {
                    Ok(token) => prop_assert!(!token.is_empty() && token.trim() == token),
                    Err(e) => prop_assert_eq!(e.status, StatusCode::UNAUTHORIZED),
                }
            }
        }

        #[test]
        fn fuzz_tokens_verify_or_are_refused_with_401(token in mangled()) {
            let now = Utc.with_ymd_and_hms(2026, 11, 1, 12, 5, 0).unwrap();
            match tokens().verify(&token, now) {
                Ok(principal) => prop_assert_eq!(principal.sub, "fuzz"),
                Err(e) => prop_assert_eq!(e.status, StatusCode::UNAUTHORIZED),
            }
        }
    }
}
