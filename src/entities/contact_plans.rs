//! `contact_plans`: how often and how a victim agreed to be updated, and any suspension or opt-out.
use sea_orm::entity::prelude::*;

use crate::vocab::Channel;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub victim_id: Uuid,
    pub interval_days: i32,
    pub preferred_channel: Option<Channel>,
    pub preferred_times: Option<String>,
    pub suspended: bool,
    pub suspended_reason: Option<String>,
    pub suspended_at: Option<DateTimeUtc>,
    pub suspension_review_on: Option<Date>,
    pub routine_opt_out: bool,
    pub opted_out_on: Option<Date>,
    pub opt_out_reason: Option<String>,
    pub key_decisions_opt_out: bool,
    pub version: i32,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
