//! Group commit for read events: a read is answered only once its audit event is committed, and
//! the reads arriving meanwhile share the next commit, so auditing every read costs one
//! transaction per batch rather than one per read.
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::chain::{Actor, Event, append};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// The most events one commit takes.
const MAX_BATCH: usize = 512;

type Pending = (Actor, Event, DateTime<Utc>, oneshot::Sender<Result<(), String>>);

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
}

impl AuditSink {
    /// Starts the writer task on the current runtime.
    #[must_use]
    pub fn start(db: Db) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(8192);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let result = write(&db, &batch).await.map_err(|e| {
                    tracing::error!(error = %e, events = batch.len(), "audit events could not be written");
                    e.to_string()
                });
                for (_, _, _, done) in batch.drain(..) {
                    let _ = done.send(result.clone());
                }
            }
        });
        AuditSink { tx }
    }

    /// Records `event` and waits until it is committed.
    pub async fn record(&self, actor: Actor, event: Event, now: DateTime<Utc>) -> AppResult<()> {
        let (done, committed) = oneshot::channel();
        let unavailable = || AppError::unavailable("the audit trail cannot be written, so the record is not shown");
        self.tx.send((actor, event, now, done)).await.map_err(|_| unavailable())?;
        committed.await.map_err(|_| unavailable())?.map_err(|_| unavailable())
    }
}

async fn write(db: &Db, batch: &[Pending]) -> AppResult<()> {
    let tx = db.begin_write().await?;
    append(&tx, batch.iter().map(|(actor, event, now, _)| (actor, *now, event.clone()))).await?;
    tx.commit().await?;
    Ok(())
}
