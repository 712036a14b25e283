//! Service issue endpoints.
use axum::Json;
use axum::extract::State;
use axum::response::Response;

use super::dto::{
    ActionInput, ActionView, CategoryInput, CategoryView, IssueInput, IssueParams, IssuePatch, IssueView,
    TransitionInput,
};
use super::service::{self, RecoveryReport, ReportParams};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, MergePatch, Page, created, parse_uuid, with_etag};

/// Service issues of the caller's team (admins: any), newest first, with filters.
#[utoipa::path(get, path = "/api/v1/service-issues", tag = "service recovery", operation_id = "list_service_issues",
    params(IssueParams),
    responses((status = 200, description = "One page of issues", body = Page<IssueView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<IssueParams>,
) -> AppResult<Json<Page<IssueView>>> {
    Ok(Json(service::list(state.db.read(), &state.audit, &user, &p, state.clock.now()).await?))
}

/// Log a problem the victim hit; its target date follows from its severity.
#[utoipa::path(post, path = "/api/v1/service-issues", tag = "service recovery", operation_id = "create_service_issue",
    request_body = IssueInput,
    responses((status = 201, description = "Opened", body = IssueView, headers(("Location" = String, description = "The issue's URL"), ("ETag" = String, description = "Its version")))))]
pub async fn create(
    State(state): State<AppState>,
    user: Principal,
    AppJson(input): AppJson<IssueInput>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let issue = service::create(&state.db, &user, &input, &state.config, now).await?;
    let hub = input.victim.trim().to_uppercase();
    let (id, version) = (issue.id, issue.version);
    let view = service::view(state.db.read(), issue, hub, now).await?;
    Ok(created(&format!("/api/v1/service-issues/{id}"), Some(version), &view))
}

/// One issue with its action log.
#[utoipa::path(get, path = "/api/v1/service-issues/{id}", tag = "service recovery", operation_id = "get_service_issue",
    params(("id" = String, Path, description = "Issue id")),
    responses((status = 200, description = "The issue", body = IssueView, headers(("ETag" = String, description = "Its version")))))]
pub async fn get(State(state): State<AppState>, user: Principal, AppPath(id): AppPath<String>) -> AppResult<Response> {
    let view = service::get(state.db.read(), &state.audit, &user, parse_uuid("id", &id)?, state.clock.now()).await?;
    Ok(with_etag(view.version, &view))
}

/// Change an issue's category, description, owner, severity (its target moves), risk or right.
#[utoipa::path(patch, path = "/api/v1/service-issues/{id}", tag = "service recovery", operation_id = "patch_service_issue",
    params(("id" = String, Path, description = "Issue id"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = IssuePatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated issue", body = IssueView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    let now = state.clock.now();
    let (issue, hub) =
        service::patch(&state.db, &user, parse_uuid("id", &id)?, &if_match, &patch, &state.config, now).await?;
    let view = service::view(state.db.read(), issue, hub, now).await?;
    Ok(with_etag(view.version, &view))
}

/// Move an issue along its workflow (open → in_progress → escalated → resolved → closed; reopen
/// from resolved or closed). A move that is not allowed answers 409 listing those that are.
#[utoipa::path(post, path = "/api/v1/service-issues/{id}/transitions", tag = "service recovery", operation_id = "transition_service_issue",
    params(("id" = String, Path, description = "Issue id"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body = TransitionInput,
    responses((status = 200, description = "The issue in its new state", body = IssueView, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Not allowed from the current state", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since you read it", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is required", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn transition(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    if_match: IfMatch,
    AppJson(input): AppJson<TransitionInput>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let (issue, hub) = service::transition(&state.db, &user, parse_uuid("id", &id)?, &if_match, &input, now).await?;
    let view = service::view(state.db.read(), issue, hub, now).await?;
    Ok(with_etag(view.version, &view))
}

/// Record something done: a note, a contact made, an agency chased.
#[utoipa::path(post, path = "/api/v1/service-issues/{id}/actions", tag = "service recovery", operation_id = "add_service_issue_action",
    params(("id" = String, Path, description = "Issue id")),
    request_body = ActionInput,
    responses((status = 201, description = "Logged", body = ActionView, headers(("Location" = String, description = "The issue")))))]
pub async fn add_action(
    State(state): State<AppState>,
    user: Principal,
    AppPath(id): AppPath<String>,
    AppJson(input): AppJson<ActionInput>,
) -> AppResult<Response> {
    let id = parse_uuid("id", &id)?;
    let action = service::add_action(&state.db, &user, id, &input, state.clock.now()).await?;
    Ok(created(&format!("/api/v1/service-issues/{id}"), None, &action))
}

/// Issue categories.
#[utoipa::path(get, path = "/api/v1/service-issue-categories", tag = "service recovery", operation_id = "list_issue_categories",
    responses((status = 200, description = "The categories", body = Vec<CategoryView>)))]
pub async fn categories(State(state): State<AppState>, _user: Principal) -> AppResult<Json<Vec<CategoryView>>> {
    Ok(Json(service::categories(state.db.read()).await?))
}

/// Add an issue category (admin).
#[utoipa::path(post, path = "/api/v1/service-issue-categories", tag = "service recovery", operation_id = "create_issue_category",
    request_body = CategoryInput,
    responses((status = 201, description = "Added", body = CategoryView, headers(("Location" = String, description = "The categories"))),
        (status = 409, description = "The code exists", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create_category(
    State(state): State<AppState>,
    user: Principal,
    AppJson(input): AppJson<CategoryInput>,
) -> AppResult<Response> {
    let c = service::create_category(&state.db, &user, &input, state.clock.now()).await?;
    Ok(created("/api/v1/service-issue-categories", None, &c))
}

/// Service recovery: issues by category and owning agency, time to resolve, share within target,
/// and withdrawal among victims with and without an issue.
#[utoipa::path(get, path = "/api/v1/reports/service-recovery", tag = "reports", operation_id = "service_recovery_report",
    params(ReportParams),
    responses((status = 200, description = "The report", body = RecoveryReport)))]
pub async fn report(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(p): AppQuery<ReportParams>,
) -> AppResult<Json<RecoveryReport>> {
    Ok(Json(service::report(&state.db, &user, &p, &state.config, state.clock.now()).await?))
}
