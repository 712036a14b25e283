//! `victims`: the single victim record every agency reference points to.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::vocab::{Channel, Disability, EnhancedReason, Ethnicity, Sex, VictimType};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "victims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub hub_ref: String,
    pub merged_into_id: Option<Uuid>,
    pub victim_type: VictimType,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    /// Normalised given|family name, for duplicate detection.
    pub name_key: String,
    /// Normalised words of all names, space-delimited, for word-prefix search.
    pub search_name: String,
    pub date_of_birth: Option<Date>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_town: Option<String>,
    pub address_postcode: Option<String>,
    pub preferred_channel: Option<Channel>,
    pub contact_restrictions: Option<String>,
    pub language: Option<String>,
    pub interpreter_needed: bool,
    pub communication_needs: Option<String>,
    pub ethnicity: Option<Ethnicity>,
    pub sex: Option<Sex>,
    pub disability: Option<Disability>,
    /// Derived from `enhanced_reasons` on every write.
    pub enhanced_rights: bool,
    pub enhanced_reasons: EnhancedReasons,
    pub needs_assessed_on: Option<Date>,
    pub needs_assessed_by: Option<String>,
    pub identified_needs: Needs,
    pub assigned_caseworker: Option<String>,
    pub team_code: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub updated_at: DateTimeUtc,
    /// Under legal hold the retention job leaves the record alone.
    pub legal_hold: bool,
    pub legal_hold_reason: Option<String>,
    /// When the retention job anonymised the record.
    pub anonymised_at: Option<DateTimeUtc>,
}

/// One reason for enhanced rights with the date it was assessed (a re-assessment can change it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnhancedReasonEntry {
    pub reason: EnhancedReason,
    #[schema(example = "2026-11-02")]
    pub assessed_on: Date,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct EnhancedReasons(pub Vec<EnhancedReasonEntry>);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Needs(pub Vec<String>);

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
