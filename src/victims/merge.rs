//! Merging a duplicate record into its survivor: references, cases and history move; the old
//! reference keeps resolving to the survivor.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set,
};
use uuid::Uuid;

use super::dto::{MergeRequest, MergeResult};
use super::hub_ref::HubRef;
use super::read;
use super::service::load_for_write;
use crate::audit::{self, Actor, Event};
use crate::auth::Principal;
use crate::auth::access;
use crate::contacts::schedule;
use crate::db::Db;
use crate::entities::{
    agency_references, case_victims, contact_plans, contacts, journeys, obligations, victim_merges, victims,
};
use crate::error::{AppError, AppResult};
use crate::validate::Checks;
use crate::vocab::{AuditAction, Role};

/// Every table with a `victim_id` column, and how a merge treats it. A test checks this list
/// against the schema so a new table cannot be forgotten.
/// `contact_plans` moves only when the survivor has no plan of its own.
pub const VICTIM_TABLES: &[&str] = &[
    "agency_references",
    "case_victims",
    "contacts",
    "obligations",
    "contact_plans",
    "journey_events",
    "withdrawals",
    "withdrawal_flags",
    "service_issues",
];

/// Tables with a `victim_id` that a merge leaves alone, and why.
pub const UNMOVED_VICTIM_TABLES: &[(&str, &str)] = &[
    ("audit_events", "append-only; a survivor's history includes its merged records' events through victim_merges"),
    ("contact_schedule", "derived: recomputed for both records (the merged one is closed)"),
    ("journeys", "derived: the duplicate's are dropped and the survivor's cases recomputed"),
    ("journey_tombstones", "the deleted journeys' keys, for the reports' in-memory journeys (reports::facts)"),
    ("report_victim_changes", "a log of victims whose records changed, for the reports' in-memory journeys"),
];

pub async fn merge(
    db: &Db,
    user: &Principal,
    survivor_ref: &str,
    req: &MergeRequest,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<MergeResult> {
    user.require(&[Role::Supervisor])?;
    let mut c = Checks::new();
    let reason = c.required_text("/reason", &req.reason, 2000);
    let dup_ref = HubRef::parse(&req.duplicate);
    if let Err(e) = &dup_ref {
        c.fail("/duplicate", "invalid_format", e.to_string());
    }
    c.finish()?;
    let dup_ref = dup_ref.expect("checked above");

    let tx = db.begin_write().await?;
    let survivor = load_for_write(&tx, user, survivor_ref).await?;
    let dup = victims::Entity::find()
        .filter(victims::Column::HubRef.eq(dup_ref.as_str()))
        .one(&tx)
        .await?
        .filter(|d| access::write_access(user, &d.team_code, "record").is_ok())
        .ok_or_else(|| AppError::invalid_field("/duplicate", "not_found", format!("no victim record {dup_ref}")))?;
    if dup.id == survivor.id {
        return Err(AppError::invalid_field("/duplicate", "invalid_value", "a record cannot be merged into itself"));
    }
    if dup.merged_into_id.is_some() {
        return Err(AppError::conflict("already-merged", format!("{dup_ref} has already been merged")));
    }

    let (merged, filled_fields) = fill_blanks(&survivor, &dup);
    let moved_references = agency_references::Entity::update_many()
        .col_expr(agency_references::Column::VictimId, Expr::value(survivor.id))
        .filter(agency_references::Column::VictimId.eq(dup.id))
        .exec(&tx)
        .await?
        .rows_affected;
    let moved_cases = move_case_links(&tx, dup.id, survivor.id).await?;
    move_contact_history(&tx, dup.id, survivor.id, now).await?;
    // Records merged into the duplicate earlier now point straight at the survivor.
    victims::Entity::update_many()
        .col_expr(victims::Column::MergedIntoId, Expr::value(survivor.id))
        .filter(victims::Column::MergedIntoId.eq(dup.id))
        .exec(&tx)
        .await?;

    let mut survivor_row = merged;
    survivor_row.version = survivor.version + 1;
    survivor_row.updated_at = now;
    victims::Entity::update(survivor_row.clone().into_active_model().reset_all()).exec(&tx).await?;
    let mut dup_row = dup.clone().into_active_model();
    dup_row.merged_into_id = Set(Some(survivor.id));
    dup_row.version = Set(dup.version + 1);
    dup_row.updated_at = Set(now);
    dup_row.update(&tx).await?;
    victim_merges::Entity::insert(victim_merges::ActiveModel {
        id: Set(Uuid::now_v7()),
        survivor_id: Set(survivor.id),
        merged_id: Set(dup.id),
        reason: Set(reason),
        merged_at: Set(now),
        merged_by: Set(user.sub.clone()),
    })
    .exec_without_returning(&tx)
    .await?;
    let event = Event::new(AuditAction::Merge, "victim")
        .subjects([survivor.id, dup.id])
        .resource(&survivor.hub_ref)
        .fields(std::iter::once("merged_refs".to_owned()).chain(filled_fields.iter().cloned()));
    audit::record(&tx, &Actor::from(user), now, event).await?;
    schedule::refresh(&tx, survivor.id, cfg, now).await?;
    schedule::refresh(&tx, dup.id, cfg, now).await?;
    let survivor_view = read::read_in(&tx, read::Key::Id(survivor.id))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("merged survivor vanished")))?
        .view()?;
    tx.commit().await?;
    Ok(MergeResult { survivor: survivor_view, merged_ref: dup.hub_ref, filled_fields, moved_references, moved_cases })
}

