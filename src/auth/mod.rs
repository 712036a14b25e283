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
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                let (scheme, token) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::unauthorized("the Authorization header must be Bearer <token>"))?;
        let mut principal = state.tokens.verify(token, state.clock.now())?;
        state.rate_limiter.check(&principal.token_id)?;
        principal.meta = RequestMeta::from_parts(parts, state.config.trust_forwarded_for);
        Ok(principal)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::login))
        .routes(routes!(routes::refresh))
        .routes(routes!(routes::logout))
        .routes(routes!(routes::me))
        .routes(routes!(routes::change_password))
}
