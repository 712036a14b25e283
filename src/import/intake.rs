//! Intake extracts: one row per victim of a recorded crime. Each new row creates the victim
//! record (with its contact schedule), the case with its crime reference (and URN) unless the
//! crime is already in the hub, and links them. The victim key is stored as a victim reference
//! (`--agency`, `other`, `VK/{crime_ref}/{victim_key}`), so a re-run skips rows already loaded.
//!
//! Imports are trusted agency data: the per-request duplicate check on name and date of birth
//! (`POST /api/v1/victims`) is not applied; the agency's own key decides what is a duplicate.
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{Checker, Loader, Reject, Summary, Written};
use crate::agencies::references::normalise_value;
use crate::config::ReminderConfig;
use crate::contacts::schedule;
use crate::db::bulk::{self, OnConflict};
use crate::db::{Db, WriteTx};
use crate::entities::cases::PriorityFlags;
use crate::entities::victims::{EnhancedReasonEntry, EnhancedReasons, Needs};
use crate::entities::{agencies, agency_references, case_victims, cases, teams, victims};
use crate::error::{AppError, AppResult};
use crate::validate::Checks;
use crate::victims::dto::VictimInput;
use crate::victims::hub_ref::HubRef;
use crate::victims::rules::{self, ValidVictim};
use crate::vocab::{
    AgencyKind, CaseRole, CaseStatus, Disability, EnhancedReason, Ethnicity, LocationType, OffenceGroup, PriorityFlag,
    RefType, Relationship, Sex,
};

/// Rows per transaction.
const BATCH: usize = 2000;

/// The stored value of an intake's victim key: `VK/{crime_ref}/{victim_key}`, upper case.
pub(super) fn victim_key_value(crime_ref: &str, victim_key: &str) -> Result<String, String> {
    normalise_value(RefType::Other, &format!("VK/{crime_ref}/{victim_key}"))
}

/// The case a row opens when its crime is new to the hub.
struct NewCase {
    offence_group: OffenceGroup,
    priority_flags: Vec<PriorityFlag>,
    area: Option<String>,
    date_reported: NaiveDate,
    offence_date: Option<NaiveDate>,
    relationship: Option<Relationship>,
    location_type: Option<LocationType>,
}

pub(super) struct IntakeRow {
    line: u64,
    raw: String,
    crime_ref: String,
    victim_key: String,
    /// (CPS area, URN).
    urn: Option<(String, String)>,
    victim: ValidVictim,
    team: String,
    case: NewCase,
}

/// Reference data the checks need, read once.
#[derive(Clone)]
struct Known {
    /// Team code → active.
    teams: HashMap<String, bool>,
    /// Agency code → (kind, active).
    agencies: HashMap<String, (AgencyKind, bool)>,
    today: NaiveDate,
}

pub(super) struct IntakeLoader {
    agency: String,
    by: String,
    now: DateTime<Utc>,
    reminders: ReminderConfig,
    known: Known,
}

impl IntakeLoader {
    pub(super) async fn new(db: &Db, agency: &str, reminders: &ReminderConfig, now: DateTime<Utc>) -> AppResult<Self> {
        let teams = teams::Entity::find().all(db.read()).await?.into_iter().map(|t| (t.code, t.active)).collect();
        let agencies =
            agencies::Entity::find().all(db.read()).await?.into_iter().map(|a| (a.code, (a.kind, a.active))).collect();
        Ok(IntakeLoader {
            agency: agency.to_owned(),
            by: super::actor(agency).id,
            now,
            reminders: reminders.clone(),
            known: Known { teams, agencies, today: now.date_naive() },
        })
    }

    /// Values of references of one agency and type already in the hub, with their case.
    async fn held(
        db: &impl ConnectionTrait,
        agency: &str,
        ref_type: RefType,
        values: impl IntoIterator<Item = String>,
    ) -> AppResult<HashMap<String, Option<Uuid>>> {
        let values: BTreeSet<String> = values.into_iter().collect();
        let found: Vec<(String, Option<Uuid>)> = agency_references::Entity::find()
            .select_only()
            .column(agency_references::Column::Value)
            .column(agency_references::Column::CaseId)
            .filter(agency_references::Column::AgencyCode.eq(agency))
            .filter(agency_references::Column::RefType.eq(ref_type))
            .filter(bulk::text_in(
                db.get_database_backend(),
                agency_references::Column::Value,
                values.iter().map(String::as_str),
            ))
            .into_tuple()
            .all(db)
            .await?;
        Ok(found.into_iter().collect())
    }

