//! Events extracts: each row checked as the API checks an event, linked to its case by agency
//! reference (one lookup per batch, remembered in a bounded map), and stored with multi-row
//! `INSERT … ON CONFLICT (source_agency, source_event_id) DO NOTHING`, so a re-run stores nothing.
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement};
use uuid::Uuid;

use super::journeys::{self, Deadlines};
use super::{Checker, Loader, Reject, Summary, Written};
use crate::agencies::references::normalise_value;
use crate::db::bulk::{self, OnConflict};
use crate::db::{Db, WriteTx};
use crate::entities::{journey_events, outcome_codes};
use crate::error::AppResult;
use crate::journeys::stages::{self, OUTCOME};
use crate::vocab::{EventStatus, RefType};

/// Events per insert statement. Not for speed (one statement per 10,000-event batch took as long on
/// both databases): each statement's payload is built whole in memory, and a whole batch's added
/// 14 MB to an import's peak on SQLite and 55 MB on PostgreSQL (BENCHMARKS.md, "Import").
const ROWS_PER_INSERT: usize = 2500;
/// References remembered between batches; the map starts afresh when it fills. Extracts grouped
/// by case (as the generator writes them) never look a reference up twice; the bound keeps peak
/// memory under 200 MB (BENCHMARKS.md, "Import").
const CACHE_LIMIT: usize = 50_000;

/// One checked event row.
pub(super) struct EventRow {
    source_event_id: String,
    event_type: String,
    occurred_at: DateTime<Utc>,
    received_at: Option<DateTime<Utc>>,
    outcome_code: Option<String>,
    reason_code: Option<String>,
    agency: String,
    ref_type: RefType,
    value: String,
    /// The intake's victim key as given, and the victim reference it is stored as.
    victim_key: Option<(String, String)>,
}

impl EventRow {
    fn label(&self) -> String {
        format!("{}/{}/{}", self.agency, self.ref_type.as_str(), self.value)
    }
}

type RefKey = (String, RefType, String);

pub(super) struct EventLoader {
    agency: String,
    by: String,
    now: DateTime<Utc>,
    outcome_codes: HashSet<String>,
    victim_outcomes: Vec<String>,
    deadlines: Deadlines,
    /// Whether the agency had events stored when the import began. On its first load there is
    /// nothing to look up before inserting: an event repeated within the file (or sent through the
    /// API meanwhile) is caught by the insert's conflict clause, and the batch then recomputes
    /// from what is stored.
    had_events: bool,
}

/// What the lookups of earlier batches found. Agency references and the victims on cases are
/// not changed by an events import, so what was found stays true for the rest of the file.
#[derive(Default)]
pub(super) struct EventCache {
    /// Reference → the case holding it (`None`: no case does).
    cases: HashMap<RefKey, Option<Uuid>>,
    /// Victim-key reference → the victim holding it, with its hub reference.
    victims: HashMap<(String, String), Option<(Uuid, String)>>,
}

impl EventCache {
    fn case(&self, r: &EventRow) -> Option<Uuid> {
        self.cases.get(&(r.agency.clone(), r.ref_type, r.value.clone())).copied().flatten()
    }

    /// Finds the cases holding references not looked up yet: one query per agency and type.
    async fn resolve_cases(&mut self, db: &impl ConnectionTrait, rows: &[EventRow]) -> AppResult<()> {
        if self.cases.len() > CACHE_LIMIT {
            self.cases.clear();
        }
        let mut wanted: HashMap<(String, RefType), BTreeSet<String>> = HashMap::new();
        for r in rows {
            if !self.cases.contains_key(&(r.agency.clone(), r.ref_type, r.value.clone())) {
                wanted.entry((r.agency.clone(), r.ref_type)).or_default().insert(r.value.clone());
            }
        }
        for ((agency, ref_type), values) in wanted {
            let found: HashMap<String, Option<Uuid>> =
                find_references(db, &agency, ref_type, &values).await?.into_iter().map(|(v, id, _)| (v, id)).collect();
            for v in values {
                let case = found.get(&v).copied().flatten();
                self.cases.insert((agency.clone(), ref_type, v), case);
            }
        }
        Ok(())
    }

