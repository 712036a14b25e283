//! Withdrawal endpoints.
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::{FlagView, ReviewInput, WithdrawalInput, WithdrawalView};
use super::service;
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::{AppJson, AppPath, AppQuery, created, parse_uuid};

/// A case's withdrawal records.
#[utoipa::path(get, path = "/api/v1/cases/{id}/withdrawals", tag = "withdrawals", operation_id = "list_withdrawals",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The records", body = Vec<WithdrawalView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
) -> AppResult<Json<Vec<WithdrawalView>>> {
    Ok(Json(service::list(state.db.read(), &state.audit, &user, parse_uuid("id", &id)?, state.clock.now()).await?))
}

/// Record a victim's withdrawal with reasons and evidence; a supervisor then reviews it.
#[utoipa::path(post, path = "/api/v1/cases/{id}/withdrawals", tag = "withdrawals", operation_id = "record_withdrawal",
    params(("id" = String, Path, description = "Case id")),
    request_body = WithdrawalInput,
    responses((status = 201, description = "Recorded (pending review)", body = WithdrawalView, headers(("Location" = String, description = "The case's withdrawals")))))]
pub async fn create(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    AppJson(input): AppJson<WithdrawalInput>,
) -> AppResult<Response> {
    let case_id = parse_uuid("id", &id)?;
    let (row, hub_ref) = service::create(&state.db, &user, case_id, &input, state.clock.now()).await?;
    Ok(created(&format!("/api/v1/cases/{case_id}/withdrawals"), None, &WithdrawalView::new(row, hub_ref)))
}

/// Approve or reject a withdrawal record (a supervisor of the victim's team).
#[utoipa::path(post, path = "/api/v1/withdrawals/{id}/review", tag = "withdrawals", operation_id = "review_withdrawal",
    params(("id" = String, Path, description = "Withdrawal id")),
    request_body = ReviewInput,
    responses((status = 200, description = "Reviewed", body = WithdrawalView),
        (status = 409, description = "Already reviewed", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn review(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    AppJson(input): AppJson<ReviewInput>,
) -> AppResult<Json<WithdrawalView>> {
    Ok(Json(service::review(&state.db, &user, parse_uuid("id", &id)?, &input, state.clock.now()).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlagParams {
    /// Only flags nobody has cleared (default true).
    pub open: Option<bool>,
}

/// "Victim does not support" outcomes with no evidenced withdrawal: contact the victim.
#[utoipa::path(get, path = "/api/v1/withdrawal-flags", tag = "withdrawals", operation_id = "list_withdrawal_flags",
    params(FlagParams),
    responses((status = 200, description = "The flags", body = Vec<FlagView>)))]
pub async fn flags(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<FlagParams>,
) -> AppResult<Json<Vec<FlagView>>> {
    Ok(Json(service::flags(state.db.read(), &user, p.open.unwrap_or(true)).await?))
}
