//! `obligation_rules`: the Victims' Code deadlines (DOMAIN.md §1.3), editable by admins.
use sea_orm::entity::prelude::*;

use crate::vocab::{AgencyKind, ClockStarts};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "obligation_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// The Victims' Code right, e.g. `R6`.
    pub code_ref: String,
    pub trigger_event: String,
    pub description: String,
    pub responsible: AgencyKind,
    pub working_days_standard: i32,
    pub working_days_enhanced: i32,
    pub clock_starts: ClockStarts,
    pub key_decision: bool,
    pub active: bool,
    pub version: i32,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
