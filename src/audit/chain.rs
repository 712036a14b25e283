//! The hash chain: appending events in order and checking that nothing was altered, removed or
//! reordered since.
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::entities::audit_events::{self, Ids, Names};
use crate::entities::audit_head;
use crate::error::{AppError, AppResult};
use crate::vocab::{AuditAction, AuditOutcome, Role};

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted: a signed-in caller, or the service itself (a job), or someone failing to sign in.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub id: String,
    pub role: Option<Role>,
    pub team: Option<String>,
    pub agency: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Actor {
            id: p.sub.clone(),
            role: Some(p.role),
            team: p.team.clone(),
            agency: p.agency.clone(),
            reason: p.meta.reason.clone(),
            request_id: p.meta.request_id.clone(),
            client_addr: p.meta.client_addr.clone(),
        }
    }
}

/// One audited action.
#[derive(Clone, Debug)]
pub struct Event {
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub victim_id: Option<Uuid>,
    pub subjects: Vec<Uuid>,
    pub fields: Vec<String>,
    pub break_glass: bool,
}

impl Event {
    #[must_use]
    pub fn new(action: AuditAction, resource_type: &'static str) -> Self {
        Event {
            action,
            outcome: AuditOutcome::Success,
            resource_type,
            resource_id: None,
            victim_id: None,
            subjects: Vec::new(),
            fields: Vec::new(),
            break_glass: false,
        }
    }

    #[must_use]
    pub fn resource(mut self, id: impl std::fmt::Display) -> Self {
        self.resource_id = Some(id.to_string());
        self
    }

    /// The event is about one victim.
    #[must_use]
    pub fn victim(mut self, id: Uuid) -> Self {
        self.victim_id = Some(id);
        self.subjects = Vec::new();
        self
    }

    /// The event touched these victims' data (a search, a case with several victims). One victim
    /// is kept as `victim_id` alone; `subjects` lists two or more.
    #[must_use]
    pub fn subjects(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        let ids: Vec<Uuid> = ids.into_iter().collect();
        if let [one] = ids.as_slice() {
            self.victim(*one)
        } else {
            self.victim_id = None;
            self.subjects = ids;
            self
        }
    }

    /// The fields read or written.
    #[must_use]
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    #[must_use]
    pub fn failed(mut self) -> Self {
        self.outcome = AuditOutcome::Failure;
        self
    }

    /// A supervisor opened a record outside their team: flagged for review.
    #[must_use]
    pub fn break_glass(mut self, yes: bool) -> Self {
        self.break_glass = yes;
        self
    }
}

/// The SHA-256, hex, of every field of `e` but its own hash, in a fixed order and format.
#[must_use]
pub fn digest(e: &audit_events::Model) -> String {
    #[derive(Serialize)]
    struct Canonical<'a>(
        i64,
        String,
        &'a str,
        &'a Option<String>,
        &'a Option<String>,
        &'a Option<String>,
        String,
        String,
        &'a str,
        &'a Option<String>,
        Option<String>,
        Vec<String>,
        &'a [String],
        &'a Option<String>,
        bool,
        &'a Option<String>,
        &'a Option<String>,
        &'a str,
    );
    let canonical = Canonical(
        e.seq,
        e.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        &e.actor,
        &e.actor_role,
        &e.actor_team,
        &e.actor_agency,
        e.action.as_str(),
        e.outcome.as_str(),
        &e.resource_type,
        &e.resource_id,
        e.victim_id.map(|v| v.to_string()),
        e.subjects.0.iter().map(Uuid::to_string).collect(),
        &e.fields.0,
        &e.reason,
        e.break_glass,
        &e.request_id,
        &e.client_addr,
        &e.prev_hash,
    );
    let bytes = serde_json::to_vec(&canonical).expect("plain data serialises");
    hex::encode(Sha256::digest(bytes))
}

/// Records one event within `db`'s transaction, so it commits or rolls back with the action.
pub async fn record(db: &impl ConnectionTrait, actor: &Actor, now: DateTime<Utc>, event: Event) -> AppResult<()> {
    append(db, [(actor, now, event)]).await
}

