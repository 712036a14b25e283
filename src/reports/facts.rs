//! The attrition reports' journeys, held in memory: one compact row per journey with the case and
//! victim fields the reports filter or break down by, and the day counts they measure. Each
//! report call first reads what changed since the last one (journeys whose change number `rev`
//! moved, tombstones of deleted ones; migration 000012 keeps both), so a report is current to
//! the last committed write, and then aggregates the rows in a single pass. On a million journeys
//! a report takes milliseconds instead of the seconds the same figures cost in SQL (a scan with
//! two lookups per journey and a sort), and replicas each keep their own copy.
//!
//! The compliance figures also need each victim's contact schedule and reached updates, their
//! Victims' Code obligations and service issues: those are held per victim ([`VictimFacts`]) and
//! read again, with the victim's journeys, whenever migration 000014's log says they changed.
use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, IsolationLevel, QueryResult, Statement, StreamTrait,
    TransactionTrait,
};
use tokio::sync::{RwLock, RwLockReadGuard};
use uuid::Uuid;

use super::attrition::{AgeBand, EthnicityGroup, INTERVALS, ReportParams, label};
use crate::clock::london_date;
use crate::db::Db;
use crate::error::AppResult;
use crate::vocab::ContactState;

/// No value: a missing date or a measure that does not apply.
pub const NONE: i32 = i32::MIN;

/// A row's flags.
pub mod bits {
    pub const SUPPORTED: u16 = 1;
    pub const ENHANCED: u16 = 2;
    pub const WITHDRAWN: u16 = 4;
    pub const CHARGED: u16 = 8;
    pub const TRIAL_LISTED: u16 = 16;
    /// Withdrawn, with a linked victim-does-not-support outcome (14 or 16).
    pub const DOES_NOT_SUPPORT: u16 = 32;
    /// A withdrawal record, not rejected, with evidence or confirmed with the victim.
    pub const EVIDENCED: u16 = 64;
    /// An open unevidenced-withdrawal flag.
    pub const FLAGGED: u16 = 128;
    /// A linked NEEDS_ASSESSED event.
    pub const NEEDS_EVENT: u16 = 256;
}

/// One journey as the reports see it. Text fields are ids in [`Facts::names`] (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    /// The case's report date, as days from the Common Era.
    pub reported_on: i32,
    pub area: u16,
    pub offence: u16,
    pub sex: u16,
    pub ethnicity: u16,
    pub disability: u16,
    pub relationship: u16,
    pub location: u16,
    pub phase: u16,
    pub trial_result: u16,
    /// An id in [`Facts::paths`] (0: none).
    pub path: u32,
    /// An id in [`Facts::reasons`]: the ineffective listings' reason codes (0: none recorded).
    pub reasons: u32,
    /// Bit i: the case carries priority flag [`Facts::flags`]\[i].
    pub priority: u64,
    pub ineffective: i32,
    /// Whole days from report to withdrawal, for withdrawals on or after the report.
    pub to_withdrawal: i32,
    /// Whole days of each measure of [`INTERVALS`], where both ends are there in order.
    pub intervals: [i32; INTERVALS.len()],
    /// An index in [`AGE_BANDS`].
    pub age_band: u8,
    /// An index in [`ETHNICITY_GROUPS`].
    pub ethnicity_group: u8,
    pub bits: u16,
    /// An index in [`Facts::victims`].
    pub victim: u32,
}

/// An item's row when it is about the victim rather than one of their journeys.
pub const NO_ROW: u32 = u32::MAX;

/// What a victim's journeys share for the compliance figures.
#[derive(Debug, Clone, Default)]
pub struct VictimFacts {
    /// Whether the hub record holds a needs-assessment date.
    pub needs_assessed: bool,
    /// An active or closed contact schedule (others are not counted).
    pub schedule: Option<Schedule>,
    /// When the last of the victim's cases closed.
    pub closed_on: Option<NaiveDate>,
    /// Reached routine and key-decision updates, in order.
    pub updates: Vec<NaiveDate>,
    /// Open or discharged obligations and service issues.
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// The day the hub took the victim on.
    pub start: NaiveDate,
    pub interval: i32,
    pub state: ContactState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Obligation,
    KeyDecision,
    ServiceIssue,
}

