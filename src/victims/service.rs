//! Victim record queries and rules: who may see which record, duplicates, search and updates.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::dto::{CreateParams, LookupParams, SearchParams, VictimInput, VictimSummary};
use super::hub_ref::HubRef;
use super::read;
use super::rules::{self, ValidVictim};
use crate::agencies::references::{self, Owner};
use crate::auth::Principal;
use crate::db::{Db, update_if_version};
use crate::entities::victims::{EnhancedReasons, Needs};
use crate::entities::{agency_references, teams, victims};
use crate::error::{AppError, AppResult, FieldError, FieldLocation};
use crate::http::{IfMatch, MergePatch, Page, PageParams, bad_path};
use crate::vocab::Role;

/// Roles that work with victims' records.
pub const RECORD_ROLES: &[Role] = &[Role::Caseworker, Role::Supervisor, Role::Admin];

/// Whether `user` may see a record held by `team`: their own team's records, or any for admins.
#[must_use]
pub fn visible_in(user: &Principal, team: &str) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Caseworker | Role::Supervisor => user.team() == Some(team),
        Role::AgencyLiaison | Role::Analyst => false,
    }
}

#[must_use]
pub fn visible(user: &Principal, victim: &victims::Model) -> bool {
    visible_in(user, &victim.team_code)
}

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

/// Loads a record the caller may see; any other answers 404 so existence does not leak.
pub async fn load_visible(db: &impl ConnectionTrait, user: &Principal, raw_ref: &str) -> AppResult<victims::Model> {
    user.require(RECORD_ROLES)?;
    let hub_ref = parse_ref(raw_ref)?;
    match resolve(db, &hub_ref).await? {
        Some(v) if visible(user, &v) => Ok(v),
        _ => Err(AppError::not_found(format!("no victim record {hub_ref}"))),
    }
}

/// The whole record as the API shows it.
pub async fn view(db: &Db, id: Uuid) -> AppResult<read::Read> {
    read::read(db, read::Key::Id(id))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("victim {id} vanished while being read")))
}

