//! Request and response shapes for retention.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{PartialSchema, ToSchema};

use crate::entities::retention_policies;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    #[schema(example = "victim_record")]
    pub record_class: String,
    /// Days kept after the record closes.
    pub retain_days: i32,
    pub description: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<retention_policies::Model> for PolicyView {
    fn from(m: retention_policies::Model) -> Self {
        PolicyView {
            record_class: m.record_class,
            retain_days: m.retain_days,
            description: m.description,
            version: m.version,
            updated_at: m.updated_at,
            updated_by: m.updated_by,
        }
    }
}

/// The writable part of a policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// 30 to 36,500 days.
    #[schema(minimum = 30, maximum = 36500)]
    pub retain_days: i32,
}

pub struct PolicyPatch;

impl utoipa::__dev::ComposeSchema for PolicyPatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(PolicyInput::schema(), &[], serde_json::json!({"retain_days": 2557}))
    }
}

impl ToSchema for PolicyPatch {}

/// `POST /retention/runs`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"dry_run": true}))]
pub struct RunRequest {
    /// Report what would be anonymised without changing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a retention run did (or, dry, would do).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunReport {
    pub dry_run: bool,
    pub retain_days: i32,
    /// Records whose last case closed before this date were due.
    pub cutoff: NaiveDate,
    /// Hub references of the records anonymised.
    pub anonymised: Vec<String>,
    /// Due records left alone because they are under legal hold.
    pub held: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Civil claim pending: preserve until the claim is settled (ref LEG-2026-14)"}))]
pub struct HoldRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldView {
    pub hub_ref: String,
    pub held: bool,
    pub reason: Option<String>,
}
