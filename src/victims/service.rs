//! Victim record rules: loading a record for reading or changing it, creating (with duplicate
//! checks), updating, and agency references. Every change is audited in its own transaction.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::dto::{CreateParams, VictimInput};
use super::hub_ref::HubRef;
use super::rules::{self, ValidVictim};
use super::{read, show};
use crate::agencies::references::{self, Owner};
use crate::audit::{self, Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::{self, Access};
use crate::db::{Db, update_if_version};
use crate::entities::victims::{EnhancedReasons, Needs};
use crate::entities::{agency_references, teams, victims};
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch, bad_path};
use crate::vocab::{AuditAction, Role};

pub fn parse_ref(raw: &str) -> AppResult<HubRef> {
    HubRef::parse(raw).map_err(|e| bad_path("ref", format!("{raw:?} is not a hub reference: {e}")))
}

/// The record a reference names, following a merge to the surviving record.
pub async fn resolve(db: &impl ConnectionTrait, hub_ref: &HubRef) -> AppResult<Option<victims::Model>> {
    let Some(found) = victims::Entity::find().filter(victims::Column::HubRef.eq(hub_ref.as_str())).one(db).await?
    else {
        return Ok(None);
    };
    match found.merged_into_id {
        None => Ok(Some(found)),
        Some(survivor) => Ok(victims::Entity::find_by_id(survivor).one(db).await?),
    }
}

fn no_record(hub_ref: &HubRef) -> AppError {
    AppError::not_found(format!("no victim record {hub_ref}"))
}

/// How `user` may read the record `id` held by `team` (asks the database only for liaisons).
pub async fn access_to(db: &impl ConnectionTrait, user: &Principal, id: Uuid, team: &str) -> AppResult<Access> {
    let linked = match (user.role, &user.agency) {
        (Role::AgencyLiaison, Some(agency)) => references::victim_linked_to(db, agency, id).await?,
        _ => false,
    };
    access::read_access(user, team, linked, "victim record")
}

/// Loads a record for reading, with how the caller sees it; one they may not see answers 404.
pub async fn load_for_read(
    db: &impl ConnectionTrait,
    user: &Principal,
    raw_ref: &str,
) -> AppResult<(victims::Model, Access)> {
    access::may_read_records(user)?;
    let hub_ref = parse_ref(raw_ref)?;
    let victim = resolve(db, &hub_ref).await?.ok_or_else(|| no_record(&hub_ref))?;
    let access = access_to(db, user, victim.id, &victim.team_code)
        .await
        .map_err(|e| if e.status == axum::http::StatusCode::NOT_FOUND { no_record(&hub_ref) } else { e })?;
    Ok((victim, access))
}

/// Loads a record for a change: only its own team's caseworkers and supervisors may.
pub async fn load_for_write(db: &impl ConnectionTrait, user: &Principal, raw_ref: &str) -> AppResult<victims::Model> {
    access::may_write_records(user)?;
    let hub_ref = parse_ref(raw_ref)?;
    let victim = resolve(db, &hub_ref).await?.ok_or_else(|| no_record(&hub_ref))?;
    access::write_access(user, &victim.team_code, "victim record").map_err(|_| no_record(&hub_ref))?;
    Ok(victim)
}

/// The whole record as its own team sees it.
pub async fn view(db: &Db, id: Uuid) -> AppResult<read::Read> {
    read::read(db, read::Key::Id(id))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("victim {id} vanished while being read")))
}

/// Reads a record by hub reference (a merged one reads the survivor), shaped for the caller,
/// and records the read before anything is shown.
pub async fn get(
    db: &Db,
    audit: &AuditSink,
    user: &Principal,
    raw_ref: &str,
    now: DateTime<Utc>,
) -> AppResult<show::Shown> {
    access::may_read_records(user)?;
    let hub_ref = parse_ref(raw_ref)?;
    let record = read::read(db, read::Key::HubRef(hub_ref.as_str())).await?.ok_or_else(|| no_record(&hub_ref))?;
    let access = access_to(db.read(), user, record.id, &record.team)
        .await
        .map_err(|e| if e.status == axum::http::StatusCode::NOT_FOUND { no_record(&hub_ref) } else { e })?;
    show::show(db, audit, user, record, access, now).await
}

/// Copies validated fields onto a record.
fn apply(m: &mut victims::Model, v: ValidVictim) {
    m.enhanced_rights = v.enhanced_rights();
    m.victim_type = v.victim_type;
    m.given_name = v.given_name;
    m.family_name = v.family_name;
    m.preferred_name = v.preferred_name;
    m.name_key = v.name_key;
    m.search_name = v.search_name;
    m.date_of_birth = v.date_of_birth;
    m.phone = v.phone;
    m.email = v.email;
    m.address_line1 = v.address_line1;
    m.address_line2 = v.address_line2;
    m.address_town = v.address_town;
    m.address_postcode = v.address_postcode;
    m.preferred_channel = v.preferred_channel;
    m.contact_restrictions = v.contact_restrictions;
    m.language = v.language;
    m.interpreter_needed = v.interpreter_needed;
    m.communication_needs = v.communication_needs;
    m.ethnicity = v.ethnicity;
    m.sex = v.sex;
    m.disability = v.disability;
    m.enhanced_reasons = EnhancedReasons(v.enhanced_reasons);
    m.needs_assessed_on = v.needs_assessed_on;
    m.needs_assessed_by = v.needs_assessed_by;
    m.identified_needs = Needs(v.identified_needs);
    m.assigned_caseworker = v.assigned_caseworker;
    if let Some(team) = v.team {
        m.team_code = team;
    }
}

