//! Each victim's contact schedule: when the next routine update is due, and whether updates are
//! being chased at all. `refresh` recomputes one victim's row from the facts (plan, last reached
//! update, cases); every change to those facts calls it in the same transaction, so the due scan
//! reads one indexed table.
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::clock::london_date;
use crate::config::ReminderConfig;
use crate::entities::{case_victims, cases, contact_plans, contact_schedule, contacts, victims};
use crate::error::AppResult;
use crate::vocab::{CaseStatus, ContactKind, ContactOutcome, ContactState, UpdateStatus};

/// Only a reached routine update or key decision resets the clock; attempts are kept and counted.
#[must_use]
pub fn counts_as_update(outcome: ContactOutcome, kind: ContactKind) -> bool {
    outcome == ContactOutcome::Reached && matches!(kind, ContactKind::RoutineUpdate | ContactKind::KeyDecision)
}

/// Where a schedule stands on `today`.
#[must_use]
pub fn status(s: &contact_schedule::Model, today: NaiveDate, due_soon_days: i32) -> UpdateStatus {
    match (s.state, s.next_due_on) {
        (ContactState::Suspended, _) => UpdateStatus::Suspended,
        (ContactState::OptedOut, _) => UpdateStatus::OptedOut,
        (ContactState::Closed, _) | (ContactState::Active, None) => UpdateStatus::Closed,
        (ContactState::Active, Some(due)) if due < today => UpdateStatus::Overdue,
        (ContactState::Active, Some(due)) if due <= today + Duration::days(i64::from(due_soon_days)) => {
            UpdateStatus::DueSoon
        }
        (ContactState::Active, Some(_)) => UpdateStatus::OnTrack,
    }
}

/// The facts a schedule is computed from.
pub struct Facts<'a> {
    pub victim: &'a victims::Model,
    pub plan: Option<&'a contact_plans::Model>,
    pub last_update_at: Option<DateTime<Utc>>,
    pub open_cases: u64,
    pub all_cases: u64,
}

/// The schedule the facts imply.
#[must_use]
pub fn compute(f: &Facts, cfg: &ReminderConfig, now: DateTime<Utc>) -> contact_schedule::Model {
    let interval = f.plan.map_or(cfg.default_interval_days, |p| p.interval_days);
    let closed =
        f.victim.merged_into_id.is_some() || f.victim.anonymised_at.is_some() || (f.all_cases > 0 && f.open_cases == 0);
    let (state, next_due_on) = match f.plan {
        _ if closed => (ContactState::Closed, None),
        Some(p) if p.suspended => (ContactState::Suspended, p.suspension_review_on),
        Some(p) if p.routine_opt_out => (ContactState::OptedOut, None),
        _ => {
            // The clock runs from the last update, or from when the hub took the victim on.
            let from = f.last_update_at.unwrap_or(f.victim.created_at);
            (ContactState::Active, Some(london_date(from) + Duration::days(i64::from(interval))))
        }
    };
    contact_schedule::Model {
        victim_id: f.victim.id,
        team_code: f.victim.team_code.clone(),
        caseworker: f.victim.assigned_caseworker.clone(),
        state,
        interval_days: interval,
        last_update_at: f.last_update_at,
        next_due_on,
        escalated_for: None,
        refreshed_at: now,
    }
}

/// How many cases `victim_id` is on (open ones only when `open`), as a scalar subquery.
fn cases_of(victim_id: Uuid, open: bool) -> Expr {
    let mut q = Query::select();
    q.expr(Expr::col((case_victims::Entity, case_victims::Column::CaseId)).count())
        .from(case_victims::Entity)
        .inner_join(
            cases::Entity,
            Expr::col((cases::Entity, cases::Column::Id)).equals((case_victims::Entity, case_victims::Column::CaseId)),
        )
        .and_where(Expr::col((case_victims::Entity, case_victims::Column::VictimId)).eq(victim_id));
    if open {
        q.and_where(Expr::col((cases::Entity, cases::Column::Status)).eq(CaseStatus::Open.as_str()));
    }
    Expr::SubQuery(None, Box::new(q.into()))
}