/// Contacts and obligations follow the person; the duplicate's plan moves only when the
/// survivor has none.
async fn move_contact_history(db: &impl ConnectionTrait, from: Uuid, to: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    contacts::Entity::update_many()
        .col_expr(contacts::Column::VictimId, Expr::value(to))
        .filter(contacts::Column::VictimId.eq(from))
        .exec(db)
        .await?;
    obligations::Entity::update_many()
        .col_expr(obligations::Column::VictimId, Expr::value(to))
        .filter(obligations::Column::VictimId.eq(from))
        .exec(db)
        .await?;
    for table in ["journey_events", "withdrawals", "withdrawal_flags", "service_issues"] {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            if db.get_database_backend() == sea_orm::DbBackend::Postgres {
                format!("UPDATE {table} SET victim_id = $1 WHERE victim_id = $2")
            } else {
                format!("UPDATE {table} SET victim_id = ? WHERE victim_id = ?")
            },
            [to.into(), from.into()],
        ))
        .await?;
    }
    journeys::Entity::delete_many().filter(journeys::Column::VictimId.eq(from)).exec(db).await?;
    let cases: Vec<Uuid> = case_victims::Entity::find()
        .select_only()
        .column(case_victims::Column::CaseId)
        .filter(case_victims::Column::VictimId.eq(to))
        .into_tuple()
        .all(db)
        .await?;
    let outcomes = crate::journeys::service::victim_outcomes(db).await?;
    for case_id in cases {
        crate::journeys::service::recompute_case(db, case_id, &outcomes, now).await?;
    }
    if contact_plans::Entity::find_by_id(to).one(db).await?.is_none() {
        contact_plans::Entity::update_many()
            .col_expr(contact_plans::Column::VictimId, Expr::value(to))
            .filter(contact_plans::Column::VictimId.eq(from))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Moves the duplicate's case links to the survivor; where both were linked to a case, the
/// survivor's link stays and the duplicate's goes.
async fn move_case_links(db: &impl ConnectionTrait, from: Uuid, to: Uuid) -> AppResult<u64> {
    let theirs = case_victims::Entity::find().filter(case_victims::Column::VictimId.eq(from)).all(db).await?;
    let mut moved = 0;
    for link in theirs {
        let both = case_victims::Entity::find_by_id((link.case_id, to)).one(db).await?.is_some();
        if both {
            case_victims::Entity::delete_by_id((link.case_id, from)).exec(db).await?;
        } else {
            case_victims::Entity::update_many()
                .col_expr(case_victims::Column::VictimId, Expr::value(to))
                .filter(case_victims::Column::CaseId.eq(link.case_id))
                .filter(case_victims::Column::VictimId.eq(from))
                .exec(db)
                .await?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// The survivor with any field it lacks taken from the duplicate, and the names of those fields.
fn fill_blanks(survivor: &victims::Model, dup: &victims::Model) -> (victims::Model, Vec<String>) {
    let mut s = survivor.clone();
    let mut filled = Vec::new();
    macro_rules! take {
        ($($field:ident),+) => {$(
            if s.$field.is_none() && dup.$field.is_some() {
                s.$field = dup.$field.clone();
                filled.push(stringify!($field).to_owned());
            }
        )+};
    }
    take!(
        preferred_name,
        date_of_birth,
        phone,
        email,
        preferred_channel,
        contact_restrictions,
        language,
        communication_needs,
        ethnicity,
        sex,
        disability,
        assigned_caseworker
    );
    let no_address = s.address_line1.is_none() && s.address_town.is_none() && s.address_postcode.is_none();
    if no_address && (dup.address_line1.is_some() || dup.address_postcode.is_some()) {
        s.address_line1.clone_from(&dup.address_line1);
        s.address_line2.clone_from(&dup.address_line2);
        s.address_town.clone_from(&dup.address_town);
        s.address_postcode.clone_from(&dup.address_postcode);
        filled.push("address".into());
    }
    if s.needs_assessed_on.is_none() && dup.needs_assessed_on.is_some() {
        s.needs_assessed_on = dup.needs_assessed_on;
        s.needs_assessed_by.clone_from(&dup.needs_assessed_by);
        s.identified_needs = dup.identified_needs.clone();
        filled.push("needs_assessment".into());
    }
    if !s.interpreter_needed && dup.interpreter_needed {
        s.interpreter_needed = true;
        filled.push("interpreter_needed".into());
    }
    for entry in &dup.enhanced_reasons.0 {
        if !s.enhanced_reasons.0.iter().any(|e| e.reason == entry.reason) {
            s.enhanced_reasons.0.push(entry.clone());
            if !filled.iter().any(|f| f == "enhanced_reasons") {
                filled.push("enhanced_reasons".into());
            }
        }
    }
    s.enhanced_rights = !s.enhanced_reasons.0.is_empty();
    (s, filled)
}
