//! Audit queries: "who looked at this victim?", by victim, actor, action and time.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Principal;
use crate::entities::{audit_events, victim_merges, victims};
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageParams, cursor_for_seq};
use crate::victims::service::resolve;
use crate::vocab::{AuditAction, AuditOutcome, Role};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Hub reference: events about this victim (and records merged into it).
    pub victim: Option<String>,
    /// User id of the actor.
    pub actor: Option<String>,
    pub action: Option<AuditAction>,
    /// Only events flagged for review (break-glass access).
    pub break_glass: Option<bool>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// One audit event as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventView {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub actor_role: Option<String>,
    pub actor_team: Option<String>,
    pub actor_agency: Option<String>,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// Hub references of the victims whose data the action touched.
    pub victims: Vec<String>,
    /// Fields read or written. A read of a whole victim record names the view shown:
    /// `victim_record` (every field of `VictimView`), `victim_record_without_contact` (the same
    /// without `contact`), or `agency_view` (the fields of `AgencyVictimView`).
    pub fields: Vec<String>,
    pub reason: Option<String>,
    /// A supervisor opened a record outside their team: for review.
    pub break_glass: bool,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub hash: String,
}

/// The victim and every record merged into it: their events are its history.
pub async fn victim_and_merged(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Vec<Uuid>> {
    let merged: Vec<Uuid> = victim_merges::Entity::find()
        .select_only()
        .column(victim_merges::Column::MergedId)
        .filter(victim_merges::Column::SurvivorId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(std::iter::once(id).chain(merged).collect())
}

/// Events touching any of `ids`: as their subject or among the subjects of a wider read.
fn about(backend: DbBackend, ids: &[Uuid]) -> Condition {
    let mut any = Condition::any();
    for id in ids {
        any = any.add(audit_events::Column::VictimId.eq(*id));
        any = any.add(match backend {
            DbBackend::Postgres => Expr::cust_with_values("subjects @> jsonb_build_array($1::text)", [id.to_string()]),
            _ => Expr::cust_with_values("EXISTS (SELECT 1 FROM json_each(subjects) WHERE value = ?)", [id.to_string()]),
        });
    }
    any
}

pub async fn list(db: &impl ConnectionTrait, user: &Principal, p: &AuditParams) -> AppResult<Page<AuditEventView>> {
    user.require(&[Role::Supervisor, Role::Admin])?;
    let page = PageParams { limit: p.limit, cursor: p.cursor.clone() };
    let limit = page.limit()?;
    let backend = db.get_database_backend();
    let mut q = audit_events::Entity::find().order_by_desc(audit_events::Column::Seq).limit(limit + 1);
    if let Some(before) = page.after_seq()? {
        q = q.filter(audit_events::Column::Seq.lt(before));
    }
    if let Some(raw) = &p.victim {
        let hub_ref = crate::victims::hub_ref::HubRef::parse(raw).map_err(|e| {
            AppError::invalid_query("victim", "invalid_format", format!("{raw:?} is not a hub reference: {e}"))
        })?;
        let victim = resolve(db, &hub_ref).await?;
        let victim = victim
            .filter(|v| user.is(Role::Admin) || user.team() == Some(v.team_code.as_str()))
            .ok_or_else(|| AppError::not_found(format!("no victim record {raw}")))?;
        q = q.filter(about(backend, &victim_and_merged(db, victim.id).await?));
    }
    if user.is(Role::Supervisor) {
        // A supervisor sees what their team did, and what anyone did to their team's victims.
        let team = user.team().unwrap_or_default().to_owned();
        let team_victims = Query::select()
            .column(victims::Column::Id)
            .from(victims::Entity)
            .and_where(victims::Column::TeamCode.eq(team.as_str()))
            .to_owned();
        q = q.filter(
            Condition::any()
                .add(audit_events::Column::ActorTeam.eq(team))
                .add(audit_events::Column::VictimId.in_subquery(team_victims)),
        );
    }
    if let Some(actor) = &p.actor {
        q = q.filter(audit_events::Column::Actor.eq(actor.trim()));
    }
    if let Some(action) = p.action {
        q = q.filter(audit_events::Column::Action.eq(action));
    }
    if let Some(flag) = p.break_glass {
        q = q.filter(audit_events::Column::BreakGlass.eq(flag));
    }
    if let Some(from) = p.from {
        q = q.filter(audit_events::Column::OccurredAt.gte(from));
    }
    if let Some(to) = p.to {
        q = q.filter(audit_events::Column::OccurredAt.lt(to));
    }
    let rows = q.all(db).await?;
    let refs = hub_refs(db, rows.iter().flat_map(touched)).await?;
    Ok(Page::from_rows(rows, limit, |r| cursor_for_seq(r.seq), |r| view(r, &refs)))
}

/// Events about one victim (and records merged into it), oldest first, for a subject access export.
pub async fn about_victim(db: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<Vec<AuditEventView>> {
    let rows = audit_events::Entity::find()
        .filter(about(db.get_database_backend(), ids))
        .order_by_asc(audit_events::Column::Seq)
        .all(db)
        .await?;
    let refs = hub_refs(db, rows.iter().flat_map(touched)).await?;
    Ok(rows.into_iter().map(|r| view(r, &refs)).collect())
}

/// Every victim an event touched.
fn touched(e: &audit_events::Model) -> impl Iterator<Item = Uuid> + '_ {
    e.victim_id.into_iter().chain(e.subjects.0.iter().copied())
}

async fn hub_refs(db: &impl ConnectionTrait, ids: impl Iterator<Item = Uuid>) -> AppResult<HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let pairs: Vec<(Uuid, String)> = victims::Entity::find()
        .select_only()
        .column(victims::Column::Id)
        .column(victims::Column::HubRef)
        .filter(victims::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(pairs.into_iter().collect())
}

fn view(r: audit_events::Model, refs: &HashMap<Uuid, String>) -> AuditEventView {
    let victims = touched(&r).filter_map(|id| refs.get(&id).cloned()).collect();
    AuditEventView {
        seq: r.seq,
        occurred_at: r.occurred_at,
        actor: r.actor,
        actor_role: r.actor_role,
        actor_team: r.actor_team,
        actor_agency: r.actor_agency,
        action: r.action,
        outcome: r.outcome,
        resource_type: r.resource_type,
        resource_id: r.resource_id,
        victims,
        fields: r.fields.0,
        reason: r.reason,
        break_glass: r.break_glass,
        request_id: r.request_id,
        client_addr: r.client_addr,
        hash: r.hash,
    }
}
