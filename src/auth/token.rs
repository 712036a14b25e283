//! Access tokens. Built-in mode signs and verifies HS256 tokens with the configured secret;
//! external mode verifies an identity provider's RS256/ES256/EdDSA tokens with public keys
//! chosen by `kid`, each key allowed exactly one algorithm.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Principal;
use crate::config::{AuthMode, JwtConfig};
use crate::error::{AppError, AppResult};
use crate::vocab::Role;

/// Leeway for clock skew between the issuer and this service.
const LEEWAY_SECS: i64 = 30;

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A verification key and the one algorithm it may be used with.
struct Key {
    decoding: DecodingKey,
    algorithm: Algorithm,
}

enum Keys {
    BuiltIn { encoding: EncodingKey, decoding: DecodingKey },
    External(HashMap<String, Key>),
}

pub struct TokenService {
    keys: Keys,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
}

const EXTERNAL_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

fn parse_algorithm(name: &str) -> anyhow::Result<Algorithm> {
    match name {
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => anyhow::bail!("algorithm {other} is not accepted (use RS256, ES256 or EdDSA)"),
    }
}

fn pem_key(algorithm: Algorithm, pem: &[u8]) -> anyhow::Result<DecodingKey> {
    Ok(match algorithm {
        Algorithm::RS256 => DecodingKey::from_rsa_pem(pem)?,
        Algorithm::ES256 => DecodingKey::from_ec_pem(pem)?,
        _ => DecodingKey::from_ed_pem(pem)?,
    })
}

impl TokenService {
    /// Built-in mode with `secret`, or external mode with the configured public keys.
    pub fn new(config: &JwtConfig, secret: &[u8]) -> anyhow::Result<Self> {
        let keys = match &config.mode {
            AuthMode::BuiltIn => {
                Keys::BuiltIn { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
            }
            AuthMode::External { pem_keys, jwks_file } => {
                let mut keys = HashMap::new();
                for (kid, alg, path) in pem_keys {
                    let algorithm = parse_algorithm(alg)
                        .map_err(|e| anyhow::anyhow!("CARE_HUB_JWT_PUBLIC_KEYS: key {kid}: {e}"))?;
                    let pem = std::fs::read(path).map_err(|e| {
                        anyhow::anyhow!("CARE_HUB_JWT_PUBLIC_KEYS: key {kid}: cannot read {}: {e}", path.display())
                    })?;
                    let decoding = pem_key(algorithm, &pem).map_err(|e| {
                        anyhow::anyhow!("CARE_HUB_JWT_PUBLIC_KEYS: key {kid}: not a {alg} public key: {e}")
                    })?;
                    keys.insert(kid.clone(), Key { decoding, algorithm });
                }
                if let Some(path) = jwks_file {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("CARE_HUB_JWKS_FILE: cannot read {}: {e}", path.display()))?;
                    let set: JwkSet = serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("CARE_HUB_JWKS_FILE: not a JWK set: {e}"))?;
                    for jwk in &set.keys {
                        let kid = jwk
                            .common
                            .key_id
                            .clone()
                            .ok_or_else(|| anyhow::anyhow!("CARE_HUB_JWKS_FILE: a key has no kid"))?;
                        let algorithm = jwk
                            .common
                            .key_algorithm
                            .and_then(|a| Algorithm::try_from(a).ok())
                            .filter(|a| EXTERNAL_ALGORITHMS.contains(a))
                            .ok_or_else(|| {
                                anyhow::anyhow!("CARE_HUB_JWKS_FILE: key {kid} must name alg RS256, ES256 or EdDSA")
                            })?;
                        let decoding = DecodingKey::from_jwk(jwk)
                            .map_err(|e| anyhow::anyhow!("CARE_HUB_JWKS_FILE: key {kid}: {e}"))?;
                        keys.insert(kid, Key { decoding, algorithm });
                    }
                }
                if keys.is_empty() {
                    anyhow::bail!("external sign-in needs CARE_HUB_JWT_PUBLIC_KEYS or CARE_HUB_JWKS_FILE");
                }
                Keys::External(keys)
            }
        };
        Ok(TokenService {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: chrono::Duration::from_std(config.ttl).unwrap_or(chrono::Duration::minutes(15)),
        })
    }

    /// True when this service signs its own tokens (and so offers sign-in).
    #[must_use]
    pub fn is_built_in(&self) -> bool {
        matches!(self.keys, Keys::BuiltIn { .. })
    }

    #[must_use]
    pub fn ttl(&self) -> chrono::Duration {
        self.ttl
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
        let Keys::BuiltIn { encoding, .. } = &self.keys else {
            anyhow::bail!("tokens come from the identity provider in external sign-in mode");
        };
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
            jti: Some(uuid::Uuid::new_v4().to_string()),
        };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, encoding)?)
    }

    /// Checks signature, algorithm, issuer, audience and time window; returns the caller.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AppResult<Principal> {
        let bad = || AppError::unauthorized("the token is malformed or not valid");
        let header = decode_header(token).map_err(|_| bad())?;
        let (key, algorithm) = match &self.keys {
            Keys::BuiltIn { decoding, .. } => (decoding, Algorithm::HS256),
            Keys::External(keys) => {
                let kid =
                    header.kid.as_deref().ok_or_else(|| AppError::unauthorized("the token names no key (kid)"))?;
                let key =
                    keys.get(kid).ok_or_else(|| AppError::unauthorized("the token's key (kid) is not trusted"))?;
                (&key.decoding, key.algorithm)
            }
        };
        // Each key has exactly one algorithm: `none`, HMAC with a public key, and any other
        // substitution are refused before the signature is looked at.
        if header.alg != algorithm {
            return Err(AppError::unauthorized("the token uses an algorithm this key does not allow"));
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&[self.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        // exp and nbf are checked below against the service clock, so tests can move time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = decode::<Claims>(token, key, &validation).map_err(|e| {
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
        if c.exp + LEEWAY_SECS < now {
            return Err(AppError::unauthorized("the token has expired"));
        }
        if c.nbf - LEEWAY_SECS > now {
            return Err(AppError::unauthorized("the token is not valid yet"));
        }
        let needs_team = matches!(c.role, Role::Caseworker | Role::Supervisor);
        if needs_team && c.team.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::unauthorized("the token lacks the team claim its role needs"));
        }
        if c.role == Role::AgencyLiaison && c.agency.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::unauthorized("the token lacks the agency claim its role needs"));
        }
        // Rate limits count per token: its id, or a digest of it when the issuer sets none.
        let token_id = c.jti.unwrap_or_else(|| hex::encode(&Sha256::digest(token.as_bytes())[..16]));
        Ok(Principal {
            sub: c.sub,
            role: c.role,
            team: c.team,
            agency: c.agency,
            token_id,
            meta: super::RequestMeta::default(),
        })
    }
}