/// The chain's end: the last sequence number and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// Links events after `head`: each gets the next sequence number and a hash over itself and the
/// previous hash. Returns the events and the new head.
pub fn link<'a>(
    head: &Head,
    events: impl IntoIterator<Item = (&'a Actor, DateTime<Utc>, Event)>,
) -> (Vec<audit_events::Model>, Head) {
    let (mut seq, mut prev) = (head.seq, head.hash.clone());
    let mut rows = Vec::new();
    for (actor, now, e) in events {
        seq += 1;
        let mut model = audit_events::Model {
            seq,
            occurred_at: now,
            actor: actor.id.clone(),
            actor_role: actor.role.map(Role::as_str),
            actor_team: actor.team.clone(),
            actor_agency: actor.agency.clone(),
            action: e.action,
            outcome: e.outcome,
            resource_type: e.resource_type.to_owned(),
            resource_id: e.resource_id,
            victim_id: e.victim_id,
            subjects: Ids(e.subjects),
            fields: Names(e.fields),
            reason: actor.reason.clone(),
            break_glass: e.break_glass,
            request_id: actor.request_id.clone(),
            client_addr: actor.client_addr.clone(),
            prev_hash: std::mem::take(&mut prev),
            hash: String::new(),
        };
        model.hash = digest(&model);
        prev.clone_from(&model.hash);
        rows.push(model);
    }
    (rows, Head { seq, hash: prev })
}

fn batch_json(rows: &[audit_events::Model]) -> AppResult<String> {
    serde_json::to_string(&rows.iter().map(Row::from).collect::<Vec<_>>()).map_err(|e| AppError::internal(e.into()))
}

/// The chain's head as stored.
pub async fn head(db: &impl ConnectionTrait) -> AppResult<Head> {
    let h = audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("audit head row missing")))?;
    Ok(Head { seq: h.seq, hash: h.hash })
}

