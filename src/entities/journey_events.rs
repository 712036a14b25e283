//! `journey_events`: what agencies report about a case, once per (source agency, source event id).
use sea_orm::entity::prelude::*;

use crate::vocab::EventStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journey_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub source_agency: String,
    pub source_event_id: String,
    /// A stage code (DOMAIN.md §3.1) or `OUTCOME` with an outcome code.
    pub event_type: String,
    pub occurred_at: DateTimeUtc,
    pub received_at: Option<DateTimeUtc>,
    pub outcome_code: Option<String>,
    /// How the agency named the case, for linkage.
    pub case_ref: Option<String>,
    /// The hub reference of the one victim the event is about (else every victim on the case).
    pub victim_ref: Option<String>,
    pub case_id: Option<Uuid>,
    pub victim_id: Option<Uuid>,
    pub status: EventStatus,
    pub linkage_reason: Option<String>,
    /// The source event id this event corrects.
    pub corrects: Option<String>,
    pub correction_action: Option<String>,
    pub superseded_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    /// Why a `TRIAL_INEFFECTIVE` listing did not go ahead (`journeys::stages::ineffective_reason`).
    pub reason_code: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
