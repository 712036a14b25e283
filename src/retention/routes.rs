//! Retention endpoints: policies (admins), runs (admins), legal hold (supervisors and admins).
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::dto::{HoldRequest, HoldView, PolicyPatch, PolicyView, RunReport, RunRequest};
use super::service;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::{AppJson, AppPath, IfMatch, MergePatch, created, with_etag};
use crate::vocab::Role;

/// Retention policies per record class.
#[utoipa::path(get, path = "/api/v1/retention-policies", tag = "retention", operation_id = "list_retention_policies",
    responses((status = 200, description = "The policies", body = Vec<PolicyView>)))]
pub async fn list_policies(State(state): State<AppState>, user: Principal) -> AppResult<Json<Vec<PolicyView>>> {
    user.require(&[Role::Admin, Role::Supervisor])?;
    Ok(Json(service::policies(state.db.read()).await?.into_iter().map(PolicyView::from).collect()))
}

/// One retention policy.
#[utoipa::path(get, path = "/api/v1/retention-policies/{class}", tag = "retention", operation_id = "get_retention_policy",
    params(("class" = String, Path, description = "Record class, e.g. victim_record")),
    responses((status = 200, description = "The policy", body = PolicyView, headers(("ETag" = String, description = "Its version")))))]
pub async fn get_policy(
    State(state): State<AppState>,
    user: Principal,
    AppPath(class): AppPath<String>,
) -> AppResult<Response> {
    user.require(&[Role::Admin, Role::Supervisor])?;
    let policy = service::policy(state.db.read(), &class).await?;
    Ok(with_etag(policy.version, &PolicyView::from(policy)))
}

/// Change how long a class of record is kept (admin).
#[utoipa::path(patch, path = "/api/v1/retention-policies/{class}", tag = "retention", operation_id = "patch_retention_policy",
    params(("class" = String, Path, description = "Record class, e.g. victim_record"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = PolicyPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated policy", body = PolicyView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch_policy(
    State(state): State<AppState>,
    user: Principal,
    AppPath(class): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    let policy = service::patch_policy(&state.db, &user, &class, &if_match, &patch, state.clock.now()).await?;
    Ok(with_etag(policy.version, &PolicyView::from(policy)))
}

/// Run retention now (admin): anonymise closed records past their time, or report what would be.
#[utoipa::path(post, path = "/api/v1/retention/runs", tag = "retention", operation_id = "run_retention",
    request_body = RunRequest,
    responses((status = 200, description = "What was (or would be) anonymised", body = RunReport)))]
pub async fn run(
    State(state): State<AppState>,
    user: Principal,
    AppJson(req): AppJson<RunRequest>,
) -> AppResult<Json<RunReport>> {
    user.require(&[Role::Admin])?;
    Ok(Json(service::run(&state.db, state.clock.now(), req.dry_run).await?))
}

/// Whether a record is under legal hold.
#[utoipa::path(get, path = "/api/v1/victims/{ref}/legal-hold", tag = "retention", operation_id = "get_legal_hold",
    params(("ref" = String, Path, description = "Hub reference")),
    responses((status = 200, description = "The hold", body = HoldView)))]
pub async fn get_hold(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
) -> AppResult<Json<HoldView>> {
    Ok(Json(service::hold(state.db.read(), &user, &hub_ref).await?))
}

/// Place a legal hold: retention leaves the record alone until it is lifted.
#[utoipa::path(post, path = "/api/v1/victims/{ref}/legal-hold", tag = "retention", operation_id = "place_legal_hold",
    params(("ref" = String, Path, description = "Hub reference")),
    request_body = HoldRequest,
    responses((status = 201, description = "Held", body = HoldView, headers(("Location" = String, description = "The hold's URL")))))]
pub async fn place_hold(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppJson(req): AppJson<HoldRequest>,
) -> AppResult<Response> {
    let hold = service::set_hold(&state.db, &user, &hub_ref, Some(&req.reason), state.clock.now()).await?;
    Ok(created(&format!("/api/v1/victims/{}/legal-hold", hold.hub_ref), None, &hold))
}

/// Lift a legal hold.
#[utoipa::path(delete, path = "/api/v1/victims/{ref}/legal-hold", tag = "retention", operation_id = "lift_legal_hold",
    params(("ref" = String, Path, description = "Hub reference")),
    responses((status = 204, description = "Lifted")))]
pub async fn lift_hold(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
) -> AppResult<Response> {
    service::set_hold(&state.db, &user, &hub_ref, None, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
