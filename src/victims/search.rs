//! Finding victims: search within the caller's scope, and lookup by an agency's reference.
//! Both are reads of victim data and are audited.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::dto::{LookupParams, SearchParams, VictimSummary};
use super::hub_ref::HubRef;
use super::rules;
use super::service::{access_to, resolve};
use super::show::{self, Shown};
use crate::agencies::references;
use crate::audit::{Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access;
use crate::db::Db;
use crate::entities::{agency_references, victims};
use crate::error::{AppError, AppResult, FieldError, FieldLocation};
use crate::http::{Page, PageParams, cursor_for};
use crate::vocab::{AuditAction, Role};

const SUMMARY_FIELDS: [&str; 7] =
    ["hub_ref", "given_name", "family_name", "preferred_name", "date_of_birth", "team", "assigned_caseworker"];

/// Search within the caller's scope (their team; a liaison's agency; any team for an admin giving
/// a reason), oldest first, paginated.
pub async fn search(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    p: &SearchParams,
    now: DateTime<Utc>,
) -> AppResult<Page<VictimSummary>> {
    access::may_read_records(user)?;
    let page = PageParams { limit: p.limit, cursor: p.cursor.clone() };
    let limit = page.limit()?;
    let mut q = victims::Entity::find()
        .filter(victims::Column::MergedIntoId.is_null())
        .order_by_asc(victims::Column::Id)
        .limit(limit + 1);
    if let Some(after) = page.after()? {
        q = q.filter(victims::Column::Id.gt(after));
    }
    let team = p.team.as_deref().map(|t| t.trim().to_lowercase());
    match user.role {
        Role::Admin => {
            if let Some(team) = team {
                q = q.filter(victims::Column::TeamCode.eq(team));
            }
        }
        Role::AgencyLiaison => {
            if team.is_some() {
                return Err(AppError::forbidden("agency liaisons search the records linked to their agency"));
            }
            q = q.filter(
                victims::Column::Id
                    .in_subquery(references::victims_linked_to(user.agency.as_deref().unwrap_or_default())),
            );
        }
        _ => {
            if team.as_deref().is_some_and(|t| Some(t) != user.team()) {
                return Err(AppError::forbidden("you can only search your own team's records"));
            }
            q = q.filter(victims::Column::TeamCode.eq(user.team().unwrap_or_default()));
        }
    }
    if let Some(name) = &p.name {
        for w in rules::words(name) {
            q = q.filter(victims::Column::SearchName.like(format!("% {w}%")));
        }
    }
    if let Some(dob) = p.date_of_birth {
        q = q.filter(victims::Column::DateOfBirth.eq(dob));
    }
    if let Some(raw) = &p.hub_ref {
        let hub_ref = HubRef::parse(raw).map_err(|e| {
            let mut err = AppError::bad_request("invalid-query", format!("hub_ref: {e}"));
            err.errors.push(FieldError::at(FieldLocation::Query, "hub_ref", "invalid_format", e.to_string()));
            err
        })?;
        let id = resolve(db, &hub_ref).await?.map_or_else(Uuid::nil, |v| v.id);
        q = q.filter(victims::Column::Id.eq(id));
    }
    if let Some(caseworker) = &p.assigned_caseworker {
        q = q.filter(victims::Column::AssignedCaseworker.eq(caseworker.trim()));
    }
    if p.reference.is_some() || p.agency.is_some() || p.ref_type.is_some() {
        let mut sub = Query::select();
        sub.column(agency_references::Column::VictimId)
            .from(agency_references::Entity)
            .and_where(agency_references::Column::VictimId.is_not_null());
        if let Some(value) = &p.reference {
            let value: String = value.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
            sub.and_where(agency_references::Column::Value.eq(value));
        }
        if let Some(agency) = &p.agency {
            sub.and_where(agency_references::Column::AgencyCode.eq(agency.trim().to_uppercase()));
        }
        if let Some(t) = p.ref_type {
            sub.and_where(agency_references::Column::RefType.eq(t));
        }
        q = q.filter(victims::Column::Id.in_subquery(sub));
    }
    let rows = q.all(db).await?;
    let shown: Vec<Uuid> = rows.iter().take(limit as usize).map(|r| r.id).collect();
    let event = Event::new(AuditAction::Read, "victims").subjects(shown).fields(SUMMARY_FIELDS);
    audit.record(Actor::from(user), event, now).await?;
    Ok(Page::from_rows(rows, limit, |r| cursor_for(r.id), |r| VictimSummary::from(&r)))
}

/// The victim an agency reference belongs to, shaped for the caller.
pub async fn lookup(
    db: &Db,
    audit: &AuditSink,
    user: &Principal,
    p: &LookupParams,
    now: DateTime<Utc>,
) -> AppResult<Shown> {
    access::may_read_records(user)?;
    let not_found = || AppError::not_found("no victim record holds that reference");
    let found = references::lookup(db.read(), &p.agency, p.ref_type, &p.value).await?.ok_or_else(not_found)?;
    let victim_id = found.victim_id.ok_or_else(not_found)?;
    let record = super::read::read(db, super::read::Key::Id(victim_id)).await?.ok_or_else(not_found)?;
    let access = access_to(db.read(), user, record.id, &record.team)
        .await
        .map_err(|e| if e.status == axum::http::StatusCode::NOT_FOUND { not_found() } else { e })?;
    show::show(db, audit, user, record, access, now).await
}
