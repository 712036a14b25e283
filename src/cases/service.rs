//! Case queries and rules: a case is visible to whoever may see one of its victims.
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use uuid::Uuid;

use super::dto::{CaseInput, CaseVictimView, CaseView, LinkVictim};
use crate::agencies::dto::{AgencyReferenceView, NewAgencyReference};
use crate::agencies::references::{self, Owner};
use crate::audit::{self, Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::{self, Access};
use crate::contacts::schedule;
use crate::db::{Db, update_if_version};
use crate::entities::cases::PriorityFlags;
use crate::entities::{agencies, agency_references, case_victims, cases, victims};
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch};
use crate::validate::Checks;
use crate::victims::dto::LookupParams;
use crate::victims::service as victim_service;
use crate::vocab::{AgencyKind, AuditAction, CaseRole, CaseStatus, Role};

/// The victims linked to a case, with their records.
async fn linked(db: &impl ConnectionTrait, case_id: Uuid) -> AppResult<Vec<(case_victims::Model, victims::Model)>> {
    let links = case_victims::Entity::find().filter(case_victims::Column::CaseId.eq(case_id)).all(db).await?;
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let people =
        victims::Entity::find().filter(victims::Column::Id.is_in(links.iter().map(|l| l.victim_id))).all(db).await?;
    let mut out: Vec<_> = links
        .into_iter()
        .filter_map(|l| people.iter().find(|v| v.id == l.victim_id).cloned().map(|v| (l, v)))
        .collect();
    out.sort_by_key(|(l, _)| l.linked_at);
    Ok(out)
}

fn no_case(id: Uuid) -> AppError {
    AppError::not_found(format!("no case {id}"))
}

/// How `user` may read a case: as they may read the most visible of its victims' records, or as a
/// liaison of an agency the case is linked to.
pub async fn load_for_read(
    db: &impl ConnectionTrait,
    user: &Principal,
    id: Uuid,
) -> AppResult<(cases::Model, Access, Vec<Uuid>)> {
    access::may_read_records(user)?;
    let case = cases::Entity::find_by_id(id).one(db).await?.ok_or_else(|| no_case(id))?;
    let people = linked(db, id).await?;
    let victims: Vec<Uuid> = people.iter().map(|(_, v)| v.id).collect();
    let access = if let (Role::AgencyLiaison, Some(agency)) = (user.role, &user.agency) {
        let linked = references::case_linked_to(db, agency, id).await?;
        access::read_access(user, "", linked, "case")?
    } else {
        people
            .iter()
            .filter_map(|(_, v)| access::read_access(user, &v.team_code, false, "case").ok())
            .min_by_key(|a| *a != Access::Team)
            .ok_or_else(|| no_case(id))?
    };
    Ok((case, access, victims))
}

/// Loads a case for a change: the team of one of its victims may.
pub async fn load_for_write(db: &impl ConnectionTrait, user: &Principal, id: Uuid) -> AppResult<cases::Model> {
    access::may_write_records(user)?;
    let case = cases::Entity::find_by_id(id).one(db).await?.ok_or_else(|| no_case(id))?;
    let people = linked(db, id).await?;
    if people.iter().any(|(_, v)| access::write_access(user, &v.team_code, "case").is_ok()) {
        Ok(case)
    } else {
        Err(no_case(id))
    }
}

