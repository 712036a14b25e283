//! The dispatcher: claims due outbox rows, sends each over SMTP, and settles it. A row is marked
//! sent right after the server accepts it, so a dispatcher that dies resends at most the message
//! it had in flight (after its lease runs out); SMTP offers no way to close that window, and the
//! deterministic Message-ID lets a receiver spot the duplicate.
use std::sync::Arc;

use chrono::Duration;
use futures::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::outbox;
use crate::clock::Clock;
use crate::config::ReminderConfig;
use crate::db::Db;
use crate::entities::outbox as outbox_row;
use crate::error::AppResult;
use crate::mail::{Mailer, OutgoingEmail, SendError};

/// Rows claimed per round.
const CLAIM: u64 = 50;

/// What one drain of the outbox did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DispatchReport {
    pub sent: u64,
    /// Failed for now; queued again with a delay.
    pub retrying: u64,
    /// Parked as failed (a permanent refusal, or out of attempts).
    pub failed: u64,
}

/// The delay before attempt `attempts + 1`: `base` doubled per attempt, at most an hour.
#[must_use]
pub fn backoff(base: std::time::Duration, attempts: i32) -> Duration {
    let factor = 1u32 << attempts.clamp(1, 16).saturating_sub(1);
    let delay = base.saturating_mul(factor).min(std::time::Duration::from_hours(1));
    Duration::from_std(delay).unwrap_or(Duration::hours(1))
}

enum Outcome {
    Sent,
    Retrying,
    Failed,
}

async fn send_one(
    db: &Db,
    mailer: &Mailer,
    cfg: &ReminderConfig,
    clock: &dyn Clock,
    row: outbox_row::Model,
) -> AppResult<Outcome> {
    let email = OutgoingEmail {
        to: row.recipient.clone(),
        subject: row.subject.clone(),
        body: row.body.clone(),
        message_id: mailer.message_id(row.id),
        attachment: match (&row.attachment_name, &row.attachment_type, &row.attachment) {
            (Some(filename), Some(content_type), Some(body)) => Some(crate::mail::Attachment {
                filename: filename.clone(),
                content_type: content_type.clone(),
                body: body.clone(),
            }),
            _ => None,
        },
    };
    match mailer.send(&email).await {
        Ok(()) => {
            settle(|| outbox::mark_sent(db, &row, clock.now())).await?;
            Ok(Outcome::Sent)
        }
        Err(SendError::Transient(e)) if row.attempts < cfg.max_attempts => {
            tracing::warn!(id = %row.id, attempts = row.attempts, error = %e, "send failed; will retry");
            let retry_in = Some(backoff(cfg.retry_base, row.attempts));
            settle(|| outbox::mark_failed(db, &row, &e, retry_in, clock.now())).await?;
            Ok(Outcome::Retrying)
        }
        Err(SendError::Transient(e) | SendError::Permanent(e)) => {
            tracing::error!(id = %row.id, attempts = row.attempts, error = %e, "notification parked as failed");
            settle(|| outbox::mark_failed(db, &row, &e, None, clock.now())).await?;
            Ok(Outcome::Failed)
        }
    }
}

/// Records a send's outcome, retrying while the database is out (restarting, unreachable): the
/// message has gone, and a row left `sending` would be sent again once its lease ran out. Waiting
/// here holds up only this dispatcher, which could claim nothing while the database is out anyway.
async fn settle<F, Fut>(mut record: F) -> AppResult<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<()>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match record().await {
            Err(e) if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %e, "cannot record a send's outcome yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// Sends everything due now, until nothing claimable is left.
pub async fn drain(db: &Db, mailer: &Mailer, cfg: &ReminderConfig, clock: &dyn Clock) -> AppResult<DispatchReport> {
    let lease = Duration::from_std(cfg.lease).unwrap_or(Duration::minutes(2));
    let mut report = DispatchReport::default();
    loop {
        let rows = outbox::claim(db, clock.now(), lease, CLAIM).await?;
        if rows.is_empty() {
            return Ok(report);
        }
        let results: Vec<AppResult<Outcome>> = futures::stream::iter(rows)
            .map(|row| send_one(db, mailer, cfg, clock, row))
            .buffer_unordered(cfg.dispatch_concurrency)
            .collect()
            .await;
        for r in results {
            match r? {
                Outcome::Sent => report.sent += 1,
                Outcome::Retrying => report.retrying += 1,
                Outcome::Failed => report.failed += 1,
            }
        }
    }
}

/// The dispatcher inside `serve`: drains the outbox, then waits for a nudge or a few seconds.
pub async fn run_forever(
    db: Db,
    mailer: Mailer,
    cfg: ReminderConfig,
    clock: Arc<dyn Clock>,
    nudge: Arc<tokio::sync::Notify>,
) {
    loop {
        match drain(&db, &mailer, &cfg, clock.as_ref()).await {
            Ok(r) if r.sent + r.retrying + r.failed > 0 => {
                tracing::info!(sent = r.sent, retrying = r.retrying, failed = r.failed, "outbox drained");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "dispatcher round failed; trying again shortly"),
        }
        tokio::select! {
            () = nudge.notified() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
    }
}
