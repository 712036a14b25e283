//! Request and response shapes for obligations, their rules and the calendar.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::clock::london_date;
use crate::entities::{obligation_rules, obligations};
use crate::vocab::{AgencyKind, ClockStarts, ObligationStatus};

/// A Victims' Code deadline rule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "R6_WARRANT",
    "code_ref": "R6",
    "trigger_event": "warrant_issued",
    "description": "Tell the victim an arrest warrant was issued",
    "responsible": "police_force",
    "working_days_standard": 5,
    "working_days_enhanced": 1,
    "clock_starts": "event",
    "key_decision": true,
    "active": true
}))]
pub struct RuleInput {
    /// Upper case letters, digits and `_`, up to 40.
    #[schema(pattern = r"^\s*[A-Za-z0-9_]{1,40}\s*$")]
    pub code: String,
    /// The Victims' Code right, e.g. `R6`.
    #[schema(min_length = 1, max_length = 10)]
    pub code_ref: String,
    /// The event that starts the clock: lower-case snake_case, up to 60.
    #[schema(pattern = r"^\s*[a-z0-9_]{1,60}\s*$")]
    pub trigger_event: String,
    #[schema(max_length = 500, min_length = 1, pattern = r"\S")]
    pub description: String,
    pub responsible: AgencyKind,
    #[schema(minimum = 0, maximum = 60)]
    pub working_days_standard: i32,
    #[schema(minimum = 0, maximum = 60)]
    pub working_days_enhanced: i32,
    pub clock_starts: ClockStarts,
    pub key_decision: bool,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    pub code: String,
    pub code_ref: String,
    pub trigger_event: String,
    pub description: String,
    pub responsible: AgencyKind,
    pub working_days_standard: i32,
    pub working_days_enhanced: i32,
    pub clock_starts: ClockStarts,
    pub key_decision: bool,
    pub active: bool,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<obligation_rules::Model> for RuleView {
    fn from(m: obligation_rules::Model) -> Self {
        RuleView {
            code: m.code,
            code_ref: m.code_ref,
            trigger_event: m.trigger_event,
            description: m.description,
            responsible: m.responsible,
            working_days_standard: m.working_days_standard,
            working_days_enhanced: m.working_days_enhanced,
            clock_starts: m.clock_starts,
            key_decision: m.key_decision,
            active: m.active,
            version: m.version,
            updated_at: m.updated_at,
            updated_by: m.updated_by,
        }
    }
}

pub struct RulePatch;

impl utoipa::__dev::ComposeSchema for RulePatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(
            RuleInput::schema(),
            &["code"],
            serde_json::json!({"working_days_standard": 5, "working_days_enhanced": 1}),
        )
    }
}

impl ToSchema for RulePatch {}

/// A key event a caseworker records (agencies send theirs as journey events).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "event": "arrest",
    "occurred_at": "2026-11-12T16:00:00Z",
    "received_at": "2026-11-13T09:00:00Z"
}))]
pub struct KeyEventInput {
    /// A trigger named by an active rule (`GET /api/v1/obligation-rules`), e.g. `arrest`, `hearing_listed`.
    #[schema(max_length = 60, min_length = 1, pattern = r"\S")]
    pub event: String,
    #[serde(deserialize_with = "crate::http::micros::required")]
    pub occurred_at: DateTime<Utc>,
    /// When the responsible agency received it; rules whose clock starts on receipt need it
    /// (default: `occurred_at`).
    #[serde(default, deserialize_with = "crate::http::micros::optional")]
    pub received_at: Option<DateTime<Utc>>,
    pub case_id: Option<Uuid>,
    /// The agency's own id for the event: recording the same id twice creates nothing new.
    #[schema(max_length = 150)]
    pub source_event_id: Option<String>,
}

/// An obligation to inform the victim, and whether it was met.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObligationView {
    pub id: Uuid,
    pub rule: String,
    pub trigger_event: String,
    pub case_id: Option<Uuid>,
    pub event_occurred_at: DateTime<Utc>,
    pub event_received_at: Option<DateTime<Utc>>,
    pub clock_started_on: NaiveDate,
    pub enhanced: bool,
    pub working_days: i32,
    pub due_on: NaiveDate,
    pub status: ObligationStatus,
    pub discharged_at: Option<DateTime<Utc>>,
    pub discharged_by_contact: Option<Uuid>,
    pub waived_reason: Option<String>,
    /// Discharged after the due date, or still open after it.
    pub breached: bool,
}

impl ObligationView {
    #[must_use]
    pub fn new(m: obligations::Model, today: NaiveDate) -> Self {
        ObligationView {
            breached: breached(&m, today),
            id: m.id,
            rule: m.rule_code,
            trigger_event: m.trigger_event,
            case_id: m.case_id,
            event_occurred_at: m.event_occurred_at,
            event_received_at: m.event_received_at,
            clock_started_on: m.clock_started_on,
            enhanced: m.enhanced,
            working_days: m.working_days,
            due_on: m.due_on,
            status: m.status,
            discharged_at: m.discharged_at,
            discharged_by_contact: m.discharged_by,
            waived_reason: m.waived_reason,
        }
    }
}

/// A breach: discharged on a London day after the due date, or open once the due date has passed.
#[must_use]
pub fn breached(m: &obligations::Model, today: NaiveDate) -> bool {
    match (m.status, m.discharged_at) {
        (ObligationStatus::Discharged, Some(at)) => london_date(at) > m.due_on,
        (ObligationStatus::Open, _) => today > m.due_on,
        _ => false,
    }
}

/// What a recorded key event created.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyEventResult {
    pub hub_ref: String,
    pub obligations: Vec<ObligationView>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ObligationParams {
    pub status: Option<ObligationStatus>,
}

/// One bank holiday.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    pub date: NaiveDate,
    pub title: String,
}

/// The calendar, in GOV.UK's `bank-holidays.json` shape for England and Wales.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "division": "england-and-wales",
    "events": [{"date": "2026-12-25", "title": "Christmas Day"}, {"date": "2026-12-28", "title": "Boxing Day"}]
}))]
pub struct HolidayList {
    /// Only `england-and-wales` is used.
    #[schema(pattern = "^england-and-wales$")]
    pub division: String,
    #[schema(min_items = 1)]
    pub events: Vec<Holiday>,
}