/// An obligation or service issue: due (target) and done (discharged, resolved or closed) days.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// The row of the journey it is about, or [`NO_ROW`].
    pub row: u32,
    pub kind: ItemKind,
    pub due: NaiveDate,
    pub done: Option<NaiveDate>,
}

pub const AGE_BANDS: [AgeBand; 10] = [
    AgeBand::Under16,
    AgeBand::From16To17,
    AgeBand::From18To24,
    AgeBand::From25To34,
    AgeBand::From35To44,
    AgeBand::From45To54,
    AgeBand::From55To64,
    AgeBand::From65To74,
    AgeBand::From75,
    AgeBand::Unknown,
];

/// The [`ETHNICITY_GROUPS`] index of a victim with no ethnicity recorded.
pub const MISSING_ETHNICITY: u8 = 6;

pub const ETHNICITY_GROUPS: [EthnicityGroup; 7] = [
    EthnicityGroup::White,
    EthnicityGroup::Mixed,
    EthnicityGroup::Asian,
    EthnicityGroup::Black,
    EthnicityGroup::Other,
    EthnicityGroup::NotStated,
    EthnicityGroup::Missing,
];

/// Texts by id, id 0 standing for none.
#[derive(Debug, Default)]
pub struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: Option<&str>) -> u32 {
        let Some(name) = name else { return 0 };
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        if self.names.is_empty() {
            self.names.push(String::new());
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The id of `name`, if any journey has it.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The text of `id`; none for 0.
    #[must_use]
    pub fn name(&self, id: u32) -> Option<&str> {
        (id != 0).then(|| self.names.get(id as usize).map(String::as_str)).flatten()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len().max(1)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.len() <= 1
    }
}

/// Every journey the hub holds, as of the last refresh.
#[derive(Debug, Default)]
pub struct Facts {
    rows: Vec<Fact>,
    /// Whether each row holds a journey (slots of deleted ones are reused).
    live: Vec<bool>,
    index: HashMap<(Uuid, Uuid), u32>,
    free: Vec<u32>,
    pub names: Names,
    pub paths: Names,
    /// Lists of ineffective-trial reason codes, as `W1>M3`.
    pub reasons: Names,
    pub flags: Names,
    victim_ids: HashMap<Uuid, u32>,
    victims: Vec<VictimFacts>,
    /// The next refresh reads changes numbered from here; none before the first load.
    since: Option<i64>,
}

/// Keeps [`Facts`] current for the report calls of one process.
#[derive(Debug, Default)]
pub struct FactCache {
    facts: RwLock<Facts>,
}

impl FactCache {
    /// The journeys as of now: what changed since the last call is read first. Calls that
    /// arrive during a refresh wait for it, then read together.
    pub async fn current(&self, db: &Db) -> AppResult<RwLockReadGuard<'_, Facts>> {
        let mut facts = self.facts.write().await;
        facts.refresh(db).await?;
        Ok(facts.downgrade())
    }
}

/// On SQLite: one more than the largest change number so far (as migration 000012's triggers say).
const SQLITE_NEXT_REV: &str = "SELECT MAX(COALESCE((SELECT MAX(rev) FROM journeys), 0), \
     COALESCE((SELECT MAX(rev) FROM journey_tombstones), 0)) + 1 AS rev";

/// The change number the journeys written in this transaction get (migration 000012).
pub async fn next_rev(db: &impl ConnectionTrait) -> AppResult<i64> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "SELECT pg_current_xact_id()::text::bigint AS rev",
        _ => SQLITE_NEXT_REV,
    };
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "rev")).transpose()?.unwrap_or(1))
}