/// Reads a record the caller may see, by hub reference (a merged one reads the survivor).
pub async fn get(db: &Db, user: &Principal, raw_ref: &str) -> AppResult<read::Read> {
    user.require(RECORD_ROLES)?;
    let hub_ref = parse_ref(raw_ref)?;
    match read::read(db, read::Key::HubRef(hub_ref.as_str())).await? {
        Some(r) if visible_in(user, &r.team) => Ok(r),
        _ => Err(AppError::not_found(format!("no victim record {hub_ref}"))),
    }
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
    now: DateTime<Utc>,
) -> AppResult<victims::Model> {
    user.require(RECORD_ROLES)?;
    let mut valid = rules::check(input, now.date_naive())?;
    let team = match (&valid.team, user.role) {
        (Some(t), Role::Admin) => t.clone(),
        (None, Role::Admin) => {
            return Err(AppError::invalid_field("/team", "required", "admins must say which team owns the record"));
        }
        (Some(t), _) if Some(t.as_str()) != user.team() => {
            return Err(AppError::forbidden("you can only create records for your own team"));
        }
        (_, _) => user.team().unwrap_or_default().to_owned(),
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
    };
    apply(&mut model, valid);
    let created = victims::Entity::insert(model.into_active_model().reset_all()).exec_with_returning(&tx).await?;
    references::insert(&tx, Owner::Victim(created.id), &refs, &user.sub, now).await?;
    tx.commit().await?;
    Ok(created)
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

/// Search within the caller's scope, newest last, paginated.
pub async fn search(db: &impl ConnectionTrait, user: &Principal, p: &SearchParams) -> AppResult<Page<VictimSummary>> {
    user.require(RECORD_ROLES)?;
    let page = PageParams { limit: p.limit, cursor: p.cursor.clone() };
    let limit = page.limit()?;
    let mut q = victims::Entity::find()
        .filter(victims::Column::MergedIntoId.is_null())
        .order_by_asc(victims::Column::Id)
        .limit(limit + 1);
    if let Some(after) = page.after()? {
        q = q.filter(victims::Column::Id.gt(after));
    }
    match (user.role, &p.team) {
        (Role::Admin, Some(team)) => q = q.filter(victims::Column::TeamCode.eq(team.trim().to_lowercase())),
        (Role::Admin, None) => {}
        (_, Some(team)) if Some(team.trim()) != user.team() => {
            return Err(AppError::forbidden("you can only search your own team's records"));
        }
        (_, _) => q = q.filter(victims::Column::TeamCode.eq(user.team().unwrap_or_default())),
    }
    if let Some(name) = &p.name {
        for w in rules::words(name) {
            q = q.filter(victims::Column::SearchName.like(format!("% {w}%")));
        }
    }
    if let Some(dob) = p.date_of_birth {
        q = q.filter(victims::Column::DateOfBirth.eq(dob));
    }
    if let Some(raw) = &p.hub_ref {
        let hub_ref = HubRef::parse(raw).map_err(|e| {
            let mut err = AppError::bad_request("invalid-query", format!("hub_ref: {e}"));
            err.errors.push(FieldError::at(FieldLocation::Query, "hub_ref", "invalid_format", e.to_string()));
            err
        })?;
        let id = resolve(db, &hub_ref).await?.map_or_else(Uuid::nil, |v| v.id);
        q = q.filter(victims::Column::Id.eq(id));
    }
    if let Some(caseworker) = &p.assigned_caseworker {
        q = q.filter(victims::Column::AssignedCaseworker.eq(caseworker.trim()));
    }
    if p.reference.is_some() || p.agency.is_some() || p.ref_type.is_some() {
        let mut sub = Query::select();
        sub.column(agency_references::Column::VictimId)
            .from(agency_references::Entity)
            .and_where(agency_references::Column::VictimId.is_not_null());
        if let Some(value) = &p.reference {
            let value: String = value.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
            sub.and_where(agency_references::Column::Value.eq(value));
        }
        if let Some(agency) = &p.agency {
            sub.and_where(agency_references::Column::AgencyCode.eq(agency.trim().to_uppercase()));
        }
        if let Some(t) = p.ref_type {
            sub.and_where(agency_references::Column::RefType.eq(t));
        }
        q = q.filter(victims::Column::Id.in_subquery(sub));
    }
    let rows = q.all(db).await?;
    Ok(Page::from_rows(rows, limit, |r| r.id, |r| VictimSummary::from(&r)))
}

/// Applies a merge patch, guarded by the version the caller read.
pub async fn patch(
    db: &Db,
    user: &Principal,
    raw_ref: &str,
    if_match: &IfMatch,
    patch: &MergePatch,
    now: DateTime<Utc>,
) -> AppResult<victims::Model> {
    let tx = db.begin_write().await?;
    let current = load_visible(&tx, user, raw_ref).await?;
    let version = if_match.require(current.version)?;
    patch.refuse(&[("agency_references", "add or remove references at /victims/{ref}/agency-references")])?;
    let input: VictimInput =
        patch.apply(serde_json::to_value(VictimInput::from(&current)).map_err(anyhow::Error::from)?)?;
    let valid = rules::check(&input, now.date_naive())?;
    if let Some(team) = &valid.team
        && *team != current.team_code
    {
        user.require(&[Role::Supervisor, Role::Admin])
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
    tx.commit().await?;
    Ok(updated)
}

/// The victim an agency reference belongs to.
pub async fn lookup(db: &impl ConnectionTrait, user: &Principal, p: &LookupParams) -> AppResult<victims::Model> {
    user.require(RECORD_ROLES)?;
    let not_found = || AppError::not_found("no victim record holds that reference");
    let found = references::lookup(db, &p.agency, p.ref_type, &p.value).await?.ok_or_else(not_found)?;
    let victim_id = found.victim_id.ok_or_else(not_found)?;
    match victims::Entity::find_by_id(victim_id).one(db).await? {
        Some(v) if visible(user, &v) => Ok(v),
        _ => Err(not_found()),
    }
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
    let victim = load_visible(&tx, user, raw_ref).await?;
    let valid = references::validate(&tx, std::slice::from_ref(new), "", true).await?;
    if let Some(existing) = references::find(&tx, &valid[0].agency, valid[0].ref_type, &valid[0].value).await? {
        if existing.victim_id == Some(victim.id) {
            return Err(AppError::conflict("reference-exists", "this record already has that reference")
                .with("id", existing.id));
        }
        return Err(references::in_use(&valid[0]));
    }
    let stored = references::insert(&tx, Owner::Victim(victim.id), &valid, &user.sub, now).await?;
    tx.commit().await?;
    Ok((victim, stored.into_iter().next().expect("one reference inserted")))
}

/// One reference of a record the caller may see.
pub async fn get_reference(
    db: &impl ConnectionTrait,
    user: &Principal,
    raw_ref: &str,
    ref_id: Uuid,
) -> AppResult<(victims::Model, agency_references::Model)> {
    let victim = load_visible(db, user, raw_ref).await?;
    let reference = agency_references::Entity::find_by_id(ref_id)
        .filter(agency_references::Column::VictimId.eq(victim.id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("this record has no reference with that id"))?;
    Ok((victim, reference))
}

pub async fn delete_reference(db: &Db, user: &Principal, raw_ref: &str, ref_id: Uuid) -> AppResult<()> {
    let tx = db.begin_write().await?;
    let (_, reference) = get_reference(&tx, user, raw_ref, ref_id).await?;
    agency_references::Entity::delete_by_id(reference.id).exec(&tx).await?;
    tx.commit().await?;
    Ok(())
}
