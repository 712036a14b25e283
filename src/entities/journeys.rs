//! `journeys`: one victim's path through one case, derived from the case's events.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub victim_id: Uuid,
    pub current_stage: Option<String>,
    pub furthest_stage: Option<String>,
    pub reported_at: Option<DateTimeUtc>,
    pub charged_at: Option<DateTimeUtc>,
    pub first_hearing_at: Option<DateTimeUtc>,
    pub trial_listed_at: Option<DateTimeUtc>,
    pub verdict_at: Option<DateTimeUtc>,
    pub sentenced_at: Option<DateTimeUtc>,
    /// When a terminal stage was reached.
    pub ended_at: Option<DateTimeUtc>,
    pub action_plan_count: i32,
    pub ineffective_count: i32,
    pub final_outcome: Option<String>,
    pub withdrawn: bool,
    pub withdrawal_stage: Option<String>,
    pub event_count: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
