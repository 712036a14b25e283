//! Deadline rules, the obligations a triggering event creates, and their discharge by contacts.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::dto::{KeyEventInput, ObligationParams, ObligationView, RuleInput};
use super::holidays;
use crate::audit::{self, Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::Access;
use crate::clock::london_date;
use crate::db::Db;
use crate::entities::{contact_plans, contacts, obligation_rules, obligations, victims};
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch};
use crate::validate::Checks;
use crate::victims::service::{load_for_read, load_for_write};
use crate::vocab::{AuditAction, ClockStarts, ObligationStatus, Role};

pub async fn rules(db: &impl ConnectionTrait) -> AppResult<Vec<obligation_rules::Model>> {
    Ok(obligation_rules::Entity::find().order_by_asc(obligation_rules::Column::Code).all(db).await?)
}

pub async fn rule(db: &impl ConnectionTrait, code: &str) -> AppResult<obligation_rules::Model> {
    obligation_rules::Entity::find_by_id(code.trim().to_uppercase())
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no obligation rule {code}")))
}

pub async fn rule_descriptions(db: &impl ConnectionTrait) -> AppResult<HashMap<String, String>> {
    Ok(rules(db).await?.into_iter().map(|r| (r.code, r.description)).collect())
}

fn check_rule(input: &RuleInput) -> AppResult<RuleInput> {
    let mut c = Checks::new();
    let code = input.code.trim().to_uppercase();
    if code.is_empty() || code.len() > 40 || !code.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
        c.fail("/code", "invalid_format", "must be 1 to 40 of A-Z, 0-9 and _ (e.g. R6_ARREST)");
    }
    let code_ref = c.required_text("/code_ref", &input.code_ref, 10);
    let trigger = input.trigger_event.trim().to_owned();
    if trigger.is_empty()
        || trigger.len() > 60
        || !trigger.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
    {
        c.fail("/trigger_event", "invalid_format", "must be 1 to 60 of a-z, 0-9 and _ (e.g. arrest)");
    }
    let description = c.required_text("/description", &input.description, 500);
    for (pointer, days) in [
        ("/working_days_standard", input.working_days_standard),
        ("/working_days_enhanced", input.working_days_enhanced),
    ] {
        if !(0..=60).contains(&days) {
            c.fail(pointer, "out_of_range", "must be between 0 and 60 working days");
        }
    }
    if input.working_days_enhanced > input.working_days_standard {
        c.fail("/working_days_enhanced", "longer_than_standard", "enhanced rights never allow longer than standard");
    }
    c.finish()?;
    Ok(RuleInput { code, code_ref, trigger_event: trigger, description, ..input.clone() })
}

fn rule_fields() -> [&'static str; 9] {
    [
        "code_ref",
        "trigger_event",
        "description",
        "responsible",
        "working_days_standard",
        "working_days_enhanced",
        "clock_starts",
        "key_decision",
        "active",
    ]
}

pub async fn create_rule(
    db: &Db,
    user: &Principal,
    input: &RuleInput,
    now: DateTime<Utc>,
) -> AppResult<obligation_rules::Model> {
    user.require(&[Role::Admin])?;
    let v = check_rule(input)?;
    let tx = db.begin_write().await?;
    let model = obligation_rules::Model {
        code: v.code.clone(),
        code_ref: v.code_ref,
        trigger_event: v.trigger_event,
        description: v.description,
        responsible: v.responsible,
        working_days_standard: v.working_days_standard,
        working_days_enhanced: v.working_days_enhanced,
        clock_starts: v.clock_starts,
        key_decision: v.key_decision,
        active: v.active,
        version: 1,
        updated_at: now,
        updated_by: user.sub.clone(),
    };
    let inserted = obligation_rules::Entity::insert(model.clone().into_active_model())
        .on_conflict(OnConflict::column(obligation_rules::Column::Code).do_nothing().to_owned())
        .exec_without_returning(&tx)
        .await?;
    if inserted == 0 {
        return Err(AppError::conflict("rule-exists", format!("a rule with code {} exists; PATCH it", v.code)));
    }
    let event = Event::new(AuditAction::Admin, "obligation_rule").resource(&model.code).fields(rule_fields());
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(model)
}

