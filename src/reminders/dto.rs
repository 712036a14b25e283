//! Shapes for the outbox and reminder runs.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::entities::outbox;
use crate::vocab::OutboxStatus;

/// A queued notification. The body is not shown: it holds only hub references, but it is mail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<outbox::Model> for OutboxView {
    fn from(m: outbox::Model) -> Self {
        OutboxView {
            id: m.id,
            kind: m.kind,
            recipient: m.recipient,
            subject: m.subject,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    pub status: Option<OutboxStatus>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// What one due scan queued.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ScanReport {
    /// Victims whose update is overdue by more than the escalation threshold.
    pub overdue_victims: u64,
    /// Open key-decision obligations past their due date.
    pub breached_obligations: u64,
    pub escalations_queued: u64,
    pub digests_queued: u64,
    /// False before the day's digest time (London).
    pub digest_due: bool,
    /// Service issues opened for missed deadlines and long-overdue updates (once each).
    pub issues_opened: u64,
    /// Service issues past their target, escalated now.
    pub issues_escalated: u64,
}

/// `POST /api/v1/reminders/runs` (no options yet).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct ReminderRunRequest {}
