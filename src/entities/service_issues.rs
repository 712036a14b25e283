//! `service_issues`: a problem a victim hit, with an owner, a target date and a workflow.
use sea_orm::entity::prelude::*;

use crate::vocab::{IssueOutcome, IssueStatus, RaisedBy, Severity};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_issues")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub victim_id: Uuid,
    pub case_id: Option<Uuid>,
    /// The victim's team when the issue opened: whose caseload it is.
    pub team_code: String,
    pub category: String,
    pub description: String,
    pub raised_by_kind: RaisedBy,
    pub raised_by: String,
    pub owner_agency: Option<String>,
    pub owner_person: Option<String>,
    pub severity: Severity,
    pub withdrawal_risk: bool,
    pub code_right: Option<i32>,
    pub opened_at: DateTimeUtc,
    pub target_on: Date,
    pub status: IssueStatus,
    pub resolution_outcome: Option<IssueOutcome>,
    pub victim_stayed_engaged: Option<bool>,
    pub complaint_reference: Option<String>,
    pub complaint_ack_due: Option<Date>,
    /// For automatic issues: what opened it (one issue per source).
    pub source_key: Option<String>,
    pub escalated_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
