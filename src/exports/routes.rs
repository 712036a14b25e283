//! Export endpoints.
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::linked::{self, ExtractFormat, ExtractParams};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::AppQuery;

/// The pseudonymised linked extract, for analysts: one row per victim–case journey, with the
/// victim and the case under keyed pseudonyms (HMAC-SHA-256 under a key made for this export
/// alone and never kept, so two exports cannot be linked), an age band instead of the birth
/// date, the area instead of the address, the offence group and the characteristics the reports
/// filter on, the stage dates, the outcome, the trial result and the withdrawal fields. No names,
/// contact details, references or free text. Takes the attrition reports' filters; recorded in
/// the audit trail as an export (row count, format and filters).
#[utoipa::path(get, path = "/api/v1/exports/linked-journeys", tag = "exports", operation_id = "linked_journeys_extract",
    params(ExtractParams),
    responses((status = 200, description = "The extract, streamed; `X-Row-Count` gives its rows",
        headers(("X-Row-Count" = u64, description = "Rows in the extract")),
        content((String = "text/csv"), (Vec<u8> = "application/vnd.apache.parquet")))))]
pub async fn linked_journeys(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ExtractParams>,
) -> AppResult<Response> {
    let extract = linked::export(&state.db, &user, &p, state.clock.now()).await?;
    let (content_type, extension) = match extract.format {
        ExtractFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExtractFormat::Parquet => ("application/vnd.apache.parquet", "parquet"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"linked-journeys.{extension}\"")),
            (header::HeaderName::from_static("x-row-count"), extract.rows.to_string()),
        ],
        Body::from_stream(extract.body),
    )
        .into_response())
}
