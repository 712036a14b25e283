//! Victim record endpoints. Handlers extract, call the service, and shape the response.
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::dto::{
    CreateParams, LookupParams, MergeRequest, MergeResult, SearchParams, VictimInput, VictimPatch, VictimRecord,
    VictimSummary, VictimView,
};
use super::show::Shown;
use super::{merge as merging, search as searching, service};
use crate::agencies::dto::{AgencyReferenceView, NewAgencyReference};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{AppResult, Problem};
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, MergePatch, Page, created, etag, parse_uuid, with_etag};

/// The record a team member just wrote, as they see it (the write itself is audited).
async fn shown(state: &AppState, id: uuid::Uuid) -> AppResult<Shown> {
    let record = service::view(&state.db, id).await?;
    Ok(Shown { hub_ref: record.hub_ref, version: record.version, json: record.json })
}

fn location(hub_ref: &str) -> String {
    format!("/api/v1/victims/{hub_ref}")
}

/// A victim record as shown: its JSON as it is, with its ETag (and Location when created).
fn record_response(status: StatusCode, record: &Shown, location: Option<&str>) -> Response {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::ETAG, etag(record.version));
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, l);
    }
    (status, headers, record.json.clone()).into_response()
}

/// Search victims' records (your team's; admins any team).
#[utoipa::path(get, path = "/api/v1/victims", tag = "victims", operation_id = "search_victims",
    params(SearchParams),
    responses((status = 200, description = "A page of matching records", body = Page<VictimSummary>)))]
pub async fn search(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(params): AppQuery<SearchParams>,
) -> AppResult<axum::Json<Page<VictimSummary>>> {
    Ok(axum::Json(searching::search(state.db.read(), &state.audit, &user, &params, state.clock.now()).await?))
}

/// Create a victim record. A likely duplicate (same name and date of birth, or a shared agency
/// reference) is refused with 409 naming the existing record.
#[utoipa::path(post, path = "/api/v1/victims", tag = "victims", operation_id = "create_victim",
    params(CreateParams),
    request_body = VictimInput,
    responses(
        (status = 201, description = "Created", body = VictimView,
            headers(("Location" = String, description = "The record's URL"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "A record already matches (`possible-duplicate`, with `existing`), or a reference is in use", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(params): AppQuery<CreateParams>,
    AppJson(input): AppJson<VictimInput>,
) -> AppResult<Response> {
    let victim = service::create(&state.db, &user, &input, &params, &state.config.reminders, state.clock.now()).await?;
    let record = shown(&state, victim.id).await?;
    Ok(record_response(StatusCode::CREATED, &record, Some(&location(&record.hub_ref))))
}

/// Find the victim an agency reference belongs to.
#[utoipa::path(get, path = "/api/v1/victims/lookup", tag = "victims", operation_id = "lookup_victim",
    params(LookupParams),
    responses((status = 200, description = "The record holding the reference", body = VictimRecord, headers(("ETag" = String, description = "Its version"))),
        (status = 404, description = "No record the caller may see holds the reference", body = Problem, content_type = "application/problem+json")))]
pub async fn lookup(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(params): AppQuery<LookupParams>,
) -> AppResult<Response> {
    let record = searching::lookup(&state.db, &state.audit, &user, &params, state.clock.now()).await?;
    Ok(record_response(StatusCode::OK, &record, None))
}

/// Read a victim record. A merged reference answers with the surviving record.
#[utoipa::path(get, path = "/api/v1/victims/{ref}", tag = "victims", operation_id = "get_victim",
    params(("ref" = String, Path, description = "Hub reference, e.g. VCH-01234567890")),
    responses((status = 200, description = "The record", body = VictimRecord,
        headers(("ETag" = String, description = "Its version"), ("Content-Location" = String, description = "The surviving record's URL when the reference was merged")))))]
