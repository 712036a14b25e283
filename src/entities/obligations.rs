//! `obligations`: "inform the victim of X by D", created when a triggering event is recorded.
use sea_orm::entity::prelude::*;

use crate::vocab::ObligationStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "obligations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub victim_id: Uuid,
    pub case_id: Option<Uuid>,
    pub rule_code: String,
    pub trigger_event: String,
    /// What recorded the event (a caseworker's entry, or an agency's event id): one obligation per source.
    pub source_key: String,
    pub event_occurred_at: DateTimeUtc,
    pub event_received_at: Option<DateTimeUtc>,
    pub clock_started_on: Date,
    pub enhanced: bool,
    pub working_days: i32,
    pub due_on: Date,
    pub status: ObligationStatus,
    pub discharged_at: Option<DateTimeUtc>,
    /// The contact that discharged it.
    pub discharged_by: Option<Uuid>,
    pub waived_reason: Option<String>,
    /// When a breach escalation was queued.
    pub escalated_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