/// The team a record goes to, which must exist and be active.
async fn check_team(db: &impl ConnectionTrait, code: &str) -> AppResult<()> {
    match teams::Entity::find().filter(teams::Column::Code.eq(code)).one(db).await? {
        Some(t) if t.active => Ok(()),
        Some(_) => Err(AppError::invalid_field("/team", "inactive_team", format!("team {code} is inactive"))),
        None => Err(AppError::invalid_field(
            "/team",
            "unknown_team",
            format!("no team has code {code}; an admin creates teams with POST /api/v1/teams"),
        )),
    }
}

/// Creates a record, refusing likely duplicates unless the caller confirms.
pub async fn create(
    db: &Db,
    user: &Principal,
    input: &VictimInput,
    params: &CreateParams,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<victims::Model> {
    access::may_write_records(user)?;
    let mut valid = rules::check(input, now.date_naive())?;
    let team = match &valid.team {
        Some(t) if Some(t.as_str()) != user.team() => {
            return Err(AppError::forbidden("you can only create records for your own team"));
        }
        _ => user.team().unwrap_or_default().to_owned(),
    };
    valid.team = Some(team.clone());

    let tx = db.begin_write().await?;
    check_team(&tx, &team).await?;
    let refs =
        references::validate(&tx, input.agency_references.as_deref().unwrap_or(&[]), "/agency_references", false)
            .await?;
    for r in &refs {
        if let Some(existing) = references::find(&tx, &r.agency, r.ref_type, &r.value).await? {
            return Err(match existing.victim_id {
                Some(victim_id) => duplicate_of(&tx, &[victim_id], "agency_reference").await?,
                None => references::in_use(r),
            });
        }
    }
    if !params.allow_duplicate.unwrap_or(false)
        && let Some(dob) = valid.date_of_birth
    {
        let matches: Vec<Uuid> = victims::Entity::find()
            .select_only()
            .column(victims::Column::Id)
            .filter(victims::Column::NameKey.eq(valid.name_key.as_str()))
            .filter(victims::Column::DateOfBirth.eq(dob))
            .filter(victims::Column::MergedIntoId.is_null())
            .into_tuple()
            .all(&tx)
            .await?;
        if !matches.is_empty() {
            return Err(duplicate_of(&tx, &matches, "name_and_date_of_birth").await?);
        }
    }

    let mut model = victims::Model {
        id: Uuid::now_v7(),
        hub_ref: HubRef::generate().to_string(),
        merged_into_id: None,
        victim_type: valid.victim_type,
        given_name: String::new(),
        family_name: String::new(),
        preferred_name: None,
        name_key: String::new(),
        search_name: String::new(),
        date_of_birth: None,
        phone: None,
        email: None,
        address_line1: None,
        address_line2: None,
        address_town: None,
        address_postcode: None,
        preferred_channel: None,
        contact_restrictions: None,
        language: None,
        interpreter_needed: false,
        communication_needs: None,
        ethnicity: None,
        sex: None,
        disability: None,
        enhanced_rights: false,
        enhanced_reasons: EnhancedReasons::default(),
        needs_assessed_on: None,
        needs_assessed_by: None,
        identified_needs: Needs::default(),
        assigned_caseworker: None,
        team_code: team,
        version: 1,
        created_at: now,
        created_by: user.sub.clone(),
        updated_at: now,
        legal_hold: false,
        legal_hold_reason: None,
        anonymised_at: None,
    };
    apply(&mut model, valid);
    let created = victims::Entity::insert(model.into_active_model().reset_all()).exec_with_returning(&tx).await?;
    references::insert(&tx, Owner::Victim(created.id), &refs, &user.sub, now).await?;
    let event = Event::new(AuditAction::Create, "victim")
        .victim(created.id)
        .resource(&created.hub_ref)
        .fields(given_fields(input));
    crate::contacts::schedule::refresh_victim(&tx, &created, cfg, now).await?;
    // Last before the commit: on PostgreSQL the append holds the audit chain's head until then.
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(created)
}

/// The top-level fields a request gave values for.
fn given_fields(input: &impl serde::Serialize) -> Vec<String> {
    match serde_json::to_value(input) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect(),
        _ => Vec::new(),
    }
}