pub async fn get(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
) -> AppResult<Response> {
    let record = service::get(&state.db, &state.audit, &user, &hub_ref, state.clock.now()).await?;
    let mut response = record_response(StatusCode::OK, &record, None);
    if !record.hub_ref.eq_ignore_ascii_case(hub_ref.trim())
        && let Ok(v) = HeaderValue::from_str(&location(&record.hub_ref))
    {
        response.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(response)
}

/// Change a victim record: a JSON merge patch with the ETag you read in If-Match.
#[utoipa::path(patch, path = "/api/v1/victims/{ref}", tag = "victims", operation_id = "patch_victim",
    params(("ref" = String, Path, description = "Hub reference"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = VictimPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated record", body = VictimView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    let victim =
        service::patch(&state.db, &user, &hub_ref, &if_match, &patch, &state.config.reminders, state.clock.now())
            .await?;
    Ok(record_response(StatusCode::OK, &shown(&state, victim.id).await?, None))
}

/// Merge a duplicate record into this one (supervisor or admin).
#[utoipa::path(post, path = "/api/v1/victims/{ref}/merge", tag = "victims", operation_id = "merge_victims",
    params(("ref" = String, Path, description = "Hub reference of the record that survives")),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "Merged", body = MergeResult, headers(("ETag" = String, description = "The survivor's new version"))),
        (status = 409, description = "The duplicate was already merged", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn merge(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppJson(req): AppJson<MergeRequest>,
) -> AppResult<Response> {
    let result = merging::merge(&state.db, &user, &hub_ref, &req, &state.config.reminders, state.clock.now()).await?;
    Ok(with_etag(result.survivor.version, &result))
}

/// Link the victim to a record in an agency's system. A reference belongs to one record in the hub.
#[utoipa::path(post, path = "/api/v1/victims/{ref}/agency-references", tag = "victims", operation_id = "add_victim_reference",
    params(("ref" = String, Path, description = "Hub reference")),
    request_body = NewAgencyReference,
    responses(
        (status = 201, description = "Added", body = AgencyReferenceView, headers(("Location" = String, description = "The reference's URL"))),
        (status = 409, description = "The reference already belongs to a record", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_reference(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppJson(new): AppJson<NewAgencyReference>,
) -> AppResult<Response> {
    let (victim, reference) = service::add_reference(&state.db, &user, &hub_ref, &new, state.clock.now()).await?;
    let url = format!("{}/agency-references/{}", location(&victim.hub_ref), reference.id);
    Ok(created(&url, None, &AgencyReferenceView::from(reference)))
}

/// Read one agency reference of a victim.
#[utoipa::path(get, path = "/api/v1/victims/{ref}/agency-references/{id}", tag = "victims", operation_id = "get_victim_reference",
    params(("ref" = String, Path, description = "Hub reference"), ("id" = String, Path, description = "Reference id")),
    responses((status = 200, description = "The reference", body = AgencyReferenceView)))]
pub async fn get_reference(
    State(state): State<AppState>,
    user: Principal,
    AppPath((hub_ref, id)): AppPath<(String, String)>,
) -> AppResult<axum::Json<AgencyReferenceView>> {
    let id = parse_uuid("id", &id)?;
    let reference = service::get_reference(&state.db, &state.audit, &user, &hub_ref, id, state.clock.now()).await?;
    Ok(axum::Json(reference.into()))
}

/// Remove an agency reference from a victim.
#[utoipa::path(delete, path = "/api/v1/victims/{ref}/agency-references/{id}", tag = "victims", operation_id = "delete_victim_reference",
    params(("ref" = String, Path, description = "Hub reference"), ("id" = String, Path, description = "Reference id")),
    responses((status = 204, description = "Removed")))]
pub async fn delete_reference(
    State(state): State<AppState>,
    user: Principal,
    AppPath((hub_ref, id)): AppPath<(String, String)>,
) -> AppResult<Response> {
    let id = parse_uuid("id", &id)?;
    service::delete_reference(&state.db, &user, &hub_ref, id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Everything held about the victim, with who accessed it: for a subject access request. The
/// victim's team supervisor, or an admin giving a reason; the export itself is audited.
#[utoipa::path(get, path = "/api/v1/victims/{ref}/subject-access-export", tag = "victims", operation_id = "subject_access_export",
    params(("ref" = String, Path, description = "Hub reference")),
    responses((status = 200, description = "The export", body = super::export::SubjectAccessExport)))]
pub async fn subject_access_export(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
) -> AppResult<axum::Json<super::export::SubjectAccessExport>> {
    Ok(axum::Json(super::export::export(&state.db, &state.audit, &user, &hub_ref, state.clock.now()).await?))
}
