//! Shapes for service issues.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::entities::{service_issue_actions, service_issues};
use crate::vocab::{IssueActionKind, IssueOutcome, IssueStatus, RaisedBy, Severity};

/// A problem the victim hit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "victim": "VCH-01234567890",
    "category": "wrong_or_changed_information",
    "description": "Victim was given the wrong trial date by letter and attended court on the wrong day.",
    "raised_by": "victim",
    "owner_agency": "EXAMPLE-POLICE",
    "severity": "high",
    "withdrawal_risk": true,
    "code_right": 8
}))]
pub struct IssueInput {
    /// Hub reference.
    #[schema(schema_with = crate::openapi::hub_ref_schema)]
    pub victim: String,
    /// A case the victim is on.
    pub case_id: Option<Uuid>,
    /// A category code (`GET /api/v1/service-issue-categories`).
    pub category: String,
    #[schema(max_length = 4000, min_length = 1, pattern = r"\S")]
    pub description: String,
    /// Who raised it (default `caseworker`; `automatic` is the hub's own).
    #[schema(schema_with = raised_by_caller)]
    pub raised_by: Option<RaisedBy>,
    /// The agency that must put it right.
    pub owner_agency: Option<String>,
    /// The person who owns it (default: the caller).
    #[schema(max_length = 200)]
    pub owner_person: Option<String>,
    pub severity: Severity,
    /// The victim says they may withdraw.
    #[serde(default)]
    pub withdrawal_risk: bool,
    /// The Victims' Code right it concerns, 1 to 12.
    #[schema(minimum = 1, maximum = 12)]
    pub code_right: Option<i32>,
}

/// The fields of an issue a PATCH may change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueChanges {
    pub category: String,
    #[schema(max_length = 4000, min_length = 1, pattern = r"\S")]
    pub description: String,
    pub owner_agency: Option<String>,
    #[schema(max_length = 200)]
    pub owner_person: Option<String>,
    pub severity: Severity,
    pub withdrawal_risk: bool,
    pub code_right: Option<i32>,
}

pub struct IssuePatch;

impl utoipa::__dev::ComposeSchema for IssuePatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(
            IssueChanges::schema(),
            &[],
            serde_json::json!({"severity": "critical", "withdrawal_risk": true}),
        )
    }
}

impl ToSchema for IssuePatch {}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssueView {
    pub id: Uuid,
    pub victim: String,
    pub case_id: Option<Uuid>,
    pub team: String,
    pub category: String,
    pub description: String,
    pub raised_by: RaisedBy,
    pub raised_by_user: String,
    pub owner_agency: Option<String>,
    pub owner_person: Option<String>,
    pub severity: Severity,
    pub withdrawal_risk: bool,
    pub code_right: Option<i32>,
    pub opened_at: DateTime<Utc>,
    /// Resolve by the end of this day (working days from opening, by severity).
    pub target_on: NaiveDate,
    pub overdue: bool,
    pub status: IssueStatus,
    pub resolution_outcome: Option<IssueOutcome>,
    pub victim_stayed_engaged: Option<bool>,
    pub complaint_reference: Option<String>,
    /// A formal complaint must be acknowledged within 10 working days (Right 12).
    pub complaint_ack_due: Option<NaiveDate>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub actions: Vec<ActionView>,
}

impl IssueView {
    #[must_use]
    pub fn new(m: service_issues::Model, victim: String, today: NaiveDate, actions: Vec<ActionView>) -> Self {
        IssueView {
            overdue: matches!(m.status, IssueStatus::Open | IssueStatus::InProgress | IssueStatus::Escalated)
                && today > m.target_on,
            id: m.id,
            victim,
            case_id: m.case_id,
            team: m.team_code,
            category: m.category,
            description: m.description,
            raised_by: m.raised_by_kind,
            raised_by_user: m.raised_by,
            owner_agency: m.owner_agency,
            owner_person: m.owner_person,
            severity: m.severity,
            withdrawal_risk: m.withdrawal_risk,
            code_right: m.code_right,
            opened_at: m.opened_at,
            target_on: m.target_on,
            status: m.status,
            resolution_outcome: m.resolution_outcome,
            victim_stayed_engaged: m.victim_stayed_engaged,
            complaint_reference: m.complaint_reference,
            complaint_ack_due: m.complaint_ack_due,
            escalated_at: m.escalated_at,
            resolved_at: m.resolved_at,
            closed_at: m.closed_at,
            version: m.version,
            actions,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionView {
    pub id: Uuid,
    pub kind: String,
    pub note: Option<String>,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
}

impl From<service_issue_actions::Model> for ActionView {
    fn from(m: service_issue_actions::Model) -> Self {
        ActionView {
            id: m.id,
            kind: m.kind,
            note: m.note,
            from_status: m.from_status,
            to_status: m.to_status,
            at: m.at,
            by: m.by,
        }
    }
}

/// How the issue ended (needed to resolve it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub outcome: IssueOutcome,
    pub victim_stayed_engaged: bool,
    /// When it became a formal complaint: its reference.
    #[schema(max_length = 100)]
    pub complaint_reference: Option<String>,
}

/// Move an issue to another state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "in_progress", "note": "Called the Witness Care Unit; corrected date confirmed in writing."}))]
pub struct TransitionInput {
    pub to: IssueStatus,
    #[schema(max_length = 4000)]
    pub note: Option<String>,
    /// Required when resolving.
    pub resolution: Option<Resolution>,
}

/// Something done about an issue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "agency_chased", "note": "Emailed the court listing office for the corrected date."}))]
pub struct ActionInput {
    pub kind: IssueActionKind,
    #[schema(max_length = 4000, min_length = 1, pattern = r"\S")]
    pub note: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IssueParams {
    pub status: Option<IssueStatus>,
    pub severity: Option<Severity>,
    pub category: Option<String>,
    pub owner_agency: Option<String>,
    /// Admins: one team (others always see their own).
    pub team: Option<String>,
    /// Only issues past their target and not yet resolved.
    pub overdue: Option<bool>,
    /// Hub reference: one victim's issues.
    pub victim: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// An issue category.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "digital_device_not_returned", "name": "Phone or device not returned"}))]
pub struct CategoryInput {
    /// snake_case, up to 60.
    #[schema(pattern = r"^\s*[a-z0-9_]{1,60}\s*$")]
    pub code: String,
    #[schema(max_length = 200, min_length = 1, pattern = r"\S")]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryView {
    pub code: String,
    pub name: String,
    pub active: bool,
}

/// Who may be named as raising an issue over the API (`automatic` issues are the hub's own).
fn raised_by_caller() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["victim", "caseworker", "agency"]))
        .build()
}