/// The columns a refresh reads, in order.
fn select(backend: DbBackend) -> String {
    let json_len = if backend == DbBackend::Postgres { "jsonb_array_length" } else { "json_array_length" };
    let of_journey = "e.case_id = j.case_id AND (e.victim_id IS NULL OR e.victim_id = j.victim_id) \
                      AND e.status = 'linked'";
    format!(
        "SELECT j.case_id, j.victim_id, c.date_reported, c.area_code, c.offence_group, \
         CAST(c.priority_flags AS TEXT), c.relationship, c.location_type, v.sex, v.date_of_birth, v.ethnicity, \
         v.disability, v.enhanced_rights, j.flow_path, j.support_referred_at, j.withdrawn, j.withdrawn_at, \
         j.reported_at, j.withdrawal_phase, j.charged_at, j.trial_listed_at, j.trial_result, j.ineffective_count, \
         j.arrested_at, j.cps_referred_at, j.decision_at, j.first_hearing_at, j.trial_started_at, j.court_outcome_at, \
         j.ineffective_reasons, \
         CASE WHEN j.withdrawn AND EXISTS (SELECT 1 FROM journey_events e WHERE {of_journey} \
           AND e.outcome_code IN (SELECT code FROM outcome_codes WHERE victim_does_not_support)) THEN 1 ELSE 0 END, \
         CASE WHEN EXISTS (SELECT 1 FROM withdrawals w WHERE w.case_id = j.case_id AND w.victim_id = j.victim_id \
           AND w.status <> 'rejected' AND (w.confirmed_with_victim OR {json_len}(w.evidence) > 0)) THEN 1 ELSE 0 END, \
         CASE WHEN EXISTS (SELECT 1 FROM withdrawal_flags f WHERE f.case_id = j.case_id \
           AND f.victim_id = j.victim_id AND f.cleared_at IS NULL) THEN 1 ELSE 0 END, \
         CASE WHEN EXISTS (SELECT 1 FROM journey_events e WHERE {of_journey} \
           AND e.event_type = 'NEEDS_ASSESSED') THEN 1 ELSE 0 END \
         FROM journeys j JOIN cases c ON c.id = j.case_id JOIN victims v ON v.id = j.victim_id"
    )
}

/// Where each interval's ends are among the columns above.
const INTERVAL_COLUMNS: [(usize, usize); INTERVALS.len()] = [(17, 23), (24, 25), (19, 26), (19, 27), (20, 28)];

/// The victims whose journeys or records changed since a change number, and its values.
fn changed_since(backend: DbBackend, since: i64) -> (String, Vec<sea_orm::Value>) {
    let tables = ["journeys", "report_victim_changes", "journey_tombstones"];
    if backend == DbBackend::Postgres {
        let parts: Vec<String> = tables.iter().map(|t| format!("SELECT victim_id FROM {t} WHERE rev >= $1")).collect();
        (parts.join(" UNION "), vec![since.into()])
    } else {
        let parts: Vec<String> = tables.iter().map(|t| format!("SELECT victim_id FROM {t} WHERE rev >= ?")).collect();
        (parts.join(" UNION "), vec![since.into(); tables.len()])
    }
}

/// Deletes the change-log entries no refresh needs: of a victim's entries in
/// `report_victim_changes`, and of a journey's tombstones, only the newest counts (a refresh asks
/// which keys have an entry numbered at least its mark, and the newest answers that for every
/// mark), so the logs stay as long as the number of victims and deleted journeys, not of writes.
/// Replicas may run it at once: the newest entry of a key is never deleted. Returns the entries
/// deleted.
pub async fn compact_change_logs(db: &Db) -> AppResult<u64> {
    let backend = db.backend();
    // Entries of one transaction share a number; the physical row id breaks the tie.
    let row_id = if backend == DbBackend::Postgres { "ctid" } else { "rowid" };
    let tx = db.begin_write().await?;
    let mut deleted = 0;
    for (table, key) in [
        ("report_victim_changes", "k.victim_id = o.victim_id"),
        ("journey_tombstones", "k.case_id = o.case_id AND k.victim_id = o.victim_id"),
    ] {
        let sql = format!(
            "DELETE FROM {table} AS o WHERE EXISTS (SELECT 1 FROM {table} k WHERE {key} \
             AND (k.rev > o.rev OR (k.rev = o.rev AND k.{row_id} > o.{row_id})))"
        );
        deleted += tx.execute_raw(Statement::from_string(backend, sql)).await?.rows_affected();
    }
    tx.commit().await?;
    Ok(deleted)
}

