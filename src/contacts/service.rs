//! Recording contacts, agreeing contact plans, and the caller's due work. Every read and change
//! of a victim's contact data is audited.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::dto::{
    ContactRecordInput, ContactRecordView, DueItem, DueKind, DueParams, OptOut, PlanInput, PlanView, Suspension,
};
use super::schedule;
use crate::agencies;
use crate::audit::{self, Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::Access;
use crate::clock::london_date;
use crate::config::ReminderConfig;
use crate::db::Db;
use crate::entities::{contact_plans, contact_schedule, contacts, obligations, users, victims, withdrawal_flags};
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, Page, PageParams, cursor_for};
use crate::obligations::service as obligation_service;
use crate::validate::Checks;
use crate::victims::service::{load_for_read, load_for_write};
use crate::vocab::{AuditAction, ContactDirection, ContactOutcome, ContactState, ObligationStatus, Role};

/// Contact data is for the victim's own team, break-glass supervisors and admins with a reason;
/// a liaison's minimal view has none of it.
async fn load_contact_data(
    db: &impl ConnectionTrait,
    user: &Principal,
    raw_ref: &str,
) -> AppResult<(victims::Model, Access)> {
    let (victim, access) = load_for_read(db, user, raw_ref).await?;
    if access == Access::Agency {
        return Err(AppError::not_found(format!("no victim record {raw_ref}")));
    }
    Ok((victim, access))
}