    /// Finds the victims holding victim-key references not looked up yet.
    async fn resolve_victims(&mut self, db: &impl ConnectionTrait, rows: &[EventRow]) -> AppResult<()> {
        if self.victims.len() > CACHE_LIMIT {
            self.victims.clear();
        }
        let mut wanted: HashMap<String, BTreeSet<String>> = HashMap::new();
        for r in rows {
            if let Some((_, key)) = &r.victim_key
                && !self.victims.contains_key(&(r.agency.clone(), key.clone()))
            {
                wanted.entry(r.agency.clone()).or_default().insert(key.clone());
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        for (agency, keys) in wanted {
            let found: HashMap<String, (Option<Uuid>, Option<String>)> =
                find_references(db, &agency, RefType::Other, &keys)
                    .await?
                    .into_iter()
                    .map(|(value, id, hub)| (value, (id, hub)))
                    .collect();
            for k in keys {
                let victim = match found.get(&k) {
                    Some((Some(id), Some(hub))) => Some((*id, hub.clone())),
                    _ => None,
                };
                self.victims.insert((agency.clone(), k), victim);
            }
        }
        Ok(())
    }
}

impl EventLoader {
    pub(super) async fn new(db: &Db, agency: &str, now: DateTime<Utc>) -> AppResult<Self> {
        let codes: Vec<String> = outcome_codes::Entity::find()
            .select_only()
            .column(outcome_codes::Column::Code)
            .into_tuple()
            .all(db.read())
            .await?;
        Ok(EventLoader {
            agency: agency.to_owned(),
            by: super::actor(agency).id,
            now,
            outcome_codes: codes.into_iter().collect(),
            victim_outcomes: crate::journeys::service::victim_outcomes(db.read()).await?,
            deadlines: Deadlines::load(db.read(), now).await?,
            had_events: journey_events::Entity::find()
                .select_only()
                .column(journey_events::Column::Id)
                .filter(journey_events::Column::SourceAgency.eq(agency))
                .into_tuple::<Uuid>()
                .one(db.read())
                .await?
                .is_some(),
        })
    }

    /// Source event ids of `rows` this agency has sent before.
    async fn stored(&self, db: &impl ConnectionTrait, rows: &[EventRow]) -> AppResult<HashSet<String>> {
        let ids = rows.iter().map(|r| r.source_event_id.as_str());
        let found: Vec<String> = journey_events::Entity::find()
            .select_only()
            .column(journey_events::Column::SourceEventId)
            .filter(journey_events::Column::SourceAgency.eq(self.agency.as_str()))
            .filter(bulk::text_in(db.get_database_backend(), journey_events::Column::SourceEventId, ids))
            .into_tuple()
            .all(db)
            .await?;
        Ok(found.into_iter().collect())
    }

    /// Which of `ids` are stored.
    async fn present(&self, db: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<HashSet<Uuid>> {
        let found: Vec<Uuid> = journey_events::Entity::find()
            .select_only()
            .column(journey_events::Column::Id)
            .filter(bulk::uuid_in(db.get_database_backend(), journey_events::Column::Id, ids))
            .into_tuple()
            .all(db)
            .await?;
        Ok(found.into_iter().collect())
    }

    /// The stored row for an event: linked to its case (and victim), or queued with the reason.
    fn model(&self, cache: &EventCache, r: EventRow, on_case: &HashSet<(Uuid, Uuid)>) -> journey_events::Model {
        let label = r.label();
        let case = cache.case(&r);
        let victim = r.victim_key.as_ref().map(|(raw, key)| {
            let found = cache.victims.get(&(r.agency.clone(), key.clone())).cloned().flatten();
            (raw, found)
        });
        let (status, case_id, victim_id, victim_ref, reason) = match (case, victim) {
            (None, _) => (EventStatus::Unlinked, None, None, None, Some(format!("no case has the reference {label}"))),
            (Some(c), None) => (EventStatus::Linked, Some(c), None, None, None),
            (Some(c), Some((_, Some((v, hub))))) if on_case.contains(&(c, v)) => {
                (EventStatus::Linked, Some(c), Some(v), Some(hub), None)
            }
            (Some(_), Some((raw, found))) => (
                EventStatus::Unlinked,
                None,
                None,
                found.map(|(_, hub)| hub),
                Some(format!("victim key {raw} is not on the case {label}")),
            ),
        };
        journey_events::Model {
            id: Uuid::now_v7(),
            source_agency: self.agency.clone(),
            source_event_id: r.source_event_id,
            event_type: r.event_type,
            occurred_at: r.occurred_at,
            received_at: r.received_at,
            outcome_code: r.outcome_code,
            reason_code: r.reason_code,
            case_ref: Some(label),
            victim_ref,
            case_id,
            victim_id,
            status,
            linkage_reason: reason,
            corrects: None,
            correction_action: None,
            superseded_by: None,
            created_at: self.now,
            created_by: self.by.clone(),
        }
    }
}

/// A batch of events ready for its transaction.
pub(super) struct Ready {
    /// The rows to store, linked or queued.
    models: Vec<journey_events::Model>,
    /// Their inserts, built ahead of the transaction.
    inserts: Vec<Statement>,
    /// The cases the linked events name.
    touched: BTreeSet<Uuid>,
    /// Rows of the batch stored already, or repeated in it.
    duplicates: u64,
}

impl Loader for EventLoader {
    type Row = EventRow;
    type Cache = EventCache;
    type Ready = Ready;
    const BATCH: usize = 10_000;

    fn checker(&self) -> Checker<EventRow> {
        let codes = self.outcome_codes.clone();
        let now = self.now;
        Box::new(move |_, _, values| check(values, &codes, now))
    }

    /// Finds each event's case and victim and builds its row and inserts. While the batch before
    /// is written (and not yet committed) an event it stores looks new here; the insert's
    /// conflict clause still stores it once (`write`).
    async fn prepare(&self, cache: &mut EventCache, db: &Db, rows: Vec<EventRow>) -> AppResult<Ready> {
        let read = db.read();
        // An event stored already (an earlier run or batch), or twice in this batch: the first counts.
        let stored = if self.had_events { self.stored(read, &rows).await? } else { HashSet::new() };
        let mut seen = HashSet::with_capacity(rows.len());
        let before = rows.len();
        let rows: Vec<EventRow> = rows
            .into_iter()
            .filter(|r| !stored.contains(&r.source_event_id) && seen.insert(r.source_event_id.clone()))
            .collect();
        let duplicates = (before - rows.len()) as u64;
        cache.resolve_cases(read, &rows).await?;
        cache.resolve_victims(read, &rows).await?;
        // Which victim keys belong to the case they name.
        let named: Vec<Uuid> = rows.iter().filter_map(|r| cache.case(r)).collect::<BTreeSet<_>>().into_iter().collect();
        let on_case: HashSet<(Uuid, Uuid)> = journeys::victims_on(read, &named)
            .await?
            .into_iter()
            .flat_map(|(c, vs)| vs.into_iter().map(move |v| (c, v)))
            .collect();
        let models: Vec<journey_events::Model> = rows.into_iter().map(|r| self.model(cache, r, &on_case)).collect();
        let key = [journey_events::Column::SourceAgency, journey_events::Column::SourceEventId];
        let inserts = models
            .chunks(ROWS_PER_INSERT)
            .filter_map(|chunk| bulk::insert_statement(db.backend(), chunk, OnConflict::Skip(&key)).transpose())
            .collect::<AppResult<Vec<_>>>()?;
        let touched = models.iter().filter_map(|m| m.case_id).collect();
        Ok(Ready { models, inserts, touched, duplicates })
    }

    async fn write(
        &self,
        tx: &WriteTx,
        ready: Ready,
        summary: &mut Summary,
    ) -> AppResult<(Vec<Reject>, Option<Written>)> {
        let Ready { models, inserts, touched, duplicates } = ready;
        summary.duplicates += duplicates;
        if models.is_empty() {
            return Ok((Vec::new(), None));
        }
        let ids_len = models.len() as u64;
        // Whose journeys the batch changes, read in the transaction: a victim linked to one of
        // these cases since the batch was prepared has a journey to recompute too.
        let people = journeys::victims_on(tx, &touched.iter().copied().collect::<Vec<_>>()).await?;

        // Journeys first, from the stored events and this batch's linked ones (a batch's rows
        // need not be read back); then the insert, in the same transaction.
        journeys::recompute(tx, &touched, &people, &models, &self.victim_outcomes, self.now).await?;
        let mut written = 0;
        for insert in inserts {
            written += tx.execute_raw(insert).await?.rows_affected();
        }
        let mut stored: Option<HashSet<Uuid>> = None;
        if written != models.len() as u64 {
            // Some events were stored already: unchecked on an agency's first load, stored by
            // the batch before after this one was prepared, or by another writer meanwhile.
            // Count what this batch stored and recompute from what is stored.
            let ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
            stored = Some(self.present(tx, &ids).await?);
            journeys::recompute(tx, &touched, &people, &[], &self.victim_outcomes, self.now).await?;
        }
        let linked =
            models.into_iter().filter(|m| m.case_id.is_some() && stored.as_ref().is_none_or(|s| s.contains(&m.id)));
        // Most events of a historic extract start no obligation still due and carry no
        // withdrawal outcome: only those that do go on.
        let mut fresh = Vec::new();
        let mut loaded = 0;
        for m in linked {
            loaded += 1;
            if journeys::sets_off(&m, &self.deadlines, &self.victim_outcomes) {
                fresh.push(m);
            }
        }
        summary.loaded += loaded;
        summary.queued += written - loaded;
        summary.duplicates += ids_len - written;
        if written == 0 {
            return Ok((Vec::new(), None));
        }
        summary.obligations +=
            journeys::after_linking(tx, &fresh, &people, &self.deadlines, &self.victim_outcomes, &self.by, self.now)
                .await?;
        let subjects: BTreeSet<Uuid> = people.into_values().flatten().collect();
        Ok((Vec::new(), Some(Written { subjects: subjects.into_iter().collect(), fields: &["events"] })))
    }
}

/// The references of one agency and type among `values`, each with the case it names, or for a
/// victim key (`RefType::Other`) the victim and the victim's hub reference. The values travel
/// as one JSON array: an `IN` list of a thousand values built through the ORM cost more to
/// render than the lookup itself (BENCHMARKS.md, "Import"), and one statement text is prepared
/// once.
async fn find_references(
    db: &impl ConnectionTrait,
    agency: &str,
    ref_type: RefType,
    values: &BTreeSet<String>,
) -> AppResult<Vec<(String, Option<Uuid>, Option<String>)>> {
    let backend = db.get_database_backend();
    let (agency_p, type_p) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let list = bulk::text_list(backend, "$3");
    let (id, hub, join) = if ref_type == RefType::Other {
        ("r.victim_id", "v.hub_ref", "LEFT JOIN victims v ON v.id = r.victim_id")
    } else {
        ("r.case_id", "NULL", "")
    };
    let sql = format!(
        "SELECT r.value AS value, {id} AS id, {hub} AS hub_ref FROM agency_references r {join} \
         WHERE r.agency_code = {agency_p} AND r.ref_type = {type_p} AND r.value IN ({list})"
    );
    let values = bulk::text_array(values.iter().map(String::as_str));
    let params = [agency.into(), ref_type.as_str().into(), values.into()];
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, params)).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String>("", "value")?,
                r.try_get::<Option<Uuid>>("", "id")?,
                r.try_get::<Option<String>>("", "hub_ref")?,
            ))
        })
        .collect()
}