/// Reads a case and records the read.
pub async fn get(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<CaseView> {
    let (case, access, victims) = load_for_read(db, user, id).await?;
    let event = Event::new(AuditAction::Read, "case")
        .resource(id)
        .subjects(victims)
        .fields(CASE_FIELDS)
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    view(db, &case).await
}

const CASE_FIELDS: [&str; 12] = [
    "offence_group",
    "offence_description",
    "priority_flags",
    "area",
    "date_reported",
    "offence_date",
    "relationship",
    "location_type",
    "status",
    "closed_on",
    "victims",
    "agency_references",
];

/// Records a change to a case within its transaction.
async fn audit_change<S: Into<String>>(
    db: &impl ConnectionTrait,
    user: &Principal,
    id: Uuid,
    action: AuditAction,
    fields: impl IntoIterator<Item = S>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let victims: Vec<Uuid> = linked(db, id).await?.into_iter().map(|(_, v)| v.id).collect();
    let event = Event::new(action, "case").resource(id).subjects(victims).fields(fields);
    audit::record(db, &Actor::from(user), now, event).await
}

pub async fn view(db: &impl ConnectionTrait, c: &cases::Model) -> AppResult<CaseView> {
    let people = linked(db, c.id).await?;
    let refs = references::list(db, Owner::Case(c.id)).await?;
    Ok(CaseView {
        id: c.id,
        version: c.version,
        offence_group: c.offence_group,
        offence_description: c.offence_description.clone(),
        priority_flags: c.priority_flags.0.clone(),
        area: c.area_code.clone(),
        date_reported: c.date_reported,
        offence_date: c.offence_date,
        relationship: c.relationship,
        location_type: c.location_type,
        status: c.status,
        closed_on: c.closed_on,
        victims: people
            .into_iter()
            .map(|(l, v)| CaseVictimView {
                hub_ref: v.hub_ref,
                role: l.role,
                team: v.team_code,
                linked_at: l.linked_at,
                linked_by: l.linked_by,
            })
            .collect(),
        agency_references: refs.into_iter().map(AgencyReferenceView::from).collect(),
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

/// A case's fields after every check.
struct ValidCase {
    input: CaseInput,
}

async fn check(db: &impl ConnectionTrait, input: &CaseInput, today: NaiveDate) -> AppResult<ValidCase> {
    let mut c = Checks::new();
    let offence_description = c.optional_text("/offence_description", input.offence_description.as_deref(), 500);
    c.not_future("/date_reported", Some(input.date_reported), today);
    c.not_future("/offence_date", input.offence_date, today);
    if let Some(d) = input.offence_date
        && d > input.date_reported
    {
        c.fail("/offence_date", "after_report", "must not be after date_reported");
    }
    let flags = input.priority_flags.clone().unwrap_or_default();
    for (i, f) in flags.iter().enumerate() {
        if flags[..i].contains(f) {
            c.fail(format!("/priority_flags/{i}"), "duplicate", "each flag is listed once");
        }
    }
    let status = input.status.unwrap_or(CaseStatus::Open);
    let closed_on = match status {
        CaseStatus::Open if input.closed_on.is_some() => {
            c.fail("/closed_on", "invalid_value", "an open case has no closed_on; set status to closed");
            None
        }
        CaseStatus::Open => None,
        CaseStatus::Closed => Some(input.closed_on.unwrap_or(today)),
    };
    c.not_future("/closed_on", closed_on, today);
    if closed_on.is_some_and(|d| d < input.date_reported) {
        c.fail("/closed_on", "before_report", "must not be before date_reported");
    }
    let area = input.area.as_deref().map(|a| c.agency_code("/area", a));
    c.finish()?;
    if let Some(code) = &area {
        let agency = agencies::Entity::find().filter(agencies::Column::Code.eq(code.as_str())).one(db).await?;
        match agency {
            Some(a) if matches!(a.kind, AgencyKind::PoliceForce | AgencyKind::PoliceBcu) => {}
            Some(_) => {
                return Err(AppError::invalid_field(
                    "/area",
                    "invalid_value",
                    "the area must be a police force or BCU",
                ));
            }
            None => {
                return Err(AppError::invalid_field("/area", "unknown_agency", format!("no agency has code {code}")));
            }
        }
    }
    Ok(ValidCase {
        input: CaseInput {
            offence_description,
            priority_flags: Some(flags),
            area,
            status: Some(status),
            closed_on,
            ..input.clone()
        },
    })
}

fn apply(m: &mut cases::Model, v: ValidCase) {
    let i = v.input;
    m.offence_group = i.offence_group;
    m.offence_description = i.offence_description;
    m.priority_flags = PriorityFlags(i.priority_flags.unwrap_or_default());
    m.area_code = i.area;
    m.date_reported = i.date_reported;
    m.offence_date = i.offence_date;
    m.relationship = i.relationship;
    m.location_type = i.location_type;
    m.status = i.status.unwrap_or(CaseStatus::Open);
    m.closed_on = i.closed_on;
}

/// Opens a case for a victim, with its agency references.
pub async fn create(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    input: &CaseInput,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<cases::Model> {
    let tx = db.begin_write().await?;
    let victim = victim_service::load_for_write(&tx, user, raw_ref).await?;
    let valid = check(&tx, input, now.date_naive()).await?;
    let refs =
        references::validate(&tx, input.agency_references.as_deref().unwrap_or(&[]), "/agency_references", false)
            .await?;
    for r in &refs {
        if references::find(&tx, &r.agency, r.ref_type, &r.value).await?.is_some() {
            return Err(references::in_use(r).with("hint", "the case may already exist: GET /api/v1/cases/lookup"));
        }
    }
    let mut model = cases::Model {
        id: Uuid::now_v7(),
        offence_group: input.offence_group,
        offence_description: None,
        priority_flags: PriorityFlags::default(),
        area_code: None,
        date_reported: input.date_reported,
        offence_date: None,
        relationship: None,
        location_type: None,
        status: CaseStatus::Open,
        closed_on: None,
        version: 1,
        created_at: now,
        created_by: user.sub.clone(),
        updated_at: now,
    };
    apply(&mut model, valid);
    let created = cases::Entity::insert(model.into_active_model().reset_all()).exec_with_returning(&tx).await?;
    link(&tx, created.id, victim.id, input.role.unwrap_or(CaseRole::Victim), &user.sub, now).await?;
    references::insert(&tx, Owner::Case(created.id), &refs, &user.sub, now).await?;
    audit_change(&tx, user, created.id, AuditAction::Create, CASE_FIELDS, now).await?;
    schedule::refresh(&tx, victim.id, cfg, now).await?;
    tx.commit().await?;
    Ok(created)
}

async fn link(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    victim_id: Uuid,
    role: CaseRole,
    by: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    case_victims::Entity::insert(case_victims::ActiveModel {
        case_id: Set(case_id),
        victim_id: Set(victim_id),
        role: Set(role),
        linked_at: Set(now),
        linked_by: Set(by.to_owned()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn patch(
    db: &Db,
    user: &Principal,
    id: Uuid,
    if_match: &IfMatch,
    patch: &MergePatch,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<cases::Model> {
    let tx = db.begin_write().await?;
    let current = load_for_write(&tx, user, id).await?;
    let version = if_match.require(current.version)?;
    patch.refuse(&[
        ("role", "change a victim's role by relinking at /cases/{id}/victims"),
        ("agency_references", "add or remove references at /cases/{id}/agency-references"),
    ])?;
    let input: CaseInput =
        patch.apply(serde_json::to_value(CaseInput::from(&current)).map_err(anyhow::Error::from)?)?;
    let valid = check(&tx, &input, now.date_naive()).await?;
    let mut updated = current.clone();
    apply(&mut updated, valid);
    updated.version = version + 1;
    updated.updated_at = now;
    let changes = updated.clone().into_active_model().reset_all();
    update_if_version::<cases::Entity>(&tx, changes, (cases::Column::Id, id), (cases::Column::Version, version))
        .await?;
    audit_change(&tx, user, id, AuditAction::Update, patch.0.keys().cloned(), now).await?;
    schedule::refresh_case(&tx, id, cfg, now).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Links another victim (one the caller may see) to a case the caller may see.
pub async fn link_victim(
    db: &Db,
    user: &Principal,
    id: Uuid,
    req: &LinkVictim,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<victims::Model> {
    let tx = db.begin_write().await?;
    load_for_write(&tx, user, id).await?;
    let hub_ref = crate::victims::hub_ref::HubRef::parse(&req.hub_ref)
        .map_err(|e| AppError::invalid_field("/hub_ref", "invalid_format", e.to_string()))?;
    let victim = victim_service::resolve(&tx, &hub_ref)
        .await?
        .filter(|v| access::write_access(user, &v.team_code, "record").is_ok())
        .ok_or_else(|| AppError::invalid_field("/hub_ref", "not_found", format!("no victim record {hub_ref}")))?;
    if case_victims::Entity::find_by_id((id, victim.id)).one(&tx).await?.is_some() {
        return Err(AppError::conflict("already-linked", format!("{} is already linked to this case", victim.hub_ref)));
    }
    link(&tx, id, victim.id, req.role.unwrap_or(CaseRole::Victim), &user.sub, now).await?;
    audit_change(&tx, user, id, AuditAction::Update, ["victims"], now).await?;
    schedule::refresh(&tx, victim.id, cfg, now).await?;
    tx.commit().await?;
    Ok(victim)
}

/// One victim's link to a case (after the caller's access to the case was checked).
async fn find_link(db: &impl ConnectionTrait, id: Uuid, raw_ref: &str) -> AppResult<CaseVictimView> {
    let hub_ref = victim_service::parse_ref(raw_ref)?;
    linked(db, id)
        .await?
        .into_iter()
        .find(|(_, v)| v.hub_ref == hub_ref.as_str())
        .map(|(l, v)| CaseVictimView {
            hub_ref: v.hub_ref,
            role: l.role,
            team: v.team_code,
            linked_at: l.linked_at,
            linked_by: l.linked_by,
        })
        .ok_or_else(|| AppError::not_found(format!("{hub_ref} is not linked to this case")))
}

/// One victim's link to a case, read by someone who may read the case.
pub async fn get_link(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    id: Uuid,
    raw_ref: &str,
    now: DateTime<Utc>,
) -> AppResult<CaseVictimView> {
    let (_, access, victims) = load_for_read(db, user, id).await?;
    let link = find_link(db, id, raw_ref).await?;
    let event = Event::new(AuditAction::Read, "case")
        .resource(id)
        .subjects(victims)
        .fields(["victims"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    Ok(link)
}

/// The link just made, for the team that made it.
pub async fn link_of(db: &impl ConnectionTrait, id: Uuid, hub_ref: &str) -> AppResult<CaseVictimView> {
    find_link(db, id, hub_ref).await
}

/// Unlinks a victim; a case keeps at least one.
pub async fn unlink_victim(
    db: &Db,
    user: &Principal,
    id: Uuid,
    raw_ref: &str,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let tx = db.begin_write().await?;
    load_for_write(&tx, user, id).await?;
    let link = find_link(&tx, id, raw_ref).await?;
    let people = linked(&tx, id).await?;
    if people.len() <= 1 {
        return Err(AppError::conflict("last-victim", "a case keeps at least one victim; close the case instead"));
    }
    let victim_id = people.iter().find(|(_, v)| v.hub_ref == link.hub_ref).map(|(_, v)| v.id).expect("found above");
    audit_change(&tx, user, id, AuditAction::Update, ["victims"], now).await?;
    case_victims::Entity::delete_by_id((id, victim_id)).exec(&tx).await?;
    schedule::refresh(&tx, victim_id, cfg, now).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn add_reference(
    db: &Db,
    user: &Principal,
    id: Uuid,
    new: &NewAgencyReference,
    now: DateTime<Utc>,
) -> AppResult<agency_references::Model> {
    let tx = db.begin_write().await?;
    load_for_write(&tx, user, id).await?;
    let valid = references::validate(&tx, std::slice::from_ref(new), "", true).await?;
    if let Some(existing) = references::find(&tx, &valid[0].agency, valid[0].ref_type, &valid[0].value).await? {
        if existing.case_id == Some(id) {
            return Err(
                AppError::conflict("reference-exists", "this case already has that reference").with("id", existing.id)
            );
        }
        return Err(references::in_use(&valid[0]));
    }
    let stored = references::insert(&tx, Owner::Case(id), &valid, &user.sub, now).await?;
    audit_change(&tx, user, id, AuditAction::Update, ["agency_references"], now).await?;
    tx.commit().await?;
    Ok(stored.into_iter().next().expect("one reference inserted"))
}

pub async fn get_reference(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    id: Uuid,
    ref_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<agency_references::Model> {
    let (_, access, victims) = load_for_read(db, user, id).await?;
    let reference = agency_references::Entity::find_by_id(ref_id)
        .filter(agency_references::Column::CaseId.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("this case has no reference with that id"))?;
    let event = Event::new(AuditAction::Read, "case")
        .resource(id)
        .subjects(victims)
        .fields(["agency_references"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    Ok(reference)
}

pub async fn delete_reference(db: &Db, user: &Principal, id: Uuid, ref_id: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    let tx = db.begin_write().await?;
    load_for_write(&tx, user, id).await?;
    let reference = agency_references::Entity::find_by_id(ref_id)
        .filter(agency_references::Column::CaseId.eq(id))
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::not_found("this case has no reference with that id"))?;
    agency_references::Entity::delete_by_id(reference.id).exec(&tx).await?;
    audit_change(&tx, user, id, AuditAction::Update, ["agency_references"], now).await?;
    tx.commit().await?;
    Ok(())
}

/// The case an agency reference (crime reference, URN, court case number) belongs to.
pub async fn lookup(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    p: &LookupParams,
    now: DateTime<Utc>,
) -> AppResult<CaseView> {
    access::may_read_records(user)?;
    let not_found = || AppError::not_found("no case holds that reference");
    let found = references::lookup(db, &p.agency, p.ref_type, &p.value).await?.ok_or_else(not_found)?;
    let case_id = found.case_id.ok_or_else(not_found)?;
    get(db, audit, user, case_id, now)
        .await
        .map_err(|e| if e.status == axum::http::StatusCode::NOT_FOUND { not_found() } else { e })
}

/// A body field names a case: 422 at `pointer` unless the victim is on it.
pub async fn require_victim_on_case(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    victim_id: Uuid,
    pointer: &str,
) -> AppResult<()> {
    if case_victims::Entity::find_by_id((case_id, victim_id)).one(db).await?.is_none() {
        return Err(AppError::invalid_field(pointer, "not_linked", "the victim is not on this case"));
    }
    Ok(())
}
