//! `withdrawals`: a victim withdrawing support, with reasons and evidence, reviewed by a supervisor.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::vocab::{EvidenceType, WithdrawalReason, WithdrawalStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "withdrawals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub victim_id: Uuid,
    pub withdrawn_on: Date,
    pub stage: String,
    pub reasons: Reasons,
    pub felt_pressured: Option<bool>,
    pub evidence: EvidenceList,
    pub confirmed_with_victim: bool,
    pub notes: Option<String>,
    pub status: WithdrawalStatus,
    pub recorded_by: String,
    pub recorded_at: DateTimeUtc,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub review_note: Option<String>,
    pub version: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Reasons(pub Vec<WithdrawalReason>);

/// One piece of evidence that the victim withdrew.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    #[serde(rename = "type")]
    pub evidence_type: EvidenceType,
    /// Where it is kept (statement number, BWV reference, call recording id, document id).
    #[schema(example = "MG11-2026-0042", min_length = 1, max_length = 200, pattern = r"\S")]
    pub reference: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct EvidenceList(pub Vec<Evidence>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
