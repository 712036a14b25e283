//! Scheduled work inside `serve`. tokio-cron-scheduler is only the clock tick: what is due lives
//! in the database, every job is idempotent, and several replicas may tick at once.
use chrono_tz::Europe::London;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::app::AppState;

/// Daily at 02:30 London time: anonymise closed records past their retention.
pub const RETENTION_SCHEDULE: &str = "0 30 2 * * *";

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
    scheduler.start().await?;
    Ok(scheduler)
}
