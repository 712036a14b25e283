//! Request and response shapes for contacts, contact plans and due work.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::entities::contacts;
use crate::vocab::{Channel, ContactDirection, ContactKind, ContactOutcome, UpdateStatus};

/// A contact with the victim, or an attempt at one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "occurred_at": "2026-11-13T10:30:00Z",
    "channel": "phone",
    "direction": "outbound",
    "outcome": "reached",
    "kind": "routine_update",
    "summary": "Explained the investigation is ongoing; next update agreed for the week of 7 December."
}))]
pub struct ContactRecordInput {
    /// When it happened; not in the future.
    #[serde(deserialize_with = "crate::http::micros::required")]
    pub occurred_at: DateTime<Utc>,
    pub channel: Channel,
    /// Default `outbound`.
    pub direction: Option<ContactDirection>,
    pub outcome: ContactOutcome,
    pub kind: ContactKind,
    /// What was said (up to 4,000 characters).
    #[schema(max_length = 4000)]
    pub summary: Option<String>,
    /// Who made or took the contact, if not the caller (a user id or a name; up to 200 characters).
    #[schema(max_length = 200)]
    pub contact_by: Option<String>,
    /// The agency that made the contact, if any (an agency code).
    #[schema(pattern = r"^\s*[A-Za-z0-9][A-Za-z0-9_-]{1,31}\s*$")]
    pub agency: Option<String>,
    /// The case it was about; one the victim is on.
    pub case_id: Option<Uuid>,
    /// Open obligations of this victim the contact discharges; only a reached contact can.
    pub discharges: Option<Vec<Uuid>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactRecordView {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub channel: Channel,
    pub direction: ContactDirection,
    pub outcome: ContactOutcome,
    pub kind: ContactKind,
    pub summary: Option<String>,
    pub contact_by: String,
    pub agency: Option<String>,
    pub case_id: Option<Uuid>,
    pub discharges: Vec<Uuid>,
    /// Whether it counts as an update: reached, and a routine update or key decision.
    pub counts_as_update: bool,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

impl From<contacts::Model> for ContactRecordView {
    fn from(m: contacts::Model) -> Self {
        ContactRecordView {
            id: m.id,
            counts_as_update: crate::contacts::schedule::counts_as_update(m.outcome, m.kind),
            occurred_at: m.occurred_at,
            channel: m.channel,
            direction: m.direction,
            outcome: m.outcome,
            kind: m.kind,
            summary: m.summary,
            contact_by: m.contact_by,
            agency: m.agency_code,
            case_id: m.case_id,
            discharges: m.discharges.0,
            recorded_at: m.recorded_at,
            recorded_by: m.recorded_by,
        }
    }
}

/// Contact is unsafe: routine updates stop until the review date.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    #[schema(max_length = 1000, min_length = 1, pattern = r"\S")]
    pub reason: String,
    /// When to look at it again; today or later.
    pub review_on: NaiveDate,
}

/// The victim asked not to receive routine updates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    pub on: NaiveDate,
    #[schema(max_length = 1000, min_length = 1, pattern = r"\S")]
    pub reason: String,
}

/// How often and how the victim agreed to be updated.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "interval_days": 14,
    "preferred_channel": "phone",
    "preferred_times": "weekday evenings after 6pm",
    "suspension": null,
    "routine_opt_out": null,
    "key_decisions_opt_out": false
}))]
pub struct PlanInput {
    /// Days between routine updates, 1 to 28.
    #[schema(minimum = 1, maximum = 28)]
    pub interval_days: i32,
    pub preferred_channel: Option<Channel>,
    #[schema(max_length = 200)]
    pub preferred_times: Option<String>,
    pub suspension: Option<Suspension>,
    pub routine_opt_out: Option<OptOut>,
    /// Also opted out of key decisions (arrest, charge, hearing dates, outcome): no obligations are owed.
    #[serde(default)]
    pub key_decisions_opt_out: bool,
}

/// The plan, and where the victim's updates stand today.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanView {
    pub hub_ref: String,
    pub interval_days: i32,
    pub preferred_channel: Option<Channel>,
    pub preferred_times: Option<String>,
    pub suspension: Option<Suspension>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub routine_opt_out: Option<OptOut>,
    pub key_decisions_opt_out: bool,
    /// False while the victim has no plan of their own and the default applies.
    pub agreed: bool,
    pub status: UpdateStatus,
    pub last_update_at: Option<DateTime<Utc>>,
    /// When the next routine update is due (none while suspended, opted out or closed).
    pub next_due_on: Option<NaiveDate>,
    /// Contacts that did not reach the victim since the last update.
    pub attempts_since_last_update: u64,
    pub version: i32,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// What makes an item of due work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueKind {
    /// An outcome says the victim does not support action, and nobody has evidenced it: contact them.
    UnevidencedWithdrawal,
    UpdateOverdue,
    ObligationOverdue,
    ObligationDue,
    UpdateDueSoon,
    SuspensionReviewDue,
}

/// One thing the caller should do, most urgent first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DueItem {
    pub kind: DueKind,
    pub hub_ref: String,
    pub due_on: NaiveDate,
    /// Days past due (negative: days left).
    pub days_overdue: i64,
    pub obligation_id: Option<Uuid>,
    /// The obligation's rule, e.g. `R6_ARREST`.
    pub rule: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DueParams {
    /// Supervisors: `team` for the whole team's caseload (default: their own).
    #[param(pattern = "^(mine|team)$")]
    pub scope: Option<String>,
    /// At most this many items, 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}
