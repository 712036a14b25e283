//! Retention rules: policies, legal hold, and anonymising closed records past their time.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::dto::{HoldView, PolicyInput, RunReport};
use crate::audit::{self, Actor, Event};
use crate::auth::Principal;
use crate::db::{Db, update_if_version};
use crate::entities::victims::Needs;
use crate::entities::{agency_references, case_victims, cases, retention_policies, victims};
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch};
use crate::validate::Checks;
use crate::victims::service::load_for_write;
use crate::vocab::{AuditAction, CaseStatus, Role};

pub const VICTIM_RECORD: &str = "victim_record";
/// Records anonymised per transaction.
const BATCH: u64 = 200;

pub async fn policies(db: &impl ConnectionTrait) -> AppResult<Vec<retention_policies::Model>> {
    Ok(retention_policies::Entity::find().order_by_asc(retention_policies::Column::RecordClass).all(db).await?)
}

pub async fn policy(db: &impl ConnectionTrait, class: &str) -> AppResult<retention_policies::Model> {
    retention_policies::Entity::find_by_id(class.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no retention policy for {class}")))
}

pub async fn patch_policy(
    db: &Db,
    user: &Principal,
    class: &str,
    if_match: &IfMatch,
    patch: &MergePatch,
    now: DateTime<Utc>,
) -> AppResult<retention_policies::Model> {
    user.require(&[Role::Admin])?;
    let tx = db.begin_write().await?;
    let current = policy(&tx, class).await?;
    let version = if_match.require(current.version)?;
    let input: PolicyInput = patch.apply(serde_json::json!({"retain_days": current.retain_days}))?;
    let mut c = Checks::new();
    if !(30..=36_500).contains(&input.retain_days) {
        c.fail("/retain_days", "out_of_range", "must be between 30 and 36500 days");
    }
    c.finish()?;
    let changes = retention_policies::ActiveModel {
        retain_days: Set(input.retain_days),
        version: Set(version + 1),
        updated_at: Set(now),
        updated_by: Set(user.sub.clone()),
        ..Default::default()
    };
    let mut q = retention_policies::Entity::update_many()
        .set(changes)
        .filter(retention_policies::Column::RecordClass.eq(class));
    q = q.filter(retention_policies::Column::Version.eq(version));
    if q.exec(&tx).await?.rows_affected == 0 {
        return Err(AppError::precondition_failed(policy(&tx, class).await?.version));
    }
    audit::record(
        &tx,
        &Actor::from(user),
        now,
        Event::new(AuditAction::Admin, "retention_policy").resource(class).fields(["retain_days"]),
    )
    .await?;
    let updated = policy(&tx, class).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Legal hold on a record: its team's supervisor, or an admin, places and lifts it.
async fn hold_target(db: &impl ConnectionTrait, user: &Principal, raw_ref: &str) -> AppResult<victims::Model> {
    match user.role {
        Role::Admin => {
            let hub_ref = crate::victims::service::parse_ref(raw_ref)?;
            crate::victims::service::resolve(db, &hub_ref)
                .await?
                .ok_or_else(|| AppError::not_found(format!("no victim record {hub_ref}")))
        }
        Role::Supervisor => load_for_write(db, user, raw_ref).await,
        _ => Err(AppError::forbidden("legal hold is placed by a supervisor or an admin")),
    }
}

pub async fn hold(db: &impl ConnectionTrait, user: &Principal, raw_ref: &str) -> AppResult<HoldView> {
    let v = hold_target(db, user, raw_ref).await?;
    Ok(HoldView { hub_ref: v.hub_ref, held: v.legal_hold, reason: v.legal_hold_reason })
}

pub async fn set_hold(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<HoldView> {
    let reason = match reason {
        Some(r) => {
            let mut c = Checks::new();
            let r = c.required_text("/reason", r, 2000);
            c.finish()?;
            Some(r)
        }
        None => None,
    };
    let tx = db.begin_write().await?;
    let v = hold_target(&tx, user, raw_ref).await?;
    let changes = victims::ActiveModel {
        legal_hold: Set(reason.is_some()),
        legal_hold_reason: Set(reason.clone()),
        version: Set(v.version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    update_if_version::<victims::Entity>(
        &tx,
        changes,
        (victims::Column::Id, v.id),
        (victims::Column::Version, v.version),
    )
    .await?;
    let event = Event::new(AuditAction::Update, "victim").victim(v.id).resource(&v.hub_ref).fields(["legal_hold"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(HoldView { hub_ref: v.hub_ref, held: reason.is_some(), reason })
}

/// Victims whose cases are all closed, the last before `cutoff`, not yet anonymised.
fn due(cutoff: chrono::NaiveDate) -> sea_orm::Select<victims::Entity> {
    let has_case = Query::select()
        .expr(Expr::val(1))
        .from(case_victims::Entity)
        .and_where(
            Expr::col((case_victims::Entity, case_victims::Column::VictimId))
                .equals((victims::Entity, victims::Column::Id)),
        )
        .to_owned();
    let still_live = Query::select()
        .expr(Expr::val(1))
        .from(case_victims::Entity)
        .inner_join(
            cases::Entity,
            Expr::col((cases::Entity, cases::Column::Id)).equals((case_victims::Entity, case_victims::Column::CaseId)),
        )
        .and_where(
            Expr::col((case_victims::Entity, case_victims::Column::VictimId))
                .equals((victims::Entity, victims::Column::Id)),
        )
        .cond_where(
            sea_orm::Condition::any()
                .add(Expr::col((cases::Entity, cases::Column::Status)).eq(CaseStatus::Open.as_str()))
                .add(Expr::col((cases::Entity, cases::Column::ClosedOn)).gte(cutoff)),
        )
        .to_owned();
    victims::Entity::find()
        .filter(victims::Column::AnonymisedAt.is_null())
        .filter(victims::Column::MergedIntoId.is_null())
        .filter(Expr::exists(has_case))
        .filter(Expr::exists(still_live).not())
        .order_by_asc(victims::Column::Id)
}

/// Anonymises every due record (not under legal hold), in batches; audited per record. Safe to
/// run on several replicas at once: each record is anonymised, and audited, once.
pub async fn run(db: &Db, now: DateTime<Utc>, dry_run: bool) -> AppResult<RunReport> {
    let policy = policy(db.read(), VICTIM_RECORD).await?;
    let cutoff = (now - Duration::days(i64::from(policy.retain_days))).date_naive();
    let actor = Actor { id: "system:retention".into(), ..Actor::default() };
    let mut report =
        RunReport { dry_run, retain_days: policy.retain_days, cutoff, anonymised: Vec::new(), held: Vec::new() };
    let mut after = Uuid::nil();
    loop {
        let batch = due(cutoff).filter(victims::Column::Id.gt(after)).limit(BATCH).all(db.read()).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let tx = if dry_run { None } else { Some(db.begin_write().await?) };
        for v in batch {
            if v.legal_hold {
                report.held.push(v.hub_ref);
                continue;
            }
            if let Some(tx) = &tx {
                if !anonymise(tx, &v, now).await? {
                    continue;
                }
                let event = Event::new(AuditAction::Anonymise, "victim").victim(v.id).resource(&v.hub_ref);
                audit::record(tx, &actor, now, event).await?;
            }
            report.anonymised.push(v.hub_ref);
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
    }
    if !dry_run && !report.anonymised.is_empty() {
        tracing::info!(anonymised = report.anonymised.len(), held = report.held.len(), %cutoff, "retention run anonymised closed records");
    }
    Ok(report)
}

/// Replaces what identifies the person, keeping what reports count (sex, ethnicity, disability,
/// year of birth, enhanced rights, cases). False when someone else got there first.
async fn anonymise(db: &impl ConnectionTrait, v: &victims::Model, now: DateTime<Utc>) -> AppResult<bool> {
    let ids: Vec<Uuid> = std::iter::once(v.id)
        .chain(
            victims::Entity::find()
                .select_only()
                .column(victims::Column::Id)
                .filter(victims::Column::MergedIntoId.eq(v.id))
                .into_tuple::<Uuid>()
                .all(db)
                .await?,
        )
        .collect();
    let mut done = false;
    for id in &ids {
        let row = victims::Entity::find_by_id(*id)
            .one(db)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("record vanished")))?;
        let changes = victims::ActiveModel {
            given_name: Set("Anonymised".into()),
            family_name: Set("Anonymised".into()),
            preferred_name: Set(None),
            name_key: Set(format!("anonymised|{id}")),
            search_name: Set(" ".into()),
            date_of_birth: Set(row
                .date_of_birth
                .and_then(|d| chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&d), 1, 1))),
            phone: Set(None),
            email: Set(None),
            address_line1: Set(None),
            address_line2: Set(None),
            address_town: Set(None),
            address_postcode: Set(None),
            contact_restrictions: Set(None),
            communication_needs: Set(None),
            needs_assessed_by: Set(None),
            identified_needs: Set(Needs::default()),
            assigned_caseworker: Set(None),
            anonymised_at: Set(Some(now)),
            version: Set(row.version + 1),
            updated_at: Set(now),
            ..Default::default()
        };
        let written = victims::Entity::update_many()
            .set(changes)
            .filter(victims::Column::Id.eq(*id))
            .filter(victims::Column::AnonymisedAt.is_null())
            .exec(db)
            .await?
            .rows_affected;
        done |= *id == v.id && written > 0;
        agency_references::Entity::delete_many().filter(agency_references::Column::VictimId.eq(*id)).exec(db).await?;
    }
    // A case's own references (crime reference, URN) go once every victim of it is anonymised.
    let case_ids: Vec<Uuid> = case_victims::Entity::find()
        .select_only()
        .column(case_victims::Column::CaseId)
        .filter(case_victims::Column::VictimId.eq(v.id))
        .into_tuple()
        .all(db)
        .await?;
    for case_id in case_ids {
        let others_named = case_victims::Entity::find()
            .filter(case_victims::Column::CaseId.eq(case_id))
            .filter(
                case_victims::Column::VictimId.in_subquery(
                    Query::select()
                        .column(victims::Column::Id)
                        .from(victims::Entity)
                        .and_where(victims::Column::AnonymisedAt.is_null())
                        .to_owned(),
                ),
            )
            .one(db)
            .await?
            .is_some();
        if !others_named {
            agency_references::Entity::delete_many()
                .filter(agency_references::Column::CaseId.eq(case_id))
                .exec(db)
                .await?;
        }
    }
    Ok(done)
}
