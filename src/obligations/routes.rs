//! Obligation endpoints: deadline rules (admins change them), key events, a victim's
//! obligations, and the bank-holiday calendar.
use axum::Json;
use axum::extract::State;
use axum::response::Response;

use super::dto::{
    HolidayList, KeyEventInput, KeyEventResult, ObligationParams, ObligationView, RuleInput, RulePatch, RuleView,
};
use super::{holidays, service};
use crate::app::AppState;
use crate::audit::{self, Actor, Event};
use crate::auth::Principal;
use crate::calendar::Calendar;
use crate::clock::london_date;
use crate::error::{AppError, AppResult};
use crate::http::{AppJson, AppPath, AppQuery, IfMatch, MergePatch, created, with_etag};
use crate::vocab::{AuditAction, Role};

/// Every Victims' Code deadline rule.
#[utoipa::path(get, path = "/api/v1/obligation-rules", tag = "obligations", operation_id = "list_obligation_rules",
    responses((status = 200, description = "The rules", body = Vec<RuleView>)))]
pub async fn list_rules(State(state): State<AppState>, _user: Principal) -> AppResult<Json<Vec<RuleView>>> {
    Ok(Json(service::rules(state.db.read()).await?.into_iter().map(RuleView::from).collect()))
}

/// Add a deadline rule (admin).
#[utoipa::path(post, path = "/api/v1/obligation-rules", tag = "obligations", operation_id = "create_obligation_rule",
    request_body = RuleInput,
    responses((status = 201, description = "Created", body = RuleView, headers(("Location" = String, description = "The rule's URL"))),
        (status = 409, description = "A rule with this code exists", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create_rule(
    State(state): State<AppState>,
    user: Principal,
    AppJson(input): AppJson<RuleInput>,
) -> AppResult<Response> {
    let rule = service::create_rule(&state.db, &user, &input, state.clock.now()).await?;
    Ok(created(&format!("/api/v1/obligation-rules/{}", rule.code), Some(rule.version), &RuleView::from(rule)))
}

/// One deadline rule.
#[utoipa::path(get, path = "/api/v1/obligation-rules/{code}", tag = "obligations", operation_id = "get_obligation_rule",
    params(("code" = String, Path, description = "Rule code, e.g. R6_ARREST")),
    responses((status = 200, description = "The rule", body = RuleView, headers(("ETag" = String, description = "Its version")))))]
pub async fn get_rule(
    State(state): State<AppState>,
    _user: Principal,
    AppPath(code): AppPath<String>,
) -> AppResult<Response> {
    let rule = service::rule(state.db.read(), &code).await?;
    Ok(with_etag(rule.version, &RuleView::from(rule)))
}

/// Change a deadline rule (admin); obligations already created keep their due dates.
#[utoipa::path(patch, path = "/api/v1/obligation-rules/{code}", tag = "obligations", operation_id = "patch_obligation_rule",
    params(("code" = String, Path, description = "Rule code, e.g. R6_ARREST"), ("If-Match" = String, Header, description = "ETag from your last read")),
    request_body(content = RulePatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated rule", body = RuleView, headers(("ETag" = String, description = "Its new version")))))]
pub async fn patch_rule(
    State(state): State<AppState>,
    user: Principal,
    AppPath(code): AppPath<String>,
    if_match: IfMatch,
    patch: MergePatch,
) -> AppResult<Response> {
    let rule = service::patch_rule(&state.db, &user, &code, &if_match, &patch, state.clock.now()).await?;
    Ok(with_etag(rule.version, &RuleView::from(rule)))
}

/// Record a key event for a victim (arrest, charge, hearing listed, verdict, ...): creates the
/// obligations to inform them, due in working days.
#[utoipa::path(post, path = "/api/v1/victims/{ref}/key-events", tag = "obligations", operation_id = "record_key_event",
    params(("ref" = String, Path, description = "Hub reference")),
    request_body = KeyEventInput,
    responses((status = 201, description = "The obligations the event created (or had created before, for a repeated source_event_id)", body = KeyEventResult,
        headers(("Location" = String, description = "The victim's obligations")))))]
pub async fn record_key_event(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppJson(input): AppJson<KeyEventInput>,
) -> AppResult<Response> {
    let now = state.clock.now();
    let (victim, rows) = service::record_key_event(&state.db, &user, &hub_ref, &input, now).await?;
    let today = london_date(now);
    let body = KeyEventResult {
        hub_ref: victim.hub_ref.clone(),
        obligations: rows.into_iter().map(|o| ObligationView::new(o, today)).collect(),
    };
    Ok(created(&format!("/api/v1/victims/{}/obligations", victim.hub_ref), None, &body))
}

/// A victim's Victims' Code obligations, earliest due first, with breaches marked.
#[utoipa::path(get, path = "/api/v1/victims/{ref}/obligations", tag = "obligations", operation_id = "list_obligations",
    params(("ref" = String, Path, description = "Hub reference"), ObligationParams),
    responses((status = 200, description = "The obligations", body = Vec<ObligationView>)))]
pub async fn list_obligations(
    State(state): State<AppState>,
    user: Principal,
    AppPath(hub_ref): AppPath<String>,
    AppQuery(p): AppQuery<ObligationParams>,
) -> AppResult<Json<Vec<ObligationView>>> {
    Ok(Json(service::list(state.db.read(), &state.audit, &user, &hub_ref, &p, state.clock.now()).await?))
}

/// The England and Wales bank holidays deadlines are counted on.
#[utoipa::path(get, path = "/api/v1/bank-holidays", tag = "obligations", operation_id = "list_bank_holidays",
    responses((status = 200, description = "The calendar", body = HolidayList)))]
pub async fn list_holidays(State(state): State<AppState>, _user: Principal) -> AppResult<Json<HolidayList>> {
    let calendar = holidays::load(state.db.read()).await?;
    Ok(Json(HolidayList {
        division: "england-and-wales".into(),
        events: calendar
            .holidays()
            .map(|(date, title)| super::dto::Holiday { date, title: title.to_owned() })
            .collect(),
    }))
}

/// Replace the bank-holiday calendar (admin), e.g. when GOV.UK publishes a new year.
#[utoipa::path(put, path = "/api/v1/bank-holidays", tag = "obligations", operation_id = "replace_bank_holidays",
    request_body = HolidayList,
    responses((status = 200, description = "The calendar now in force", body = HolidayList)))]
pub async fn replace_holidays(
    State(state): State<AppState>,
    user: Principal,
    AppJson(input): AppJson<HolidayList>,
) -> AppResult<Json<HolidayList>> {
    user.require(&[Role::Admin])?;
    if input.division != "england-and-wales" {
        return Err(AppError::invalid_field("/division", "unsupported", "only england-and-wales is used"));
    }
    if input.events.is_empty() {
        return Err(AppError::invalid_field("/events", "empty", "a calendar needs at least one holiday"));
    }
    let calendar = Calendar::from_dates(input.events.iter().map(|h| (h.date, h.title.clone())));
    let now = state.clock.now();
    let tx = state.db.begin_write().await?;
    let n = holidays::replace(&tx, &calendar).await?;
    let event = Event::new(AuditAction::Admin, "bank_holidays").resource(format!("{n} days")).fields(["events"]);
    audit::record(&tx, &Actor::from(&user), now, event).await?;
    tx.commit().await?;
    Ok(Json(input))
}
