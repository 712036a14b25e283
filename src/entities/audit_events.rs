//! `audit_events`: the append-only, hash-chained record of who did what to which victim's data.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::vocab::{AuditAction, AuditOutcome};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub occurred_at: DateTimeUtc,
    pub actor: String,
    pub actor_role: Option<String>,
    pub actor_team: Option<String>,
    pub actor_agency: Option<String>,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The victim the event is about, when it is about one.
    pub victim_id: Option<Uuid>,
    /// The victims whose data the event touched when there are two or more (a search, a case
    /// with several victims); empty otherwise.
    pub subjects: Ids,
    pub fields: Names,
    pub reason: Option<String>,
    pub break_glass: bool,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Ids(pub Vec<Uuid>);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Names(pub Vec<String>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
