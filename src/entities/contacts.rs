//! `contacts`: every contact with a victim, or attempt at one.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::vocab::{Channel, ContactDirection, ContactKind, ContactOutcome};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub victim_id: Uuid,
    pub case_id: Option<Uuid>,
    pub occurred_at: DateTimeUtc,
    /// Who made or took the contact (a user id, or a name for someone outside the hub).
    pub contact_by: String,
    pub agency_code: Option<String>,
    pub channel: Channel,
    pub direction: ContactDirection,
    pub outcome: ContactOutcome,
    pub kind: ContactKind,
    pub summary: Option<String>,
    /// Obligations this contact discharged.
    pub discharges: Discharges,
    pub recorded_at: DateTimeUtc,
    pub recorded_by: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Discharges(pub Vec<Uuid>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
