//! Request and response shapes for cases.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::agencies::dto::{AgencyReferenceView, NewAgencyReference};
use crate::entities::cases;
use crate::vocab::{CaseRole, CaseStatus, LocationType, OffenceGroup, PriorityFlag, Relationship};

/// The writable fields of a case. `POST /victims/{ref}/cases` takes it whole; `PATCH /cases/{id}`
/// takes a JSON merge patch of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "offence_group": "violence_with_injury",
    "offence_description": "Assault occasioning actual bodily harm",
    "priority_flags": ["domestic_abuse"],
    "area": "EXAMPLE-POLICE",
    "date_reported": "2026-10-30",
    "offence_date": "2026-10-29",
    "relationship": "partner_ex_partner",
    "location_type": "private_residence",
    "agency_references": [{"agency": "EXAMPLE-POLICE", "type": "crime_reference", "value": "CRN-2026-004567"}]
}))]
pub struct CaseInput {
    pub offence_group: OffenceGroup,
    #[schema(max_length = 500)]
    pub offence_description: Option<String>,
    pub priority_flags: Option<Vec<PriorityFlag>>,
    /// Code of the police force or BCU the case belongs to (reporting area).
    pub area: Option<String>,
    pub date_reported: NaiveDate,
    pub offence_date: Option<NaiveDate>,
    pub relationship: Option<Relationship>,
    pub location_type: Option<LocationType>,
    /// Defaults to `open`. Closing sets `closed_on` to today unless given.
    pub status: Option<CaseStatus>,
    pub closed_on: Option<NaiveDate>,
    /// Only when creating: the victim's role in the case (default `victim`).
    pub role: Option<CaseRole>,
    /// Only when creating: the case's references in agency systems (crime reference, URN, ...).
    #[schema(max_items = 20)]
    pub agency_references: Option<Vec<NewAgencyReference>>,
}

pub struct CasePatch;

impl utoipa::__dev::ComposeSchema for CasePatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(
            CaseInput::schema(),
            &["role", "agency_references"],
            serde_json::json!({"priority_flags": ["domestic_abuse", "stalking"], "location_type": "public_street"}),
        )
    }
}

impl ToSchema for CasePatch {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <CaseInput as ToSchema>::schemas(schemas);
    }
}

/// A victim linked to a case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseVictimView {
    pub hub_ref: String,
    pub role: CaseRole,
    /// The team that holds the victim's record.
    pub team: String,
    pub linked_at: DateTime<Utc>,
    pub linked_by: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseView {
    pub id: Uuid,
    pub version: i32,
    pub offence_group: OffenceGroup,
    pub offence_description: Option<String>,
    pub priority_flags: Vec<PriorityFlag>,
    pub area: Option<String>,
    pub date_reported: NaiveDate,
    pub offence_date: Option<NaiveDate>,
    pub relationship: Option<Relationship>,
    pub location_type: Option<LocationType>,
    pub status: CaseStatus,
    pub closed_on: Option<NaiveDate>,
    pub victims: Vec<CaseVictimView>,
    pub agency_references: Vec<AgencyReferenceView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /cases/{id}/victims`: link another victim to the case.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hub_ref": "VCH-01234567890", "role": "victim"}))]
pub struct LinkVictim {
    #[schema(schema_with = crate::openapi::hub_ref_schema)]
    pub hub_ref: String,
    /// Defaults to `victim`.
    pub role: Option<CaseRole>,
}

impl From<&cases::Model> for CaseInput {
    fn from(m: &cases::Model) -> Self {
        CaseInput {
            offence_group: m.offence_group,
            offence_description: m.offence_description.clone(),
            priority_flags: Some(m.priority_flags.0.clone()),
            area: m.area_code.clone(),
            date_reported: m.date_reported,
            offence_date: m.offence_date,
            relationship: m.relationship,
            location_type: m.location_type,
            status: Some(m.status),
            closed_on: m.closed_on,
            role: None,
            agency_references: None,
        }
    }
}
