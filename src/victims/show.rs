//! What each caller is shown of a victim's record, and the audit event that records the showing.
//! The record is shown only once its read is committed to the audit trail.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::dto::{AgencyVictimView, VictimView};
use super::read::Read;
use crate::agencies::references;
use crate::audit::{Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::Access;
use crate::db::Db;
use crate::entities::agencies;
use crate::error::{AppError, AppResult};
use crate::vocab::AuditAction;

/// A record ready to send.
pub struct Shown {
    pub hub_ref: String,
    pub version: i32,
    pub json: String,
}

/// What a read showed, as recorded in the audit trail: the view, whose fields the API documents
/// (`VictimView`, without `contact` when redacted; `AgencyVictimView`).
const FULL_VIEW: &str = "victim_record";
const REDACTED_VIEW: &str = "victim_record_without_contact";
const AGENCY_VIEW: &str = "agency_view";

fn encode<T: serde::Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(|e| AppError::internal(e.into()))
}

/// Shapes `record` for `access`, audits the read, and returns what to send.
pub async fn show(
    db: &Db,
    audit: &AuditSink,
    user: &Principal,
    record: Read,
    access: Access,
    now: DateTime<Utc>,
) -> AppResult<Shown> {
    let (json, shown) = match access {
        // The common case passes the database's JSON straight through.
        Access::Team => (record.json.clone(), FULL_VIEW),
        Access::BreakGlass | Access::Admin => {
            let mut view = record.view()?;
            view.contact = None;
            view.redacted = vec!["contact".into()];
            (encode(&view)?, REDACTED_VIEW)
        }
        Access::Agency => (encode(&agency_view(db, user, record.view()?).await?)?, AGENCY_VIEW),
    };
    let event = Event::new(AuditAction::Read, "victim")
        .victim(record.id)
        .resource(&record.hub_ref)
        .fields([shown])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    Ok(Shown { hub_ref: record.hub_ref, version: record.version, json })
}

/// The minimal view for a liaison: only their agency's references and the cases that concern it.
async fn agency_view(db: &Db, user: &Principal, view: VictimView) -> AppResult<AgencyVictimView> {
    let agency = user.agency.clone().unwrap_or_default();
    let family: Vec<String> = agencies::Entity::find()
        .select_only()
        .column(agencies::Column::Code)
        .filter(
            sea_orm::Condition::any()
                .add(agencies::Column::Code.eq(agency.as_str()))
                .add(agencies::Column::ParentCode.eq(agency.as_str())),
        )
        .into_tuple()
        .all(db.read())
        .await?;
    let mut cases = Vec::new();
    for case in view.cases {
        if references::case_linked_to(db.read(), &agency, case.id).await? {
            cases.push(case);
        }
    }
    Ok(AgencyVictimView {
        hub_ref: view.hub_ref,
        version: view.version,
        victim_type: view.victim_type,
        given_name: view.given_name,
        family_name: view.family_name,
        preferred_name: view.preferred_name,
        date_of_birth: view.date_of_birth,
        language: view.language,
        interpreter_needed: view.interpreter_needed,
        communication_needs: view.communication_needs,
        enhanced_rights: view.enhanced_rights,
        enhanced_reasons: view.enhanced_reasons,
        agency_references: view.agency_references.into_iter().filter(|r| family.contains(&r.agency)).collect(),
        cases,
    })
}