impl Facts {
    /// Reads the journeys changed since the last refresh (every journey the first time).
    async fn refresh(&mut self, db: &Db) -> AppResult<()> {
        let conn = db.read();
        let backend = conn.get_database_backend();
        let tx = if backend == DbBackend::Postgres {
            // One snapshot for the mark and the rows.
            conn.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        } else {
            conn.begin().await?
        };
        let mark = match backend {
            DbBackend::Postgres => "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS rev",
            // Every later write is numbered at least this: one more than the largest now.
            _ => SQLITE_NEXT_REV,
        };
        let next: i64 =
            tx.query_one_raw(Statement::from_string(backend, mark)).await?.map_or(Ok(0), |r| r.try_get("", "rev"))?;
        let ph = if backend == DbBackend::Postgres { "$1" } else { "?" };
        let stmt =
            |sql: String, values: &[sea_orm::Value]| Statement::from_sql_and_values(backend, sql, values.to_vec());
        match self.since {
            None => {
                self.read_rows(&tx, Statement::from_string(backend, select(backend))).await?;
                self.read_victims(&tx, None).await?;
            }
            Some(since) => {
                let (changed, values) = changed_since(backend, since);
                let victims = tx.query_all_raw(stmt(changed.clone(), &values)).await?;
                if !victims.is_empty() {
                    for r in victims {
                        let id: Uuid = r.try_get_by_index(0)?;
                        if let Some(&i) = self.victim_ids.get(&id) {
                            self.victims[i as usize] = VictimFacts::default();
                        }
                    }
                    let gone = format!("SELECT case_id, victim_id FROM journey_tombstones WHERE rev >= {ph}");
                    for r in tx.query_all_raw(stmt(gone, &[since.into()])).await? {
                        self.remove((r.try_get_by_index(0)?, r.try_get_by_index(1)?));
                    }
                    let rows = format!("{} WHERE j.victim_id IN ({changed})", select(backend));
                    self.read_rows(&tx, stmt(rows, &values)).await?;
                    self.read_victims(&tx, Some((changed.as_str(), values.as_slice()))).await?;
                }
            }
        }
        tx.commit().await?;
        self.since = Some(next);
        Ok(())
    }

