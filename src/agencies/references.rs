//! Agency references on victims and cases: how values are written, checked and kept unique.
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::dto::NewAgencyReference;
use crate::entities::{agencies, agency_references};
use crate::error::{AppError, AppResult, FieldError, FieldLocation};
use crate::vocab::RefType;

/// What a reference belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Victim(Uuid),
    Case(Uuid),
}

static URN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9]{2}[A-Z0-9]{2}[0-9]{7}$").expect("regex"));
/// Court Case Reference Number: YY/CCCC/NNNNNN + check letter (I, O and S are not used).
static CCRN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]{2}/[0-9]{4}/[0-9]{6}[A-HJ-NP-RT-Z]$").expect("regex"));
static GENERIC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z0-9][A-Z0-9/._-]{0,63}$").expect("regex"));

/// The stored form of a reference value (upper case, no spaces), or why it is not valid.
pub fn normalise_value(ref_type: RefType, raw: &str) -> Result<String, String> {
    // ASCII only: references are written in ASCII, and a Unicode case mapping (ß to SS) would
    // turn a mistyped value into someone else's.
    let value: String = raw.chars().filter(|c| !c.is_ascii_whitespace()).collect::<String>().to_ascii_uppercase();
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    match ref_type {
        RefType::CpsUrn if !URN.is_match(&value) => Err(
            "a URN has 11 characters: 2-digit force, 2-character unit, 5-digit case, 2-digit year (e.g. 01AB2345621)"
                .into(),
        ),
        RefType::Ccrn if !CCRN.is_match(&value) => {
            Err("a CCRN is YY/CCCC/NNNNNN plus a check letter (e.g. 05/9876/123456R)".into())
        }
        _ if !GENERIC.is_match(&value) => {
            Err("use 1 to 64 letters, digits and / . _ - (starting with a letter or digit)".into())
        }
        _ => Ok(value),
    }
}

/// A reference that passed every check and can be stored.
#[derive(Clone, Debug)]
pub struct ValidReference {
    pub agency: String,
    pub ref_type: RefType,
    pub value: String,
}

/// Checks formats and that each agency exists and is active; `pointer` is the JSON Pointer of
/// the list (or of the single reference when `single`).
pub async fn validate(
    db: &impl ConnectionTrait,
    refs: &[NewAgencyReference],
    pointer: &str,
    single: bool,
) -> AppResult<Vec<ValidReference>> {
    let at = |i: usize, field: &str| {
        if single { format!("{pointer}/{field}") } else { format!("{pointer}/{i}/{field}") }
    };
    let codes: Vec<String> = refs.iter().map(|r| r.agency.trim().to_uppercase()).collect();
    let known: Vec<agencies::Model> = if codes.is_empty() {
        Vec::new()
    } else {
        agencies::Entity::find().filter(agencies::Column::Code.is_in(codes.clone())).all(db).await?
    };
    let mut errors = Vec::new();
    let mut valid = Vec::new();
    for (i, (r, code)) in refs.iter().zip(&codes).enumerate() {
        match known.iter().find(|a| &a.code == code) {
            None => {
                errors.push(FieldError::body(at(i, "agency"), "unknown_agency", format!("no agency has code {code}")));
            }
            Some(a) if !a.active => {
                errors.push(FieldError::body(at(i, "agency"), "inactive_agency", format!("agency {code} is inactive")));
            }
            Some(_) => {}
        }
        match normalise_value(r.ref_type, &r.value) {
            Err(why) => errors.push(FieldError::body(at(i, "value"), "invalid_format", why)),
            Ok(value) => {
                let dup = valid
                    .iter()
                    .any(|v: &ValidReference| v.agency == *code && v.ref_type == r.ref_type && v.value == value);
                if dup {
                    errors.push(FieldError::body(at(i, "value"), "duplicate", "the same reference is listed twice"));
                }
                valid.push(ValidReference { agency: code.clone(), ref_type: r.ref_type, value });
            }
        }
    }
    if errors.is_empty() { Ok(valid) } else { Err(AppError::validation(errors)) }
}

