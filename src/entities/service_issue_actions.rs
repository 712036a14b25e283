//! `service_issue_actions`: the action log of a service issue.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_issue_actions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub issue_id: Uuid,
    /// `note`, `contact_made`, `agency_chased`, `transition`, `escalation`.
    pub kind: String,
    pub note: Option<String>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub at: DateTimeUtc,
    pub by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