    /// The contact, obligation and service-recovery records of the victims `changed` names (a
    /// subquery and its values), or of every victim with a journey.
    async fn read_victims(
        &mut self,
        tx: &DatabaseTransaction,
        changed: Option<(&str, &[sea_orm::Value])>,
    ) -> AppResult<()> {
        use futures::TryStreamExt;
        let backend = ConnectionTrait::get_database_backend(tx);
        // Every victim the first time (records of victims with no journey are skipped as read).
        let (cond, values) = match changed {
            Some((sql, values)) => (format!("IN ({sql})"), values.to_vec()),
            None => ("IS NOT NULL".to_owned(), Vec::new()),
        };
        let stmt = |sql: String| Statement::from_sql_and_values(backend, sql, values.clone());
        // The last closing date from one grouped join rather than a lookup per victim: on
        // PostgreSQL at 10,000,000 victims the lookups were random reads still running after 15
        // minutes, the join takes the whole start-up to 150 s (BENCHMARKS.md, "Reports"). `cond`
        // twice: SQLite's `?` placeholders take the values twice, PostgreSQL's `$1` once.
        let twice =
            if backend == DbBackend::Postgres { values.clone() } else { [values.clone(), values.clone()].concat() };
        let mut rows = tx
            .stream_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT v.id, v.created_at, CASE WHEN v.needs_assessed_on IS NULL THEN 0 ELSE 1 END, s.state, \
                     s.interval_days, c.closed FROM victims v LEFT JOIN contact_schedule s ON s.victim_id = v.id \
                     LEFT JOIN (SELECT cv.victim_id, MAX(k.closed_on) AS closed FROM case_victims cv \
                     JOIN cases k ON k.id = cv.case_id WHERE cv.victim_id {cond} GROUP BY cv.victim_id) c \
                     ON c.victim_id = v.id WHERE v.id {cond}"
                ),
                twice,
            ))
            .await?;
        while let Some(r) = rows.try_next().await? {
            let Some(v) = self.victim_mut(r.try_get_by_index(0)?) else { continue };
            v.needs_assessed = r.try_get_by_index::<i32>(2)? != 0;
            v.closed_on = r.try_get_by_index(5)?;
            let state = r.try_get_by_index::<Option<String>>(3)?;
            let state = match state.as_deref() {
                Some("active") => Some(ContactState::Active),
                Some("closed") => Some(ContactState::Closed),
                _ => None,
            };
            if let (Some(state), Some(interval)) = (state, r.try_get_by_index::<Option<i32>>(4)?) {
                let start = london_date(r.try_get_by_index(1)?);
                v.schedule = Some(Schedule { start, interval, state });
            }
        }
        drop(rows);
        let mut rows = tx
            .stream_raw(stmt(format!(
                "SELECT victim_id, occurred_at FROM contacts WHERE outcome = 'reached' \
                 AND kind IN ('routine_update', 'key_decision') AND victim_id {cond}"
            )))
            .await?;
        let mut updated = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let Some(&i) = self.victim_ids.get(&r.try_get_by_index(0)?) else { continue };
            self.victims[i as usize].updates.push(london_date(r.try_get_by_index(1)?));
            updated.push(i);
        }
        drop(rows);
        updated.dedup();
        for i in updated {
            self.victims[i as usize].updates.sort_unstable();
        }
        let mut rows = tx
            .stream_raw(stmt(format!(
                "SELECT o.victim_id, o.case_id, o.due_on, CASE WHEN o.status = 'discharged' THEN o.discharged_at END, \
                 CASE WHEN r.key_decision THEN 1 ELSE 0 END FROM obligations o \
                 JOIN obligation_rules r ON r.code = o.rule_code \
                 WHERE o.status IN ('open', 'discharged') AND o.victim_id {cond}"
            )))
            .await?;
        while let Some(r) = rows.try_next().await? {
            let kind = if r.try_get_by_index::<i32>(4)? != 0 { ItemKind::KeyDecision } else { ItemKind::Obligation };
            self.item(&r, kind)?;
        }
        drop(rows);
        let mut rows = tx
            .stream_raw(stmt(format!(
                "SELECT victim_id, case_id, target_on, COALESCE(resolved_at, closed_at) FROM service_issues \
                 WHERE victim_id {cond}"
            )))
            .await?;
        while let Some(r) = rows.try_next().await? {
            self.item(&r, ItemKind::ServiceIssue)?;
        }
        Ok(())
    }

    /// An item from (victim, case, due, done); dropped when it is about a journey not held.
    fn item(&mut self, r: &QueryResult, kind: ItemKind) -> AppResult<()> {
        let victim: Uuid = r.try_get_by_index(0)?;
        let row = match r.try_get_by_index::<Option<Uuid>>(1)? {
            Some(case) => match self.index.get(&(case, victim)) {
                Some(&row) => row,
                None => return Ok(()),
            },
            None => NO_ROW,
        };
        let item = Item {
            row,
            kind,
            due: r.try_get_by_index(2)?,
            done: r.try_get_by_index::<Option<DateTime<Utc>>>(3)?.map(london_date),
        };
        if let Some(v) = self.victim_mut(victim) {
            v.items.push(item);
        }
        Ok(())
    }

    fn victim_mut(&mut self, id: Uuid) -> Option<&mut VictimFacts> {
        let i = *self.victim_ids.get(&id)?;
        self.victims.get_mut(i as usize)
    }

    /// The dense index of a victim, added when new.
    fn victim_index(&mut self, id: Uuid) -> u32 {
        if let Some(&i) = self.victim_ids.get(&id) {
            return i;
        }
        let i = self.victims.len() as u32;
        self.victims.push(VictimFacts::default());
        self.victim_ids.insert(id, i);
        i
    }

    async fn read_rows(&mut self, tx: &DatabaseTransaction, stmt: Statement) -> AppResult<()> {
        use futures::TryStreamExt;
        let mut rows = tx.stream_raw(stmt).await?;
        while let Some(r) = rows.try_next().await? {
            let key: (Uuid, Uuid) = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
            let mut fact = self.fact(&r)?;
            fact.victim = self.victim_index(key.1);
            self.put(key, fact);
        }
        Ok(())
    }

    fn fact(&mut self, r: &QueryResult) -> AppResult<Fact> {
        let text = |i: usize| r.try_get_by_index::<Option<String>>(i);
        let time = |i: usize| r.try_get_by_index::<Option<DateTime<Utc>>>(i);
        let reported: NaiveDate = r.try_get_by_index(2)?;
        let born: Option<NaiveDate> = r.try_get_by_index(9)?;
        let ethnicity = text(10)?;
        let mut bits = 0;
        let mut set = |on: bool, bit: u16| {
            if on {
                bits |= bit;
            }
        };
        set(time(14)?.is_some(), bits::SUPPORTED);
        set(r.try_get_by_index::<bool>(12)?, bits::ENHANCED);
        let withdrawn = r.try_get_by_index::<bool>(15)?;
        set(withdrawn, bits::WITHDRAWN);
        set(time(19)?.is_some(), bits::CHARGED);
        set(time(20)?.is_some(), bits::TRIAL_LISTED);
        for (i, bit) in
            [bits::DOES_NOT_SUPPORT, bits::EVIDENCED, bits::FLAGGED, bits::NEEDS_EVENT].into_iter().enumerate()
        {
            set(r.try_get_by_index::<i32>(30 + i)? != 0, bit);
        }
        let mut intervals = [NONE; INTERVALS.len()];
        for (k, (a, b)) in INTERVAL_COLUMNS.into_iter().enumerate() {
            intervals[k] = days(time(a)?, time(b)?);
        }
        let mut priority = 0u64;
        if let Some(raw) = text(5)? {
            for flag in serde_json::from_str::<Vec<String>>(&raw).unwrap_or_default() {
                let id = self.flags.id(Some(&flag));
                if id < 64 {
                    priority |= 1 << id;
                }
            }
        }
        let mut name = |i: usize| -> AppResult<u16> { Ok(self.names.id(text(i)?.as_deref()) as u16) };
        Ok(Fact {
            reported_on: reported.num_days_from_ce(),
            area: name(3)?,
            offence: name(4)?,
            relationship: name(6)?,
            location: name(7)?,
            sex: name(8)?,
            ethnicity: name(10)?,
            disability: name(11)?,
            phase: name(18)?,
            trial_result: name(21)?,
            path: self.paths.id(text(13)?.as_deref()),
            reasons: self.reasons.id(text(29)?.as_deref()),
            priority,
            ineffective: r.try_get_by_index(22)?,
            to_withdrawal: if withdrawn { days(time(17)?, time(16)?) } else { NONE },
            intervals,
            age_band: age_band(born, reported),
            ethnicity_group: ethnicity_group(ethnicity.as_deref()),
            bits,
            victim: 0,
        })
    }

    fn put(&mut self, key: (Uuid, Uuid), fact: Fact) {
        if let Some(&i) = self.index.get(&key) {
            self.rows[i as usize] = fact;
            return;
        }
        let i = if let Some(i) = self.free.pop() {
            self.rows[i as usize] = fact;
            self.live[i as usize] = true;
            i
        } else {
            self.rows.push(fact);
            self.live.push(true);
            (self.rows.len() - 1) as u32
        };
        self.index.insert(key, i);
    }

    fn remove(&mut self, key: (Uuid, Uuid)) {
        if let Some(i) = self.index.remove(&key) {
            self.live[i as usize] = false;
            self.free.push(i);
        }
    }

    /// How many journeys are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The journeys `filter` selects.
    pub fn select<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = &'a Fact> + 'a {
        self.select_rows(filter).map(|(_, f)| f)
    }

    /// The journeys `filter` selects, with their rows.
    pub fn select_rows<'a>(&'a self, filter: &'a Filter) -> impl Iterator<Item = (u32, &'a Fact)> + 'a {
        let none = filter.matches_none;
        self.rows
            .iter()
            .zip(&self.live)
            .enumerate()
            .filter(move |(_, (f, live))| !none && **live && filter.admits(f))
            .map(|(i, (f, _))| (i as u32, f))
    }

    /// How many rows there are, held or free (rows are numbered below this).
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Victims by [`Fact::victim`].
    #[must_use]
    pub fn victims(&self) -> &[VictimFacts] {
        &self.victims
    }

    /// The report filters in terms of these rows; `areas` are the codes the area filter stands for.
    #[must_use]
    pub fn filter(&self, p: &ReportParams, areas: Option<&[String]>) -> Filter {
        let mut matches_none = false;
        let mut name = |v: Option<String>| -> Option<u16> {
            let v = v?;
            let id = self.names.get(&v);
            matches_none |= id.is_none();
            Some(id.unwrap_or(0) as u16)
        };
        let offence = name(p.offence_group.map(crate::vocab::OffenceGroup::as_str));
        let sex = name(p.sex.map(crate::vocab::Sex::as_str));
        let ethnicity = name(p.ethnicity.map(crate::vocab::Ethnicity::as_str));
        let disability = name(p.disability.map(crate::vocab::Disability::as_str));
        let relationship = name(p.relationship.map(crate::vocab::Relationship::as_str));
        let location = name(p.location_type.map(crate::vocab::LocationType::as_str));
        let areas = areas.map(|codes| {
            let ids: Vec<u16> = codes.iter().filter_map(|c| self.names.get(c)).map(|id| id as u16).collect();
            matches_none |= ids.is_empty();
            ids
        });
        let priority = p.priority_flag.map(|f| match self.flags.get(&f.as_str()) {
            Some(id) if id < 64 => 1u64 << id,
            _ => {
                matches_none = true;
                0
            }
        });
        Filter {
            from: p.from.map(|d| d.num_days_from_ce()),
            to: p.to.map(|d| d.num_days_from_ce()),
            areas,
            offence,
            sex,
            ethnicity,
            disability,
            relationship,
            location,
            age_band: p.age_band.and_then(|b| AGE_BANDS.iter().position(|x| *x == b)).map(|i| i as u8),
            ethnicity_group: p
                .ethnicity_group
                .and_then(|g| ETHNICITY_GROUPS.iter().position(|x| *x == g))
                .map(|i| i as u8),
            priority,
            supported: p.supported,
            enhanced: p.enhanced,
            matches_none,
        }
    }
}

