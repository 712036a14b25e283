//! `case_victims`: which victims a case involves, and in what role.
use sea_orm::entity::prelude::*;

use crate::vocab::CaseRole;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_victims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub victim_id: Uuid,
    pub role: CaseRole,
    pub linked_at: DateTimeUtc,
    pub linked_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
