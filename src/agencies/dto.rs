//! Request and response shapes for agencies and agency references.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::entities::{agencies, agency_references};
use crate::vocab::{AgencyKind, RefType};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "EXAMPLE-POLICE-N",
    "name": "Example Police, North BCU",
    "kind": "police_bcu",
    "parent": "EXAMPLE-POLICE",
    "liaison_email": "victim-liaison.north@police.example"
}))]
pub struct AgencyInput {
    /// Upper-case code, unique in the hub, e.g. `MET` or `CPS-LSE`. Cannot change once created.
    #[schema(pattern = "^[A-Z0-9][A-Z0-9_-]{1,31}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub kind: AgencyKind,
    /// Code of the agency this one belongs to (a BCU's force).
    pub parent: Option<String>,
    /// Where escalations for this agency are sent.
    #[schema(pattern = r"^\s*([^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)?\s*$", max_length = 254)]
    pub liaison_email: Option<String>,
    /// Defaults to true; an inactive agency cannot be given new references.
    pub active: Option<bool>,
}

pub struct AgencyPatch;

impl utoipa::__dev::ComposeSchema for AgencyPatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(
            AgencyInput::schema(),
            &["code"],
            serde_json::json!({"liaison_email": "liaison@police.example"}),
        )
    }
}

impl ToSchema for AgencyPatch {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <AgencyInput as ToSchema>::schemas(schemas);
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgencyView {
    pub code: String,
    pub name: String,
    pub kind: AgencyKind,
    pub parent: Option<String>,
    pub liaison_email: Option<String>,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<agencies::Model> for AgencyView {
    fn from(m: agencies::Model) -> Self {
        AgencyView {
            code: m.code,
            name: m.name,
            kind: m.kind,
            parent: m.parent_code,
            liaison_email: m.liaison_email,
            active: m.active,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<&agencies::Model> for AgencyInput {
    fn from(m: &agencies::Model) -> Self {
        AgencyInput {
            code: m.code.clone(),
            name: m.name.clone(),
            kind: m.kind,
            parent: m.parent_code.clone(),
            liaison_email: m.liaison_email.clone(),
            active: Some(m.active),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgencyListParams {
    pub kind: Option<AgencyKind>,
    /// Agencies belonging to this parent code.
    pub parent: Option<String>,
    pub active: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// A reference in an agency's own system.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agency": "EXAMPLE-POLICE", "type": "crime_reference", "value": "CRN-2026-000123"}))]
pub struct NewAgencyReference {
    /// Agency code.
    pub agency: String,
    #[serde(rename = "type")]
    pub ref_type: RefType,
    /// The reference as the agency writes it; stored upper-case without spaces.
    #[schema(min_length = 1, max_length = 64)]
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyReferenceView {
    pub id: Uuid,
    pub agency: String,
    #[serde(rename = "type")]
    pub ref_type: RefType,
    pub value: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl From<agency_references::Model> for AgencyReferenceView {
    fn from(m: agency_references::Model) -> Self {
        AgencyReferenceView {
            id: m.id,
            agency: m.agency_code,
            ref_type: m.ref_type,
            value: m.value,
            created_at: m.created_at,
            created_by: m.created_by,
        }
    }
}
