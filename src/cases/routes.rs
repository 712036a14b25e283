//! Case endpoints.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::dto::{CaseInput, CasePatch, CaseVictimView, CaseView, LinkVictim};
use super::service;
use crate::agencies::dto::{AgencyReferenceView, NewAgencyReference};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{AppResult, Problem};
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, MergePatch, created, parse_uuid, with_etag};
use crate::victims::dto::LookupParams;

fn location(id: uuid::Uuid) -> String {
    format!("/api/v1/cases/{id}")
}

/// Open a case for a victim.
#[utoipa::path(post, path = "/api/v1/victims/{ref}/cases", tag = "cases", operation_id = "create_case",
    params(("ref" = String, Path, description = "Hub reference of the victim")),
    request_body = CaseInput,
    responses(
        (status = 201, description = "Created", body = CaseView,
            headers(("Location" = String, description = "The case's URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "A reference is already held by another record", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppJson(input): AppJson<CaseInput>,
) -> AppResult<Response> {
    let case = service::create(&state.db, &user, &hub_ref, &input, &state.config.reminders, state.clock.now()).await?;
    let body = service::view(state.db.read(), &case).await?;
    Ok(created(&location(case.id), Some(case.version), &body))
}

/// Find the case an agency reference (crime reference, URN, court case number) belongs to.
#[utoipa::path(get, path = "/api/v1/cases/lookup", tag = "cases", operation_id = "lookup_case",
    params(LookupParams),
    responses((status = 200, description = "The case holding the reference", body = CaseView, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No case the caller may see holds the reference", body = Problem, content_type = "application/problem+json")))]
pub async fn lookup(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(params): AppQuery<LookupParams>,
) -> AppResult<Response> {
    let case = service::lookup(state.db.read(), &state.audit, &user, &params, state.clock.now()).await?;
    Ok(with_etag(case.version, &case))
}

/// Read a case.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", operation_id = "get_case",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The case", body = CaseView, headers(("ETag" = String, description = "Its version")))))]
pub async fn get(State(state): State<AppState>, user: Principal, AppPath(id): AppPath<String>) -> AppResult<Response> {
    let case = service::get(state.db.read(), &state.audit, &user, parse_uuid("id", &id)?, state.clock.now()).await?;
    Ok(with_etag(case.version, &case))
}

/// Change a case: a JSON merge patch with the ETag you read in If-Match.
#[utoipa::path(patch, path = "/api/v1/cases/{id}", tag = "cases", operation_id = "patch_case",
    params(("id" = String, Path, description = "Case id"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = CasePatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated case", body = CaseView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    let case = service::patch(
        &state.db,
        &user,
        parse_uuid("id", &id)?,
        &if_match,
        &patch,
        &state.config.reminders,
        state.clock.now(),
    )
    .await?;
    Ok(with_etag(case.version, &service::view(state.db.read(), &case).await?))
}

/// Link another victim to the case (a case can involve several victims).
#[utoipa::path(post, path = "/api/v1/cases/{id}/victims", tag = "cases", operation_id = "link_case_victim",
    params(("id" = String, Path, description = "Case id")),
    request_body = LinkVictim,
    responses(
        (status = 201, description = "Linked", body = CaseVictimView, headers(("Location" = String, description = "The link's URL"))),
        (status = 409, description = "Already linked", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn link_victim(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    AppJson(req): AppJson<LinkVictim>,
) -> AppResult<Response> {
    let id = parse_uuid("id", &id)?;
    let victim = service::link_victim(&state.db, &user, id, &req, &state.config.reminders, state.clock.now()).await?;
    let link = service::link_of(state.db.read(), id, &victim.hub_ref).await?;
    Ok(created(&format!("{}/victims/{}", location(id), victim.hub_ref), None, &link))
}

/// A victim's link to the case.
#[utoipa::path(get, path = "/api/v1/cases/{id}/victims/{ref}", tag = "cases", operation_id = "get_case_victim",
    params(("id" = String, Path, description = "Case id"), ("ref" = String, Path, description = "Hub reference")),
    responses((status = 200, description = "The link", body = CaseVictimView)))]
pub async fn get_link(
    State(state): State<AppState>,
    user: Principal,
    AppPath((id, hub_ref)): AppPath<(String, String)>,
) -> AppResult<axum::Json<CaseVictimView>> {
    Ok(axum::Json(
        service::get_link(state.db.read(), &state.audit, &user, parse_uuid("id", &id)?, &hub_ref, state.clock.now())
            .await?,
    ))
}

/// Unlink a victim from the case (not the last one).
#[utoipa::path(delete, path = "/api/v1/cases/{id}/victims/{ref}", tag = "cases", operation_id = "unlink_case_victim",
    params(("id" = String, Path, description = "Case id"), ("ref" = String, Path, description = "Hub reference")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 409, description = "The case's last victim cannot be unlinked", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn unlink_victim(
    State(state): State<AppState>,
    user: Principal,
    AppPath((id, hub_ref)): AppPath<(String, String)>,
) -> AppResult<Response> {
    service::unlink_victim(
        &state.db,
        &user,
        parse_uuid("id", &id)?,
        &hub_ref,
        &state.config.reminders,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Add a reference the case has in an agency's system.
#[utoipa::path(post, path = "/api/v1/cases/{id}/agency-references", tag = "cases", operation_id = "add_case_reference",
    params(("id" = String, Path, description = "Case id")),
    request_body = NewAgencyReference,
    responses(
        (status = 201, description = "Added", body = AgencyReferenceView, headers(("Location" = String, description = "The reference's URL"))),
        (status = 409, description = "The reference already belongs to a record", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_reference(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    AppJson(new): AppJson<NewAgencyReference>,
) -> AppResult<Response> {
    let id = parse_uuid("id", &id)?;
    let reference = service::add_reference(&state.db, &user, id, &new, state.clock.now()).await?;
    let url = format!("{}/agency-references/{}", location(id), reference.id);
    Ok(created(&url, None, &AgencyReferenceView::from(reference)))
}

/// Read one agency reference of a case.
#[utoipa::path(get, path = "/api/v1/cases/{id}/agency-references/{ref_id}", tag = "cases", operation_id = "get_case_reference",
    params(("id" = String, Path, description = "Case id"), ("ref_id" = String, Path, description = "Reference id")),
    responses((status = 200, description = "The reference", body = AgencyReferenceView)))]
pub async fn get_reference(
    State(state): State<AppState>,
    user: Principal,
    AppPath((id, ref_id)): AppPath<(String, String)>,
) -> AppResult<axum::Json<AgencyReferenceView>> {
    let reference = service::get_reference(
        state.db.read(),
        &state.audit,
        &user,
        parse_uuid("id", &id)?,
        parse_uuid("ref_id", &ref_id)?,
        state.clock.now(),
    )
    .await?;
    Ok(axum::Json(reference.into()))
}

/// Remove an agency reference from a case.
#[utoipa::path(delete, path = "/api/v1/cases/{id}/agency-references/{ref_id}", tag = "cases", operation_id = "delete_case_reference",
    params(("id" = String, Path, description = "Case id"), ("ref_id" = String, Path, description = "Reference id")),
    responses((status = 204, description = "Removed")))]
pub async fn delete_reference(
    State(state): State<AppState>,
    user: Principal,
    AppPath((id, ref_id)): AppPath<(String, String)>,
) -> AppResult<Response> {
    service::delete_reference(
        &state.db,
        &user,
        parse_uuid("id", &id)?,
        parse_uuid("ref_id", &ref_id)?,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