    fn reference(
        &self,
        owner: (Option<Uuid>, Option<Uuid>),
        agency: &str,
        t: RefType,
        value: &str,
    ) -> agency_references::Model {
        agency_references::Model {
            id: Uuid::now_v7(),
            victim_id: owner.0,
            case_id: owner.1,
            agency_code: agency.to_owned(),
            ref_type: t,
            value: value.to_owned(),
            created_at: self.now,
            created_by: self.by.clone(),
        }
    }

    fn case_model(&self, c: &NewCase) -> cases::Model {
        cases::Model {
            id: Uuid::now_v7(),
            offence_group: c.offence_group,
            offence_description: None,
            priority_flags: PriorityFlags(c.priority_flags.clone()),
            area_code: c.area.clone(),
            date_reported: c.date_reported,
            offence_date: c.offence_date,
            relationship: c.relationship,
            location_type: c.location_type,
            status: CaseStatus::Open,
            closed_on: None,
            version: 1,
            created_at: self.now,
            created_by: self.by.clone(),
            updated_at: self.now,
        }
    }

    fn victim_model(&self, v: ValidVictim, team: String) -> victims::Model {
        victims::Model {
            id: Uuid::now_v7(),
            hub_ref: HubRef::generate().to_string(),
            merged_into_id: None,
            enhanced_rights: v.enhanced_rights(),
            victim_type: v.victim_type,
            given_name: v.given_name,
            family_name: v.family_name,
            preferred_name: v.preferred_name,
            name_key: v.name_key,
            search_name: v.search_name,
            date_of_birth: v.date_of_birth,
            phone: v.phone,
            email: v.email,
            address_line1: v.address_line1,
            address_line2: v.address_line2,
            address_town: v.address_town,
            address_postcode: v.address_postcode,
            preferred_channel: v.preferred_channel,
            contact_restrictions: v.contact_restrictions,
            language: v.language,
            interpreter_needed: v.interpreter_needed,
            communication_needs: v.communication_needs,
            ethnicity: v.ethnicity,
            sex: v.sex,
            disability: v.disability,
            enhanced_reasons: EnhancedReasons(v.enhanced_reasons),
            needs_assessed_on: v.needs_assessed_on,
            needs_assessed_by: v.needs_assessed_by,
            identified_needs: Needs(v.identified_needs),
            assigned_caseworker: v.assigned_caseworker,
            team_code: team,
            version: 1,
            created_at: self.now,
            created_by: self.by.clone(),
            updated_at: self.now,
            legal_hold: false,
            legal_hold_reason: None,
            anonymised_at: None,
        }
    }
}

impl Loader for IntakeLoader {
    type Row = IntakeRow;
    type Cache = ();
    /// Nothing is looked up ahead: an intake batch adds the references the next one looks up.
    type Ready = Vec<IntakeRow>;
    const BATCH: usize = BATCH;

    fn checker(&self) -> Checker<IntakeRow> {
        let known = self.known.clone();
        Box::new(move |line, raw, values| check(line, raw, values, &known))
    }

    async fn prepare(&self, (): &mut (), _: &Db, rows: Vec<IntakeRow>) -> AppResult<Vec<IntakeRow>> {
        Ok(rows)
    }

