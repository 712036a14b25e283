//! Recording and reviewing withdrawals; flags for unevidenced ones.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::dto::{FlagView, ReviewInput, WithdrawalInput, WithdrawalView};
use crate::audit::{self, Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::Access;
use crate::db::Db;
use crate::entities::withdrawals::{EvidenceList, Reasons};
use crate::entities::{journeys, withdrawal_flags, withdrawals};
use crate::error::{AppError, AppResult};
use crate::journeys::{service as journeys_service, stages};
use crate::validate::Checks;
use crate::victims::hub_ref::HubRef;
use crate::vocab::{AuditAction, Role, WithdrawalStatus};

/// Whether an evidenced (or victim-confirmed), not rejected, withdrawal is on record.
pub async fn evidenced(db: &impl ConnectionTrait, case_id: Uuid, victim_id: Uuid) -> AppResult<bool> {
    let rows = withdrawals::Entity::find()
        .filter(withdrawals::Column::CaseId.eq(case_id))
        .filter(withdrawals::Column::VictimId.eq(victim_id))
        .filter(withdrawals::Column::Status.ne(WithdrawalStatus::Rejected))
        .all(db)
        .await?;
    Ok(rows.iter().any(is_evidenced))
}

/// Whether a withdrawal record carries evidence or was confirmed with the victim.
#[must_use]
pub fn is_evidenced(w: &withdrawals::Model) -> bool {
    !w.evidence.0.is_empty() || w.confirmed_with_victim
}

pub async fn create(
    db: &Db,
    user: &Principal,
    case_id: Uuid,
    input: &WithdrawalInput,
    now: DateTime<Utc>,
) -> AppResult<(withdrawals::Model, String)> {
    let mut c = Checks::new();
    if input.reasons.is_empty() {
        c.fail("/reasons", "required", "give at least one reason (other, if none fits)");
    }
    c.max_items("/reasons", &input.reasons, 12);
    c.not_future("/withdrawn_on", Some(input.withdrawn_on), crate::clock::london_date(now));
    for (i, e) in input.evidence.iter().enumerate() {
        c.required_text(&format!("/evidence/{i}/reference"), &e.reference, 200);
    }
    let notes = c.optional_text("/notes", input.notes.as_deref(), 4000);
    if let Some(s) = &input.stage
        && stages::find(s).is_none()
    {
        c.fail("/stage", "unknown_stage", "a stage code of GET /api/v1/reference/stages");
    }
    let hub_ref = HubRef::parse(&input.victim);
    if hub_ref.is_err() {
        c.fail("/victim", "invalid_format", "a hub reference");
    }
    c.finish()?;
    let tx = db.begin_write().await?;
    crate::cases::service::load_for_write(&tx, user, case_id).await?;
    let victim = crate::victims::service::resolve(&tx, &hub_ref.expect("checked"))
        .await?
        .filter(|_| true)
        .ok_or_else(|| AppError::invalid_field("/victim", "not_found", format!("no victim record {}", input.victim)))?;
    crate::cases::service::require_victim_on_case(&tx, case_id, victim.id, "/victim").await?;
    let journey = journeys::Entity::find_by_id((case_id, victim.id)).one(&tx).await?;
    let stage =
        input.stage.clone().or_else(|| journey.and_then(|j| j.current_stage)).unwrap_or_else(|| "REPORTED".into());
    let mut reasons = input.reasons.clone();
    reasons.sort();
    reasons.dedup();
    let row = withdrawals::Model {
        id: Uuid::now_v7(),
        case_id,
        victim_id: victim.id,
        withdrawn_on: input.withdrawn_on,
        stage,
        reasons: Reasons(reasons),
        felt_pressured: input.felt_pressured,
        evidence: EvidenceList(input.evidence.clone()),
        confirmed_with_victim: input.confirmed_with_victim,
        notes,
        status: WithdrawalStatus::Pending,
        recorded_by: user.sub.clone(),
        recorded_at: now,
        reviewed_by: None,
        reviewed_at: None,
        review_note: None,
        version: 1,
    };
    let row = withdrawals::Entity::insert(row.into_active_model()).exec_with_returning(&tx).await?;
    if evidenced(&tx, case_id, victim.id).await? {
        clear_flags(&tx, case_id, victim.id, &user.sub, now).await?;
    }
    let outcomes = journeys_service::victim_outcomes(&tx).await?;
    journeys_service::recompute_case(&tx, case_id, &outcomes, now).await?;
    let event = Event::new(AuditAction::Create, "withdrawal").victim(victim.id).resource(row.id).fields([
        "withdrawn_on",
        "stage",
        "reasons",
        "felt_pressured",
        "evidence",
        "confirmed_with_victim",
        "notes",
    ]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok((row, victim.hub_ref))
}

async fn clear_flags(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    victim_id: Uuid,
    by: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    withdrawal_flags::Entity::update_many()
        .col_expr(withdrawal_flags::Column::ClearedAt, Some(now).into())
        .col_expr(withdrawal_flags::Column::ClearedBy, Some(by.to_owned()).into())
        .filter(withdrawal_flags::Column::CaseId.eq(case_id))
        .filter(withdrawal_flags::Column::VictimId.eq(victim_id))
        .filter(withdrawal_flags::Column::ClearedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn list(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    case_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Vec<WithdrawalView>> {
    let (_, access, people) = crate::cases::service::load_for_read(db, user, case_id).await?;
    if access == Access::Agency {
        return Err(AppError::not_found(format!("no case {case_id}")));
    }
    let rows = withdrawals::Entity::find()
        .filter(withdrawals::Column::CaseId.eq(case_id))
        .order_by_asc(withdrawals::Column::Id)
        .all(db)
        .await?;
    let refs = crate::contacts::service::hub_refs(db, people.clone()).await?;
    let event = Event::new(AuditAction::Read, "withdrawals")
        .resource(case_id)
        .subjects(people)
        .fields(["withdrawals"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    Ok(rows
        .into_iter()
        .map(|w| {
            let r = refs.get(&w.victim_id).cloned().unwrap_or_default();
            WithdrawalView::new(w, r)
        })
        .collect())
}

/// A supervisor of the victim's team approves or rejects a pending record.
pub async fn review(
    db: &Db,
    user: &Principal,
    id: Uuid,
    input: &ReviewInput,
    now: DateTime<Utc>,
) -> AppResult<WithdrawalView> {
    user.require(&[Role::Supervisor])?;
    if input.decision == WithdrawalStatus::Pending {
        return Err(AppError::invalid_field("/decision", "invalid_value", "approved or rejected"));
    }
    let mut c = Checks::new();
    let note = c.optional_text("/note", input.note.as_deref(), 1000);
    c.finish()?;
    let tx = db.begin_write().await?;
    let row = withdrawals::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no withdrawal {id}")))?;
    crate::cases::service::load_for_write(&tx, user, row.case_id)
        .await
        .map_err(|_| AppError::not_found(format!("no withdrawal {id}")))?;
    if row.status != WithdrawalStatus::Pending {
        return Err(AppError::conflict(
            "already-reviewed",
            format!("this withdrawal was already {}", row.status.as_str()),
        ));
    }
    let result = withdrawals::Entity::update_many()
        .col_expr(withdrawals::Column::Status, input.decision.as_str().into())
        .col_expr(withdrawals::Column::ReviewedBy, Some(user.sub.clone()).into())
        .col_expr(withdrawals::Column::ReviewedAt, Some(now).into())
        .col_expr(withdrawals::Column::ReviewNote, note.into())
        .col_expr(withdrawals::Column::Version, (row.version + 1).into())
        .filter(withdrawals::Column::Id.eq(id))
        .filter(withdrawals::Column::Version.eq(row.version))
        .exec(&tx)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::precondition_failed(row.version + 1));
    }
    let outcomes = journeys_service::victim_outcomes(&tx).await?;
    journeys_service::recompute_case(&tx, row.case_id, &outcomes, now).await?;
    let event = Event::new(AuditAction::Update, "withdrawal")
        .victim(row.victim_id)
        .resource(id)
        .fields(["status", "review_note"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    let updated = withdrawals::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::not_found("withdrawal vanished"))?;
    tx.commit().await?;
    let hub = crate::contacts::service::hub_refs(db.read(), vec![updated.victim_id])
        .await?
        .remove(&updated.victim_id)
        .unwrap_or_default();
    Ok(WithdrawalView::new(updated, hub))
}

/// Open flags on the caller's team's victims (all for admins).
pub async fn flags(db: &impl ConnectionTrait, user: &Principal, open_only: bool) -> AppResult<Vec<FlagView>> {
    user.require(&[Role::Caseworker, Role::Supervisor, Role::Admin])?;
    let mut q = withdrawal_flags::Entity::find().order_by_asc(withdrawal_flags::Column::Id);
    if open_only {
        q = q.filter(withdrawal_flags::Column::ClearedAt.is_null());
    }
    if !user.is(Role::Admin) {
        let team = user.team().unwrap_or_default().to_owned();
        q = q.filter(
            Condition::all().add(
                withdrawal_flags::Column::VictimId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(crate::entities::victims::Column::Id)
                        .from(crate::entities::victims::Entity)
                        .and_where(crate::entities::victims::Column::TeamCode.eq(team))
                        .to_owned(),
                ),
            ),
        );
    }
    let rows = q.all(db).await?;
    let refs = crate::contacts::service::hub_refs(db, rows.iter().map(|f| f.victim_id).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|f| FlagView {
            victim: refs.get(&f.victim_id).cloned().unwrap_or_default(),
            id: f.id,
            case_id: f.case_id,
            event_id: f.event_id,
            raised_at: f.raised_at,
            cleared_at: f.cleared_at,
        })
        .collect())
}