pub async fn record_contact(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    input: &ContactRecordInput,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<(victims::Model, contacts::Model)> {
    let mut c = Checks::new();
    if input.occurred_at > now + Duration::minutes(5) {
        c.fail("/occurred_at", "in_future", "must not be in the future");
    }
    let summary = c.optional_text("/summary", input.summary.as_deref(), 4000);
    let contact_by = c.optional_text("/contact_by", input.contact_by.as_deref(), 200);
    let agency = input.agency.as_deref().map(|a| c.agency_code("/agency", a));
    let discharges = input.discharges.clone().unwrap_or_default();
    c.max_items("/discharges", &discharges, 50);
    if !discharges.is_empty() && input.outcome != ContactOutcome::Reached {
        c.fail("/discharges", "not_reached", "only a contact that reached the victim discharges an obligation");
    }
    c.finish()?;

    let tx = db.begin_write().await?;
    let victim = load_for_write(&tx, user, raw_ref).await?;
    if let Some(code) = &agency {
        agencies::service::require_active(&tx, code, "/agency").await?;
    }
    if let Some(case_id) = input.case_id {
        crate::cases::service::require_victim_on_case(&tx, case_id, victim.id, "/case_id").await?;
    }
    let contact = contacts::Model {
        id: Uuid::now_v7(),
        victim_id: victim.id,
        case_id: input.case_id,
        occurred_at: input.occurred_at,
        contact_by: contact_by.unwrap_or_else(|| user.sub.clone()),
        agency_code: agency.or_else(|| user.agency.clone()),
        channel: input.channel,
        direction: input.direction.unwrap_or(ContactDirection::Outbound),
        outcome: input.outcome,
        kind: input.kind,
        summary,
        discharges: contacts::Discharges(discharges.clone()),
        recorded_at: now,
        recorded_by: user.sub.clone(),
    };
    let contact = contacts::Entity::insert(contact.into_active_model()).exec_with_returning(&tx).await?;
    obligation_service::discharge(&tx, victim.id, &discharges, &contact).await?;
    schedule::refresh_victim(&tx, &victim, cfg, now).await?;
    let event = Event::new(AuditAction::Create, "contact").victim(victim.id).resource(contact.id).fields([
        "occurred_at",
        "channel",
        "direction",
        "outcome",
        "kind",
        "summary",
        "discharges",
    ]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok((victim, contact))
}

pub async fn list_contacts(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    raw_ref: &str,
    page: &PageParams,
    now: DateTime<Utc>,
) -> AppResult<Page<ContactRecordView>> {
    let (victim, access) = load_contact_data(db, user, raw_ref).await?;
    let limit = page.limit()?;
    let mut q = contacts::Entity::find()
        .filter(contacts::Column::VictimId.eq(victim.id))
        .order_by_desc(contacts::Column::Id)
        .limit(limit + 1);
    if let Some(after) = page.after()? {
        q = q.filter(contacts::Column::Id.lt(after));
    }
    let rows = q.all(db).await?;
    let event = Event::new(AuditAction::Read, "contacts")
        .victim(victim.id)
        .resource(&victim.hub_ref)
        .fields(["contacts"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    Ok(Page::from_rows(rows, limit, |r| cursor_for(r.id), ContactRecordView::from))
}

async fn plan_view(
    db: &impl ConnectionTrait,
    victim: &victims::Model,
    plan: Option<contact_plans::Model>,
    sched: &contact_schedule::Model,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<PlanView> {
    let mut attempts = contacts::Entity::find()
        .filter(contacts::Column::VictimId.eq(victim.id))
        .filter(contacts::Column::Outcome.ne(ContactOutcome::Reached));
    if let Some(last) = sched.last_update_at {
        attempts = attempts.filter(contacts::Column::OccurredAt.gt(last));
    }
    let attempts = attempts.count(db).await?;
    let status = schedule::status(sched, london_date(now), cfg.due_soon_days);
    let view = PlanView {
        hub_ref: victim.hub_ref.clone(),
        interval_days: sched.interval_days,
        preferred_channel: plan.as_ref().and_then(|p| p.preferred_channel),
        preferred_times: plan.as_ref().and_then(|p| p.preferred_times.clone()),
        suspension: plan.as_ref().filter(|p| p.suspended).map(|p| Suspension {
            reason: p.suspended_reason.clone().unwrap_or_default(),
            review_on: p.suspension_review_on.unwrap_or_else(|| london_date(now)),
        }),
        suspended_at: plan.as_ref().and_then(|p| p.suspended_at),
        routine_opt_out: plan.as_ref().filter(|p| p.routine_opt_out).map(|p| OptOut {
            on: p.opted_out_on.unwrap_or_else(|| london_date(now)),
            reason: p.opt_out_reason.clone().unwrap_or_default(),
        }),
        key_decisions_opt_out: plan.as_ref().is_some_and(|p| p.key_decisions_opt_out),
        agreed: plan.is_some(),
        status,
        last_update_at: sched.last_update_at,
        next_due_on: if sched.state == ContactState::Active { sched.next_due_on } else { None },
        attempts_since_last_update: attempts,
        version: plan.as_ref().map_or(0, |p| p.version),
        updated_at: plan.as_ref().map(|p| p.updated_at),
        updated_by: plan.map(|p| p.updated_by),
    };
    Ok(view)
}

/// The schedule as stored, or computed now for a record that has none yet.
async fn current_schedule(
    db: &impl ConnectionTrait,
    victim: &victims::Model,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<contact_schedule::Model> {
    match contact_schedule::Entity::find_by_id(victim.id).one(db).await? {
        Some(s) => Ok(s),
        None => schedule::refresh_victim(db, victim, cfg, now).await,
    }
}

pub async fn get_plan(
    db: &Db,
    audit: &AuditSink,
    user: &Principal,
    raw_ref: &str,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<PlanView> {
    let (victim, access) = load_contact_data(db.read(), user, raw_ref).await?;
    let plan = contact_plans::Entity::find_by_id(victim.id).one(db.read()).await?;
    let sched = if let Some(s) = contact_schedule::Entity::find_by_id(victim.id).one(db.read()).await? {
        s
    } else {
        let tx = db.begin_write().await?;
        let s = current_schedule(&tx, &victim, cfg, now).await?;
        tx.commit().await?;
        s
    };
    let event = Event::new(AuditAction::Read, "contact_plan")
        .victim(victim.id)
        .resource(&victim.hub_ref)
        .fields(["contact_plan"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    plan_view(db.read(), &victim, plan, &sched, cfg, now).await
}

pub async fn put_plan(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    if_match: &IfMatch,
    input: &PlanInput,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<PlanView> {
    let today = london_date(now);
    let mut c = Checks::new();
    if !(1..=28).contains(&input.interval_days) {
        c.fail(
            "/interval_days",
            "out_of_range",
            "must be between 1 and 28 days (the minimum standard is every 28 days)",
        );
    }
    let preferred_times = c.optional_text("/preferred_times", input.preferred_times.as_deref(), 200);
    let suspension = input.suspension.as_ref().map(|s| {
        let reason = c.required_text("/suspension/reason", &s.reason, 1000);
        if s.review_on < today {
            c.fail("/suspension/review_on", "in_past", "must be today or later");
        }
        (reason, s.review_on)
    });
    let opt_out = input.routine_opt_out.as_ref().map(|o| {
        let reason = c.required_text("/routine_opt_out/reason", &o.reason, 1000);
        c.not_future("/routine_opt_out/on", Some(o.on), today);
        (reason, o.on)
    });
    c.finish()?;

    let tx = db.begin_write().await?;
    let victim = load_for_write(&tx, user, raw_ref).await?;
    let existing = contact_plans::Entity::find_by_id(victim.id).one(&tx).await?;
    let version = if_match.require(existing.as_ref().map_or(0, |p| p.version))?;
    let was_suspended = existing.as_ref().filter(|p| p.suspended).and_then(|p| p.suspended_at);
    let plan = contact_plans::Model {
        victim_id: victim.id,
        interval_days: input.interval_days,
        preferred_channel: input.preferred_channel,
        preferred_times,
        suspended: suspension.is_some(),
        suspended_reason: suspension.as_ref().map(|s| s.0.clone()),
        suspended_at: suspension.as_ref().map(|_| was_suspended.unwrap_or(now)),
        suspension_review_on: suspension.as_ref().map(|s| s.1),
        routine_opt_out: opt_out.is_some(),
        opted_out_on: opt_out.as_ref().map(|o| o.1),
        opt_out_reason: opt_out.map(|o| o.0),
        key_decisions_opt_out: input.key_decisions_opt_out,
        version: version + 1,
        updated_at: now,
        updated_by: user.sub.clone(),
    };
    if existing.is_some() {
        crate::db::update_if_version::<contact_plans::Entity>(
            &tx,
            plan.clone().into_active_model().reset_all(),
            (contact_plans::Column::VictimId, victim.id),
            (contact_plans::Column::Version, version),
        )
        .await?;
    } else {
        // Two first plans at once: the second insert matches nothing and answers 412.
        let inserted = contact_plans::Entity::insert(plan.clone().into_active_model())
            .on_conflict(OnConflict::column(contact_plans::Column::VictimId).do_nothing().to_owned())
            .exec_without_returning(&tx)
            .await?;
        if inserted == 0 {
            return Err(AppError::precondition_failed(1));
        }
    }
    let sched = schedule::refresh_victim(&tx, &victim, cfg, now).await?;
    let event = Event::new(AuditAction::Update, "contact_plan").victim(victim.id).resource(&victim.hub_ref).fields([
        "interval_days",
        "preferred_channel",
        "preferred_times",
        "suspension",
        "routine_opt_out",
        "key_decisions_opt_out",
    ]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    let view = plan_view(&tx, &victim, Some(plan), &sched, cfg, now).await?;
    tx.commit().await?;
    Ok(view)
}

/// Victims whose schedule names this caller: by user id or email.
async fn caller_names(db: &impl ConnectionTrait, user: &Principal) -> AppResult<Vec<String>> {
    let mut names = vec![user.sub.clone()];
    if let Ok(id) = Uuid::parse_str(&user.sub)
        && let Some(u) = users::Entity::find_by_id(id).one(db).await?
    {
        names.push(u.email);
    }
    Ok(names)
}

/// The caller's caseload, most urgent first: overdue updates, obligations overdue and due, updates
/// due soon, suspensions to review.
pub async fn due_work(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    p: &DueParams,
    cfg: &ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<Vec<DueItem>> {
    user.require(&[Role::Caseworker, Role::Supervisor])?;
    let limit = match p.limit {
        None => 200,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(_) => return Err(AppError::invalid_query("limit", "out_of_range", "must be between 1 and 1000")),
    };
    let team = user.team().unwrap_or_default().to_owned();
    let whose = match p.scope.as_deref() {
        None | Some("mine") => {
            Condition::all().add(contact_schedule::Column::Caseworker.is_in(caller_names(db, user).await?))
        }
        Some("team") if user.is(Role::Supervisor) => Condition::all(),
        Some("team") => return Err(AppError::forbidden("only supervisors see the whole team's due work")),
        Some(_) => return Err(AppError::invalid_query("scope", "invalid_value", "must be mine or team")),
    };
    let today = london_date(now);
    let horizon = today + Duration::days(i64::from(cfg.due_soon_days));
    let rows: Vec<(Uuid, ContactState, Option<chrono::NaiveDate>)> = contact_schedule::Entity::find()
        .select_only()
        .columns([
            contact_schedule::Column::VictimId,
            contact_schedule::Column::State,
            contact_schedule::Column::NextDueOn,
        ])
        .filter(contact_schedule::Column::TeamCode.eq(team.as_str()))
        .filter(whose.clone())
        .filter(contact_schedule::Column::State.is_in([ContactState::Active, ContactState::Suspended]))
        .filter(contact_schedule::Column::NextDueOn.lte(horizon))
        .order_by_asc(contact_schedule::Column::NextDueOn)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let whose_again = whose.clone();
    let caseload = caseload_query(team.as_str(), whose);
    let open: Vec<obligations::Model> = obligations::Entity::find()
        .filter(obligations::Column::Status.eq(ObligationStatus::Open))
        .filter(obligations::Column::VictimId.in_subquery(caseload))
        .order_by_asc(obligations::Column::DueOn)
        .limit(limit)
        .all(db)
        .await?;
    let flags: Vec<(Uuid, Uuid, DateTime<Utc>)> = withdrawal_flags::Entity::find()
        .select_only()
        .columns([
            withdrawal_flags::Column::VictimId,
            withdrawal_flags::Column::CaseId,
            withdrawal_flags::Column::RaisedAt,
        ])
        .filter(withdrawal_flags::Column::ClearedAt.is_null())
        .filter(withdrawal_flags::Column::VictimId.in_subquery(caseload_query(team.as_str(), whose_again)))
        .into_tuple()
        .all(db)
        .await?;
    let rules = obligation_service::rule_descriptions(db).await?;
    let ids: Vec<Uuid> =
        rows.iter().map(|r| r.0).chain(open.iter().map(|o| o.victim_id)).chain(flags.iter().map(|f| f.0)).collect();
    let refs = hub_refs(db, ids).await?;
    let mut items: Vec<DueItem> = Vec::new();
    for (victim_id, state, due) in rows {
        let Some(due) = due else { continue };
        let kind = match state {
            ContactState::Suspended => DueKind::SuspensionReviewDue,
            _ if due < today => DueKind::UpdateOverdue,
            _ => DueKind::UpdateDueSoon,
        };
        items.push(DueItem {
            kind,
            hub_ref: refs.get(&victim_id).cloned().unwrap_or_default(),
            due_on: due,
            days_overdue: (today - due).num_days(),
            obligation_id: None,
            rule: None,
            description: None,
        });
    }
    for (victim_id, case_id, raised_at) in flags {
        let raised = london_date(raised_at);
        items.push(DueItem {
            kind: DueKind::UnevidencedWithdrawal,
            hub_ref: refs.get(&victim_id).cloned().unwrap_or_default(),
            due_on: raised,
            days_overdue: (today - raised).num_days(),
            obligation_id: None,
            rule: None,
            description: Some(format!(
                "case {case_id}: outcome says the victim does not support action; no evidenced withdrawal"
            )),
        });
    }
    for o in open {
        items.push(DueItem {
            kind: if o.due_on < today { DueKind::ObligationOverdue } else { DueKind::ObligationDue },
            hub_ref: refs.get(&o.victim_id).cloned().unwrap_or_default(),
            due_on: o.due_on,
            days_overdue: (today - o.due_on).num_days(),
            obligation_id: Some(o.id),
            description: rules.get(&o.rule_code).cloned(),
            rule: Some(o.rule_code),
        });
    }
    items.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.due_on.cmp(&b.due_on)).then(a.hub_ref.cmp(&b.hub_ref)));
    items.truncate(limit as usize);
    let event = Event::new(AuditAction::Read, "due_work").subjects(refs.keys().copied()).fields(["hub_ref", "due_on"]);
    audit.record(Actor::from(user), event, now).await?;
    Ok(items)
}

/// The victims of a caseload (the team's, narrowed by `whose`) that are still being worked.
fn caseload_query(team: &str, whose: Condition) -> sea_orm::sea_query::SelectStatement {
    contact_schedule::Entity::find()
        .select_only()
        .column(contact_schedule::Column::VictimId)
        .filter(contact_schedule::Column::TeamCode.eq(team))
        .filter(whose)
        .filter(contact_schedule::Column::State.ne(ContactState::Closed))
        .into_query()
}

pub async fn hub_refs(
    db: &impl ConnectionTrait,
    mut ids: Vec<Uuid>,
) -> AppResult<std::collections::HashMap<Uuid, String>> {
    ids.sort_unstable();
    ids.dedup();
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let pairs: Vec<(Uuid, String)> = victims::Entity::find()
            .select_only()
            .columns([victims::Column::Id, victims::Column::HubRef])
            .filter(victims::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(pairs);
    }
    Ok(out)
}
