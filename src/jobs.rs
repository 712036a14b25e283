//! Scheduled work inside `serve`. tokio-cron-scheduler is only the clock tick: what is due lives
//! in the database, every job is idempotent, and several replicas may tick at once.
use chrono_tz::Europe::London;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::app::AppState;

/// Daily at 02:30 London time: anonymise closed records past their retention.
pub const RETENTION_SCHEDULE: &str = "0 30 2 * * *";
/// Daily at 02:45 London time: drop the reports' change-log entries no refresh needs.
pub const CHANGE_LOG_SCHEDULE: &str = "0 45 2 * * *";

pub async fn start(state: AppState) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let retention_state = state.clone();
    scheduler
        .add(Job::new_async_tz(RETENTION_SCHEDULE, London, move |_, _| {
            let state = retention_state.clone();
            Box::pin(async move {
                match crate::retention::service::run(&state.db, state.clock.now(), false).await {
                    Ok(report) => tracing::info!(
                        anonymised = report.anonymised.len(),
                        held = report.held.len(),
                        "retention run done"
                    ),
                    Err(e) => tracing::error!(error = %e, "retention run failed; it will run again tomorrow"),
                }
            })
        })?)
        .await?;
    let log_state = state.clone();
    scheduler
        .add(Job::new_async_tz(CHANGE_LOG_SCHEDULE, London, move |_, _| {
            let state = log_state.clone();
            Box::pin(async move {
                match crate::reports::facts::compact_change_logs(&state.db).await {
                    Ok(deleted) => tracing::info!(deleted, "report change logs compacted"),
                    Err(e) => tracing::error!(error = %e, "cannot compact the report change logs; tomorrow again"),
                }
            })
        })?)
        .await?;
    let scan_state = state.clone();
    scheduler
        .add(Job::new_async_tz(state.config.reminders.scan_schedule.as_str(), London, move |_, _| {
            let state = scan_state.clone();
            Box::pin(async move { due_scan(&state).await })
        })?)
        .await?;
    if !state.config.board_packs.areas.is_empty() {
        let packs_state = state.clone();
        scheduler
            .add(Job::new_async_tz(state.config.board_packs.schedule.as_str(), London, move |_, _| {
                let state = packs_state.clone();
                Box::pin(async move { board_packs(&state).await })
            })?)
            .await?;
    }
    scheduler.start().await?;
    // What fell due while the service was down is queued now, not at the next tick.
    let startup = state.clone();
    tokio::spawn(async move {
        let cfg = &startup.config.reminders;
        match crate::contacts::schedule::backfill(&startup.db, cfg, startup.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(victims = n, "contact schedules created for records that had none"),
            Err(e) => tracing::error!(error = %e, "cannot create missing contact schedules"),
        }
        due_scan(&startup).await;
        // A month's packs missed while the service was down go out now (once: the outbox dedupes).
        if !startup.config.board_packs.areas.is_empty() {
            board_packs(&startup).await;
        }
    });
    if let Some(mailer) = &state.mailer {
        tokio::spawn(crate::reminders::dispatch::run_forever(
            state.db.clone(),
            mailer.clone(),
            state.config.reminders.clone(),
            state.clock.clone(),
            state.dispatch_nudge.clone(),
        ));
    } else {
        tracing::info!("email is disabled: reminders are queued in the outbox but not sent");
    }
    Ok(scheduler)
}

async fn due_scan(state: &AppState) {
    match crate::reminders::scan::run(&state.db, &state.config, state.clock.now()).await {
        Ok(r) => {
            tracing::info!(
                overdue = r.overdue_victims,
                breached = r.breached_obligations,
                escalations = r.escalations_queued,
                digests = r.digests_queued,
                issues_opened = r.issues_opened,
                issues_escalated = r.issues_escalated,
                "due scan done"
            );
            state.dispatch_nudge.notify_one();
        }
        Err(e) => tracing::error!(error = %e, "due scan failed; the next tick tries again"),
    }
}

async fn board_packs(state: &AppState) {
    match crate::reports::board::schedule::run(&state.db, &state.facts, &state.config, state.clock.now()).await {
        Ok(r) => {
            tracing::info!(built = r.built, queued = r.queued, "monthly board packs done");
            state.dispatch_nudge.notify_one();
        }
        Err(e) => tracing::error!(error = %e, "monthly board packs failed; the next start or tick tries again"),
    }
}
