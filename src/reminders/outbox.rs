//! The outbox: queue (idempotent on `dedupe_key`), claim (leases; `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer on SQLite), and settle each row after its send.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set,
    Statement,
};
use uuid::Uuid;

use crate::db::Db;
use crate::entities::outbox;
use crate::error::{AppError, AppResult};
use crate::vocab::OutboxStatus;

/// A notification to queue.
#[derive(Clone)]
pub struct Notice {
    pub kind: &'static str,
    pub recipient: String,
    /// What the notice is about (a victim or obligation id, a user for a digest).
    pub about: String,
    /// The due date (or day) it is for: the same notice for a later due date is a new one.
    pub due: chrono::NaiveDate,
    pub subject: String,
    pub body: String,
}

impl Notice {
    /// recipient | kind | subject | due date: a scan that runs twice, or on two replicas, queues one.
    #[must_use]
    pub fn dedupe_key(&self) -> String {
        format!("{}|{}|{}|{}", self.recipient.to_lowercase(), self.kind, self.about, self.due)
    }
}

fn row(n: &Notice, now: DateTime<Utc>) -> outbox::ActiveModel {
    outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        dedupe_key: Set(n.dedupe_key()),
        kind: Set(n.kind.to_owned()),
        recipient: Set(n.recipient.clone()),
        subject: Set(n.subject.clone()),
        body: Set(n.body.clone()),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        attachment_name: Set(None),
        attachment_type: Set(None),
        attachment: Set(None),
    }
}

/// Queues notices, skipping any already queued; returns how many were new.
pub async fn queue(db: &impl ConnectionTrait, notices: &[Notice], now: DateTime<Utc>) -> AppResult<u64> {
    queue_with(db, notices, None, now).await
}

/// As [`queue`], each notice carrying `attachment`.
pub async fn queue_with(
    db: &impl ConnectionTrait,
    notices: &[Notice],
    attachment: Option<&crate::mail::Attachment>,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let mut queued = 0;
    // Attachments are large: fewer rows per statement.
    let per = if attachment.is_some() { 10 } else { 200 };
    for chunk in notices.chunks(per) {
        let rows: Vec<outbox::ActiveModel> = chunk
            .iter()
            .map(|n| {
                let mut r = row(n, now);
                if let Some(a) = attachment {
                    r.attachment_name = Set(Some(a.filename.clone()));
                    r.attachment_type = Set(Some(a.content_type.clone()));
                    r.attachment = Set(Some(a.body.clone()));
                }
                r
            })
            .collect();
        queued += outbox::Entity::insert_many(rows)
            .on_conflict(OnConflict::column(outbox::Column::DedupeKey).do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(queued)
}

/// Which of `keys` are queued already (in any state).
pub async fn queued_keys(db: &impl ConnectionTrait, keys: Vec<String>) -> AppResult<Vec<String>> {
    Ok(outbox::Entity::find()
        .select_only()
        .column(outbox::Column::DedupeKey)
        .filter(outbox::Column::DedupeKey.is_in(keys))
        .into_tuple()
        .all(db)
        .await?)
}

/// Claims up to `limit` rows that are due, or whose previous claimant's lease ran out, for
/// `lease`. Each claim counts as an attempt.
pub async fn claim(db: &Db, now: DateTime<Utc>, lease: Duration, limit: u64) -> AppResult<Vec<outbox::Model>> {
    let backend = db.backend();
    let lock = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let (p1, p2, p3, p4) = if backend == DbBackend::Postgres { ("$1", "$2", "$3", "$4") } else { ("?", "?", "?", "?") };
    let sql = format!(
        "UPDATE outbox SET status = 'sending', lease_until = {p1}, attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM outbox
           WHERE (status = 'pending' AND next_attempt_at <= {p2}) OR (status = 'sending' AND lease_until < {p3})
           ORDER BY next_attempt_at LIMIT {p4} {lock})
         RETURNING id, dedupe_key, kind, recipient, subject, body, status, attempts, next_attempt_at, lease_until,
                   last_error, created_at, sent_at, attachment_name, attachment_type, attachment"
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [(now + lease).into(), now.into(), now.into(), (limit as i64).into()],
    );
    let tx = db.begin_write().await?;
    let rows = outbox::Model::find_by_statement(stmt).all(&tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The send went through: sent. Conditional on still being this claim, so a row another
/// dispatcher re-claimed after a lease ran out is not marked twice.
pub async fn mark_sent(db: &Db, row: &outbox::Model, now: DateTime<Utc>) -> AppResult<()> {
    let tx = db.begin_write().await?;
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, OutboxStatus::Sent.as_str().into())
        .col_expr(outbox::Column::SentAt, Some(now).into())
        .col_expr(outbox::Column::LeaseUntil, Option::<DateTime<Utc>>::None.into())
        .col_expr(outbox::Column::LastError, Option::<String>::None.into())
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Sending))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The send failed: back to pending after `retry_in`, or parked as failed.
pub async fn mark_failed(
    db: &Db,
    row: &outbox::Model,
    error: &str,
    retry_in: Option<Duration>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let (status, next) = match retry_in {
        Some(delay) => (OutboxStatus::Pending, now + delay),
        None => (OutboxStatus::Failed, now),
    };
    let error: String = error.chars().take(1000).collect();
    let tx = db.begin_write().await?;
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, status.as_str().into())
        .col_expr(outbox::Column::NextAttemptAt, next.into())
        .col_expr(outbox::Column::LeaseUntil, Option::<DateTime<Utc>>::None.into())
        .col_expr(outbox::Column::LastError, Some(error).into())
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Sending))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Puts a failed notification back in the queue with fresh attempts (admin).
pub async fn retry(db: &Db, id: Uuid, now: DateTime<Utc>) -> AppResult<outbox::Model> {
    let tx = db.begin_write().await?;
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, OutboxStatus::Pending.as_str().into())
        .col_expr(outbox::Column::Attempts, 0.into())
        .col_expr(outbox::Column::NextAttemptAt, now.into())
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Failed))
        .exec(&tx)
        .await?;
    let row = outbox::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no notification {id}")))?;
    if result.rows_affected == 0 {
        return Err(AppError::conflict(
            "not-failed",
            format!("notification {id} is {}; only failed ones are retried", row.status.as_str()),
        ));
    }
    tx.commit().await?;
    Ok(row)
}

pub async fn list(
    db: &impl ConnectionTrait,
    status: Option<OutboxStatus>,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<outbox::Model>> {
    let mut q = outbox::Entity::find().order_by_desc(outbox::Column::Id).limit(limit + 1);
    if let Some(s) = status {
        q = q.filter(outbox::Column::Status.eq(s));
    }
    if let Some(a) = after {
        q = q.filter(outbox::Column::Id.lt(a));
    }
    Ok(q.all(db).await?)
}
