//! `contact_schedule`: one row per victim saying when their next routine update is due; what the
//! due scan, the digest and due work read. Kept current by `contacts::schedule::refresh`.
use sea_orm::entity::prelude::*;

use crate::vocab::ContactState;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_schedule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub victim_id: Uuid,
    pub team_code: String,
    pub caseworker: Option<String>,
    pub state: ContactState,
    pub interval_days: i32,
    /// The last reached update (or none yet).
    pub last_update_at: Option<DateTimeUtc>,
    /// Active: the date the next update is due. Suspended: the review date. Otherwise none.
    pub next_due_on: Option<Date>,
    /// The due date an overdue escalation was queued for.
    pub escalated_for: Option<Date>,
    pub refreshed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