/// The report filters as row tests.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    from: Option<i32>,
    to: Option<i32>,
    areas: Option<Vec<u16>>,
    offence: Option<u16>,
    sex: Option<u16>,
    ethnicity: Option<u16>,
    disability: Option<u16>,
    relationship: Option<u16>,
    location: Option<u16>,
    age_band: Option<u8>,
    ethnicity_group: Option<u8>,
    priority: Option<u64>,
    supported: Option<bool>,
    enhanced: Option<bool>,
    /// A filter value no journey has: nothing is selected.
    matches_none: bool,
}

impl Filter {
    fn admits(&self, f: &Fact) -> bool {
        let eq = |want: Option<u16>, have: u16| want.is_none_or(|w| w == have);
        let bit = |want: Option<bool>, bit: u16| want.is_none_or(|w| w == (f.bits & bit != 0));
        self.from.is_none_or(|d| f.reported_on >= d)
            && self.to.is_none_or(|d| f.reported_on <= d)
            && self.areas.as_ref().is_none_or(|a| a.contains(&f.area))
            && eq(self.offence, f.offence)
            && eq(self.sex, f.sex)
            && eq(self.ethnicity, f.ethnicity)
            && eq(self.disability, f.disability)
            && eq(self.relationship, f.relationship)
            && eq(self.location, f.location)
            && self.age_band.is_none_or(|b| b == f.age_band)
            && self.ethnicity_group.is_none_or(|g| g == f.ethnicity_group)
            && self.priority.is_none_or(|m| f.priority & m != 0)
            && bit(self.supported, bits::SUPPORTED)
            && bit(self.enhanced, bits::ENHANCED)
    }
}

