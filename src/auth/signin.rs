//! Sign-in with the built-in issuer: passwords, rotating refresh tokens (reuse revokes the whole
//! family), and brute-force protection per account and per address.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RequestMeta;
use super::passwords::{DUMMY_HASH, verify_password};
use crate::app::AppState;
use crate::audit::{self, Actor, Event};
use crate::entities::{login_throttle, refresh_tokens, users};
use crate::error::{AppError, AppResult, REDACTED};
use crate::users::service::find_by_email;
use crate::vocab::AuditAction;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "alex.supervisor@hub.example", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "fGk2q3...the refresh token from sign-in"}))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Tokens for a signed-in user.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// Short-lived bearer token for `Authorization: Bearer`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; each works once.
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

// Passwords and tokens never appear in Debug output, so a stray `?value` in a log cannot leak them.
impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("email", &self.email).field("password", &REDACTED).finish()
    }
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").field("refresh_token", &REDACTED).finish()
    }
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &REDACTED)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish()
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn wrong_credentials() -> AppError {
    AppError::unauthorized("the email address or password is wrong")
}

fn no_built_in_sign_in() -> AppError {
    AppError::not_found("sign-in is handled by the identity provider; this service only verifies its tokens")
}

fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> AppError {
    let secs = (until - now).num_seconds().max(1);
    AppError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "sign-in-locked",
        "Too many failed sign-ins",
        format!("sign-in is locked after repeated failures; try again in {secs} s"),
    )
    .with_header(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs))
}

/// When `key` is locked until, if it is.
async fn locked_until(db: &impl ConnectionTrait, key: &str, now: DateTime<Utc>) -> AppResult<Option<DateTime<Utc>>> {
    let row = login_throttle::Entity::find_by_id(key.to_owned()).one(db).await?;
    Ok(row.and_then(|r| r.locked_until).filter(|until| *until > now))
}

/// Counts a failure for `key`; locks it when `limit` failures fall within the window.
async fn note_failure(
    db: &impl ConnectionTrait,
    key: &str,
    limit: i32,
    state: &AppState,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let policy = &state.config.login;
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(0),
        window_started_at: Set(now),
        locked_until: Set(None),
    })
    .on_conflict(OnConflict::column(login_throttle::Column::Key).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    let mut q = login_throttle::Entity::find_by_id(key.to_owned());
    if db.get_database_backend() == DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    let row = q.one(db).await?.ok_or_else(|| AppError::internal(anyhow::anyhow!("throttle row vanished")))?;
    let window = Duration::from_std(policy.window).unwrap_or(Duration::minutes(15));
    let (mut failures, mut started) = (row.failures, row.window_started_at);
    if now - started > window {
        (failures, started) = (0, now);
    }
    failures += 1;
    let mut locked_until = row.locked_until;
    if failures >= limit {
        locked_until = Some(now + Duration::from_std(policy.lockout).unwrap_or(Duration::minutes(15)));
        (failures, started) = (0, now);
    }
    login_throttle::Entity::update(login_throttle::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(failures),
        window_started_at: Set(started),
        locked_until: Set(locked_until),
    })
    .exec(db)
    .await?;
    Ok(())
}

fn actor_for(meta: &RequestMeta, who: &str, user: Option<&users::Model>) -> Actor {
    Actor {
        id: user.map_or_else(|| who.to_owned(), |u| u.id.to_string()),
        role: user.map(|u| u.role),
        team: user.and_then(|u| u.team_code.clone()),
        agency: user.and_then(|u| u.agency_code.clone()),
        reason: None,
        request_id: meta.request_id.clone(),
        client_addr: meta.client_addr.clone(),
    }
}

/// A new refresh token in `family`, stored as its hash.
async fn new_refresh(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    family: Uuid,
    state: &AppState,
    now: DateTime<Utc>,
) -> AppResult<(String, i64)> {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let ttl = Duration::from_std(state.config.jwt.refresh_ttl).unwrap_or(Duration::days(14));
    refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        family_id: Set(family),
        token_hash: Set(sha256_hex(&token)),
        issued_at: Set(now),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok((token, ttl.num_seconds()))
}

fn access_token(state: &AppState, user: &users::Model, now: DateTime<Utc>) -> AppResult<(String, i64)> {
    let token = state
        .tokens
        .issue(&user.id.to_string(), user.role, user.team_code.as_deref(), user.agency_code.as_deref(), now, None)
        .map_err(AppError::internal)?;
    Ok((token, state.tokens.ttl().num_seconds()))
}

