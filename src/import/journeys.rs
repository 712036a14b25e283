//! What a batch of newly linked events sets off, batched: the touched cases' journeys recomputed
//! once each (with the API's derivation, `journeys::service::journey_row`), obligations for
//! events whose deadline has not passed yet, and unevidenced-withdrawal flags.
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::calendar::Calendar;
use crate::clock::london_date;
use crate::db::bulk::{self, OnConflict};
use crate::entities::{case_victims, journey_events, obligation_rules, victims, withdrawal_flags, withdrawals};
use crate::error::AppResult;
use crate::journeys::service::{flag_row, journey_row, source_key, upsert_journeys};
use crate::journeys::stages::{EventFact, trigger_for};
use crate::vocab::{ClockStarts, EventStatus, WithdrawalStatus};
use crate::withdrawals::service::is_evidenced;

#[derive(Debug, FromQueryResult)]
struct LiveEvent {
    id: Uuid,
    case_id: Option<Uuid>,
    victim_id: Option<Uuid>,
    event_type: String,
    outcome_code: Option<String>,
    reason_code: Option<String>,
    occurred_at: DateTime<Utc>,
    received_at: Option<DateTime<Utc>>,
    status: EventStatus,
}

/// The victims on each case.
pub(super) async fn victims_on(db: &impl ConnectionTrait, cases: &[Uuid]) -> AppResult<HashMap<Uuid, Vec<Uuid>>> {
    let links: Vec<(Uuid, Uuid)> = case_victims::Entity::find()
        .select_only()
        .column(case_victims::Column::CaseId)
        .column(case_victims::Column::VictimId)
        .filter(bulk::uuid_in(db.get_database_backend(), case_victims::Column::CaseId, cases))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (case_id, victim_id) in links {
        out.entry(case_id).or_default().push(victim_id);
    }
    Ok(out)
}

/// Recomputes every journey on `cases` from their live events and withdrawal records, exactly as
/// `journeys::service::recompute_case` does one case. `people` holds the victims on each case
/// (`victims_on`, at least for `cases`). `pending` are events of the batch that its transaction
/// stores next (those linked count): reading the stored events first and adding these saves
/// reading a whole batch back.
pub(super) async fn recompute(
    db: &impl ConnectionTrait,
    cases: &BTreeSet<Uuid>,
    people: &HashMap<Uuid, Vec<Uuid>>,
    pending: &[journey_events::Model],
    victim_outcomes: &[String],
    now: DateTime<Utc>,
) -> AppResult<()> {
    if cases.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = cases.iter().copied().collect();
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let mut waiting: HashMap<Uuid, Vec<LiveEvent>> = HashMap::new();
    for e in pending.iter().filter(|e| e.status == EventStatus::Linked) {
        let Some(case_id) = e.case_id else { continue };
        // As the row will read back: PostgreSQL keeps whole microseconds.
        let time = |t: DateTime<Utc>| if postgres { crate::db::bulk::postgres_time(t) } else { t };
        waiting.entry(case_id).or_default().push(LiveEvent {
            id: e.id,
            case_id: e.case_id,
            victim_id: e.victim_id,
            event_type: e.event_type.clone(),
            outcome_code: e.outcome_code.clone(),
            reason_code: e.reason_code.clone(),
            occurred_at: time(e.occurred_at),
            received_at: e.received_at.map(time),
            status: e.status,
        });
    }
    let events: Vec<LiveEvent> = journey_events::Entity::find()
        .select_only()
        .columns([
            journey_events::Column::Id,
            journey_events::Column::CaseId,
            journey_events::Column::VictimId,
            journey_events::Column::EventType,
            journey_events::Column::OutcomeCode,
            journey_events::Column::ReasonCode,
            journey_events::Column::OccurredAt,
            journey_events::Column::ReceivedAt,
            journey_events::Column::Status,
        ])
        // Status is checked here rather than in SQL: given both, SQLite's planner picks the
        // status index and reads every linked event in the hub.
        .filter(bulk::uuid_in(backend, journey_events::Column::CaseId, &ids))
        .into_model::<LiveEvent>()
        .all(db)
        .await?;
    let mut by_case: HashMap<Uuid, Vec<LiveEvent>> = HashMap::new();
    for e in events.into_iter().filter(|e| e.status == EventStatus::Linked) {
        if let Some(c) = e.case_id {
            by_case.entry(c).or_default().push(e);
        }
    }
    for case_id in &ids {
        if let Some(more) = waiting.remove(case_id) {
            by_case.entry(*case_id).or_default().extend(more);
        }
    }
    let records = withdrawals::Entity::find()
        .filter(bulk::uuid_in(backend, withdrawals::Column::CaseId, &ids))
        .filter(withdrawals::Column::Status.ne(WithdrawalStatus::Rejected))
        .order_by_asc(withdrawals::Column::WithdrawnOn)
        .all(db)
        .await?;
    let mut rows = Vec::new();
    for case_id in &ids {
        let events = by_case.get(case_id).map_or(&[][..], Vec::as_slice);
        for victim_id in people.get(case_id).map_or(&[][..], Vec::as_slice) {
            let facts: Vec<EventFact> = events
                .iter()
                .filter(|e| e.victim_id.is_none_or(|v| v == *victim_id))
                .map(|e| EventFact {
                    event_type: e.event_type.clone(),
                    outcome_code: e.outcome_code.clone(),
                    reason_code: e.reason_code.clone(),
                    occurred_at: e.occurred_at,
                    received_at: e.received_at,
                    seq: e.id,
                })
                .collect();
            let record = records.iter().find(|w| w.case_id == *case_id && w.victim_id == *victim_id);
            rows.push(journey_row(*case_id, *victim_id, &facts, record, victim_outcomes, now));
        }
    }
    upsert_journeys(db, rows).await?;
    Ok(())
}

