//! Group commit for read events: a read is answered only once its audit event is committed, and
//! the reads arriving meanwhile share the next commit, so auditing every read costs one
//! transaction per batch rather than one per read. On PostgreSQL a batch is one statement that
//! appends only if the chain's head is where the batch expects it, so no lock is held across
//! round trips and replicas interleave safely.
use chrono::{DateTime, Utc};
use sea_orm::DbBackend;
use tokio::sync::{mpsc, oneshot};

use super::chain::{Actor, Event, Head, append, append_if_head, head, link};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// The most events one commit takes.
const MAX_BATCH: usize = 512;

type Pending = (Actor, Event, DateTime<Utc>, oneshot::Sender<Result<(), String>>);

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
    /// Benchmarks only (`CARE_HUB_UNSAFE_SKIP_READ_AUDIT`): reads are not recorded.
    skip: bool,
}

impl AuditSink {
    /// Starts the writer task on the current runtime.
    #[must_use]
    pub fn start(db: Db, skip: bool) -> Self {
        let (tx, rx) = mpsc::channel::<Pending>(8192);
        if db.backend() == DbBackend::Postgres {
            tokio::spawn(run_postgres(db, rx));
        } else {
            tokio::spawn(run_sqlite(db, rx));
        }
        AuditSink { tx, skip }
    }

    /// Records `event` and waits until it is committed.
    pub async fn record(&self, actor: Actor, event: Event, now: DateTime<Utc>) -> AppResult<()> {
        if self.skip {
            return Ok(());
        }
        let (done, committed) = oneshot::channel();
        let unavailable = || AppError::unavailable("the audit trail cannot be written, so the record is not shown");
        self.tx.send((actor, event, now, done)).await.map_err(|_| unavailable())?;
        committed.await.map_err(|_| unavailable())?.map_err(|_| unavailable())
    }
}

/// Takes what is waiting, up to a batch, after `first`.
fn collect(first: Pending, rx: &mut mpsc::Receiver<Pending>) -> Vec<Pending> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    batch
}

fn finish(batch: Vec<Pending>, result: AppResult<()>) {
    let result = result.map_err(|e| {
        tracing::error!(error = %e, events = batch.len(), "audit events could not be written");
        e.to_string()
    });
    for (_, _, _, done) in batch {
        let _ = done.send(result.clone());
    }
}

fn events(batch: &[Pending]) -> impl Iterator<Item = (&Actor, DateTime<Utc>, Event)> {
    batch.iter().map(|(actor, event, now, _)| (actor, *now, event.clone()))
}

/// SQLite: one batch at a time through the single writer.
async fn run_sqlite(db: Db, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let batch = collect(first, &mut rx);
        let result = async {
            let tx = db.begin_write().await?;
            append(&tx, events(&batch)).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        finish(batch, result);
    }
}

/// PostgreSQL: each batch is linked after the head this writer last left and written in one
/// statement; when another writer (a write transaction, another replica) moved the head
/// meanwhile, the batch is appended as write transactions append, queueing for the head's lock,
/// so a busy chain costs the reads one wait rather than a race they can keep losing.
async fn run_postgres(db: Db, mut rx: mpsc::Receiver<Pending>) {
    let mut known: Option<Head> = None;
    while let Some(first) = rx.recv().await {
        let batch = collect(first, &mut rx);
        let result = write_postgres(&db, &batch, &mut known).await;
        finish(batch, result);
    }
}

async fn write_postgres(db: &Db, batch: &[Pending], known: &mut Option<Head>) -> AppResult<()> {
    let expected = match known.take() {
        Some(h) => h,
        None => head(db.read()).await?,
    };
    let (rows, new_head) = link(&expected, events(batch));
    if append_if_head(db.read(), &rows, &expected, &new_head).await? {
        *known = Some(new_head);
        return Ok(());
    }
    let tx = db.begin_write().await?;
    append(&tx, events(batch)).await?;
    tx.commit().await?;
    Ok(())
}
