//! `cases`: a crime as the hub follows it; linked to one or more victims.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::vocab::{CaseStatus, LocationType, OffenceGroup, PriorityFlag, Relationship};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub offence_group: OffenceGroup,
    pub offence_description: Option<String>,
    pub priority_flags: PriorityFlags,
    pub area_code: Option<String>,
    pub date_reported: Date,
    pub offence_date: Option<Date>,
    pub relationship: Option<Relationship>,
    pub location_type: Option<LocationType>,
    pub status: CaseStatus,
    pub closed_on: Option<Date>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct PriorityFlags(pub Vec<PriorityFlag>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
