//! Request and response shapes for the victim record.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::agencies::dto::{AgencyReferenceView, NewAgencyReference};
use crate::entities::victims::{self, EnhancedReasonEntry};
use crate::vocab::{CaseRole, CaseStatus, Channel, Disability, Ethnicity, OffenceGroup, RefType, Sex, VictimType};

/// The writable fields of a victim record. `POST /victims` takes it whole; `PATCH` takes any subset
/// as a JSON merge patch (RFC 7396: a field set to `null` is cleared).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "victim_type": "direct",
    "given_name": "Alex",
    "family_name": "Example",
    "preferred_name": "Al",
    "date_of_birth": "1990-04-01",
    "contact": {
        "phone": "07700 900123",
        "email": "alex@example.org",
        "address": {"line1": "1 Example Street", "town": "Exampletown", "postcode": "ZZ1 1ZZ"},
        "preferred_channel": "phone",
        "restrictions": "No letters to the home address"
    },
    "language": "en",
    "interpreter_needed": false,
    "ethnicity": "not_stated",
    "sex": "not_stated",
    "disability": "not_stated",
    "enhanced_reasons": [{"reason": "vulnerable", "assessed_on": "2026-11-02"}],
    "needs_assessment": {"assessed_on": "2026-11-02", "assessed_by": "PC 1234 Example", "needs": ["regular phone updates"]}
}))]
pub struct VictimInput {
    /// Defaults to `direct`.
    pub victim_type: Option<VictimType>,
    #[schema(min_length = 1, max_length = 100)]
    pub given_name: String,
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: String,
    #[schema(max_length = 100)]
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub contact: Option<ContactInput>,
    /// Preferred language as a BCP 47 tag, e.g. `en`, `pl`, `pa-Guru`.
    #[schema(example = "en", max_length = 35, pattern = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    pub language: Option<String>,
    pub interpreter_needed: Option<bool>,
    #[schema(max_length = 2000)]
    pub communication_needs: Option<String>,
    pub ethnicity: Option<Ethnicity>,
    pub sex: Option<Sex>,
    pub disability: Option<Disability>,
    /// Reasons for enhanced rights under the Victims' Code, each with its assessment date.
    /// `enhanced_rights` is derived from them.
    pub enhanced_reasons: Option<Vec<EnhancedReasonEntry>>,
    pub needs_assessment: Option<NeedsAssessment>,
    /// User id of the assigned caseworker.
    #[schema(max_length = 200)]
    pub assigned_caseworker: Option<String>,
    /// Team code; defaults to the caller's team. Changing it (reassignment) needs a supervisor.
    #[schema(pattern = r"^\s*[A-Za-z0-9][A-Za-z0-9-]{1,39}\s*$")]
    pub team: Option<String>,
    /// Only when creating: references the victim already has in agency systems. Afterwards use
    /// `/victims/{ref}/agency-references`.
    #[schema(max_items = 20)]
    pub agency_references: Option<Vec<NewAgencyReference>>,
}

/// A merge patch of [`VictimInput`]: every field optional; `null` clears it.
pub struct VictimPatch;

impl utoipa::__dev::ComposeSchema for VictimPatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(
            VictimInput::schema(),
            &["agency_references"],
            serde_json::json!({
                "preferred_name": "Ali",
                "contact": {"phone": "07700 900456", "address": {"line2": null}}
            }),
        )
    }
}

impl ToSchema for VictimPatch {}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// 7 to 15 digits, optionally with a leading `+`, brackets, spaces and hyphens.
    #[schema(example = "07700 900123", max_length = 32, pattern = r"^\s*\+?(\(?[0-9]\)?[ -]?){7,15}\s*$")]
    pub phone: Option<String>,
    #[schema(
        example = "alex@example.org",
        pattern = r"^\s*([^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)?\s*$",
        max_length = 254
    )]
    pub email: Option<String>,
    pub address: Option<Address>,
    pub preferred_channel: Option<Channel>,
    /// Restrictions on contact, e.g. "no letters to home address".
    #[schema(max_length = 1000)]
    pub restrictions: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[schema(max_length = 200)]
    pub line1: Option<String>,
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[schema(max_length = 100)]
    pub town: Option<String>,
    #[schema(example = "ZZ1 1ZZ", max_length = 12, pattern = r"^\s*[A-Za-z0-9][A-Za-z0-9 ]{0,8}[A-Za-z0-9]\s*$")]
    pub postcode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedsAssessment {
    #[schema(example = "2026-11-02")]
    pub assessed_on: NaiveDate,
    #[schema(example = "PC 1234 Example", max_length = 200)]
    pub assessed_by: String,
    /// Needs identified, in the assessor's words.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub needs: Vec<String>,
}

/// Query for `POST /victims`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// Set after checking a `possible-duplicate` answer: the person is not the one already recorded.
    pub allow_duplicate: Option<bool>,
}

/// Search filters for `GET /victims`; all optional and combined with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words matched against the start of any given, preferred or family name.
    pub name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// A hub reference (merged references find the surviving record).
    pub hub_ref: Option<String>,
    /// An agency reference value; narrow it with `agency` and `ref_type`.
    pub reference: Option<String>,
    pub agency: Option<String>,
    pub ref_type: Option<RefType>,
    /// Team code (admins only; others see their own team).
    pub team: Option<String>,
    pub assigned_caseworker: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Query for `GET /victims/lookup`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    #[param(example = "MET")]
    pub agency: String,
    #[serde(rename = "type")]
    #[param(example = "cps_urn")]
    pub ref_type: RefType,
    #[param(example = "01AB2345621")]
    pub value: String,
}

