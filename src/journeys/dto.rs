//! Shapes for agency events and journeys.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entities::{journey_events, journeys, outcome_codes};
use crate::vocab::{EventStatus, RefType};

/// How an event names its case: the hub's case id, or an agency reference.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseKey {
    pub case_id: Option<Uuid>,
    /// With `type` and `value`: e.g. a force and its crime reference, the CPS and a URN.
    pub agency: Option<String>,
    #[serde(rename = "type")]
    pub ref_type: Option<RefType>,
    pub value: Option<String>,
}

/// A correction of an earlier event from the same agency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// `retract` (it did not happen) or `supersede` (this event replaces it).
    #[schema(pattern = "^(retract|supersede)$")]
    pub action: String,
    #[schema(max_length = 100, min_length = 1, pattern = r"\S")]
    pub source_event_id: String,
}

/// One event from an agency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The sending agency's code.
    pub source_agency: String,
    /// The agency's own id for the event: sending it again changes nothing.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub source_event_id: String,
    /// A stage code (`GET /api/v1/reference/stages`), or `OUTCOME` with `outcome_code`.
    pub event_type: String,
    #[serde(deserialize_with = "crate::http::micros::required")]
    pub occurred_at: DateTime<Utc>,
    /// When the agency received it (Witness Care clocks start then).
    #[serde(default, deserialize_with = "crate::http::micros::optional")]
    pub received_at: Option<DateTime<Utc>>,
    /// Home Office outcome code (`GET /api/v1/reference/outcome-codes`).
    pub outcome_code: Option<String>,
    /// `TRIAL_INEFFECTIVE` only: the HMCTS reason the listing did not go ahead (W1–W5, X, Q1–Q3,
    /// R, S1–S4, T, U1, U2, V, Y, Z, or the prosecution's M and one or two digits).
    #[schema(pattern = r"^(W[1-5]|X|Q[1-3]|R|S[1-4]|T|U[12]|V|Y|Z|M[0-9]{1,2})$")]
    pub reason_code: Option<String>,
    pub case: CaseKey,
    /// The hub reference of the one victim it concerns; otherwise every victim on the case.
    pub victim: Option<String>,
    pub correction: Option<Correction>,
}

/// Up to 1,000 events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": [{
    "source_agency": "EXAMPLE-POLICE",
    "source_event_id": "NICHE-2026-000123-ARR",
    "event_type": "ARREST_INTERVIEW",
    "occurred_at": "2026-11-12T14:00:00Z",
    "received_at": "2026-11-12T15:00:00Z",
    "case": {"agency": "EXAMPLE-POLICE", "type": "crime_reference", "value": "CR-2026-000123"}
}]}))]
pub struct BatchInput {
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<EventInput>,
}

/// What happened to one event of a batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResult {
    pub source_event_id: String,
    /// `linked`, `unlinked` (queued for linkage), `duplicate` (seen before: nothing changed),
    /// `retracted` or `superseded` (a correction applied).
    pub result: String,
    pub id: Uuid,
    pub case_id: Option<Uuid>,
    pub linkage_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct BatchResult {
    pub linked: u64,
    pub unlinked: u64,
    pub duplicates: u64,
    pub corrections: u64,
    pub events: Vec<EventResult>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    pub source_agency: String,
    pub source_event_id: String,
    pub event_type: String,
    pub outcome_code: Option<String>,
    pub reason_code: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub status: EventStatus,
    pub victim: Option<String>,
    pub case_ref: Option<String>,
    pub linkage_reason: Option<String>,
    pub corrects: Option<String>,
}

impl From<journey_events::Model> for EventView {
    fn from(m: journey_events::Model) -> Self {
        EventView {
            id: m.id,
            source_agency: m.source_agency,
            source_event_id: m.source_event_id,
            event_type: m.event_type,
            outcome_code: m.outcome_code,
            reason_code: m.reason_code,
            occurred_at: m.occurred_at,
            received_at: m.received_at,
            status: m.status,
            victim: m.victim_ref,
            case_ref: m.case_ref,
            linkage_reason: m.linkage_reason,
            corrects: m.corrects,
        }
    }
}

/// One victim's journey through the case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JourneyView {
    pub hub_ref: String,
    pub current_stage: Option<String>,
    pub furthest_stage: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
    pub charged_at: Option<DateTime<Utc>>,
    pub first_hearing_at: Option<DateTime<Utc>>,
    pub trial_listed_at: Option<DateTime<Utc>>,
    pub verdict_at: Option<DateTime<Utc>>,
    pub sentenced_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub action_plan_count: i32,
    pub ineffective_count: i32,
    pub final_outcome: Option<String>,
    pub withdrawn: bool,
    pub withdrawal_stage: Option<String>,
}

impl JourneyView {
    #[must_use]
    pub fn new(hub_ref: String, j: journeys::Model) -> Self {
        JourneyView {
            hub_ref,
            current_stage: j.current_stage,
            furthest_stage: j.furthest_stage,
            reported_at: j.reported_at,
            charged_at: j.charged_at,
            first_hearing_at: j.first_hearing_at,
            trial_listed_at: j.trial_listed_at,
            verdict_at: j.verdict_at,
            sentenced_at: j.sentenced_at,
            ended_at: j.ended_at,
            action_plan_count: j.action_plan_count,
            ineffective_count: j.ineffective_count,
            final_outcome: j.final_outcome,
            withdrawn: j.withdrawn,
            withdrawal_stage: j.withdrawal_stage,
        }
    }
}

/// A case's journeys and its timeline of events (corrected and retracted ones included, marked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseJourney {
    pub case_id: Uuid,
    pub journeys: Vec<JourneyView>,
    pub timeline: Vec<EventView>,
}

/// Attach a queued event to a case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"case_id": "0193a5f0-0000-7000-8000-000000000001"}))]
pub struct ResolveInput {
    pub case_id: Uuid,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeCodeView {
    pub code: String,
    pub label: String,
    pub group: String,
    pub victim_does_not_support: bool,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl From<outcome_codes::Model> for OutcomeCodeView {
    fn from(m: outcome_codes::Model) -> Self {
        OutcomeCodeView {
            code: m.code,
            label: m.label,
            group: m.outcome_group,
            victim_does_not_support: m.victim_does_not_support,
            valid_from: m.valid_from,
            valid_to: m.valid_to,
        }
    }
}
