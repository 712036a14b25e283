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
    let r = attrition::flow(&state.db, &state.facts, &user, &p, state.config.suppression_threshold, state.clock.now())
        .await?;
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
    let r = attrition::rates(&state.db, &state.facts, &user, &p, state.config.suppression_threshold, state.clock.now())
        .await?;
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
    let r = attrition::timeliness(
        &state.db,
        &state.facts,
        &user,
        &p,
        state.config.suppression_threshold,
        state.clock.now(),
    )
    .await?;
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
    let r =
        attrition::trials(&state.db, &state.facts, &user, &p, state.config.suppression_threshold, state.clock.now())
            .await?;
    Ok(respond(r, p.format, "trials"))
}

use super::compliance_summary::{self, ComplianceSummary};

/// Compliance for the selected journeys: contact updates within the agreed interval, Victims' Code
/// obligations met on time, outcome 14/16 withdrawals with evidence, needs assessments, data
/// completeness and service recovery within target. Small numbers withheld.
#[utoipa::path(get, path = "/api/v1/reports/compliance", tag = "reports", operation_id = "compliance",
    params(ReportParams),
    responses((status = 200, description = "The measures", content((ComplianceSummary = "application/json"), (String = "text/csv")))))]
pub async fn compliance(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ReportParams>,
) -> AppResult<Response> {
    let threshold = state.config.suppression_threshold;
    let r = compliance_summary::report(&state.db, &state.facts, &user, &p, threshold, state.clock.now()).await?;
    Ok(respond(r, p.format, "compliance"))
}

use super::board::{self, BoardPackParams};

/// The board pack for an area and period: the flow (as a Sankey), withdrawal rates with their
/// intervals, timeliness, trials and compliance, with the filters used, the data's freshness and
/// the disclosure-control note. `html` is one self-contained printable page; `xlsx` a workbook
/// with one sheet per table; `pdf` an A4 landscape document. Small numbers withheld.
#[utoipa::path(get, path = "/api/v1/reports/board-pack", tag = "reports", operation_id = "board_pack",
    params(BoardPackParams),
    responses((status = 200, description = "The pack, as an attachment named board-pack-AREA_FROM_TO.EXT",
        content(
            (String = "text/html"),
            (board::FileBytes = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (board::FileBytes = "application/pdf")),
        headers(("Content-Disposition" = String, description = "`inline` for HTML, `attachment` otherwise, with the file name")))))]
pub async fn board_pack(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<BoardPackParams>,
) -> AppResult<Response> {
    let pack =
        board::pack(&state.db, &state.facts, &user, &p, state.config.suppression_threshold, state.clock.now()).await?;
    let disposition = if pack.content_type.starts_with("text/html") { "inline" } else { "attachment" };
    Ok((
        [
            (header::CONTENT_TYPE, pack.content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("{disposition}; filename=\"{}\"", pack.filename)),
        ],
        pack.bytes,
    )
        .into_response())
}
