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

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::attrition::{self, Csv, FlowReport, Format, RatesReport, ReportParams, TimelinessReport, TrialsReport};

/// A report as JSON, or as CSV to download.
fn respond<T: serde::Serialize + Csv>(report: T, format: Option<Format>, name: &str) -> Response {
    match format.unwrap_or_default() {
        Format::Json => Json(report).into_response(),
        Format::Csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")),
            ],
            report.csv(),
        )
            .into_response(),
    }
}

/// Attrition flow: victims between stages as Sankey nodes and weighted links (a DAG, loops
/// collapsed), with withdrawal and other exits at each stage. Small numbers withheld.
#[utoipa::path(get, path = "/api/v1/reports/attrition/flow", tag = "reports", operation_id = "attrition_flow",
    params(ReportParams),
    responses((status = 200, description = "The flow", content((FlowReport = "application/json"), (String = "text/csv")))))]
pub async fn attrition_flow(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ReportParams>,
) -> AppResult<Response> {
    let r = attrition::flow(&state.db, &user, &p, state.config.suppression_threshold, state.clock.now()).await?;
    Ok(respond(r, p.format, "attrition-flow"))
}

/// Withdrawal rates before and after charge by one characteristic, with 95% Wilson intervals,
/// the relative likelihood against a reference category, and weeks from report to withdrawal.
#[utoipa::path(get, path = "/api/v1/reports/attrition/rates", tag = "reports", operation_id = "attrition_rates",
    params(ReportParams),
    responses((status = 200, description = "The rates", content((RatesReport = "application/json"), (String = "text/csv")))))]
pub async fn attrition_rates(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ReportParams>,
) -> AppResult<Response> {
    let r = attrition::rates(&state.db, &user, &p, state.config.suppression_threshold, state.clock.now()).await?;
    Ok(respond(r, p.format, "attrition-rates"))
}

/// Median and 90th-percentile days between stages, with counts.
#[utoipa::path(get, path = "/api/v1/reports/timeliness", tag = "reports", operation_id = "timeliness",
    params(ReportParams),
    responses((status = 200, description = "The intervals", content((TimelinessReport = "application/json"), (String = "text/csv")))))]
pub async fn timeliness(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ReportParams>,
) -> AppResult<Response> {
    let r = attrition::timeliness(&state.db, &user, &p, state.config.suppression_threshold, state.clock.now()).await?;
    Ok(respond(r, p.format, "timeliness"))
}

/// Trial listings: effective, cracked and ineffective counts and rates.
#[utoipa::path(get, path = "/api/v1/reports/trials", tag = "reports", operation_id = "trials",
    params(ReportParams),
    responses((status = 200, description = "The trials", content((TrialsReport = "application/json"), (String = "text/csv")))))]
pub async fn trials(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ReportParams>,
) -> AppResult<Response> {
    let r = attrition::trials(&state.db, &user, &p, state.config.suppression_threshold, state.clock.now()).await?;
    Ok(respond(r, p.format, "trials"))
}
