//! HS256 access tokens: issued by `care-hub token` (and later sign-in), verified on every request.
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::Principal;
use crate::config::JwtConfig;
use crate::error::{AppError, AppResult};
use crate::vocab::Role;

/// Leeway for clock skew between the issuer and this service.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
}

impl TokenService {
    #[must_use]
    pub fn new(config: &JwtConfig, secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        // exp/nbf are checked against the service clock below, so tests can move time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        TokenService {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: chrono::Duration::from_std(config.ttl).unwrap_or(chrono::Duration::minutes(15)),
        }
    }

    /// Signs a token for `sub` valid from `now` for the configured lifetime (or `ttl`).
    pub fn issue(
        &self,
        sub: &str,
        role: Role,
        team: Option<&str>,
        agency: Option<&str>,
        now: DateTime<Utc>,
        ttl: Option<chrono::Duration>,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            sub: sub.to_owned(),
            role,
            team: team.map(str::to_owned),
            agency: agency.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + ttl.unwrap_or(self.ttl)).timestamp(),
        };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Checks signature, algorithm, issuer, audience and time window; returns the caller.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AppResult<Principal> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::InvalidIssuer => "the token was issued by someone else",
                ErrorKind::InvalidAudience => "the token is meant for another service",
                ErrorKind::InvalidSignature => "the token signature is not valid",
                ErrorKind::InvalidAlgorithm => "the token uses an algorithm this service does not accept",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token is malformed or not valid",
            };
            AppError::unauthorized(why)
        })?;
        let c = data.claims;
        let now = now.timestamp();
        let leeway = LEEWAY_SECS as i64;
        if c.exp + leeway < now {
            return Err(AppError::unauthorized("the token has expired"));
        }
        if c.nbf - leeway > now {
            return Err(AppError::unauthorized("the token is not valid yet"));
        }
        let needs_team = matches!(c.role, Role::Caseworker | Role::Supervisor);
        if needs_team && c.team.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::unauthorized("the token lacks the team claim its role needs"));
        }
        if c.role == Role::AgencyLiaison && c.agency.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::unauthorized("the token lacks the agency claim its role needs"));
        }
        Ok(Principal { sub: c.sub, role: c.role, team: c.team, agency: c.agency })
    }
}
