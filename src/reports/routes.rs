//! Report endpoints.
use axum::Json;
use axum::extract::State;

use super::compliance::{self, ComplianceParams, ComplianceReport};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::AppQuery;

/// Contact compliance: the share of victims updated within their agreed interval, and key-decision
/// obligations met on time, overall and by team, area and responsible agency.
#[utoipa::path(get, path = "/api/v1/reports/contact-compliance", tag = "reports", operation_id = "contact_compliance",
    params(ComplianceParams),
    responses((status = 200, description = "The report", body = ComplianceReport)))]
pub async fn contact_compliance(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ComplianceParams>,
) -> AppResult<Json<ComplianceReport>> {
    Ok(Json(compliance::report(&state.db, &user, &p, &state.config, state.clock.now()).await?))
}
