//! Audit endpoints: the trail for supervisors (their team) and admins, and its verification.
use axum::Json;
use axum::extract::State;

use super::chain::Verification;
use super::service::{self, AuditEventView, AuditParams};
use super::{Actor, Event};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppResult;
use crate::http::{AppQuery, Page};
use crate::vocab::{AuditAction, Role};

/// Who did what, newest first: by victim ("who looked at this record?"), actor, action and time.
/// Supervisors see their team's actions and actions on their team's victims; admins see all.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", operation_id = "list_audit_events",
    params(AuditParams),
    responses((status = 200, description = "A page of audit events", body = Page<AuditEventView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: Principal,
    AppQuery(params): AppQuery<AuditParams>,
) -> AppResult<Json<Page<AuditEventView>>> {
    let page = service::list(state.db.read(), &user, &params).await?;
    let event = Event::new(AuditAction::Read, "audit").fields(["audit_events"]);
    state.audit.record(Actor::from(&user), event, state.clock.now()).await?;
    Ok(Json(page))
}

/// Recompute the whole hash chain (admin): the first altered, missing or reordered event.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", operation_id = "verify_audit_trail",
    responses((status = 200, description = "The verification result", body = Verification)))]
pub async fn verify(State(state): State<AppState>, user: Principal) -> AppResult<Json<Verification>> {
    user.require(&[Role::Admin])?;
    Ok(Json(super::verify(state.db.read()).await?))
}