/// Checks one row as the API checks an event (`journeys::service::check`).
fn check(v: Vec<Option<String>>, codes: &HashSet<String>, now: DateTime<Utc>) -> Result<EventRow, String> {
    let [
        source_event_id,
        event_type,
        occurred_at,
        received_at,
        outcome_code,
        ref_agency,
        ref_type,
        ref_value,
        victim_key,
        reason_code,
    ]: [Option<String>; 10] = v.try_into().map_err(|_| "wrong column count".to_owned())?;
    let required = |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required"));
    let source_event_id = required(source_event_id, "source_event_id")?;
    if source_event_id.chars().count() > 100 || source_event_id.chars().any(char::is_control) {
        return Err("source_event_id: use 1 to 100 printable characters".into());
    }
    let event_type = required(event_type, "event_type")?;
    if event_type != OUTCOME && stages::find(&event_type).is_none() {
        return Err(format!(
            "event_type: unknown stage {event_type:?} (a stage code of GET /api/v1/reference/stages, or OUTCOME)"
        ));
    }
    match (&outcome_code, event_type == OUTCOME) {
        (None, true) => return Err("outcome_code: an OUTCOME event needs its outcome code".into()),
        (Some(c), _) if !codes.contains(c) => {
            return Err(format!("outcome_code: {c} is not a Home Office outcome code"));
        }
        _ => {}
    }
    if let Some(why) = reason_code.as_deref().and_then(|c| crate::journeys::service::reason_fault(&event_type, c)) {
        return Err(format!("reason_code: {why}"));
    }
    let occurred_at = time(&required(occurred_at, "occurred_at")?, "occurred_at")?;
    if occurred_at > now + Duration::minutes(5) {
        return Err("occurred_at: must not be in the future".into());
    }
    let received_at = received_at.map(|r| time(&r, "received_at")).transpose()?;
    if received_at.is_some_and(|r| r < occurred_at) {
        return Err("received_at: must not be before occurred_at".into());
    }
    let agency = required(ref_agency, "ref_agency")?.to_uppercase();
    let ref_type = match required(ref_type, "ref_type")?.as_str() {
        "crime_reference" => RefType::CrimeReference,
        "cps_urn" => RefType::CpsUrn,
        "court_case_number" => RefType::CourtCaseNumber,
        "ccrn" => RefType::Ccrn,
        other => {
            return Err(format!("ref_type: {other:?} is not crime_reference, cps_urn, court_case_number or ccrn"));
        }
    };
    let value =
        normalise_value(ref_type, &required(ref_value, "ref_value")?).map_err(|why| format!("ref_value: {why}"))?;
    let victim_key = match victim_key {
        None => None,
        Some(_) if ref_type != RefType::CrimeReference => {
            return Err("victim_key: give it only with a crime reference".into());
        }
        Some(k) => {
            let stored = super::intake::victim_key_value(&value, &k).map_err(|why| format!("victim_key: {why}"))?;
            Some((k, stored))
        }
    };
    Ok(EventRow {
        source_event_id,
        event_type,
        occurred_at,
        received_at,
        outcome_code,
        reason_code,
        agency,
        ref_type,
        value,
        victim_key,
    })
}