    async fn write(
        &self,
        tx: &WriteTx,
        rows: Vec<IntakeRow>,
        summary: &mut Summary,
    ) -> AppResult<(Vec<Reject>, Option<Written>)> {
        let agency = self.agency.clone();
        let loaded = Self::held(tx, &agency, RefType::Other, rows.iter().map(|r| r.victim_key.clone())).await?;
        let mut seen = HashSet::new();
        let before = rows.len();
        let rows: Vec<IntakeRow> = rows
            .into_iter()
            .filter(|r| !loaded.contains_key(&r.victim_key) && seen.insert(r.victim_key.clone()))
            .collect();
        summary.duplicates += (before - rows.len()) as u64;
        if rows.is_empty() {
            return Ok((Vec::new(), None));
        }

        let crimes = Self::held(tx, &agency, RefType::CrimeReference, rows.iter().map(|r| r.crime_ref.clone())).await?;
        let mut urns: HashMap<(String, String), Option<Uuid>> = HashMap::new();
        let mut by_area: HashMap<String, Vec<String>> = HashMap::new();
        for (a, v) in rows.iter().filter_map(|r| r.urn.clone()) {
            by_area.entry(a).or_default().push(v);
        }
        for (a, values) in by_area {
            for (v, case) in Self::held(tx, &a, RefType::CpsUrn, values).await? {
                urns.insert((a.clone(), v), case);
            }
        }
        let existing: Vec<Uuid> = crimes.values().filter_map(|c| *c).collect();
        let statuses: Vec<(Uuid, CaseStatus)> = cases::Entity::find()
            .select_only()
            .column(cases::Column::Id)
            .column(cases::Column::Status)
            .filter(bulk::uuid_in(tx.get_database_backend(), cases::Column::Id, &existing))
            .into_tuple()
            .all(tx)
            .await?;
        let mut open: HashMap<Uuid, bool> = statuses.into_iter().map(|(id, s)| (id, s == CaseStatus::Open)).collect();

        let mut refused = Vec::new();
        let mut new_cases: Vec<cases::Model> = Vec::new();
        let mut case_of: HashMap<String, Uuid> =
            crimes.iter().filter_map(|(crime, case)| case.map(|c| (crime.clone(), c))).collect();
        let (mut people, mut refs, mut links, mut schedules) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for row in rows {
            if crimes.get(&row.crime_ref).is_some_and(Option::is_none) {
                refused.push(Reject {
                    line: row.line,
                    reason: format!("crime_ref: {} is held by a victim record, not a case", row.crime_ref),
                    raw: row.raw,
                });
                continue;
            }
            let case = case_of.get(&row.crime_ref).copied();
            let mut add_urn = None;
            if let Some(key) = &row.urn {
                match urns.get(key) {
                    Some(owner) if owner.is_some() && *owner == case => {}
                    Some(_) => {
                        refused.push(Reject {
                            line: row.line,
                            reason: format!("urn: {} under {} already belongs to another record", key.1, key.0),
                            raw: row.raw,
                        });
                        continue;
                    }
                    None => add_urn = Some(key.clone()),
                }
            }
            let case_id = if let Some(c) = case {
                c
            } else {
                let model = self.case_model(&row.case);
                refs.push(self.reference((None, Some(model.id)), &agency, RefType::CrimeReference, &row.crime_ref));
                case_of.insert(row.crime_ref.clone(), model.id);
                open.insert(model.id, true);
                let id = model.id;
                new_cases.push(model);
                id
            };
            if let Some((a, v)) = add_urn {
                refs.push(self.reference((None, Some(case_id)), &a, RefType::CpsUrn, &v));
                urns.insert((a, v), Some(case_id));
            }
            let victim = self.victim_model(row.victim, row.team);
            refs.push(self.reference((Some(victim.id), None), &agency, RefType::Other, &row.victim_key));
            links.push(case_victims::Model {
                case_id,
                victim_id: victim.id,
                role: CaseRole::Victim,
                linked_at: self.now,
                linked_by: self.by.clone(),
            });
            // What `schedule::refresh` reads for a record made just now: no plan, no contacts,
            // this one case.
            let is_open = open.get(&case_id).copied().unwrap_or(true);
            let facts = schedule::Facts {
                victim: &victim,
                plan: None,
                last_update_at: None,
                open_cases: u64::from(is_open),
                all_cases: 1,
            };
            schedules.push(schedule::compute(&facts, &self.reminders, self.now));
            people.push(victim);
        }

        if people.is_empty() {
            return Ok((refused, None));
        }
        summary.loaded += people.len() as u64;
        summary.cases_created += new_cases.len() as u64;
        let subjects: Vec<Uuid> = people.iter().map(|v| v.id).collect();
        bulk::insert(tx, &new_cases, OnConflict::Fail).await?;
        bulk::insert(tx, &people, OnConflict::Fail).await?;
        bulk::insert(tx, &refs, OnConflict::Fail).await.map_err(|e| match e {
            e if e.code == "already-exists" => AppError::conflict(
                "reference-in-use",
                "a reference in this batch was stored meanwhile; run the import again",
            ),
            other => other,
        })?;
        bulk::insert(tx, &links, OnConflict::Fail).await?;
        bulk::insert(tx, &schedules, OnConflict::Fail).await?;
        Ok((refused, Some(Written { subjects, fields: &["victims", "cases", "agency_references"] })))
    }
}

