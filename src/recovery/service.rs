//! Service issues: creation, the workflow, the action log, automatic opening, SLA escalation and
//! the service-recovery report.
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{
    ActionInput, ActionView, CategoryInput, CategoryView, IssueChanges, IssueInput, IssueParams, IssueView,
    TransitionInput,
};
use crate::audit::{self, Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::{self, Access};
use crate::calendar::Calendar;
use crate::clock::london_date;
use crate::config::Config;
use crate::db::Db;
use crate::entities::{
    agencies, case_victims, cases, issue_categories, journeys, service_issue_actions, service_issues, users, victims,
};
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch, Page, PageParams, cursor_for};
use crate::obligations::holidays;
use crate::reminders::outbox::{self, Notice};
use crate::validate::Checks;
use crate::victims::service::{load_for_read, load_for_write};
use crate::vocab::{AuditAction, IssueStatus, RaisedBy, Role, Severity};

/// The states an issue may move to from `from`.
#[must_use]
pub fn allowed(from: IssueStatus) -> &'static [IssueStatus] {
    use IssueStatus::{Closed, Escalated, InProgress, Open, Resolved};
    match from {
        Open => &[InProgress, Escalated, Resolved],
        InProgress => &[Escalated, Resolved],
        Escalated => &[InProgress, Resolved],
        Resolved => &[Closed, Open],
        Closed => &[Open],
    }
}

/// The target date: `days` working days after the day it opened.
#[must_use]
pub fn target(calendar: &Calendar, opened: DateTime<Utc>, severity: Severity, sla: [u32; 4]) -> NaiveDate {
    let days = match severity {
        Severity::Critical => sla[0],
        Severity::High => sla[1],
        Severity::Medium => sla[2],
        Severity::Low => sla[3],
    };
    calendar.add_working_days(london_date(opened), days)
}

async fn check_category(db: &impl ConnectionTrait, code: &str, pointer: &str) -> AppResult<()> {
    match issue_categories::Entity::find_by_id(code).one(db).await? {
        Some(c) if c.active => Ok(()),
        _ => Err(AppError::invalid_field(
            pointer,
            "unknown_category",
            format!("{code} is not a category of GET /api/v1/service-issue-categories"),
        )),
    }
}

async fn check_agency(db: &impl ConnectionTrait, code: Option<&str>) -> AppResult<Option<String>> {
    let Some(code) = code else { return Ok(None) };
    let code = code.trim().to_uppercase();
    crate::agencies::service::require_active(db, &code, "/owner_agency").await?;
    Ok(Some(code))
}

fn check_fields(
    c: &mut Checks,
    description: &str,
    code_right: Option<i32>,
    owner_person: Option<&str>,
) -> (String, Option<String>) {
    let description = c.required_text("/description", description, 4000);
    if code_right.is_some_and(|r| !(1..=12).contains(&r)) {
        c.fail("/code_right", "out_of_range", "a Victims' Code right, 1 to 12");
    }
    (description, c.optional_text("/owner_person", owner_person, 200))
}