/// An RFC 3339 time with its offset.
fn time(s: &str, name: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| crate::http::micros::whole(t.with_timezone(&Utc)))
        .map_err(|_| format!("{name}: {s:?} is not an RFC 3339 time with an offset (e.g. 2026-03-01T10:00:00Z)"))
}

#[cfg(test)]
mod fuzz {
    use std::collections::HashSet;

    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;

    use super::super::fuzz_cell as cell;

    proptest! {
        #[test]
        fn fuzz_event_rows_are_checked_never_panicking(
            row in (
                cell("[A-Z0-9-]{1,20}"),
                cell("ARREST_INTERVIEW|CHARGE|OUTCOME|REPORTED|[A-Z_]{1,12}"),
                cell("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})"),
                cell("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z"),
                cell("[0-9]{1,3}[A-Z]?"),
                cell("[A-Z-]{2,12}"),
                cell("crime_reference|cps_urn|ccrn|court_case_number|other"),
                cell("[A-Za-z0-9/ -]{1,20}"),
                cell("[0-9]{1,4}"),
                cell("FEAR|PRESSURE|[a-z_]{1,12}"),
            ),
            extra in proptest::option::of(cell(".*")),
        ) {
            let now: DateTime<Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
            let codes: HashSet<String> = ["1", "9", "15", "16"].into_iter().map(String::from).collect();
            let (a, b, c, d, e, f, g, h, i, j) = row;
            let mut values = vec![a, b, c, d, e, f, g, h, i, j];
            if let Some(x) = extra {
                values.push(x);
            }
            let width = values.len();
            match super::check(values, &codes, now) {
                Ok(row) => {
                    prop_assert_eq!(width, 10);
                    prop_assert!(row.occurred_at <= now + Duration::minutes(5));
                    prop_assert!(row.received_at.is_none_or(|r| r >= row.occurred_at));
                }
                Err(why) => prop_assert!(!why.is_empty()),
            }
        }
    }
}
