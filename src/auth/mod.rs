//! Who is calling: bearer-token verification and the `Principal` every handler authorises against.
mod token;

pub use token::{Claims, TokenService};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::vocab::Role;

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
}

impl Principal {
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
        state.tokens.verify(token, state.clock.now())
    }
}