/// The record a reference value already belongs to, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    agency: &str,
    ref_type: RefType,
    value: &str,
) -> AppResult<Option<agency_references::Model>> {
    Ok(agency_references::Entity::find()
        .filter(agency_references::Column::AgencyCode.eq(agency))
        .filter(agency_references::Column::RefType.eq(ref_type))
        .filter(agency_references::Column::Value.eq(value))
        .one(db)
        .await?)
}

/// The reference a lookup's query parameters name; a value that cannot be a reference of that
/// type is a 400 naming `value`.
pub async fn lookup(
    db: &impl ConnectionTrait,
    agency: &str,
    ref_type: RefType,
    raw_value: &str,
) -> AppResult<Option<agency_references::Model>> {
    let value = normalise_value(ref_type, raw_value).map_err(|why| {
        let mut e = AppError::bad_request("invalid-query", format!("value: {why}"));
        e.errors.push(FieldError::at(FieldLocation::Query, "value", "invalid_format", why));
        e
    })?;
    find(db, &agency.trim().to_uppercase(), ref_type, &value).await
}

/// Stores references for `owner`. A value that another record holds is a 409 naming neither record
/// beyond what the caller needs: the unique index decides, so concurrent writers cannot both win.
pub async fn insert(
    db: &impl ConnectionTrait,
    owner: Owner,
    refs: &[ValidReference],
    actor: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<agency_references::Model>> {
    let mut stored = Vec::with_capacity(refs.len());
    for r in refs {
        let (victim_id, case_id) = match owner {
            Owner::Victim(id) => (Some(id), None),
            Owner::Case(id) => (None, Some(id)),
        };
        let model = agency_references::ActiveModel {
            id: Set(Uuid::now_v7()),
            victim_id: Set(victim_id),
            case_id: Set(case_id),
            agency_code: Set(r.agency.clone()),
            ref_type: Set(r.ref_type),
            value: Set(r.value.clone()),
            created_at: Set(now),
            created_by: Set(actor.to_owned()),
        };
        let inserted =
            agency_references::Entity::insert(model).exec_with_returning(db).await.map_err(
                |e| match AppError::from(e) {
                    e if e.code == "already-exists" => in_use(r),
                    other => other,
                },
            )?;
        stored.push(inserted);
    }
    Ok(stored)
}

/// 409 for a reference already held by another record.
#[must_use]
pub fn in_use(r: &ValidReference) -> AppError {
    AppError::conflict(
        "reference-in-use",
        format!("{} {} {} already belongs to another record", r.agency, r.ref_type.as_str(), r.value),
    )
}

/// All references of one owner, oldest first.
pub async fn list(db: &impl ConnectionTrait, owner: Owner) -> AppResult<Vec<agency_references::Model>> {
    let q = agency_references::Entity::find();
    let q = match owner {
        Owner::Victim(id) => q.filter(agency_references::Column::VictimId.eq(id)),
        Owner::Case(id) => q.filter(agency_references::Column::CaseId.eq(id)),
    };
    Ok(q.all(db).await.map(|mut v| {
        v.sort_by_key(|r| r.id);
        v
    })?)
}

/// The agency and the agencies directly under it (a force and its BCUs).
fn agency_family(agency: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(crate::entities::agencies::Column::Code)
        .from(crate::entities::agencies::Entity)
        .cond_where(
            sea_orm::Condition::any()
                .add(crate::entities::agencies::Column::Code.eq(agency))
                .add(crate::entities::agencies::Column::ParentCode.eq(agency)),
        )
        .to_owned()
}

/// Whether a victim is linked to `agency`: it holds a reference of the agency (or one under it),
/// or one of the victim's cases does.
pub async fn victim_linked_to(db: &impl ConnectionTrait, agency: &str, victim_id: Uuid) -> AppResult<bool> {
    let cases = sea_orm::sea_query::Query::select()
        .column(crate::entities::case_victims::Column::CaseId)
        .from(crate::entities::case_victims::Entity)
        .and_where(crate::entities::case_victims::Column::VictimId.eq(victim_id))
        .to_owned();
    let found = agency_references::Entity::find()
        .filter(agency_references::Column::AgencyCode.in_subquery(agency_family(agency)))
        .filter(
            sea_orm::Condition::any()
                .add(agency_references::Column::VictimId.eq(victim_id))
                .add(agency_references::Column::CaseId.in_subquery(cases)),
        )
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Whether a case is linked to `agency`: the case holds a reference of the agency (or one under
/// it). A victim's own references do not link all of their cases to the agency.
pub async fn case_linked_to(db: &impl ConnectionTrait, agency: &str, case_id: Uuid) -> AppResult<bool> {
    let found = agency_references::Entity::find()
        .filter(agency_references::Column::AgencyCode.in_subquery(agency_family(agency)))
        .filter(agency_references::Column::CaseId.eq(case_id))
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Victims linked to `agency`, as a subquery of ids (for a liaison's search).
#[must_use]
pub fn victims_linked_to(agency: &str) -> sea_orm::sea_query::SelectStatement {
    let via_cases = sea_orm::sea_query::Query::select()
        .column(crate::entities::case_victims::Column::VictimId)
        .from(crate::entities::case_victims::Entity)
        .and_where(
            crate::entities::case_victims::Column::CaseId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(agency_references::Column::CaseId)
                    .from(agency_references::Entity)
                    .and_where(agency_references::Column::AgencyCode.in_subquery(agency_family(agency)))
                    .to_owned(),
            ),
        )
        .to_owned();
    sea_orm::sea_query::Query::select()
        .column(agency_references::Column::VictimId)
        .from(agency_references::Entity)
        .and_where(agency_references::Column::AgencyCode.in_subquery(agency_family(agency)))
        .and_where(agency_references::Column::VictimId.is_not_null())
        .union(sea_orm::sea_query::UnionType::All, via_cases)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalised_and_checked_by_type() {
        assert_eq!(normalise_value(RefType::CpsUrn, "01 ab 23456 21").unwrap(), "01AB2345621");
        assert!(normalise_value(RefType::CpsUrn, "01AB234562").is_err());
        assert_eq!(normalise_value(RefType::Ccrn, "05/9876/123456r").unwrap(), "05/9876/123456R");
        assert!(normalise_value(RefType::Ccrn, "05/9876/123456S").is_err());
        assert_eq!(normalise_value(RefType::CrimeReference, " crn-1/22 ").unwrap(), "CRN-1/22");
        assert!(normalise_value(RefType::CrimeReference, "bad;value").is_err());
        assert!(normalise_value(RefType::Other, "   ").is_err());
    }

    proptest::proptest! {
        #[test]
        fn fuzz_values_normalise_to_a_checked_stored_form(
            ty in 0usize..9,
            raw in proptest::prop_oneof![proptest::prelude::any::<String>(), "[ a-z0-9/._-]{0,70}", "[0-9a-z/ ]{0,20}"],
        ) {
            let types = [
                RefType::CrimeReference, RefType::CpsUrn, RefType::CourtCaseNumber, RefType::Ccrn,
                RefType::IncidentNumber, RefType::WitnessCareReference, RefType::ProbationReference,
                RefType::SupportServiceReference, RefType::Other,
            ];
            match normalise_value(types[ty], &raw) {
                Ok(stored) => {
                    // The stored form is upper-case ASCII without spaces, at most 64, and stable.
                    proptest::prop_assert!(GENERIC.is_match(&stored), "{stored:?}");
                    proptest::prop_assert_eq!(normalise_value(types[ty], &stored), Ok(stored.clone()));
                }
                Err(why) => proptest::prop_assert!(!why.is_empty()),
            }
        }
    }
}