/// Deadline rules by trigger and the working-day calendar, loaded once per import.
pub(super) struct Deadlines {
    rules: HashMap<String, Vec<obligation_rules::Model>>,
    calendar: Calendar,
    today: NaiveDate,
}

impl Deadlines {
    pub(super) async fn load(db: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<Self> {
        let mut rules: HashMap<String, Vec<obligation_rules::Model>> = HashMap::new();
        for r in obligation_rules::Entity::find().filter(obligation_rules::Column::Active.eq(true)).all(db).await? {
            rules.entry(r.trigger_event.clone()).or_default().push(r);
        }
        let calendar = crate::obligations::holidays::load(db).await?;
        Ok(Deadlines { rules, calendar, today: london_date(now) })
    }

    /// The latest due date among the rules `trigger` starts, for a victim with or without
    /// enhanced rights (`None`: the longer standard deadlines, an upper bound for anyone).
    fn latest_due(&self, trigger: &str, e: &journey_events::Model, enhanced: Option<bool>) -> Option<NaiveDate> {
        self.rules
            .get(trigger)?
            .iter()
            .map(|r| {
                let starts_at = match r.clock_starts {
                    ClockStarts::Receipt => e.received_at.unwrap_or(e.occurred_at),
                    ClockStarts::Event => e.occurred_at,
                };
                let days = if enhanced == Some(true) { r.working_days_enhanced } else { r.working_days_standard };
                self.calendar.add_working_days(london_date(starts_at), days.max(0) as u32)
            })
            .max()
    }

    /// Whether an obligation created now would be open rather than already breached.
    fn still_due(&self, trigger: &str, e: &journey_events::Model, enhanced: Option<bool>) -> bool {
        self.latest_due(trigger, e, enhanced).is_some_and(|due| due >= self.today)
    }
}

/// Whether a newly linked event sets anything off: an obligation that may still be due, or a
/// withdrawal flag.
pub(super) fn sets_off(e: &journey_events::Model, deadlines: &Deadlines, victim_outcomes: &[String]) -> bool {
    trigger_for(&e.event_type, e.outcome_code.as_deref()).is_some_and(|t| deadlines.still_due(t, e, None))
        || e.outcome_code.as_ref().is_some_and(|o| victim_outcomes.contains(o))
}

/// What the API's `after_linking` does for each newly linked event, except that obligations are
/// created only when the event's deadline for that victim has not passed: a historic extract
/// would otherwise fill caseloads with obligations breached before they were known. Returns how
/// many obligations were created. `fresh` may leave out events [`sets_off`] says set off nothing.
pub(super) async fn after_linking(
    db: &impl ConnectionTrait,
    fresh: &[journey_events::Model],
    people: &HashMap<Uuid, Vec<Uuid>>,
    deadlines: &Deadlines,
    victim_outcomes: &[String],
    by: &str,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let concerned = |e: &journey_events::Model| -> Vec<Uuid> {
        match (e.victim_id, e.case_id) {
            (Some(v), _) => vec![v],
            (None, Some(c)) => people.get(&c).cloned().unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    };
    // Events whose deadline could still be ahead for someone, and the victims they concern.
    let mut due: Vec<(&journey_events::Model, &'static str, Vec<Uuid>)> = Vec::new();
    for e in fresh {
        if let Some(t) = trigger_for(&e.event_type, e.outcome_code.as_deref())
            && deadlines.still_due(t, e, None)
        {
            due.push((e, t, concerned(e)));
        }
    }
    let wanted: BTreeSet<Uuid> = due.iter().flat_map(|(_, _, v)| v.iter().copied()).collect();
    let wanted: Vec<Uuid> = wanted.into_iter().collect();
    let backend = db.get_database_backend();
    let records: HashMap<Uuid, victims::Model> = if wanted.is_empty() {
        HashMap::new()
    } else {
        let found =
            victims::Entity::find().filter(bulk::uuid_in(backend, victims::Column::Id, &wanted)).all(db).await?;
        found.into_iter().map(|v| (v.id, v)).collect()
    };
    let mut created = 0u64;
    for (e, trigger, people) in &due {
        for victim in people.iter().filter_map(|v| records.get(v)) {
            if !deadlines.still_due(trigger, e, Some(victim.enhanced_rights)) {
                continue;
            }
            let made = crate::obligations::service::create_for_event(
                db,
                victim,
                e.case_id,
                trigger,
                e.occurred_at,
                e.received_at,
                &source_key(e),
                by,
                now,
            )
            .await?;
            created += made.len() as u64;
        }
    }
    // Unevidenced-withdrawal flags, as `flag_withdrawal` raises them one at a time.
    let mut flags: Vec<(Uuid, Uuid, Uuid)> = Vec::new();
    for e in fresh {
        let (Some(case_id), Some(outcome)) = (e.case_id, &e.outcome_code) else { continue };
        if victim_outcomes.contains(outcome) {
            flags.extend(concerned(e).into_iter().map(|v| (case_id, v, e.id)));
        }
    }
    let cases: Vec<Uuid> = flags.iter().map(|f| f.0).collect::<BTreeSet<_>>().into_iter().collect();
    let mut evidenced: HashSet<(Uuid, Uuid)> = HashSet::new();
    if !cases.is_empty() {
        let records = withdrawals::Entity::find()
            .filter(bulk::uuid_in(backend, withdrawals::Column::CaseId, &cases))
            .filter(withdrawals::Column::Status.ne(WithdrawalStatus::Rejected))
            .all(db)
            .await?;
        evidenced.extend(records.iter().filter(|w| is_evidenced(w)).map(|w| (w.case_id, w.victim_id)));
    }
    let rows = flags
        .into_iter()
        .filter(|(c, v, _)| !evidenced.contains(&(*c, *v)))
        .map(|(case_id, victim_id, event_id)| flag_row(case_id, victim_id, event_id, now))
        .collect::<Vec<_>>();
    let key = [withdrawal_flags::Column::EventId, withdrawal_flags::Column::VictimId];
    bulk::insert(db, &rows, OnConflict::Skip(&key)).await?;
    Ok(created)
}
