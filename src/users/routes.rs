//! User administration endpoints (admins).
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::dto::{NewPassword, UserInput, UserListParams, UserPatch, UserView};
use super::service;
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::Principal;
use crate::error::{AppResult, Problem};
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, MergePatch, Page, created, parse_uuid, with_etag};
use crate::vocab::Role;

/// List users (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "list_users",
    params(UserListParams),
    responses((status = 200, description = "A page of users", body = Page<UserView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(params): AppQuery<UserListParams>,
) -> AppResult<axum::Json<Page<UserView>>> {
    user.require(&[Role::Admin])?;
    Ok(axum::Json(service::list(state.db.read(), &params).await?))
}

/// Create a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", operation_id = "create_user",
    request_body = UserInput,
    responses(
        (status = 201, description = "Created", body = UserView,
            headers(("Location" = String, description = "The user's URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "A user with this email exists", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: Principal,
    AppJson(input): AppJson<UserInput>,
) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    let created_user = service::create(&state.db, &Actor::from(&user), &input, state.clock.now()).await?;
    Ok(created(
        &format!("/api/v1/users/{}", created_user.id),
        Some(created_user.version),
        &UserView::from(created_user),
    ))
}

/// Get a user (admin).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", operation_id = "get_user",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = UserView, headers(("ETag" = String, description = "Its version")))))]
pub async fn get(State(state): State<AppState>, user: Principal, AppPath(id): AppPath<String>) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    let found = service::get(state.db.read(), parse_uuid("id", &id)?).await?;
    Ok(with_etag(found.version, &UserView::from(found)))
}

/// Change a user's name, role, team, agency or whether they are active (admin).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", operation_id = "patch_user",
    params(("id" = String, Path, description = "User id"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated user", body = UserView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    let updated =
        service::patch(&state.db, &user, parse_uuid("id", &id)?, &if_match, &patch, state.clock.now()).await?;
    Ok(with_etag(updated.version, &UserView::from(updated)))
}

/// Set a user's password (admin); their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", operation_id = "set_user_password",
    params(("id" = String, Path, description = "User id")),
    request_body = NewPassword,
    responses((status = 204, description = "Password set")))]
pub async fn set_password(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<NewPassword>,
) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    service::set_password(&state.db, &Actor::from(&user), parse_uuid("id", &id)?, &body.password, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