/// 409 naming the records a new one would duplicate, so the caller can open the right one.
async fn duplicate_of(db: &impl ConnectionTrait, ids: &[Uuid], matched_on: &str) -> AppResult<AppError> {
    let rows = victims::Entity::find().filter(victims::Column::Id.is_in(ids.to_vec())).all(db).await?;
    let existing: Vec<_> = rows
        .iter()
        .map(|v| serde_json::json!({"hub_ref": v.hub_ref, "team": v.team_code, "matched_on": matched_on}))
        .collect();
    let hint = if matched_on == "agency_reference" {
        "the agency reference already belongs to this record; add details to it instead"
    } else {
        "open the existing record, or resend with ?allow_duplicate=true if this is a different person"
    };
    Ok(AppError::conflict("possible-duplicate", format!("a victim record already matches: {hint}"))
        .with("existing", existing))
}

/// Applies a merge patch, guarded by the version the caller read.
pub async fn patch(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    if_match: &IfMatch,
    patch: &MergePatch,
    cfg: &crate::config::ReminderConfig,
    now: DateTime<Utc>,
) -> AppResult<victims::Model> {
    let tx = db.begin_write().await?;
    let current = load_for_write(&tx, user, raw_ref).await?;
    let version = if_match.require(current.version)?;
    patch.refuse(&[("agency_references", "add or remove references at /victims/{ref}/agency-references")])?;
    let input: VictimInput =
        patch.apply(serde_json::to_value(VictimInput::from(&current)).map_err(anyhow::Error::from)?)?;
    let valid = rules::check(&input, now.date_naive())?;
    if let Some(team) = &valid.team
        && *team != current.team_code
    {
        user.require(&[Role::Supervisor])
            .map_err(|_| AppError::forbidden("moving a record to another team needs a supervisor"))?;
        check_team(&tx, team).await?;
    }
    let mut updated = current.clone();
    apply(&mut updated, valid);
    updated.version = version + 1;
    updated.updated_at = now;
    let changes = updated.clone().into_active_model().reset_all();
    update_if_version::<victims::Entity>(
        &tx,
        changes,
        (victims::Column::Id, current.id),
        (victims::Column::Version, version),
    )
    .await?;
    let fields: Vec<&String> = patch.0.keys().collect();
    let event = Event::new(AuditAction::Update, "victim").victim(current.id).resource(&current.hub_ref).fields(fields);
    crate::contacts::schedule::refresh_victim(&tx, &updated, cfg, now).await?;
    // Last before the commit: on PostgreSQL the append holds the audit chain's head until then.
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Adds an agency reference to a record the caller may see.
pub async fn add_reference(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    new: &crate::agencies::dto::NewAgencyReference,
    now: DateTime<Utc>,
) -> AppResult<(victims::Model, agency_references::Model)> {
    let tx = db.begin_write().await?;
    let victim = load_for_write(&tx, user, raw_ref).await?;
    let valid = references::validate(&tx, std::slice::from_ref(new), "", true).await?;
    if let Some(existing) = references::find(&tx, &valid[0].agency, valid[0].ref_type, &valid[0].value).await? {
        if existing.victim_id == Some(victim.id) {
            return Err(AppError::conflict("reference-exists", "this record already has that reference")
                .with("id", existing.id));
        }
        return Err(references::in_use(&valid[0]));
    }
    let stored = references::insert(&tx, Owner::Victim(victim.id), &valid, &user.sub, now).await?;
    let stored = stored.into_iter().next().expect("one reference inserted");
    let event =
        Event::new(AuditAction::Update, "victim").victim(victim.id).resource(stored.id).fields(["agency_references"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok((victim, stored))
}

/// One reference of a record the caller may see (a liaison: only their agency's).
pub async fn get_reference(
    db: &Db,
    audit: &AuditSink,
    user: &Principal,
    raw_ref: &str,
    ref_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<agency_references::Model> {
    let (victim, access) = load_for_read(db.read(), user, raw_ref).await?;
    let reference = agency_references::Entity::find_by_id(ref_id)
        .filter(agency_references::Column::VictimId.eq(victim.id))
        .one(db.read())
        .await?
        .filter(|r| access != Access::Agency || user.agency.as_deref() == Some(r.agency_code.as_str()))
        .ok_or_else(|| AppError::not_found("this record has no reference with that id"))?;
    let event = Event::new(AuditAction::Read, "victim")
        .victim(victim.id)
        .resource(reference.id)
        .fields(["agency_references"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    Ok(reference)
}

pub async fn delete_reference(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    ref_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let tx = db.begin_write().await?;
    let victim = load_for_write(&tx, user, raw_ref).await?;
    let reference = agency_references::Entity::find_by_id(ref_id)
        .filter(agency_references::Column::VictimId.eq(victim.id))
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::not_found("this record has no reference with that id"))?;
    agency_references::Entity::delete_by_id(reference.id).exec(&tx).await?;
    let event = Event::new(AuditAction::Update, "victim")
        .victim(victim.id)
        .resource(reference.id)
        .fields(["agency_references"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(())
}
