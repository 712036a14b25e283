//! Shapes for withdrawals and unevidenced-withdrawal flags.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entities::withdrawals::{self, Evidence};
use crate::vocab::{WithdrawalReason, WithdrawalStatus};

/// A victim withdrawing support from the case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "victim": "VCH-01234567890",
    "withdrawn_on": "2026-11-12",
    "reasons": ["fear_of_suspect_or_reprisal", "delay"],
    "felt_pressured": false,
    "evidence": [{"type": "withdrawal_statement", "reference": "MG11-2026-0042"}],
    "confirmed_with_victim": true
}))]
pub struct WithdrawalInput {
    /// Hub reference of a victim on the case.
    #[schema(schema_with = crate::openapi::hub_ref_schema)]
    pub victim: String,
    pub withdrawn_on: NaiveDate,
    /// Stage at withdrawal; defaults to the victim's current stage on the case's journey.
    pub stage: Option<String>,
    #[schema(min_items = 1, max_items = 12)]
    pub reasons: Vec<WithdrawalReason>,
    /// Whether the victim said they felt pressured (unknown when absent).
    pub felt_pressured: Option<bool>,
    /// What shows the victim withdrew; none makes the record unevidenced.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// The hub spoke to the victim directly and they confirmed it.
    pub confirmed_with_victim: bool,
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WithdrawalView {
    pub id: Uuid,
    pub case_id: Uuid,
    pub victim: String,
    pub withdrawn_on: NaiveDate,
    pub stage: String,
    pub reasons: Vec<WithdrawalReason>,
    pub felt_pressured: Option<bool>,
    pub evidence: Vec<Evidence>,
    /// Evidence recorded, or confirmed with the victim by the hub.
    pub evidenced: bool,
    pub confirmed_with_victim: bool,
    pub notes: Option<String>,
    pub status: WithdrawalStatus,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_note: Option<String>,
}

impl WithdrawalView {
    #[must_use]
    pub fn new(m: withdrawals::Model, hub_ref: String) -> Self {
        WithdrawalView {
            evidenced: !m.evidence.0.is_empty() || m.confirmed_with_victim,
            id: m.id,
            case_id: m.case_id,
            victim: hub_ref,
            withdrawn_on: m.withdrawn_on,
            stage: m.stage,
            reasons: m.reasons.0,
            felt_pressured: m.felt_pressured,
            evidence: m.evidence.0,
            confirmed_with_victim: m.confirmed_with_victim,
            notes: m.notes,
            status: m.status,
            recorded_by: m.recorded_by,
            recorded_at: m.recorded_at,
            reviewed_by: m.reviewed_by,
            reviewed_at: m.reviewed_at,
            review_note: m.review_note,
        }
    }
}

/// A supervisor's decision on a withdrawal record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "approved", "note": "statement on file; victim confirmed by phone"}))]
pub struct ReviewInput {
    /// `approved` or `rejected`.
    #[schema(schema_with = review_decision)]
    pub decision: WithdrawalStatus,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// An outcome saying the victim does not support action, with no evidenced withdrawal on record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlagView {
    pub id: Uuid,
    pub case_id: Uuid,
    pub victim: String,
    pub event_id: Uuid,
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}

/// The decisions a review may make (of the statuses a withdrawal can have).
fn review_decision() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["approved", "rejected"]))
        .build()
}
