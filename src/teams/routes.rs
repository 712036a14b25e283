//! Team endpoints: everyone signed in reads; admins create and edit.
use axum::extract::State;
use axum::response::Response;

use super::dto::{TeamInput, TeamPatch, TeamView};
use super::service;
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::Principal;
use crate::error::{AppResult, Problem};
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, MergePatch, Page, PageParams, created, with_etag};
use crate::vocab::Role;

/// List teams.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", operation_id = "list_teams",
    params(PageParams),
    responses((status = 200, description = "A page of teams", body = Page<TeamView>)))]
pub async fn list(
    State(state): State<AppState>,
    _user: Principal,
    AppQuery(page): AppQuery<PageParams>,
) -> AppResult<axum::Json<Page<TeamView>>> {
    Ok(axum::Json(service::list(state.db.read(), &page).await?))
}

/// Create a team (admin).
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", operation_id = "create_team",
    request_body = TeamInput,
    responses(
        (status = 201, description = "Created", body = TeamView,
            headers(("Location" = String, description = "The new team's URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "A team with this code exists", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: Principal,
    AppJson(input): AppJson<TeamInput>,
) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    let team = service::create(&state.db, &Actor::from(&user), &input, state.clock.now()).await?;
    Ok(created(&format!("/api/v1/teams/{}", team.code), Some(team.version), &TeamView::from(team)))
}

/// Get a team by code.
#[utoipa::path(get, path = "/api/v1/teams/{code}", tag = "teams", operation_id = "get_team",
    params(("code" = String, Path, description = "Team code")),
    responses((status = 200, description = "The team", body = TeamView, headers(("ETag" = String, description = "Its version")))))]
pub async fn get(
    State(state): State<AppState>,
    _user: Principal,
    AppPath(code): AppPath<String>,
) -> AppResult<Response> {
    let team = service::get(state.db.read(), &code).await?;
    Ok(with_etag(team.version, &TeamView::from(team)))
}

/// Rename or deactivate a team (admin), as a JSON merge patch with If-Match.
#[utoipa::path(patch, path = "/api/v1/teams/{code}", tag = "teams", operation_id = "patch_team",
    params(("code" = String, Path, description = "Team code"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = TeamPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated team", body = TeamView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch(
    State(state): State<AppState>,
    user: Principal,
    AppPath(code): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    let team = service::patch(&state.db, &Actor::from(&user), &code, &if_match, &patch, state.clock.now()).await?;
    Ok(with_etag(team.version, &TeamView::from(team)))
}