async fn log(
    db: &impl ConnectionTrait,
    issue: Uuid,
    kind: &str,
    note: Option<String>,
    change: Option<(IssueStatus, IssueStatus)>,
    by: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    service_issue_actions::Entity::insert(
        service_issue_actions::Model {
            id: Uuid::now_v7(),
            issue_id: issue,
            kind: kind.to_owned(),
            note,
            from_status: change.map(|c| c.0.as_str()),
            to_status: change.map(|c| c.1.as_str()),
            at: now,
            by: by.to_owned(),
        }
        .into_active_model(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn create(
    db: &Db,
    user: &Principal,
    input: &IssueInput,
    config: &Config,
    now: DateTime<Utc>,
) -> AppResult<service_issues::Model> {
    let mut c = Checks::new();
    let (description, owner_person) =
        check_fields(&mut c, &input.description, input.code_right, input.owner_person.as_deref());
    if input.raised_by == Some(RaisedBy::Automatic) {
        c.fail("/raised_by", "invalid_value", "automatic issues are opened by the hub itself");
    }
    c.finish()?;
    let tx = db.begin_write().await?;
    let victim = load_for_write(&tx, user, &input.victim).await.map_err(|e| {
        if e.status == axum::http::StatusCode::NOT_FOUND {
            AppError::invalid_field("/victim", "not_found", e.detail)
        } else {
            e
        }
    })?;
    check_category(&tx, &input.category, "/category").await?;
    let owner_agency = check_agency(&tx, input.owner_agency.as_deref()).await?;
    if let Some(case_id) = input.case_id {
        crate::cases::service::require_victim_on_case(&tx, case_id, victim.id, "/case_id").await?;
    }
    let calendar = holidays::load(&tx).await?;
    let row = service_issues::Model {
        id: Uuid::now_v7(),
        victim_id: victim.id,
        case_id: input.case_id,
        team_code: victim.team_code.clone(),
        category: input.category.clone(),
        description,
        raised_by_kind: input.raised_by.unwrap_or(RaisedBy::Caseworker),
        raised_by: user.sub.clone(),
        owner_agency,
        owner_person: owner_person.or_else(|| Some(user.sub.clone())),
        severity: input.severity,
        withdrawal_risk: input.withdrawal_risk,
        code_right: input.code_right,
        opened_at: now,
        target_on: target(&calendar, now, input.severity, config.issue_sla_days),
        status: IssueStatus::Open,
        resolution_outcome: None,
        victim_stayed_engaged: None,
        complaint_reference: None,
        complaint_ack_due: None,
        source_key: None,
        escalated_at: None,
        resolved_at: None,
        closed_at: None,
        version: 1,
        updated_at: now,
    };
    let row = service_issues::Entity::insert(row.into_active_model()).exec_with_returning(&tx).await?;
    log(&tx, row.id, "opened", None, None, &user.sub, now).await?;
    let event = Event::new(AuditAction::Create, "service_issue").victim(victim.id).resource(row.id).fields([
        "category",
        "description",
        "severity",
        "owner_agency",
        "withdrawal_risk",
    ]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(row)
}

/// Loads an issue the caller may see (its victim's team, break glass, admins with a reason).
async fn load(
    db: &impl ConnectionTrait,
    user: &Principal,
    id: Uuid,
    write: bool,
) -> AppResult<(service_issues::Model, String, Access)> {
    let hidden = || AppError::not_found(format!("no service issue {id}"));
    if write {
        access::may_write_records(user)?;
    }
    let issue = service_issues::Entity::find_by_id(id).one(db).await?.ok_or_else(hidden)?;
    let victim = victims::Entity::find_by_id(issue.victim_id).one(db).await?.ok_or_else(hidden)?;
    let access = if write {
        access::write_access(user, &victim.team_code, "service issue").map_err(|_| hidden())?;
        Access::Team
    } else {
        access::may_read_records(user)?;
        let (_, a) = load_for_read(db, user, &victim.hub_ref).await.map_err(|_| hidden())?;
        if a == Access::Agency {
            return Err(hidden());
        }
        a
    };
    Ok((issue, victim.hub_ref, access))
}

async fn actions(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Vec<ActionView>> {
    Ok(service_issue_actions::Entity::find()
        .filter(service_issue_actions::Column::IssueId.eq(id))
        .order_by_asc(service_issue_actions::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(ActionView::from)
        .collect())
}

pub async fn view(
    db: &impl ConnectionTrait,
    issue: service_issues::Model,
    hub_ref: String,
    now: DateTime<Utc>,
) -> AppResult<IssueView> {
    let acts = actions(db, issue.id).await?;
    Ok(IssueView::new(issue, hub_ref, london_date(now), acts))
}

pub async fn get(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<IssueView> {
    let (issue, hub_ref, access) = load(db, user, id, false).await?;
    let event = Event::new(AuditAction::Read, "service_issue")
        .victim(issue.victim_id)
        .resource(id)
        .fields(["service_issue"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    view(db, issue, hub_ref, now).await
}

pub async fn list(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    p: &IssueParams,
    now: DateTime<Utc>,
) -> AppResult<Page<IssueView>> {
    user.require(&[Role::Caseworker, Role::Supervisor, Role::Admin])?;
    access::may_read_records(user)?;
    let page = PageParams { limit: p.limit, cursor: p.cursor.clone() };
    let limit = page.limit()?;
    let mut q = service_issues::Entity::find().order_by_desc(service_issues::Column::Id).limit(limit + 1);
    if let Some(after) = page.after()? {
        q = q.filter(service_issues::Column::Id.lt(after));
    }
    let team = if user.is(Role::Admin) { p.team.clone() } else { user.team().map(str::to_owned) };
    if let Some(t) = team {
        q = q.filter(service_issues::Column::TeamCode.eq(t));
    }
    if let Some(s) = p.status {
        q = q.filter(service_issues::Column::Status.eq(s));
    }
    if let Some(s) = p.severity {
        q = q.filter(service_issues::Column::Severity.eq(s));
    }
    if let Some(c) = &p.category {
        q = q.filter(service_issues::Column::Category.eq(c.as_str()));
    }
    if let Some(a) = &p.owner_agency {
        q = q.filter(service_issues::Column::OwnerAgency.eq(a.trim().to_uppercase()));
    }
    if p.overdue == Some(true) {
        q = q
            .filter(service_issues::Column::Status.is_in([
                IssueStatus::Open,
                IssueStatus::InProgress,
                IssueStatus::Escalated,
            ]))
            .filter(service_issues::Column::TargetOn.lt(london_date(now)));
    }
    if let Some(raw) = &p.victim {
        let (v, _) = load_for_read(db, user, raw).await?;
        q = q.filter(service_issues::Column::VictimId.eq(v.id));
    }
    let rows = q.all(db).await?;
    let refs = crate::contacts::service::hub_refs(db, rows.iter().map(|r| r.victim_id).collect()).await?;
    let event =
        Event::new(AuditAction::Read, "service_issues").subjects(refs.keys().copied()).fields(["service_issues"]);
    audit.record(Actor::from(user), event, now).await?;
    let today = london_date(now);
    Ok(Page::from_rows(
        rows,
        limit,
        |r| cursor_for(r.id),
        |r| {
            let hub = refs.get(&r.victim_id).cloned().unwrap_or_default();
            IssueView::new(r, hub, today, Vec::new())
        },
    ))
}

/// Conditional write of a changed issue: 412 when someone else wrote first.
async fn save(db: &impl ConnectionTrait, issue: &service_issues::Model, version: i32) -> AppResult<()> {
    let result = service_issues::Entity::update_many()
        .set(issue.clone().into_active_model().reset_all())
        .filter(service_issues::Column::Id.eq(issue.id))
        .filter(service_issues::Column::Version.eq(version))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        let current = service_issues::Entity::find_by_id(issue.id).one(db).await?.map_or(version, |i| i.version);
        return Err(AppError::precondition_failed(current));
    }
    Ok(())
}

pub async fn patch(
    db: &Db,
    user: &Principal,
    id: Uuid,
    if_match: &IfMatch,
    patch: &MergePatch,
    config: &Config,
    now: DateTime<Utc>,
) -> AppResult<(service_issues::Model, String)> {
    let tx = db.begin_write().await?;
    let (issue, hub_ref, _) = load(&tx, user, id, true).await?;
    let version = if_match.require(issue.version)?;
    let current = IssueChanges {
        category: issue.category.clone(),
        description: issue.description.clone(),
        owner_agency: issue.owner_agency.clone(),
        owner_person: issue.owner_person.clone(),
        severity: issue.severity,
        withdrawal_risk: issue.withdrawal_risk,
        code_right: issue.code_right,
    };
    let changes: IssueChanges =
        patch.apply(serde_json::to_value(&current).map_err(|e| AppError::internal(e.into()))?)?;
    let mut c = Checks::new();
    let (description, owner_person) =
        check_fields(&mut c, &changes.description, changes.code_right, changes.owner_person.as_deref());
    c.finish()?;
    check_category(&tx, &changes.category, "/category").await?;
    let owner_agency = check_agency(&tx, changes.owner_agency.as_deref()).await?;
    let mut updated = issue.clone();
    if changes.severity != issue.severity {
        let calendar = holidays::load(&tx).await?;
        updated.target_on = target(&calendar, issue.opened_at, changes.severity, config.issue_sla_days);
    }
    updated.category = changes.category;
    updated.description = description;
    updated.owner_agency = owner_agency;
    updated.owner_person = owner_person;
    updated.severity = changes.severity;
    updated.withdrawal_risk = changes.withdrawal_risk;
    updated.code_right = changes.code_right;
    updated.version = version + 1;
    updated.updated_at = now;
    save(&tx, &updated, version).await?;
    let fields: Vec<String> = patch.0.keys().cloned().collect();
    log(&tx, id, "changed", Some(format!("changed {}", fields.join(", "))), None, &user.sub, now).await?;
    let event = Event::new(AuditAction::Update, "service_issue").victim(issue.victim_id).resource(id).fields(fields);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok((updated, hub_ref))
}

pub async fn transition(
    db: &Db,
    user: &Principal,
    id: Uuid,
    if_match: &IfMatch,
    input: &TransitionInput,
    now: DateTime<Utc>,
) -> AppResult<(service_issues::Model, String)> {
    let mut c = Checks::new();
    let note = c.optional_text("/note", input.note.as_deref(), 4000);
    let complaint = input
        .resolution
        .as_ref()
        .and_then(|r| c.optional_text("/resolution/complaint_reference", r.complaint_reference.as_deref(), 100));
    if input.to == IssueStatus::Resolved && input.resolution.is_none() {
        c.fail("/resolution", "required", "resolving needs the outcome and whether the victim stayed engaged");
    }
    if input.to != IssueStatus::Resolved && input.resolution.is_some() {
        c.fail("/resolution", "not_allowed", "a resolution is given only when resolving");
    }
    c.finish()?;
    let tx = db.begin_write().await?;
    let (issue, hub_ref, _) = load(&tx, user, id, true).await?;
    let version = if_match.require(issue.version)?;
    let can = allowed(issue.status);
    if !can.contains(&input.to) {
        return Err(AppError::conflict(
            "invalid-transition",
            format!("an issue that is {} cannot become {}", issue.status.as_str(), input.to.as_str()),
        )
        .with("allowed", can.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    }
    let mut updated = issue.clone();
    updated.status = input.to;
    match input.to {
        IssueStatus::Resolved => {
            let r = input.resolution.as_ref().expect("checked above");
            updated.resolution_outcome = Some(r.outcome);
            updated.victim_stayed_engaged = Some(r.victim_stayed_engaged);
            updated.resolved_at = Some(now);
            if let Some(reference) = complaint {
                let calendar = holidays::load(&tx).await?;
                updated.complaint_reference = Some(reference);
                updated.complaint_ack_due = Some(calendar.add_working_days(london_date(now), 10));
            }
        }
        IssueStatus::Closed => {
            if updated.resolution_outcome.is_none() {
                return Err(AppError::invalid_field(
                    "/to",
                    "no_outcome",
                    "an issue is closed only once resolved with an outcome",
                ));
            }
            updated.closed_at = Some(now);
        }
        IssueStatus::Open => {
            // Reopened: the previous resolution no longer stands.
            updated.resolution_outcome = None;
            updated.victim_stayed_engaged = None;
            updated.resolved_at = None;
            updated.closed_at = None;
        }
        IssueStatus::Escalated => updated.escalated_at = updated.escalated_at.or(Some(now)),
        IssueStatus::InProgress => {}
    }
    updated.version = version + 1;
    updated.updated_at = now;
    save(&tx, &updated, version).await?;
    log(&tx, id, "transition", note, Some((issue.status, input.to)), &user.sub, now).await?;
    let event =
        Event::new(AuditAction::Update, "service_issue").victim(issue.victim_id).resource(id).fields(["status"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok((updated, hub_ref))
}

pub async fn add_action(
    db: &Db,
    user: &Principal,
    id: Uuid,
    input: &ActionInput,
    now: DateTime<Utc>,
) -> AppResult<ActionView> {
    let mut c = Checks::new();
    let note = c.required_text("/note", &input.note, 4000);
    c.finish()?;
    let tx = db.begin_write().await?;
    let (issue, _, _) = load(&tx, user, id, true).await?;
    log(&tx, id, &input.kind.as_str(), Some(note), None, &user.sub, now).await?;
    let event =
        Event::new(AuditAction::Update, "service_issue").victim(issue.victim_id).resource(id).fields(["actions"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    let last = service_issue_actions::Entity::find()
        .filter(service_issue_actions::Column::IssueId.eq(id))
        .order_by_desc(service_issue_actions::Column::Id)
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("action vanished")))?;
    tx.commit().await?;
    Ok(ActionView::from(last))
}

pub async fn categories(db: &impl ConnectionTrait) -> AppResult<Vec<CategoryView>> {
    Ok(issue_categories::Entity::find()
        .order_by_asc(issue_categories::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|c| CategoryView { code: c.code, name: c.name, active: c.active })
        .collect())
}

pub async fn create_category(
    db: &Db,
    user: &Principal,
    input: &CategoryInput,
    now: DateTime<Utc>,
) -> AppResult<CategoryView> {
    user.require(&[Role::Admin])?;
    let mut c = Checks::new();
    let code = input.code.trim().to_owned();
    if code.is_empty()
        || code.len() > 60
        || !code.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
    {
        c.fail("/code", "invalid_format", "1 to 60 of a-z, 0-9 and _");
    }
    let name = c.required_text("/name", &input.name, 200);
    c.finish()?;
    let tx = db.begin_write().await?;
    let n = issue_categories::Entity::insert(
        issue_categories::Model { code: code.clone(), name: name.clone(), active: true, created_at: now }
            .into_active_model(),
    )
    .on_conflict(OnConflict::column(issue_categories::Column::Code).do_nothing().to_owned())
    .exec_without_returning(&tx)
    .await?;
    if n == 0 {
        return Err(AppError::conflict("category-exists", format!("category {code} exists")));
    }
    audit::record(
        &tx,
        &Actor::from(user),
        now,
        Event::new(AuditAction::Admin, "issue_category").resource(&code).fields(["code", "name"]),
    )
    .await?;
    tx.commit().await?;
    Ok(CategoryView { code, name, active: true })
}

/// An issue the hub opens itself.
pub struct AutoIssue {
    pub victim_id: Uuid,
    pub case_id: Option<Uuid>,
    pub team: String,
    pub category: &'static str,
    pub description: String,
    pub code_right: Option<i32>,
    /// One issue per source, however often the scan runs.
    pub source_key: String,
}

/// Opens automatic issues (high severity) that are not open yet; returns how many were new.
pub async fn auto_open(
    db: &impl ConnectionTrait,
    issues: Vec<AutoIssue>,
    sla: [u32; 4],
    now: DateTime<Utc>,
) -> AppResult<u64> {
    if issues.is_empty() {
        return Ok(0);
    }
    let calendar = holidays::load(db).await?;
    let target_on = target(&calendar, now, Severity::High, sla);
    let mut opened = 0;
    for i in issues {
        let id = Uuid::now_v7();
        let n = service_issues::Entity::insert(
            service_issues::Model {
                id,
                victim_id: i.victim_id,
                case_id: i.case_id,
                team_code: i.team,
                category: i.category.to_owned(),
                description: i.description,
                raised_by_kind: RaisedBy::Automatic,
                raised_by: "care-hub".into(),
                owner_agency: None,
                owner_person: None,
                severity: Severity::High,
                withdrawal_risk: false,
                code_right: i.code_right,
                opened_at: now,
                target_on,
                status: IssueStatus::Open,
                resolution_outcome: None,
                victim_stayed_engaged: None,
                complaint_reference: None,
                complaint_ack_due: None,
                source_key: Some(i.source_key),
                escalated_at: None,
                resolved_at: None,
                closed_at: None,
                version: 1,
                updated_at: now,
            }
            .into_active_model(),
        )
        .on_conflict(OnConflict::column(service_issues::Column::SourceKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
        if n > 0 {
            log(db, id, "opened", Some("opened automatically".into()), None, "care-hub", now).await?;
            opened += 1;
        }
    }
    Ok(opened)
}

/// Escalates issues past their target once: status `escalated`, and an email to the team's
/// supervisors and the owning agency's liaison address. Returns (issues escalated, emails queued).
pub async fn escalate_overdue(db: &Db, public_url: &str, now: DateTime<Utc>) -> AppResult<(u64, u64)> {
    let today = london_date(now);
    let due: Vec<service_issues::Model> = service_issues::Entity::find()
        .filter(service_issues::Column::Status.is_in([IssueStatus::Open, IssueStatus::InProgress]))
        .filter(service_issues::Column::TargetOn.lt(today))
        .filter(service_issues::Column::EscalatedAt.is_null())
        .all(db.read())
        .await?;
    if due.is_empty() {
        return Ok((0, 0));
    }
    let supervisors: Vec<(Option<String>, String)> = users::Entity::find()
        .select_only()
        .columns([users::Column::TeamCode, users::Column::Email])
        .filter(users::Column::Role.eq(Role::Supervisor))
        .filter(users::Column::Active.eq(true))
        .into_tuple()
        .all(db.read())
        .await?;
    let liaisons: HashMap<String, String> = agencies::Entity::find()
        .all(db.read())
        .await?
        .into_iter()
        .filter_map(|a| a.liaison_email.map(|e| (a.code, e)))
        .collect();
    let refs = crate::contacts::service::hub_refs(db.read(), due.iter().map(|i| i.victim_id).collect()).await?;
    let (mut escalated, mut queued) = (0, 0);
    for issue in due {
        let hub = refs.get(&issue.victim_id).cloned().unwrap_or_default();
        let mut to: Vec<String> = supervisors
            .iter()
            .filter(|(t, _)| t.as_deref() == Some(issue.team_code.as_str()))
            .map(|(_, e)| e.clone())
            .collect();
        to.extend(issue.owner_agency.as_ref().and_then(|a| liaisons.get(a)).cloned());
        let notices: Vec<Notice> = to
            .into_iter()
            .map(|recipient| Notice {
                kind: "issue_escalation",
                recipient,
                about: issue.id.to_string(),
                due: issue.target_on,
                subject: format!("Care Hub: service issue past its target for {hub} ({})", issue.severity.as_str()),
                body: format!(
                    "A {} service issue ({}) for {hub} was due to be resolved by {} and is not.\n\n\
                     Open it in Care Hub: {public_url}/api/v1/service-issues/{}\n\n\
                     This message holds hub references only. Do not forward it outside the hub.\n",
                    issue.severity.as_str(),
                    issue.category,
                    issue.target_on,
                    issue.id
                ),
            })
            .collect();
        let tx = db.begin_write().await?;
        // Conditional on nobody having escalated it meanwhile (another replica's scan).
        let moved = service_issues::Entity::update_many()
            .col_expr(service_issues::Column::Status, IssueStatus::Escalated.as_str().into())
            .col_expr(service_issues::Column::EscalatedAt, Some(now).into())
            .col_expr(service_issues::Column::Version, (issue.version + 1).into())
            .col_expr(service_issues::Column::UpdatedAt, now.into())
            .filter(service_issues::Column::Id.eq(issue.id))
            .filter(service_issues::Column::Version.eq(issue.version))
            .exec(&tx)
            .await?
            .rows_affected;
        if moved == 0 {
            continue;
        }
        log(
            &tx,
            issue.id,
            "escalation",
            Some(format!("past its target of {}", issue.target_on)),
            Some((issue.status, IssueStatus::Escalated)),
            "care-hub",
            now,
        )
        .await?;
        queued += outbox::queue(&tx, &notices, now).await?;
        tx.commit().await?;
        escalated += 1;
    }
    Ok((escalated, queued))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Issues opened on or after this day (default: 90 days before `to`).
    pub from: Option<NaiveDate>,
    /// Issues opened on or before this day (default: today).
    pub to: Option<NaiveDate>,
    /// Only victims with a case in this area (police force or BCU code).
    pub area: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RecoveryRow {
    pub group: String,
    pub issues: Option<u64>,
    pub resolved: Option<u64>,
    pub resolved_within_target: Option<u64>,
    pub share_resolved_within_target: Option<f64>,
    pub median_days_to_resolve: Option<f64>,
    pub p90_days_to_resolve: Option<f64>,
    pub suppressed: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub suppression_threshold: u64,
    pub overall: RecoveryRow,
    pub by_category: Vec<RecoveryRow>,
    pub by_owning_agency: Vec<RecoveryRow>,
    /// Victims with an issue in the period, and the share of them whose journey shows a withdrawal.
    pub victims_with_issue: Option<u64>,
    pub withdrew_with_issue: Option<f64>,
    /// Victims with a journey but no issue in the period, and the share who withdrew.
    pub victims_without_issue: Option<u64>,
    pub withdrew_without_issue: Option<f64>,
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[i])
}

fn row(group: &str, issues: &[&service_issues::Model], threshold: u64) -> RecoveryRow {
    let resolved: Vec<&&service_issues::Model> = issues.iter().filter(|i| i.resolved_at.is_some()).collect();
    let within =
        resolved.iter().filter(|i| i.resolved_at.is_some_and(|r| london_date(r) <= i.target_on)).count() as u64;
    let mut days: Vec<f64> = resolved
        .iter()
        .filter_map(|i| i.resolved_at.map(|r| (r - i.opened_at).num_minutes() as f64 / 1440.0))
        .collect();
    days.sort_by(f64::total_cmp);
    let mut suppressed = false;
    let mut count = |n: u64| {
        if threshold > 0 && n > 0 && n < threshold {
            suppressed = true;
            None
        } else {
            Some(n)
        }
    };
    let small = threshold > 0 && (resolved.len() as u64) < threshold;
    let r = RecoveryRow {
        group: group.to_owned(),
        issues: count(issues.len() as u64),
        resolved: count(resolved.len() as u64),
        resolved_within_target: count(within),
        share_resolved_within_target: if resolved.is_empty() || small {
            None
        } else {
            Some(within as f64 / resolved.len() as f64)
        },
        median_days_to_resolve: if small { None } else { quantile(&days, 0.5) },
        p90_days_to_resolve: if small { None } else { quantile(&days, 0.9) },
        suppressed: false,
    };
    RecoveryRow { suppressed: suppressed || (small && !resolved.is_empty()), ..r }
}

pub async fn report(
    db: &Db,
    user: &Principal,
    p: &ReportParams,
    config: &Config,
    now: DateTime<Utc>,
) -> AppResult<RecoveryReport> {
    user.require(&[Role::Supervisor, Role::Admin, Role::Analyst])?;
    let to = p.to.unwrap_or_else(|| london_date(now));
    let from = p.from.unwrap_or(to - chrono::Duration::days(90));
    if from > to {
        return Err(AppError::invalid_query("from", "after_to", "must not be after to"));
    }
    let threshold = if user.is(Role::Analyst) { config.suppression_threshold } else { 0 };
    let conn = db.read();
    let start = from.and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
    let end = (to + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc());
    let mut q = service_issues::Entity::find()
        .filter(service_issues::Column::OpenedAt.gte(start))
        .filter(service_issues::Column::OpenedAt.lt(end));
    if user.is(Role::Supervisor) {
        q = q.filter(service_issues::Column::TeamCode.eq(user.team().unwrap_or_default()));
    }
    let mut issues = q.all(conn).await?;
    // Victims (with a journey) in the area, for the withdrawal comparison and the area filter.
    let mut jq = journeys::Entity::find();
    if let Some(area) = &p.area {
        let in_area: Vec<Uuid> = cases::Entity::find()
            .select_only()
            .column(cases::Column::Id)
            .filter(cases::Column::AreaCode.eq(area.trim().to_uppercase()))
            .into_tuple()
            .all(conn)
            .await?;
        let linked: HashSet<Uuid> = case_victims::Entity::find()
            .select_only()
            .column(case_victims::Column::VictimId)
            .filter(case_victims::Column::CaseId.is_in(in_area.clone()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        issues.retain(|i| linked.contains(&i.victim_id));
        jq = jq.filter(journeys::Column::CaseId.is_in(in_area));
    }
    let withdrawn: HashMap<Uuid, bool> = jq.all(conn).await?.into_iter().fold(HashMap::new(), |mut m, j| {
        *m.entry(j.victim_id).or_insert(false) |= j.withdrawn;
        m
    });
    let with_issue: HashSet<Uuid> = issues.iter().map(|i| i.victim_id).collect();
    let share = |ids: Vec<bool>| -> (Option<u64>, Option<f64>) {
        let n = ids.len() as u64;
        if n == 0 || (threshold > 0 && n < threshold) {
            return (if threshold > 0 && n > 0 && n < threshold { None } else { Some(n) }, None);
        }
        (Some(n), Some(ids.iter().filter(|w| **w).count() as f64 / n as f64))
    };
    let (victims_with_issue, withdrew_with_issue) =
        share(with_issue.iter().map(|v| withdrawn.get(v).copied().unwrap_or(false)).collect());
    let (victims_without_issue, withdrew_without_issue) =
        share(withdrawn.iter().filter(|(v, _)| !with_issue.contains(v)).map(|(_, w)| *w).collect());
    let all: Vec<&service_issues::Model> = issues.iter().collect();
    let mut by_category: BTreeMap<&str, Vec<&service_issues::Model>> = BTreeMap::new();
    let mut by_agency: BTreeMap<&str, Vec<&service_issues::Model>> = BTreeMap::new();
    for i in &issues {
        by_category.entry(i.category.as_str()).or_default().push(i);
        by_agency.entry(i.owner_agency.as_deref().unwrap_or("(none)")).or_default().push(i);
    }
    Ok(RecoveryReport {
        from,
        to,
        suppression_threshold: threshold,
        overall: row("all", &all, threshold),
        by_category: by_category.iter().map(|(k, v)| row(k, v, threshold)).collect(),
        by_owning_agency: by_agency.iter().map(|(k, v)| row(k, v, threshold)).collect(),
        victims_with_issue,
        withdrew_with_issue,
        victims_without_issue,
        withdrew_without_issue,
    })
}