pub async fn patch_rule(
    db: &Db,
    user: &Principal,
    code: &str,
    if_match: &IfMatch,
    patch: &MergePatch,
    now: DateTime<Utc>,
) -> AppResult<obligation_rules::Model> {
    user.require(&[Role::Admin])?;
    patch.refuse(&[("code", "the code names the rule; create a new rule instead")])?;
    let tx = db.begin_write().await?;
    let current = rule(&tx, code).await?;
    let version = if_match.require(current.version)?;
    let before =
        serde_json::to_value(super::dto::RuleView::from(current.clone())).map_err(|e| AppError::internal(e.into()))?;
    let mut doc = before.clone();
    if let serde_json::Value::Object(map) = &mut doc {
        for k in ["version", "updated_at", "updated_by"] {
            map.remove(k);
        }
    }
    let merged: RuleInput = patch.apply(doc)?;
    let v = check_rule(&merged)?;
    let updated = obligation_rules::Model {
        code: current.code.clone(),
        code_ref: v.code_ref,
        trigger_event: v.trigger_event,
        description: v.description,
        responsible: v.responsible,
        working_days_standard: v.working_days_standard,
        working_days_enhanced: v.working_days_enhanced,
        clock_starts: v.clock_starts,
        key_decision: v.key_decision,
        active: v.active,
        version: version + 1,
        updated_at: now,
        updated_by: user.sub.clone(),
    };
    // `update_if_version`'s check, on a table keyed by code.
    let result = obligation_rules::Entity::update_many()
        .set(updated.clone().into_active_model().reset_all())
        .filter(obligation_rules::Column::Code.eq(current.code.as_str()))
        .filter(obligation_rules::Column::Version.eq(version))
        .exec(&tx)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::precondition_failed(rule(&tx, code).await?.version));
    }
    let fields: Vec<String> = patch.0.keys().cloned().collect();
    let event = Event::new(AuditAction::Admin, "obligation_rule").resource(&updated.code).fields(fields);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Creates the obligations a triggering event brings for one victim, once per (rule, source).