/// Whole days from `a` to `b` (rounded down) when both are there and `b` is not before `a`.
fn days(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> i32 {
    match (a, b) {
        (Some(a), Some(b)) if b >= a => i32::try_from((b - a).num_days()).unwrap_or(i32::MAX),
        _ => NONE,
    }
}

/// The victim's age band at the report date (DOMAIN.md §4.2).
fn age_band(born: Option<NaiveDate>, reported: NaiveDate) -> u8 {
    let Some(born) = born else { return 9 };
    let age =
        reported.year() - born.year() - i32::from((reported.month(), reported.day()) < (born.month(), born.day()));
    match age {
        ..16 => 0,
        16..18 => 1,
        18..25 => 2,
        25..35 => 3,
        35..45 => 4,
        45..55 => 5,
        55..65 => 6,
        65..75 => 7,
        _ => 8,
    }
}

/// The 2021 Census group of a detailed ethnicity.
fn ethnicity_group(e: Option<&str>) -> u8 {
    match e {
        None => MISSING_ETHNICITY,
        Some("not_stated") => 5,
        Some(e) if e.starts_with("white") => 0,
        Some(e) if e.starts_with("mixed") => 1,
        Some(e) if e.starts_with("asian") => 2,
        Some(e) if e.starts_with("black") => 3,
        Some(_) => 4,
    }
}

/// A band's or group's wire name.
#[must_use]
pub fn age_band_label(i: u8) -> String {
    label(&AGE_BANDS[usize::from(i).min(AGE_BANDS.len() - 1)])
}

#[must_use]
pub fn ethnicity_group_label(i: u8) -> String {
    label(&ETHNICITY_GROUPS[usize::from(i).min(ETHNICITY_GROUPS.len() - 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn age_bands_turn_on_the_birthday() {
        assert_eq!(age_band(Some(day(2010, 6, 2)), day(2026, 6, 1)), 0);
        assert_eq!(age_band(Some(day(2010, 6, 1)), day(2026, 6, 1)), 1);
        assert_eq!(age_band(Some(day(1951, 1, 1)), day(2026, 1, 1)), 8);
        assert_eq!(age_band(None, day(2026, 1, 1)), 9);
        assert_eq!(age_band_label(9), "unknown");
        assert_eq!(age_band_label(0), "0_15");
    }

    #[test]
    fn days_round_down_and_need_both_ends_in_order() {
        let t = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        assert_eq!(days(t("2026-01-01T10:00:00Z"), t("2026-01-02T09:59:59.999Z")), 0);
        assert_eq!(days(t("2026-01-01T10:00:00Z"), t("2026-01-02T10:00:00Z")), 1);
        assert_eq!(days(t("2026-01-02T10:00:00Z"), t("2026-01-01T10:00:00Z")), NONE);
        assert_eq!(days(None, t("2026-01-01T10:00:00Z")), NONE);
    }

    #[test]
    fn ethnicity_groups_keep_the_gaps_apart() {
        assert_eq!(ethnicity_group_label(ethnicity_group(Some("white_british"))), "white");
        assert_eq!(ethnicity_group_label(ethnicity_group(Some("black_african"))), "black");
        assert_eq!(ethnicity_group_label(ethnicity_group(Some("arab"))), "other");
        assert_eq!(ethnicity_group_label(ethnicity_group(Some("not_stated"))), "not_stated");
        assert_eq!(ethnicity_group_label(ethnicity_group(None)), "missing");
    }

    #[test]
    fn a_deleted_slot_is_reused_and_never_selected() {
        let mut facts = Facts::default();
        let fact = Fact {
            reported_on: 1,
            area: 0,
            offence: 0,
            sex: 0,
            ethnicity: 0,
            disability: 0,
            relationship: 0,
            location: 0,
            phase: 0,
            trial_result: 0,
            path: 0,
            reasons: 0,
            priority: 0,
            ineffective: 0,
            to_withdrawal: NONE,
            intervals: [NONE; INTERVALS.len()],
            age_band: 9,
            ethnicity_group: 6,
            bits: 0,
            victim: 0,
        };
        let (a, b) = ((Uuid::now_v7(), Uuid::now_v7()), (Uuid::now_v7(), Uuid::now_v7()));
        facts.put(a, fact);
        facts.put(b, Fact { reported_on: 2, ..fact });
        facts.remove(a);
        let all = Filter::default();
        assert_eq!(facts.select(&all).map(|f| f.reported_on).collect::<Vec<_>>(), [2]);
        facts.put(a, Fact { reported_on: 3, ..fact });
        assert_eq!(facts.rows.len(), 2, "the slot was reused");
        facts.put(b, Fact { reported_on: 4, ..fact });
        let mut seen: Vec<i32> = facts.select(&all).map(|f| f.reported_on).collect();
        seen.sort_unstable();
        assert_eq!(seen, [3, 4]);
        assert_eq!(facts.len(), 2);
    }
}