pub async fn login(state: &AppState, meta: &RequestMeta, req: &LoginRequest) -> AppResult<TokenPair> {
    if !state.tokens.is_built_in() {
        return Err(no_built_in_sign_in());
    }
    let now = state.clock.now();
    let email = req.email.trim().to_lowercase();
    let account_key = format!("account:{email}");
    let address_key = format!("address:{}", meta.client_addr.as_deref().unwrap_or("unknown"));
    let db = state.db.read();
    for key in [&account_key, &address_key] {
        if let Some(until) = locked_until(db, key, now).await? {
            let tx = state.db.begin_write().await?;
            audit::record(
                &tx,
                &actor_for(meta, &email, None),
                now,
                Event::new(AuditAction::SignIn, "session").failed().fields(["locked"]),
            )
            .await?;
            tx.commit().await?;
            return Err(locked(until, now));
        }
    }
    let user = find_by_email(db, &email).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let password = req.password.clone();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::internal(e.into()))?;
    let tx = state.db.begin_write().await?;
    let Some(user) = user.filter(|u| matches && u.active && u.password_hash.is_some()) else {
        note_failure(&tx, &account_key, state.config.login.max_failures_per_account, state, now).await?;
        note_failure(&tx, &address_key, state.config.login.max_failures_per_address, state, now).await?;
        audit::record(&tx, &actor_for(meta, &email, None), now, Event::new(AuditAction::SignIn, "session").failed())
            .await?;
        tx.commit().await?;
        return Err(wrong_credentials());
    };
    login_throttle::Entity::delete_by_id(account_key).exec(&tx).await?;
    users::Entity::update_many()
        .col_expr(users::Column::LastLoginAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.id))
        .exec(&tx)
        .await?;
    let (refresh_token, refresh_expires_in) = new_refresh(&tx, user.id, Uuid::now_v7(), state, now).await?;
    audit::record(&tx, &actor_for(meta, &email, Some(&user)), now, Event::new(AuditAction::SignIn, "session")).await?;
    tx.commit().await?;
    let (access_token, expires_in) = access_token(state, &user, now)?;
    Ok(TokenPair { access_token, token_type: "Bearer", expires_in, refresh_token, refresh_expires_in })
}

/// Exchanges a refresh token for a new pair. A token presented twice means it was stolen (or a
/// client retried): the whole family is revoked and the user signs in again.
pub async fn refresh(state: &AppState, meta: &RequestMeta, req: &RefreshRequest) -> AppResult<TokenPair> {
    if !state.tokens.is_built_in() {
        return Err(no_built_in_sign_in());
    }
    let now = state.clock.now();
    let invalid = || AppError::unauthorized("the refresh token is not valid; sign in again");
    let tx = state.db.begin_write().await?;
    let Some(token) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(req.refresh_token.trim())))
        .one(&tx)
        .await?
    else {
        return Err(invalid());
    };
    let user = crate::users::service::get(&tx, token.user_id).await?;
    let actor = actor_for(meta, "", Some(&user));
    if token.used_at.is_some() && token.revoked_at.is_none() {
        revoke_family(&tx, token.family_id, now).await?;
        audit::record(&tx, &actor, now, Event::new(AuditAction::Refresh, "session").failed().fields(["reused_token"]))
            .await?;
        tx.commit().await?;
        return Err(invalid());
    }
    if token.revoked_at.is_some() || token.expires_at <= now || !user.active {
        return Err(invalid());
    }
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .filter(refresh_tokens::Column::Id.eq(token.id))
        .exec(&tx)
        .await?;
    let (refresh_token, refresh_expires_in) = new_refresh(&tx, user.id, token.family_id, state, now).await?;
    audit::record(&tx, &actor, now, Event::new(AuditAction::Refresh, "session")).await?;
    tx.commit().await?;
    let (access_token, expires_in) = access_token(state, &user, now)?;
    Ok(TokenPair { access_token, token_type: "Bearer", expires_in, refresh_token, refresh_expires_in })
}

/// Ends the session a refresh token belongs to. Unknown tokens are ignored, so the answer says
/// nothing about which tokens exist.
pub async fn logout(state: &AppState, meta: &RequestMeta, req: &RefreshRequest) -> AppResult<()> {
    if !state.tokens.is_built_in() {
        return Err(no_built_in_sign_in());
    }
    let now = state.clock.now();
    let tx = state.db.begin_write().await?;
    let token = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(sha256_hex(req.refresh_token.trim())))
        .one(&tx)
        .await?;
    if let Some(token) = token {
        revoke_family(&tx, token.family_id, now).await?;
        let user = crate::users::service::get(&tx, token.user_id).await?;
        audit::record(&tx, &actor_for(meta, "", Some(&user)), now, Event::new(AuditAction::SignOut, "session")).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn revoke_family(db: &impl ConnectionTrait, family: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
