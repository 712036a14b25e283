//! Sign-in endpoints, and the caller's own account.
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::signin::{self, LoginRequest, RefreshRequest, TokenPair};
use super::{Principal, RequestMeta};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::{AppError, AppResult, Problem, REDACTED};
use crate::http::AppJson;
use crate::users::dto::UserView;
use crate::vocab::Role;

/// Sign in with email and password (built-in issuer). Repeated failures lock the account and the
/// address for a while (429 with Retry-After).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", operation_id = "login", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 429, description = "Sign-in locked after repeated failures", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    AppJson(req): AppJson<LoginRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(signin::login(&state, &meta, &req).await?))
}

/// Exchange a refresh token for a new pair. Each refresh token works once; presenting one again
/// ends the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", operation_id = "refresh_token", security(()),
    request_body = RefreshRequest,
    responses((status = 200, description = "A new token pair", body = TokenPair)))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    AppJson(req): AppJson<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(signin::refresh(&state, &meta, &req).await?))
}

/// Sign out: the refresh token's session ends.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout", security(()),
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    AppJson(req): AppJson<RefreshRequest>,
) -> AppResult<Response> {
    signin::logout(&state, &meta, &req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The caller as the service sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub sub: String,
    pub role: Role,
    pub team: Option<String>,
    pub agency: Option<String>,
    /// The user record, when the caller is a user of the built-in issuer.
    pub user: Option<UserView>,
}

/// Who am I?
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", operation_id = "me",
    responses((status = 200, description = "The caller", body = Me)))]
pub async fn me(State(state): State<AppState>, user: Principal) -> AppResult<Json<Me>> {
    let record = match uuid::Uuid::parse_str(&user.sub) {
        Ok(id) => crate::users::service::get(state.db.read(), id).await.ok().map(UserView::from),
        Err(_) => None,
    };
    Ok(Json(Me { sub: user.sub, role: user.role, team: user.team, agency: user.agency, user: record }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "correct horse battery staple", "new_password": "a different long passphrase"}))]
pub struct ChangePassword {
    #[schema(format = Password)]
    pub current_password: String,
    #[schema(format = Password, min_length = 12, max_length = 128)]
    pub new_password: String,
}

impl std::fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePassword").field("current_password", &REDACTED).field("new_password", &REDACTED).finish()
    }
}

/// Change your own password; your other sessions end.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", operation_id = "change_password",
    request_body = ChangePassword,
    responses((status = 204, description = "Changed")))]
pub async fn change_password(
    State(state): State<AppState>,
    user: Principal,
    AppJson(req): AppJson<ChangePassword>,
) -> AppResult<Response> {
    let id = uuid::Uuid::parse_str(&user.sub)
        .map_err(|_| AppError::forbidden("only users of the built-in sign-in have a password here"))?;
    let record = crate::users::service::get(state.db.read(), id)
        .await
        .map_err(|_| AppError::forbidden("only users of the built-in sign-in have a password here"))?;
    let hash = record.password_hash.clone().unwrap_or_else(|| super::passwords::DUMMY_HASH.clone());
    let current = req.current_password.clone();
    let ok = tokio::task::spawn_blocking(move || super::verify_password(&current, &hash))
        .await
        .map_err(|e| AppError::internal(e.into()))?;
    if !ok || record.password_hash.is_none() {
        return Err(AppError::invalid_field("/current_password", "wrong_password", "is not your current password"));
    }
    crate::users::service::set_password(&state.db, &Actor::from(&user), id, &req.new_password, state.clock.now())
        .await
        .map_err(|mut e| {
            for f in &mut e.errors {
                if f.field == "/password" {
                    f.field = "/new_password".into();
                }
            }
            e
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