/// Recomputes and stores one victim's schedule.
pub async fn refresh(
    db: &impl ConnectionTrait,
    victim_id: Uuid,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<contact_schedule::Model> {
    let victim = victims::Entity::find_by_id(victim_id)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("victim {victim_id} vanished while its schedule was refreshed"))?;
    refresh_victim(db, &victim, cfg, now).await
}

/// [`refresh`] for a caller holding the record as it now stands in `db`'s transaction: two reads
/// (the plan, and the last update with the case counts in one statement) and the upsert, since
/// every write that touches a victim pays for them.
pub async fn refresh_victim(
    db: &impl ConnectionTrait,
    victim: &victims::Model,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<contact_schedule::Model> {
    let victim_id = victim.id;
    let plan = contact_plans::Entity::find_by_id(victim_id).one(db).await?;
    // The last contact that counted as an update (an aggregate: always one row), and the cases.
    let (last_update_at, all_cases, open_cases) = contacts::Entity::find()
        .select_only()
        .column_as(contacts::Column::OccurredAt.max(), "last")
        .filter(contacts::Column::VictimId.eq(victim_id))
        .filter(contacts::Column::Outcome.eq(ContactOutcome::Reached))
        .filter(contacts::Column::Kind.is_in([ContactKind::RoutineUpdate, ContactKind::KeyDecision]))
        .expr_as(cases_of(victim_id, false), "all_cases")
        .expr_as(cases_of(victim_id, true), "open_cases")
        .into_tuple::<(Option<DateTime<Utc>>, i64, i64)>()
        .one(db)
        .await?
        .unwrap_or_default();
    let facts = Facts {
        victim,
        plan: plan.as_ref(),
        last_update_at,
        open_cases: open_cases.try_into().unwrap_or_default(),
        all_cases: all_cases.try_into().unwrap_or_default(),
    };
    let row = compute(&facts, cfg, now);
    contact_schedule::Entity::insert(row.clone().into_active_model())
        .on_conflict(
            OnConflict::column(contact_schedule::Column::VictimId)
                .update_columns([
                    contact_schedule::Column::TeamCode,
                    contact_schedule::Column::Caseworker,
                    contact_schedule::Column::State,
                    contact_schedule::Column::IntervalDays,
                    contact_schedule::Column::LastUpdateAt,
                    contact_schedule::Column::NextDueOn,
                    contact_schedule::Column::RefreshedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Refreshes every victim on a case (after the case opens, closes or gains a victim).
pub async fn refresh_case(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let ids: Vec<Uuid> = case_victims::Entity::find()
        .select_only()
        .column(case_victims::Column::VictimId)
        .filter(case_victims::Column::CaseId.eq(case_id))
        .into_tuple()
        .all(db)
        .await?;
    for id in ids {
        refresh(db, id, cfg, now).await?;
    }
    Ok(())
}

/// Gives every victim without a schedule row one (records created before contact schedules
/// existed, or loaded by other means); returns how many. Runs at start-up and before on-demand runs.
pub async fn backfill(db: &crate::db::Db, cfg: &ReminderConfig, now: DateTime<Utc>) -> AppResult<u64> {
    // Every schedule row belongs to a victim, so equal counts mean none is missing: two index-only
    // counts instead of an anti-join over both tables on every start-up.
    let (victims_n, schedules_n) =
        (victims::Entity::find().count(db.read()).await?, contact_schedule::Entity::find().count(db.read()).await?);
    if victims_n == schedules_n {
        return Ok(0);
    }
    let mut done = 0;
    loop {
        // NOT EXISTS plans as an anti-join at any size (NOT IN over a large subquery does not).
        let missing: Vec<Uuid> = victims::Entity::find()
            .select_only()
            .column(victims::Column::Id)
            .filter(sea_orm::sea_query::Expr::cust(
                "NOT EXISTS (SELECT 1 FROM contact_schedule s WHERE s.victim_id = victims.id)",
            ))
            .limit(500)
            .into_tuple()
            .all(db.read())
            .await?;
        if missing.is_empty() {
            return Ok(done);
        }
        let tx = db.begin_write().await?;
        for id in &missing {
            refresh(&tx, *id, cfg, now).await?;
        }
        tx.commit().await?;
        done += missing.len() as u64;
    }
}