/// Appends events to the chain within `db`'s transaction. On PostgreSQL the head row is locked
/// until the transaction ends, so concurrent appenders queue; SQLite has one writer anyway.
pub async fn append<'a>(
    db: &impl ConnectionTrait,
    events: impl IntoIterator<Item = (&'a Actor, DateTime<Utc>, Event)>,
) -> AppResult<()> {
    let backend = db.get_database_backend();
    let mut head_query = audit_head::Entity::find_by_id(1);
    if backend == DbBackend::Postgres {
        head_query = head_query.lock_exclusive();
    }
    let head =
        head_query.one(db).await?.ok_or_else(|| AppError::internal(anyhow::anyhow!("audit head row missing")))?;
    let expected = Head { seq: head.seq, hash: head.hash };
    let (rows, new_head) = link(&expected, events);
    if rows.is_empty() {
        return Ok(());
    }
    if backend == DbBackend::Postgres {
        // The events and the head's move in one statement; it cannot miss, as the head is locked.
        if !append_if_head(db, &rows, &expected, &new_head).await? {
            return Err(AppError::internal(anyhow::anyhow!("the locked audit head moved")));
        }
        return Ok(());
    }
    // Plain multi-row inserts in a few fixed sizes: each size's statement stays prepared.
    let mut rows = rows.into_iter().map(sea_orm::IntoActiveModel::into_active_model).peekable();
    while rows.peek().is_some() {
        let size = [64, 16, 4, 1].into_iter().find(|s| *s <= rows.len()).unwrap_or(1);
        audit_events::Entity::insert_many(rows.by_ref().take(size)).exec_without_returning(db).await?;
    }
    audit_head::Entity::update(audit_head::ActiveModel {
        id: Set(1),
        seq: Set(new_head.seq),
        hash: Set(new_head.hash),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// PostgreSQL only: writes events linked after `expected` (see [`link`]) in one statement that
/// also moves the head to `new_head`, but only if the head is still `expected`. One round trip
/// and no transaction held open; false when another writer moved the head first.
pub async fn append_if_head(
    db: &impl ConnectionTrait,
    rows: &[audit_events::Model],
    expected: &Head,
    new_head: &Head,
) -> AppResult<bool> {
    if rows.is_empty() {
        return Ok(true);
    }
    let sql = format!(
        "WITH moved AS (UPDATE audit_head SET seq = $2, hash = $3 WHERE id = 1 AND seq = $4 AND hash = $5 RETURNING 1) \
         {INSERT_FROM_JSON} WHERE EXISTS (SELECT 1 FROM moved)"
    );
    let values: [Value; 5] = [
        batch_json(rows)?.into(),
        new_head.seq.into(),
        new_head.hash.clone().into(),
        expected.seq.into(),
        expected.hash.clone().into(),
    ];
    let written =
        db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?.rows_affected();
    Ok(written == rows.len() as u64)
}

/// An event as PostgreSQL's insert reads it: the whole batch is one JSON parameter, so the
/// statement text is the same whatever the batch size and stays prepared.
#[derive(Serialize)]
struct Row<'a> {
    seq: i64,
    occurred_at: String,
    actor: &'a str,
    actor_role: &'a Option<String>,
    actor_team: &'a Option<String>,
    actor_agency: &'a Option<String>,
    action: String,
    outcome: String,
    resource_type: &'a str,
    resource_id: &'a Option<String>,
    victim_id: Option<Uuid>,
    subjects: &'a [Uuid],
    fields: &'a [String],
    reason: &'a Option<String>,
    break_glass: bool,
    request_id: &'a Option<String>,
    client_addr: &'a Option<String>,
    prev_hash: &'a str,
    hash: &'a str,
}

impl<'a> From<&'a audit_events::Model> for Row<'a> {
    fn from(m: &'a audit_events::Model) -> Self {
        Row {
            seq: m.seq,
            occurred_at: m.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            actor: &m.actor,
            actor_role: &m.actor_role,
            actor_team: &m.actor_team,
            actor_agency: &m.actor_agency,
            action: m.action.as_str(),
            outcome: m.outcome.as_str(),
            resource_type: &m.resource_type,
            resource_id: &m.resource_id,
            victim_id: m.victim_id,
            subjects: &m.subjects.0,
            fields: &m.fields.0,
            reason: &m.reason,
            break_glass: m.break_glass,
            request_id: &m.request_id,
            client_addr: &m.client_addr,
            prev_hash: &m.prev_hash,
            hash: &m.hash,
        }
    }
}

const INSERT_FROM_JSON: &str = "INSERT INTO audit_events (seq, occurred_at, actor, actor_role, actor_team, \
    actor_agency, action, outcome, resource_type, resource_id, victim_id, subjects, fields, reason, break_glass, \
    request_id, client_addr, prev_hash, hash) SELECT seq, occurred_at, actor, actor_role, actor_team, actor_agency, action, \
    outcome, resource_type, resource_id, victim_id, subjects, fields, reason, break_glass, request_id, client_addr, \
    prev_hash, hash FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, occurred_at timestamptz, actor text, \
    actor_role text, actor_team text, actor_agency text, action text, outcome text, resource_type text, resource_id text, \
    victim_id uuid, subjects jsonb, fields jsonb, reason text, break_glass boolean, request_id text, client_addr text, \
    prev_hash text, hash text)";

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Break {
    /// Sequence number of the first bad event (or of the first missing one).
    pub seq: i64,
    /// `altered`, `missing`, `reordered` or `truncated`.
    pub problem: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub events_checked: i64,
    pub head_seq: i64,
    pub first_break: Option<Break>,
}

/// Walks the whole chain in order, recomputing every hash.
pub async fn verify(db: &impl ConnectionTrait) -> AppResult<Verification> {
    let head = audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("audit head row missing")))?;
    let (mut expected, mut prev, mut checked) = (1i64, GENESIS.to_owned(), 0i64);
    let broken = |checked: i64, seq: i64, problem: &str, detail: String| Verification {
        ok: false,
        events_checked: checked,
        head_seq: head.seq,
        first_break: Some(Break { seq, problem: problem.into(), detail }),
    };
    loop {
        // Events appended while the walk runs lie beyond the head read at its start: the next
        // verification checks them.
        let page = audit_events::Entity::find()
            .filter(audit_events::Column::Seq.gte(expected))
            .filter(audit_events::Column::Seq.lte(head.seq))
            .order_by_asc(audit_events::Column::Seq)
            .limit(1000)
            .all(db)
            .await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if e.seq != expected {
                return Ok(broken(
                    checked,
                    expected,
                    "missing",
                    format!("event {expected} is missing; the next present is {}", e.seq),
                ));
            }
            if e.prev_hash != prev {
                return Ok(broken(
                    checked,
                    e.seq,
                    "reordered",
                    format!("event {} does not follow event {}", e.seq, e.seq - 1),
                ));
            }
            if digest(&e) != e.hash {
                return Ok(broken(checked, e.seq, "altered", format!("event {} does not match its hash", e.seq)));
            }
            prev = e.hash;
            expected += 1;
            checked += 1;
        }
    }
    if checked != head.seq || prev != head.hash {
        return Ok(broken(
            checked,
            checked + 1,
            "truncated",
            format!("the chain ends at {checked} but its head says {}", head.seq),
        ));
    }
    Ok(Verification { ok: true, events_checked: checked, head_seq: head.seq, first_break: None })
}
