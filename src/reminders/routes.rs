//! Outbox administration and on-demand reminder runs (admins).
use axum::Json;
use axum::extract::State;

use super::dto::{OutboxParams, OutboxView, ReminderRunRequest, ScanReport};
use super::{outbox, scan};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::{AppJson, AppPath, AppQuery, Page, PageParams, cursor_for, parse_uuid};
use crate::vocab::Role;

/// Notifications in the outbox, newest first; `status=failed` lists those parked for an admin.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "reminders", operation_id = "list_outbox",
    params(OutboxParams),
    responses((status = 200, description = "One page of notifications", body = Page<OutboxView>)))]
pub async fn list_outbox(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<OutboxParams>,
) -> AppResult<Json<Page<OutboxView>>> {
    user.require(&[Role::Admin])?;
    let page = PageParams { limit: p.limit, cursor: p.cursor };
    let limit = page.limit()?;
    let rows = outbox::list(state.db.read(), p.status, page.after()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |r| cursor_for(r.id), OutboxView::from)))
}

/// Queue a failed notification again with fresh attempts.
#[utoipa::path(post, path = "/api/v1/outbox/{id}/retry", tag = "reminders", operation_id = "retry_outbox",
    params(("id" = String, Path, description = "Notification id")),
    responses((status = 200, description = "Queued again", body = OutboxView),
        (status = 409, description = "Not a failed notification", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn retry(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<OutboxView>> {
    user.require(&[Role::Admin])?;
    let id = parse_uuid("id", &id)?;
    let row = outbox::retry(&state.db, id, state.clock.now()).await?;
    state.dispatch_nudge.notify_one();
    Ok(Json(OutboxView::from(row)))
}

/// Run the due scan now (admin): what a scheduled tick does.
#[utoipa::path(post, path = "/api/v1/reminders/runs", tag = "reminders", operation_id = "run_reminders",
    request_body = ReminderRunRequest,
    responses((status = 200, description = "What the scan queued", body = ScanReport)))]
pub async fn run(
    State(state): State<AppState>,
    user: Principal,
    AppJson(_req): AppJson<ReminderRunRequest>,
) -> AppResult<Json<ScanReport>> {
    user.require(&[Role::Admin])?;
    let report = scan::run(&state.db, &state.config, state.clock.now()).await?;
    state.dispatch_nudge.notify_one();
    Ok(Json(report))
}
