//! Contact endpoints: the contact log, the contact plan, and the caller's due work.
use axum::Json;
use axum::extract::State;
use axum::response::Response;

use super::dto::{ContactRecordInput, ContactRecordView, DueItem, DueParams, PlanInput, PlanView};
use super::service;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, Page, PageParams, created, with_etag};

/// A victim's contacts and attempts, newest first.
#[utoipa::path(get, path = "/api/v1/victims/{ref}/contacts", tag = "contacts", operation_id = "list_contacts",
    params(("ref" = String, Path, description = "Hub reference"), PageParams),
    responses((status = 200, description = "One page of contacts", body = Page<ContactRecordView>)))]
pub async fn list_contacts(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppQuery(page): AppQuery<PageParams>,
) -> AppResult<Json<Page<ContactRecordView>>> {
    Ok(Json(service::list_contacts(state.db.read(), &state.audit, &user, &hub_ref, &page, state.clock.now()).await?))
}

/// Record a contact or an attempt. A reached routine update or key decision resets the clock;
/// it can also discharge the victim's open obligations.
#[utoipa::path(post, path = "/api/v1/victims/{ref}/contacts", tag = "contacts", operation_id = "record_contact",
    params(("ref" = String, Path, description = "Hub reference")),
    request_body = ContactRecordInput,
    responses((status = 201, description = "Recorded", body = ContactRecordView, headers(("Location" = String, description = "The victim's contacts")))))]
pub async fn record_contact(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppJson(input): AppJson<ContactRecordInput>,
) -> AppResult<Response> {
    let (victim, contact) =
        service::record_contact(&state.db, &user, &hub_ref, &input, &state.config.reminders, state.clock.now()).await?;
    Ok(created(&format!("/api/v1/victims/{}/contacts", victim.hub_ref), None, &ContactRecordView::from(contact)))
}

/// The victim's contact plan and where their updates stand (`status`, `next_due_on`).
#[utoipa::path(get, path = "/api/v1/victims/{ref}/contact-plan", tag = "contacts", operation_id = "get_contact_plan",
    params(("ref" = String, Path, description = "Hub reference")),
    responses((status = 200, description = "The plan", body = PlanView, headers(("ETag" = String, description = "Its version (\"0\" before one is agreed)")))))]
pub async fn get_plan(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
) -> AppResult<Response> {
    let view =
        service::get_plan(&state.db, &state.audit, &user, &hub_ref, &state.config.reminders, state.clock.now()).await?;
    Ok(with_etag(view.version, &view))
}

/// Agree or change the contact plan: interval, preferred channel and times, suspension while
/// contact is unsafe, opt-out of routine updates (and of key decisions).
#[utoipa::path(put, path = "/api/v1/victims/{ref}/contact-plan", tag = "contacts", operation_id = "put_contact_plan",
    params(("ref" = String, Path, description = "Hub reference"), ("If-Match" = String, Header, description = "ETag from your last read (\"0\" for the first plan)")),
    request_body = PlanInput,
    responses((status = 200, description = "The plan now in force", body = PlanView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn put_plan(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    if_match: IfMatch,
    AppJson(input): AppJson<PlanInput>,
) -> AppResult<Response> {
    let view =
        service::put_plan(&state.db, &user, &hub_ref, &if_match, &input, &state.config.reminders, state.clock.now())
            .await?;
    Ok(with_etag(view.version, &view))
}

/// The caller's caseload by urgency: overdue updates, obligations overdue and due, updates due soon,
/// suspensions to review.
#[utoipa::path(get, path = "/api/v1/me/due-work", tag = "contacts", operation_id = "due_work",
    params(DueParams),
    responses((status = 200, description = "Due work, most urgent first", body = Vec<DueItem>)))]
pub async fn due_work(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<DueParams>,
) -> AppResult<Json<Vec<DueItem>>> {
    Ok(Json(
        service::due_work(state.db.read(), &state.audit, &user, &p, &state.config.reminders, state.clock.now()).await?,
    ))
}
