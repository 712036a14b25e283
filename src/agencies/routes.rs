//! Agency endpoints: everyone signed in reads; admins create and edit.
use axum::extract::State;
use axum::response::Response;

use super::dto::{AgencyInput, AgencyListParams, AgencyPatch, AgencyView};
use super::service;
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::Principal;
use crate::error::{AppResult, Problem};
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, MergePatch, Page, created, with_etag};
use crate::vocab::Role;

/// List agencies.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "agencies", operation_id = "list_agencies",
    params(AgencyListParams),
    responses((status = 200, description = "A page of agencies", body = Page<AgencyView>)))]
pub async fn list(
    State(state): State<AppState>,
    _user: Principal,
    AppQuery(params): AppQuery<AgencyListParams>,
) -> AppResult<axum::Json<Page<AgencyView>>> {
    Ok(axum::Json(service::list(state.db.read(), &params).await?))
}

/// Create an agency (admin).
#[utoipa::path(post, path = "/api/v1/agencies", tag = "agencies", operation_id = "create_agency",
    request_body = AgencyInput,
    responses(
        (status = 201, description = "Created", body = AgencyView,
            headers(("Location" = String, description = "The new agency's URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "An agency with this code exists", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: Principal,
    AppJson(input): AppJson<AgencyInput>,
) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    let agency = service::create(&state.db, &Actor::from(&user), input, state.clock.now()).await?;
    Ok(created(&format!("/api/v1/agencies/{}", agency.code), Some(agency.version), &AgencyView::from(agency)))
}

/// Get an agency by code.
#[utoipa::path(get, path = "/api/v1/agencies/{code}", tag = "agencies", operation_id = "get_agency",
    params(("code" = String, Path, description = "Agency code")),
    responses((status = 200, description = "The agency", body = AgencyView, headers(("ETag" = String, description = "Its version")))))]
pub async fn get(
    State(state): State<AppState>,
    _user: Principal,
    AppPath(code): AppPath<String>,
) -> AppResult<Response> {
    let agency = service::get(state.db.read(), &code).await?;
    Ok(with_etag(agency.version, &AgencyView::from(agency)))
}

/// Change an agency (admin), as a JSON merge patch with If-Match.
#[utoipa::path(patch, path = "/api/v1/agencies/{code}", tag = "agencies", operation_id = "patch_agency",
    params(("code" = String, Path, description = "Agency code"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = AgencyPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated agency", body = AgencyView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch(
    State(state): State<AppState>,
    user: Principal,
    AppPath(code): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    user.require(&[Role::Admin])?;
    let agency = service::patch(&state.db, &Actor::from(&user), &code, &if_match, &patch, state.clock.now()).await?;
    Ok(with_etag(agency.version, &AgencyView::from(agency)))
}