/// Checks one intake row with the victim record's own rules (`victims::rules::check`) and the
/// case rules of `POST /victims/{ref}/cases`.
fn check(line: u64, raw: &str, v: Vec<Option<String>>, known: &Known) -> Result<IntakeRow, String> {
    let [
        crime_ref,
        victim_key,
        urn,
        urn_agency,
        team,
        given_name,
        family_name,
        date_of_birth,
        sex,
        ethnicity,
        disability,
        enhanced_reasons,
        offence_group,
        priority_flags,
        relationship,
        location_type,
        area,
        date_reported,
        offence_date,
    ]: [Option<String>; 19] = v.try_into().map_err(|_| "wrong column count".to_owned())?;
    let required = |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required"));
    let crime_ref = normalise_value(RefType::CrimeReference, &required(crime_ref, "crime_ref")?)
        .map_err(|why| format!("crime_ref: {why}"))?;
    let victim_key = victim_key_value(&crime_ref, &required(victim_key, "victim_key")?)
        .map_err(|why| format!("victim_key: {why}"))?;
    let urn = match (urn, urn_agency) {
        (None, _) => None,
        (Some(_), None) => return Err("urn_agency is required with urn".into()),
        (Some(u), Some(a)) => {
            let a = a.to_uppercase();
            match known.agencies.get(&a) {
                Some((_, true)) => {}
                Some(_) => return Err(format!("urn_agency: agency {a} is inactive")),
                None => return Err(format!("urn_agency: no agency has code {a}")),
            }
            Some((a, normalise_value(RefType::CpsUrn, &u).map_err(|why| format!("urn: {why}"))?))
        }
    };
    let team = required(team, "team")?.to_lowercase();
    match known.teams.get(&team) {
        Some(true) => {}
        Some(false) => return Err(format!("team: team {team} is inactive")),
        None => return Err(format!("team: no team has code {team}")),
    }
    let date_reported = date(&required(date_reported, "date_reported")?, "date_reported")?;
    let reasons: Vec<EnhancedReason> = list(enhanced_reasons.as_deref(), "enhanced_reasons")?;
    let input = VictimInput {
        given_name: given_name.unwrap_or_default(),
        family_name: family_name.unwrap_or_default(),
        date_of_birth: date_of_birth.map(|d| date(&d, "date_of_birth")).transpose()?,
        sex: vocab::<Sex>(sex.as_deref(), "sex")?,
        ethnicity: vocab::<Ethnicity>(ethnicity.as_deref(), "ethnicity")?,
        disability: vocab::<Disability>(disability.as_deref(), "disability")?,
        enhanced_reasons: (!reasons.is_empty()).then(|| {
            reasons.into_iter().map(|reason| EnhancedReasonEntry { reason, assessed_on: date_reported }).collect()
        }),
        team: Some(team.clone()),
        ..VictimInput::default()
    };
    let victim = rules::check(&input, known.today).map_err(|e| reasons_of(&e))?;

    let offence_group =
        vocab::<OffenceGroup>(Some(&required(offence_group, "offence_group")?), "offence_group")?.expect("given");
    let priority_flags: Vec<PriorityFlag> = list(priority_flags.as_deref(), "priority_flags")?;
    let offence_date = offence_date.map(|d| date(&d, "offence_date")).transpose()?;
    let mut c = Checks::new();
    c.not_future("/date_reported", Some(date_reported), known.today);
    c.not_future("/offence_date", offence_date, known.today);
    if offence_date.is_some_and(|d| d > date_reported) {
        c.fail("/offence_date", "after_report", "must not be after date_reported");
    }
    for (i, f) in priority_flags.iter().enumerate() {
        if priority_flags[..i].contains(f) {
            c.fail(format!("/priority_flags/{i}"), "duplicate", "each flag is listed once");
        }
    }
    let area = area.map(|a| c.agency_code("/area", &a));
    c.finish().map_err(|e| reasons_of(&e))?;
    if let Some(a) = &area {
        match known.agencies.get(a) {
            Some((AgencyKind::PoliceForce | AgencyKind::PoliceBcu, _)) => {}
            Some(_) => return Err(format!("area: {a} is not a police force or BCU")),
            None => return Err(format!("area: no agency has code {a}")),
        }
    }
    Ok(IntakeRow {
        line,
        raw: raw.to_owned(),
        crime_ref,
        victim_key,
        urn,
        victim,
        team,
        case: NewCase {
            offence_group,
            priority_flags,
            area,
            date_reported,
            offence_date,
            relationship: vocab::<Relationship>(relationship.as_deref(), "relationship")?,
            location_type: vocab::<LocationType>(location_type.as_deref(), "location_type")?,
        },
    })
}