/// Used for caseworkers' entries and, later, agencies' journey events.
#[allow(clippy::too_many_arguments)]
pub async fn create_for_event(
    db: &impl ConnectionTrait,
    victim: &victims::Model,
    case_id: Option<Uuid>,
    trigger: &str,
    occurred_at: DateTime<Utc>,
    received_at: Option<DateTime<Utc>>,
    source_key: &str,
    created_by: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<obligations::Model>> {
    let matching: Vec<obligation_rules::Model> = obligation_rules::Entity::find()
        .filter(obligation_rules::Column::TriggerEvent.eq(trigger))
        .filter(obligation_rules::Column::Active.eq(true))
        .order_by_asc(obligation_rules::Column::Code)
        .all(db)
        .await?;
    if matching.is_empty() {
        return Ok(Vec::new());
    }
    let calendar = holidays::load(db).await?;
    let plan = contact_plans::Entity::find_by_id(victim.id).one(db).await?;
    let mut out = Vec::with_capacity(matching.len());
    for r in matching {
        let starts_at = match r.clock_starts {
            ClockStarts::Receipt => received_at.unwrap_or(occurred_at),
            ClockStarts::Event => occurred_at,
        };
        let starts_on = london_date(starts_at);
        let days = if victim.enhanced_rights { r.working_days_enhanced } else { r.working_days_standard };
        let due_on = calendar.add_working_days(starts_on, days.max(0) as u32);
        holidays::warn_if_uncovered(&calendar, due_on, now);
        let waived = r.key_decision && plan.as_ref().is_some_and(|p| p.key_decisions_opt_out);
        let model = obligations::Model {
            id: Uuid::now_v7(),
            victim_id: victim.id,
            case_id,
            rule_code: r.code.clone(),
            trigger_event: trigger.to_owned(),
            source_key: source_key.to_owned(),
            event_occurred_at: occurred_at,
            event_received_at: received_at,
            clock_started_on: starts_on,
            enhanced: victim.enhanced_rights,
            working_days: days,
            due_on,
            status: if waived { ObligationStatus::Waived } else { ObligationStatus::Open },
            discharged_at: None,
            discharged_by: None,
            waived_reason: waived.then(|| "the victim opted out of key decision updates".to_owned()),
            escalated_at: None,
            created_at: now,
            created_by: created_by.to_owned(),
        };
        obligations::Entity::insert(model.into_active_model())
            .on_conflict(
                OnConflict::columns([
                    obligations::Column::VictimId,
                    obligations::Column::RuleCode,
                    obligations::Column::SourceKey,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        let stored = obligations::Entity::find()
            .filter(obligations::Column::VictimId.eq(victim.id))
            .filter(obligations::Column::RuleCode.eq(r.code.as_str()))
            .filter(obligations::Column::SourceKey.eq(source_key))
            .one(db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("obligation {} for {} vanished", r.code, victim.id))?;
        out.push(stored);
    }
    Ok(out)
}

/// A caseworker records a key event: the obligations it starts are created and returned.
pub async fn record_key_event(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    input: &KeyEventInput,
    now: DateTime<Utc>,
) -> AppResult<(victims::Model, Vec<obligations::Model>)> {
    let mut c = Checks::new();
    let trigger = c.required_text("/event", &input.event, 60);
    let source = c.optional_text("/source_event_id", input.source_event_id.as_deref(), 150);
    if input.occurred_at > now + chrono::Duration::minutes(5) {
        c.fail("/occurred_at", "in_future", "must not be in the future");
    }
    if let Some(received) = input.received_at
        && received < input.occurred_at
    {
        c.fail("/received_at", "before_event", "must not be before occurred_at");
    }
    c.finish()?;
    let tx = db.begin_write().await?;
    let victim = load_for_write(&tx, user, raw_ref).await?;
    let known = obligation_rules::Entity::find()
        .filter(obligation_rules::Column::TriggerEvent.eq(trigger.as_str()))
        .filter(obligation_rules::Column::Active.eq(true))
        .count(&tx)
        .await?;
    if known == 0 {
        let mut triggers: Vec<String> =
            rules(&tx).await?.into_iter().filter(|r| r.active).map(|r| r.trigger_event).collect();
        triggers.sort();
        triggers.dedup();
        return Err(AppError::invalid_field(
            "/event",
            "unknown_event",
            format!("no active rule is triggered by {trigger:?}; known events: {}", triggers.join(", ")),
        ));
    }
    if let Some(case_id) = input.case_id {
        crate::cases::service::require_victim_on_case(&tx, case_id, victim.id, "/case_id").await?;
    }
    let source_key = source.map_or_else(|| format!("entry:{}", Uuid::now_v7()), |s| format!("source:{s}"));
    let created = create_for_event(
        &tx,
        &victim,
        input.case_id,
        &trigger,
        input.occurred_at,
        input.received_at,
        &source_key,
        &user.sub,
        now,
    )
    .await?;
    let event = Event::new(AuditAction::Create, "obligation").victim(victim.id).resource(&victim.hub_ref).fields([
        "event",
        "occurred_at",
        "received_at",
        "case_id",
    ]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok((victim, created))
}

pub async fn list(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    raw_ref: &str,
    p: &ObligationParams,
    now: DateTime<Utc>,
) -> AppResult<Vec<ObligationView>> {
    let (victim, access) = load_for_read(db, user, raw_ref).await?;
    if access == Access::Agency {
        return Err(AppError::not_found(format!("no victim record {raw_ref}")));
    }
    let mut q = obligations::Entity::find()
        .filter(obligations::Column::VictimId.eq(victim.id))
        .order_by_asc(obligations::Column::DueOn)
        .order_by_asc(obligations::Column::Id);
    if let Some(status) = p.status {
        q = q.filter(obligations::Column::Status.eq(status));
    }
    let rows = q.all(db).await?;
    let event = Event::new(AuditAction::Read, "obligations")
        .victim(victim.id)
        .resource(&victim.hub_ref)
        .fields(["obligations"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    let today = london_date(now);
    Ok(rows.into_iter().map(|o| ObligationView::new(o, today)).collect())
}

/// Marks `ids` discharged by `contact`; each must be an open obligation of this victim.
pub async fn discharge(
    db: &impl ConnectionTrait,
    victim_id: Uuid,
    ids: &[Uuid],
    contact: &contacts::Model,
) -> AppResult<()> {
    for (i, id) in ids.iter().enumerate() {
        let result = obligations::Entity::update_many()
            .col_expr(obligations::Column::Status, ObligationStatus::Discharged.as_str().into())
            .col_expr(obligations::Column::DischargedAt, contact.occurred_at.into())
            .col_expr(obligations::Column::DischargedBy, contact.id.into())
            .filter(obligations::Column::Id.eq(*id))
            .filter(obligations::Column::VictimId.eq(victim_id))
            .filter(obligations::Column::Status.eq(ObligationStatus::Open))
            .exec(db)
            .await?;
        if result.rows_affected == 0 {
            return Err(AppError::invalid_field(
                &format!("/discharges/{i}"),
                "not_open",
                format!("{id} is not an open obligation of this victim"),
            ));
        }
    }
    Ok(())
}

/// Obligations a retracted event started are no longer owed (open ones only; history stays).
pub async fn cancel_for_source(db: &impl ConnectionTrait, source_key: &str) -> AppResult<u64> {
    Ok(obligations::Entity::update_many()
        .col_expr(obligations::Column::Status, ObligationStatus::Cancelled.as_str().into())
        .filter(obligations::Column::SourceKey.eq(source_key))
        .filter(obligations::Column::Status.eq(ObligationStatus::Open))
        .exec(db)
        .await?
        .rows_affected)
}
