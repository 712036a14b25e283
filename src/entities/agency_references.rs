//! `agency_references`: a victim's or a case's reference in an agency's own system.
use sea_orm::entity::prelude::*;

use crate::vocab::RefType;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_references")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Exactly one of `victim_id` and `case_id` is set.
    pub victim_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub agency_code: String,
    pub ref_type: RefType,
    pub value: String,
    pub created_at: DateTimeUtc,
    pub created_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
