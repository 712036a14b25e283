//! Subject access: everything the hub holds about one victim, and who has accessed it.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::VictimView;
use super::read::{self, Key};
use super::service::load_for_read;
use crate::audit::service::{AuditEventView, about_victim, victim_and_merged};
use crate::audit::{Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::Access;
use crate::cases::dto::CaseView;
use crate::db::Db;
use crate::entities::{case_victims, cases, victim_merges};
use crate::error::{AppError, AppResult};
use crate::vocab::{AuditAction, Role};

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeEntry {
    pub merged_ref: String,
    pub reason: String,
    pub merged_at: DateTime<Utc>,
    pub merged_by: String,
}

/// Everything held about one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectAccessExport {
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
    /// The record, contact details included.
    pub record: VictimView,
    pub cases: Vec<CaseView>,
    /// Duplicate records merged into this one, as they were when merged.
    pub merged_records: Vec<VictimView>,
    pub merges: Vec<MergeEntry>,
    /// Every audited action on the person's data, oldest first: who read or changed what, when and why.
    pub access_log: Vec<AuditEventView>,
}

/// Builds the export for the victim's own supervisor, or an admin giving a reason; the export is
/// itself recorded before it is handed over.
pub async fn export(
    db: &Db,
    audit: &AuditSink,
    user: &Principal,
    raw_ref: &str,
    now: DateTime<Utc>,
) -> AppResult<SubjectAccessExport> {
    user.require(&[Role::Supervisor, Role::Admin])?;
    let (victim, access) = load_for_read(db.read(), user, raw_ref).await?;
    if !matches!(access, Access::Team | Access::Admin) {
        return Err(AppError::forbidden(
            "a subject access export is made by the victim's own team's supervisor or an admin",
        ));
    }
    let ids = victim_and_merged(db.read(), victim.id).await?;
    let view_of = |id: Uuid| async move {
        read::read_in(db.read(), Key::Id(id))
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("record {id} vanished")))?
            .view()
    };
    let record = view_of(victim.id).await?;
    let mut merged_records = Vec::new();
    for id in ids.iter().skip(1) {
        merged_records.push(view_of(*id).await?);
    }
    let case_ids: Vec<Uuid> = case_victims::Entity::find()
        .select_only()
        .column(case_victims::Column::CaseId)
        .filter(case_victims::Column::VictimId.eq(victim.id))
        .into_tuple()
        .all(db.read())
        .await?;
    let mut case_views = Vec::new();
    for case in cases::Entity::find().filter(cases::Column::Id.is_in(case_ids)).all(db.read()).await? {
        case_views.push(crate::cases::service::view(db.read(), &case).await?);
    }
    let merges =
        victim_merges::Entity::find().filter(victim_merges::Column::SurvivorId.eq(victim.id)).all(db.read()).await?;
    let merges = merges
        .into_iter()
        .map(|m| MergeEntry {
            merged_ref: merged_records
                .iter()
                .zip(ids.iter().skip(1))
                .find(|(_, id)| **id == m.merged_id)
                .map(|(v, _)| v.hub_ref.clone())
                .unwrap_or_default(),
            reason: m.reason,
            merged_at: m.merged_at,
            merged_by: m.merged_by,
        })
        .collect();
    let access_log = about_victim(db.read(), &ids).await?;
    let event = Event::new(AuditAction::Export, "subject_access_export")
        .subjects(ids)
        .resource(&victim.hub_ref)
        .fields(["record", "cases", "merged_records", "access_log"]);
    audit.record(Actor::from(user), event, now).await?;
    Ok(SubjectAccessExport {
        generated_at: now,
        generated_by: user.sub.clone(),
        record,
        cases: case_views,
        merged_records,
        merges,
        access_log,
    })
}