/// The whole victim record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VictimView {
    #[schema(example = "VCH-01234567890")]
    pub hub_ref: String,
    pub version: i32,
    pub victim_type: VictimType,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// Null for anyone outside the victim's own team (see `redacted`).
    pub contact: Option<ContactInput>,
    pub language: Option<String>,
    pub interpreter_needed: bool,
    pub communication_needs: Option<String>,
    pub ethnicity: Option<Ethnicity>,
    pub sex: Option<Sex>,
    pub disability: Option<Disability>,
    /// True when any enhanced-rights reason applies.
    pub enhanced_rights: bool,
    pub enhanced_reasons: Vec<EnhancedReasonEntry>,
    pub needs_assessment: Option<NeedsAssessment>,
    pub assigned_caseworker: Option<String>,
    pub team: String,
    pub agency_references: Vec<AgencyReferenceView>,
    pub cases: Vec<VictimCaseSummary>,
    /// References of duplicate records merged into this one; they still resolve here.
    pub merged_refs: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Fields withheld from this caller (contact details outside the victim's own team).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

/// The minimum a linked agency's liaison sees: who the person is, how to communicate with them,
/// their enhanced rights, and the references and cases that concern that agency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyVictimView {
    pub hub_ref: String,
    pub version: i32,
    pub victim_type: VictimType,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub language: Option<String>,
    pub interpreter_needed: bool,
    pub communication_needs: Option<String>,
    pub enhanced_rights: bool,
    pub enhanced_reasons: Vec<EnhancedReasonEntry>,
    /// The agency's own references to the victim.
    pub agency_references: Vec<AgencyReferenceView>,
    /// The victim's cases that concern the agency.
    pub cases: Vec<VictimCaseSummary>,
}

/// A victim record as the caller may see it: whole (or with contact details withheld), or the
/// minimal view of a linked agency.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum VictimRecord {
    Full(Box<VictimView>),
    Agency(Box<AgencyVictimView>),
}

/// A case as listed on a victim's record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VictimCaseSummary {
    pub id: Uuid,
    pub role: CaseRole,
    pub offence_group: OffenceGroup,
    pub date_reported: NaiveDate,
    pub status: CaseStatus,
}

/// A victim in a search result or caseload list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VictimSummary {
    pub hub_ref: String,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub enhanced_rights: bool,
    pub team: String,
    pub assigned_caseworker: Option<String>,
}

/// `POST /victims/{ref}/merge`: merge a duplicate record into this one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"duplicate": "VCH-01234567890", "reason": "Same person: DOB and address match; police created a second record"}))]
pub struct MergeRequest {
    /// Hub reference of the duplicate; it will resolve to this record afterwards.
    #[schema(schema_with = crate::openapi::hub_ref_schema)]
    pub duplicate: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// The result of a merge.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeResult {
    pub survivor: VictimView,
    pub merged_ref: String,
    /// Fields the survivor lacked and took from the duplicate.
    pub filled_fields: Vec<String>,
    pub moved_references: u64,
    pub moved_cases: u64,
}

impl From<&victims::Model> for VictimSummary {
    fn from(m: &victims::Model) -> Self {
        VictimSummary {
            hub_ref: m.hub_ref.clone(),
            given_name: m.given_name.clone(),
            family_name: m.family_name.clone(),
            preferred_name: m.preferred_name.clone(),
            date_of_birth: m.date_of_birth,
            enhanced_rights: m.enhanced_rights,
            team: m.team_code.clone(),
            assigned_caseworker: m.assigned_caseworker.clone(),
        }
    }
}

impl From<&victims::Model> for ContactInput {
    fn from(m: &victims::Model) -> Self {
        let address = Address {
            line1: m.address_line1.clone(),
            line2: m.address_line2.clone(),
            town: m.address_town.clone(),
            postcode: m.address_postcode.clone(),
        };
        ContactInput {
            phone: m.phone.clone(),
            email: m.email.clone(),
            address: (address != Address::default()).then_some(address),
            preferred_channel: m.preferred_channel,
            restrictions: m.contact_restrictions.clone(),
        }
    }
}

#[must_use]
pub fn needs_of(m: &victims::Model) -> Option<NeedsAssessment> {
    m.needs_assessed_on.map(|assessed_on| NeedsAssessment {
        assessed_on,
        assessed_by: m.needs_assessed_by.clone().unwrap_or_default(),
        needs: m.identified_needs.0.clone(),
    })
}

impl From<&victims::Model> for VictimInput {
    /// The writable view a merge patch applies to.
    fn from(m: &victims::Model) -> Self {
        let contact = ContactInput::from(m);
        VictimInput {
            victim_type: Some(m.victim_type),
            given_name: m.given_name.clone(),
            family_name: m.family_name.clone(),
            preferred_name: m.preferred_name.clone(),
            date_of_birth: m.date_of_birth,
            contact: (contact != ContactInput::default()).then_some(contact),
            language: m.language.clone(),
            interpreter_needed: Some(m.interpreter_needed),
            communication_needs: m.communication_needs.clone(),
            ethnicity: m.ethnicity,
            sex: m.sex,
            disability: m.disability,
            enhanced_reasons: Some(m.enhanced_reasons.0.clone()),
            needs_assessment: needs_of(m),
            assigned_caseworker: m.assigned_caseworker.clone(),
            team: Some(m.team_code.clone()),
            agency_references: None,
        }
    }
}
