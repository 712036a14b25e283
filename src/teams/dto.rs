//! Request and response shapes for teams.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{PartialSchema, ToSchema};

use crate::entities::teams;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "east-hub", "name": "East Victim Care Hub"}))]
pub struct TeamInput {
    /// Lower-case code, unique; cannot change once created.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{1,39}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Defaults to true.
    pub active: Option<bool>,
}

pub struct TeamPatch;

impl utoipa::__dev::ComposeSchema for TeamPatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(
            TeamInput::schema(),
            &["code"],
            serde_json::json!({"name": "North Hub (Victim Care)"}),
        )
    }
}

impl ToSchema for TeamPatch {}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamView {
    pub code: String,
    pub name: String,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<teams::Model> for TeamView {
    fn from(m: teams::Model) -> Self {
        TeamView {
            code: m.code,
            name: m.name,
            active: m.active,
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<&teams::Model> for TeamInput {
    fn from(m: &teams::Model) -> Self {
        TeamInput { code: m.code.clone(), name: m.name.clone(), active: Some(m.active) }
    }
}