/// "field message; field message" from a validation error.
fn reasons_of(e: &AppError) -> String {
    if e.errors.is_empty() {
        return e.detail.clone();
    }
    e.errors
        .iter()
        .map(|f| format!("{}: {}", f.field.trim_start_matches('/'), f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn date(s: &str, name: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{name}: {s:?} is not a date (YYYY-MM-DD)"))
}

/// A vocabulary value by its snake_case name.
fn vocab<T: serde::de::DeserializeOwned>(s: Option<&str>, name: &str) -> Result<Option<T>, String> {
    let Some(s) = s else { return Ok(None) };
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map(Some)
        .map_err(|_| format!("{name}: {s:?} is not a known value"))
}

/// A `;`-separated list of vocabulary values.
fn list<T: serde::de::DeserializeOwned>(s: Option<&str>, name: &str) -> Result<Vec<T>, String> {
    s.unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| vocab(Some(p), name).map(|v| v.expect("given")))
        .collect()
}

#[cfg(test)]
mod fuzz {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::Known;
    use crate::vocab::AgencyKind;

    use super::super::fuzz_cell as cell;

    fn known() -> Known {
        Known {
            teams: HashMap::from([("gen-hub".to_owned(), true), ("old-hub".to_owned(), false)]),
            agencies: HashMap::from([
                ("GEN-POLICE".to_owned(), (AgencyKind::PoliceForce, true)),
                ("GEN-CPS".to_owned(), (AgencyKind::CpsArea, true)),
                ("OLD-CPS".to_owned(), (AgencyKind::CpsArea, false)),
            ]),
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        }
    }

    proptest! {
        #[test]
        fn fuzz_intake_rows_are_checked_never_panicking(
            first in (
                cell("CR-[0-9]{1,6}"),
                cell("[0-9]{1,3}"),
                cell("[0-9]{2}[A-Z]{2}[0-9]{7}"),
                cell("GEN-CPS|OLD-CPS|X"),
                cell("gen-hub|old-hub|nowhere"),
                cell("[A-Za-z' -]{0,30}"),
                cell("[A-Za-z' -]{0,30}"),
                cell("[0-9+-]{1,7}-[0-9]{2}-[0-9]{2}"),
                cell("female|male|not_stated|x"),
                cell("white_british|not_stated|x"),
            ),
            second in (
                cell("yes|no|not_stated"),
                cell("(vulnerable|intimidated|persistently_targeted)(;[a-z_]{1,12}){0,2}"),
                cell("violence_with_injury|robbery|x"),
                cell("(domestic_abuse|stalking)(;[a-z_ ]{0,12}){0,2}"),
                cell("stranger|partner_ex_partner"),
                cell("public_street|online"),
                cell("GEN-POLICE|GEN-CPS|nope"),
                cell("[0-9+-]{1,7}-[0-9]{2}-[0-9]{2}"),
                cell("[0-9+-]{1,7}-[0-9]{2}-[0-9]{2}"),
            ),
        ) {
            let (a, b, c, d, e, f, g, h, i, j) = first;
            let (k, l, m, n, o, p, q, r, s) = second;
            let values = vec![a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s];
            let known = known();
            match super::check(7, "raw line", values, &known) {
                Ok(row) => {
                    prop_assert!(row.case.date_reported <= known.today);
                    prop_assert!(row.case.offence_date.is_none_or(|d| d <= row.case.date_reported));
                    prop_assert_eq!(known.teams.get(&row.team), Some(&true));
                }
                Err(why) => prop_assert!(!why.is_empty()),
            }
        }
    }
}
