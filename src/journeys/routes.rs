//! Journey endpoints: agency events in, a case's journey out, the linkage queue, reference data.
use axum::Json;
use axum::extract::State;
use sea_orm::{EntityTrait, QueryOrder};

use super::dto::{BatchInput, BatchResult, CaseJourney, EventView, OutcomeCodeView, ResolveInput};
use super::service;
use super::stages::{STAGES, Stage};
use crate::app::AppState;
use crate::auth::Principal;
use crate::entities::outcome_codes;
use crate::error::AppResult;
use crate::http::{AppJson, AppPath, parse_uuid};

/// Send up to 1,000 events (agency liaisons for their own agency; admins). Idempotent on
/// (source agency, source event id); events matching no case are queued for linkage, never dropped.
#[utoipa::path(post, path = "/api/v1/journey-events", tag = "journeys", operation_id = "post_journey_events",
    request_body = BatchInput,
    responses((status = 200, description = "What happened to each event", body = BatchResult)))]
pub async fn post_events(
    State(state): State<AppState>,
    user: Principal,
    AppJson(batch): AppJson<BatchInput>,
) -> AppResult<Json<BatchResult>> {
    Ok(Json(service::ingest(&state.db, &user, &batch, state.clock.now()).await?))
}

/// A case's journeys (one per victim) and its timeline.
#[utoipa::path(get, path = "/api/v1/cases/{id}/journey", tag = "journeys", operation_id = "case_journey",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The journey", body = CaseJourney)))]
pub async fn case_journey(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<CaseJourney>> {
    Ok(Json(
        service::case_journey(state.db.read(), &state.audit, &user, parse_uuid("id", &id)?, state.clock.now()).await?,
    ))
}

/// Events that matched no case, with the reason.
#[utoipa::path(get, path = "/api/v1/linkage-exceptions", tag = "journeys", operation_id = "list_linkage_exceptions",
    responses((status = 200, description = "Queued events", body = Vec<EventView>)))]
pub async fn linkage_exceptions(State(state): State<AppState>, user: Principal) -> AppResult<Json<Vec<EventView>>> {
    Ok(Json(service::exceptions(state.db.read(), &user).await?))
}

/// Attach a queued event to a case; its journeys and obligations follow.
#[utoipa::path(post, path = "/api/v1/linkage-exceptions/{id}/resolve", tag = "journeys", operation_id = "resolve_linkage_exception",
    params(("id" = String, Path, description = "Event id")),
    request_body = ResolveInput,
    responses((status = 200, description = "Linked", body = EventView)))]
pub async fn resolve_exception(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    AppJson(input): AppJson<ResolveInput>,
) -> AppResult<Json<EventView>> {
    Ok(Json(service::resolve(&state.db, &user, parse_uuid("id", &id)?, input.case_id, state.clock.now()).await?))
}

/// Journey stage codes (DOMAIN.md §3.1).
#[utoipa::path(get, path = "/api/v1/reference/stages", tag = "journeys", operation_id = "list_stages",
    responses((status = 200, description = "The stages", body = Vec<Stage>)))]
pub async fn stages(_user: Principal) -> Json<Vec<Stage>> {
    Json(STAGES.to_vec())
}

/// Home Office crime outcome codes, with validity dates.
#[utoipa::path(get, path = "/api/v1/reference/outcome-codes", tag = "journeys", operation_id = "list_outcome_codes",
    responses((status = 200, description = "The codes", body = Vec<OutcomeCodeView>)))]
pub async fn outcome_codes(State(state): State<AppState>, _user: Principal) -> AppResult<Json<Vec<OutcomeCodeView>>> {
    let rows =
        outcome_codes::Entity::find().order_by_asc(outcome_codes::Column::ValidFrom).all(state.db.read()).await?;
    Ok(Json(rows.into_iter().map(OutcomeCodeView::from).collect()))
}
