//! Receiving agency events, linking them to cases, keeping journeys current, and rebuilding them.
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use super::dto::{BatchInput, BatchResult, CaseJourney, EventInput, EventResult, EventView, JourneyView};
use super::stages::{self, EventFact, OUTCOME};
use crate::agencies::references;
use crate::audit::{self, Actor, AuditSink, Event};
use crate::auth::Principal;
use crate::auth::access::Access;
use crate::db::Db;
use crate::db::bulk::{self, OnConflict};
use crate::entities::{
    agencies, case_victims, cases, journey_events, journeys, outcome_codes, victims, withdrawal_flags, withdrawals,
};
use crate::error::{AppError, AppResult, FieldError};
use crate::victims::hub_ref::HubRef;
use crate::vocab::{AuditAction, EventStatus, Role, WithdrawalStatus};

pub const MAX_BATCH: usize = 1000;

/// Outcome codes meaning the victim does not support action (14 and 16 as shipped).
pub async fn victim_outcomes(db: &impl ConnectionTrait) -> AppResult<Vec<String>> {
    Ok(outcome_codes::Entity::find()
        .select_only()
        .column(outcome_codes::Column::Code)
        .filter(outcome_codes::Column::VictimDoesNotSupport.eq(true))
        .into_tuple()
        .all(db)
        .await?)
}

/// Checks a batch before anything is written: every fault, with its pointer.
async fn check(db: &impl ConnectionTrait, user: &Principal, batch: &BatchInput, now: DateTime<Utc>) -> AppResult<()> {
    let mut errors = Vec::new();
    if batch.events.is_empty() || batch.events.len() > MAX_BATCH {
        errors.push(FieldError::body("/events", "out_of_range", format!("send 1 to {MAX_BATCH} events")));
    }
    let codes: Vec<String> =
        outcome_codes::Entity::find().select_only().column(outcome_codes::Column::Code).into_tuple().all(db).await?;
    let active: Vec<String> = agencies::Entity::find()
        .select_only()
        .column(agencies::Column::Code)
        .filter(agencies::Column::Active.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    let mut seen = BTreeSet::new();
    for (i, e) in batch.events.iter().enumerate() {
        let at = |f: &str| format!("/events/{i}/{f}");
        let agency = e.source_agency.trim().to_uppercase();
        if !active.contains(&agency) {
            errors.push(FieldError::body(
                at("source_agency"),
                "unknown_agency",
                format!("no active agency has code {agency}"),
            ));
        }
        if user.is(Role::AgencyLiaison) && user.agency.as_deref() != Some(agency.as_str()) {
            return Err(AppError::forbidden(format!(
                "agency liaisons send events for their own agency only (event {i} is from {agency})"
            )));
        }
        let id = e.source_event_id.trim();
        if id.is_empty() || id.chars().count() > 100 || id.chars().any(char::is_control) {
            errors.push(FieldError::body(at("source_event_id"), "invalid_format", "1 to 100 printable characters"));
        } else if !seen.insert((agency.clone(), id.to_owned())) {
            errors.push(FieldError::body(at("source_event_id"), "duplicate", "the same event is in the batch twice"));
        }
        if e.event_type != OUTCOME && stages::find(&e.event_type).is_none() {
            errors.push(FieldError::body(
                at("event_type"),
                "unknown_stage",
                "a stage code of GET /api/v1/reference/stages, or OUTCOME",
            ));
        }
        match (&e.outcome_code, e.event_type == OUTCOME) {
            (None, true) => {
                errors.push(FieldError::body(
                    at("outcome_code"),
                    "required",
                    "an OUTCOME event needs its outcome code",
                ));
            }
            (Some(c), _) if !codes.contains(c) => {
                errors.push(FieldError::body(
                    at("outcome_code"),
                    "unknown_outcome",
                    format!("{c} is not a Home Office outcome code"),
                ));
            }
            _ => {}
        }
        if let Some(why) = e.reason_code.as_deref().and_then(|c| reason_fault(&e.event_type, c)) {
            errors.push(FieldError::body(at("reason_code"), "invalid_value", why));
        }
        if e.occurred_at > now + Duration::minutes(5) {
            errors.push(FieldError::body(at("occurred_at"), "in_future", "must not be in the future"));
        }
        if e.received_at.is_some_and(|r| r < e.occurred_at) {
            errors.push(FieldError::body(at("received_at"), "before_event", "must not be before occurred_at"));
        }
        let k = &e.case;
        match (k.case_id, &k.agency, k.ref_type, &k.value) {
            (Some(_), None, None, None) => {}
            (None, Some(_), Some(t), Some(v)) => {
                if let Err(why) = references::normalise_value(t, v) {
                    errors.push(FieldError::body(at("case/value"), "invalid_format", why));
                }
            }
            _ => errors.push(FieldError::body(at("case"), "invalid_value", "give case_id, or agency, type and value")),
        }
        if let Some(v) = &e.victim
            && HubRef::parse(v).is_err()
        {
            errors.push(FieldError::body(at("victim"), "invalid_format", "a hub reference"));
        }
        if let Some(c) = &e.correction
            && !matches!(c.action.as_str(), "retract" | "supersede")
        {
            errors.push(FieldError::body(at("correction/action"), "invalid_value", "retract or supersede"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::validation(errors)) }
}

/// Why `code` cannot be the reason code of an event of `event_type`, if it cannot.
#[must_use]
pub fn reason_fault(event_type: &str, code: &str) -> Option<String> {
    if event_type != "TRIAL_INEFFECTIVE" {
        return Some("only a TRIAL_INEFFECTIVE event carries a reason code".into());
    }
    stages::ineffective_reason(code)
        .is_none()
        .then(|| format!("{code} is not an ineffective-trial reason code (W1-W5, X, Q1-Q3, R, S1-S4, T, U1, U2, V, Y, Z, or M and one or two digits)"))
}

/// Where an event's case is, or why it cannot be found.
async fn link(
    db: &impl ConnectionTrait,
    e: &EventInput,
) -> AppResult<(Option<String>, Result<(Uuid, Option<Uuid>), String>)> {
    let k = &e.case;
    let (case_ref, case_id) = if let Some(id) = k.case_id {
        let found = cases::Entity::find_by_id(id).one(db).await?.map(|c| c.id);
        (Some(format!("case:{id}")), found.ok_or_else(|| format!("no case has id {id}")))
    } else {
        let (agency, t, raw) = (
            k.agency.clone().unwrap_or_default().trim().to_uppercase(),
            k.ref_type.expect("checked"),
            k.value.clone().unwrap_or_default(),
        );
        let value = references::normalise_value(t, &raw).unwrap_or(raw);
        let label = format!("{agency}/{}/{value}", t.as_str());
        let found = references::find(db, &agency, t, &value).await?.and_then(|r| r.case_id);
        (Some(label.clone()), found.ok_or_else(|| format!("no case has the reference {label}")))
    };
    let Ok(case_id) = case_id else { return Ok((case_ref, case_id.map(|c| (c, None)))) };
    let Some(raw) = &e.victim else { return Ok((case_ref, Ok((case_id, None)))) };
    let victim = match HubRef::parse(raw) {
        Ok(r) => crate::victims::service::resolve(db, &r).await?,
        Err(_) => None,
    };
    let on_case = match &victim {
        Some(v) => case_victims::Entity::find_by_id((case_id, v.id)).one(db).await?.is_some(),
        None => false,
    };
    Ok((
        case_ref,
        if on_case { Ok((case_id, victim.map(|v| v.id))) } else { Err(format!("victim {raw} is not on the case")) },
    ))
}

/// Takes a batch: checks it whole (422 naming each fault, nothing written), then stores each new
/// event, applies corrections, and brings the touched journeys up to date, in one transaction.
pub async fn ingest(db: &Db, user: &Principal, batch: &BatchInput, now: DateTime<Utc>) -> AppResult<BatchResult> {
    user.require(&[Role::AgencyLiaison, Role::Admin])?;
    check(db.read(), user, batch, now).await?;
    let tx = db.begin_write().await?;
    let mut result = BatchResult::default();
    let mut touched: BTreeSet<Uuid> = BTreeSet::new();
    let mut fresh: Vec<journey_events::Model> = Vec::new();
    for e in &batch.events {
        let agency = e.source_agency.trim().to_uppercase();
        let source_id = e.source_event_id.trim().to_owned();
        if let Some(existing) = journey_events::Entity::find()
            .filter(journey_events::Column::SourceAgency.eq(agency.as_str()))
            .filter(journey_events::Column::SourceEventId.eq(source_id.as_str()))
            .one(&tx)
            .await?
        {
            result.duplicates += 1;
            result.events.push(EventResult {
                source_event_id: source_id,
                result: "duplicate".into(),
                id: existing.id,
                case_id: existing.case_id,
                linkage_reason: existing.linkage_reason,
            });
            continue;
        }
        let (case_ref, linked) = link(&tx, e).await?;
        let retract = e.correction.as_ref().is_some_and(|c| c.action == "retract");
        let (status, case_id, victim_id, reason) = match linked {
            _ if retract => (EventStatus::Retracted, None, None, None),
            Ok((c, v)) => (EventStatus::Linked, Some(c), v, None),
            Err(why) => (EventStatus::Unlinked, None, None, Some(why)),
        };
        let row = journey_events::Model {
            id: Uuid::now_v7(),
            source_agency: agency.clone(),
            source_event_id: source_id.clone(),
            event_type: e.event_type.clone(),
            occurred_at: e.occurred_at,
            received_at: e.received_at,
            outcome_code: e.outcome_code.clone(),
            case_ref,
            victim_ref: e.victim.clone(),
            case_id,
            victim_id,
            status,
            linkage_reason: reason.clone(),
            corrects: e.correction.as_ref().map(|c| c.source_event_id.clone()),
            correction_action: e.correction.as_ref().map(|c| c.action.clone()),
            superseded_by: None,
            created_at: now,
            created_by: user.sub.clone(),
            reason_code: e.reason_code.clone(),
        };
        let row = journey_events::Entity::insert(row.into_active_model()).exec_with_returning(&tx).await?;
        if let Some(c) = &e.correction {
            let target = journey_events::Entity::find()
                .filter(journey_events::Column::SourceAgency.eq(agency.as_str()))
                .filter(journey_events::Column::SourceEventId.eq(c.source_event_id.trim()))
                .one(&tx)
                .await?;
            if let Some(t) = target {
                let mut am = t.clone().into_active_model();
                am.status = Set(if retract { EventStatus::Retracted } else { EventStatus::Superseded });
                am.superseded_by = Set(Some(row.id));
                am.update(&tx).await?;
                if let Some(c) = t.case_id {
                    touched.insert(c);
                }
                // Obligations the retracted event started are no longer owed.
                crate::obligations::service::cancel_for_source(&tx, &source_key(&t)).await?;
            }
            result.corrections += 1;
        }
        match row.status {
            EventStatus::Linked => {
                result.linked += 1;
                touched.extend(row.case_id);
                fresh.push(row.clone());
            }
            EventStatus::Unlinked => result.unlinked += 1,
            _ => {}
        }
        result.events.push(EventResult {
            source_event_id: source_id,
            result: match row.status {
                EventStatus::Linked if e.correction.is_some() => "superseded".into(),
                s => s.as_str(),
            },
            id: row.id,
            case_id: row.case_id,
            linkage_reason: reason,
        });
    }
    let victim_outcomes = victim_outcomes(&tx).await?;
    for case_id in &touched {
        recompute_case(&tx, *case_id, &victim_outcomes, now).await?;
    }
    for row in &fresh {
        after_linking(&tx, row, &victim_outcomes, &user.sub, now).await?;
    }
    let subjects = victims_of(&tx, &touched).await?;
    let event = Event::new(AuditAction::Create, "journey_events")
        .resource(format!("{} events", batch.events.len()))
        .subjects(subjects)
        .fields(["events"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(result)
}

/// The obligations' `source_key` for an event (also used by `care-hub import`).
#[must_use]
pub fn source_key(e: &journey_events::Model) -> String {
    format!("event:{}:{}", e.source_agency, e.source_event_id)
}

async fn victims_of(db: &impl ConnectionTrait, cases: &BTreeSet<Uuid>) -> AppResult<Vec<Uuid>> {
    if cases.is_empty() {
        return Ok(Vec::new());
    }
    Ok(case_victims::Entity::find()
        .select_only()
        .column(case_victims::Column::VictimId)
        .filter(case_victims::Column::CaseId.is_in(cases.iter().copied()))
        .into_tuple()
        .all(db)
        .await?)
}

/// What a newly linked event sets off: Victims' Code obligations for each victim it concerns,
/// and an unevidenced-withdrawal flag when its outcome says the victim does not support action
/// and no evidenced withdrawal is on record.
async fn after_linking(
    db: &impl ConnectionTrait,
    e: &journey_events::Model,
    victim_outcomes: &[String],
    by: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(case_id) = e.case_id else { return Ok(()) };
    let people: Vec<Uuid> = match e.victim_id {
        Some(v) => vec![v],
        None => victims_of(db, &BTreeSet::from([case_id])).await?,
    };
    let trigger = stages::trigger_for(&e.event_type, e.outcome_code.as_deref());
    let withdrawal = e.outcome_code.as_ref().is_some_and(|o| victim_outcomes.contains(o));
    for victim_id in people {
        let Some(victim) = victims::Entity::find_by_id(victim_id).one(db).await? else { continue };
        if let Some(t) = trigger {
            crate::obligations::service::create_for_event(
                db,
                &victim,
                Some(case_id),
                t,
                e.occurred_at,
                e.received_at,
                &source_key(e),
                by,
                now,
            )
            .await?;
        }
        if withdrawal {
            flag_withdrawal(db, case_id, victim_id, e.id, now).await?;
        }
    }
    Ok(())
}

/// Raises an unevidenced-withdrawal flag for a victim on a case (once per event), unless an
/// evidenced withdrawal is on record.
pub async fn flag_withdrawal(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    victim_id: Uuid,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if crate::withdrawals::service::evidenced(db, case_id, victim_id).await? {
        return Ok(());
    }
    let key = [withdrawal_flags::Column::EventId, withdrawal_flags::Column::VictimId];
    bulk::insert(db, &[flag_row(case_id, victim_id, event_id, now)], OnConflict::Skip(&key)).await?;
    Ok(())
}

/// A new unevidenced-withdrawal flag on `event_id` for a victim on a case.
#[must_use]
pub fn flag_row(case_id: Uuid, victim_id: Uuid, event_id: Uuid, now: DateTime<Utc>) -> withdrawal_flags::Model {
    withdrawal_flags::Model {
        id: Uuid::now_v7(),
        case_id,
        victim_id,
        event_id,
        raised_at: now,
        cleared_at: None,
        cleared_by: None,
    }
}

/// Recomputes every journey on a case from its live events and withdrawal records.
pub async fn recompute_case(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    victim_outcomes: &[String],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let people: Vec<Uuid> = victims_of(db, &BTreeSet::from([case_id])).await?;
    // Status is checked here rather than in SQL: given both, SQLite's planner picks the status
    // index and reads every linked event in the hub.
    let events: Vec<journey_events::Model> = journey_events::Entity::find()
        .filter(journey_events::Column::CaseId.eq(case_id))
        .all(db)
        .await?
        .into_iter()
        .filter(|e| e.status == EventStatus::Linked)
        .collect();
    let records = withdrawals::Entity::find()
        .filter(withdrawals::Column::CaseId.eq(case_id))
        .filter(withdrawals::Column::Status.ne(WithdrawalStatus::Rejected))
        .order_by_asc(withdrawals::Column::WithdrawnOn)
        .all(db)
        .await?;
    let rows: Vec<journeys::Model> = people
        .into_iter()
        .map(|victim_id| {
            let facts: Vec<EventFact> =
                events.iter().filter(|e| e.victim_id.is_none_or(|v| v == victim_id)).map(fact).collect();
            let record = records.iter().find(|w| w.victim_id == victim_id);
            journey_row(case_id, victim_id, &facts, record, victim_outcomes, now)
        })
        .collect();
    upsert_journeys(db, rows).await
}

/// How the derivation sees a stored event.
#[must_use]
pub fn fact(e: &journey_events::Model) -> EventFact {
    EventFact {
        event_type: e.event_type.clone(),
        outcome_code: e.outcome_code.clone(),
        reason_code: e.reason_code.clone(),
        occurred_at: e.occurred_at,
        received_at: e.received_at,
        seq: e.id,
    }
}

/// One victim's journey on a case from the live events concerning them and the earliest
/// withdrawal on record (not rejected).
#[must_use]
pub fn journey_row(
    case_id: Uuid,
    victim_id: Uuid,
    facts: &[EventFact],
    withdrawal: Option<&withdrawals::Model>,
    victim_outcomes: &[String],
    now: DateTime<Utc>,
) -> journeys::Model {
    let mut d = stages::derive(facts, victim_outcomes);
    if let Some(w) = withdrawal {
        let on = w.withdrawn_on.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        d.withdraw_at_stage(&w.stage, on);
    }
    let (withdrawal_phase, flow_path, trial_result) =
        (d.withdrawal_phase().map(str::to_owned), d.flow_path(), d.trial_result.map(str::to_owned));
    let ineffective_reasons = (!d.ineffective_reasons.is_empty()).then(|| d.ineffective_reasons.join(">"));
    journeys::Model {
        case_id,
        victim_id,
        current_stage: d.current_stage,
        furthest_stage: d.furthest_stage,
        reported_at: d.reported_at,
        charged_at: d.charged_at,
        first_hearing_at: d.first_hearing_at,
        trial_listed_at: d.trial_listed_at,
        verdict_at: d.verdict_at,
        sentenced_at: d.sentenced_at,
        ended_at: d.ended_at,
        action_plan_count: d.action_plan_count,
        ineffective_count: d.ineffective_count,
        final_outcome: d.final_outcome,
        withdrawn: d.withdrawn,
        withdrawal_stage: d.withdrawal_stage,
        event_count: d.event_count,
        updated_at: now,
        arrested_at: d.arrested_at,
        cps_referred_at: d.cps_referred_at,
        decision_at: d.decision_at,
        trial_started_at: d.trial_started_at,
        trial_result,
        court_outcome_at: d.court_outcome_at,
        support_referred_at: d.support_referred_at,
        withdrawn_at: d.withdrawn_at,
        withdrawal_phase,
        flow_path,
        rev: 0,
        ineffective_reasons,
    }
}

/// Stores journeys, replacing the derived fields of each (case, victim) already there, under a
/// new change number (so the reports' in-memory journeys pick them up); no (case, victim) may
/// repeat.
pub async fn upsert_journeys(db: &impl ConnectionTrait, mut rows: Vec<journeys::Model>) -> AppResult<()> {
    use journeys::Column as J;
    if rows.is_empty() {
        return Ok(());
    }
    let rev = crate::reports::facts::next_rev(db).await?;
    for r in &mut rows {
        r.rev = rev;
    }
    let derived = [
        J::CurrentStage,
        J::FurthestStage,
        J::ReportedAt,
        J::ChargedAt,
        J::FirstHearingAt,
        J::TrialListedAt,
        J::VerdictAt,
        J::SentencedAt,
        J::EndedAt,
        J::ActionPlanCount,
        J::IneffectiveCount,
        J::FinalOutcome,
        J::Withdrawn,
        J::WithdrawalStage,
        J::EventCount,
        J::UpdatedAt,
        J::ArrestedAt,
        J::CpsReferredAt,
        J::DecisionAt,
        J::TrialStartedAt,
        J::TrialResult,
        J::CourtOutcomeAt,
        J::SupportReferredAt,
        J::WithdrawnAt,
        J::WithdrawalPhase,
        J::FlowPath,
        J::Rev,
        J::IneffectiveReasons,
    ];
    bulk::insert(db, &rows, OnConflict::Update { key: &[J::CaseId, J::VictimId], columns: &derived }).await?;
    Ok(())
}

/// Recomputes every journey from the events (`care-hub journeys rebuild`); returns how many cases.
pub async fn rebuild(db: &Db, now: DateTime<Utc>) -> AppResult<u64> {
    let victim_outcomes = victim_outcomes(db.read()).await?;
    let mut ids: Vec<Uuid> = journey_events::Entity::find()
        .select_only()
        .column(journey_events::Column::CaseId)
        .filter(journey_events::Column::CaseId.is_not_null())
        .distinct()
        .into_tuple::<Option<Uuid>>()
        .all(db.read())
        .await?
        .into_iter()
        .flatten()
        .collect();
    let with_records: Vec<Uuid> = withdrawals::Entity::find()
        .select_only()
        .column(withdrawals::Column::CaseId)
        .distinct()
        .into_tuple()
        .all(db.read())
        .await?;
    ids.extend(with_records);
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(200) {
        let tx = db.begin_write().await?;
        for id in chunk {
            recompute_case(&tx, *id, &victim_outcomes, now).await?;
        }
        tx.commit().await?;
    }
    Ok(ids.len() as u64)
}

/// A case's journeys and timeline, for whoever may read the case.
pub async fn case_journey(
    db: &impl ConnectionTrait,
    audit: &AuditSink,
    user: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<CaseJourney> {
    let (_, access, people) = crate::cases::service::load_for_read(db, user, id).await?;
    let rows = journeys::Entity::find().filter(journeys::Column::CaseId.eq(id)).all(db).await?;
    let refs = crate::contacts::service::hub_refs(db, people.clone()).await?;
    let events = journey_events::Entity::find()
        .filter(journey_events::Column::CaseId.eq(id))
        .order_by_asc(journey_events::Column::OccurredAt)
        .order_by_asc(journey_events::Column::Id)
        .all(db)
        .await?;
    let event = Event::new(AuditAction::Read, "journey")
        .resource(id)
        .subjects(people)
        .fields(["journey", "timeline"])
        .break_glass(access == Access::BreakGlass);
    audit.record(Actor::from(user), event, now).await?;
    let mut journeys: Vec<JourneyView> =
        rows.into_iter().map(|j| JourneyView::new(refs.get(&j.victim_id).cloned().unwrap_or_default(), j)).collect();
    journeys.sort_by(|a, b| a.hub_ref.cmp(&b.hub_ref));
    Ok(CaseJourney { case_id: id, journeys, timeline: events.into_iter().map(EventView::from).collect() })
}

/// Events waiting for linkage: all for supervisors and admins, their own agency's for liaisons.
pub async fn exceptions(db: &impl ConnectionTrait, user: &Principal) -> AppResult<Vec<EventView>> {
    user.require(&[Role::Supervisor, Role::Admin, Role::AgencyLiaison])?;
    let mut q = journey_events::Entity::find()
        .filter(journey_events::Column::Status.eq(EventStatus::Unlinked))
        .order_by_asc(journey_events::Column::Id)
        .limit(1000);
    if user.is(Role::AgencyLiaison) {
        q = q.filter(journey_events::Column::SourceAgency.eq(user.agency.clone().unwrap_or_default()));
    }
    Ok(q.all(db).await?.into_iter().map(EventView::from).collect())
}

/// Attaches a queued event to a case the caller's team works on.
pub async fn resolve(
    db: &Db,
    user: &Principal,
    event_id: Uuid,
    case_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<EventView> {
    user.require(&[Role::Supervisor, Role::Caseworker])?;
    let tx = db.begin_write().await?;
    crate::cases::service::load_for_write(&tx, user, case_id).await.map_err(|_| {
        AppError::invalid_field("/case_id", "not_found", format!("no case {case_id} your team works on"))
    })?;
    let row = journey_events::Entity::find_by_id(event_id)
        .one(&tx)
        .await?
        .filter(|e| e.status == EventStatus::Unlinked)
        .ok_or_else(|| AppError::not_found(format!("no queued event {event_id}")))?;
    let mut am = row.clone().into_active_model();
    am.status = Set(EventStatus::Linked);
    am.case_id = Set(Some(case_id));
    am.linkage_reason = Set(None);
    let row = am.update(&tx).await?;
    let victim_outcomes = victim_outcomes(&tx).await?;
    recompute_case(&tx, case_id, &victim_outcomes, now).await?;
    after_linking(&tx, &row, &victim_outcomes, &user.sub, now).await?;
    let subjects = victims_of(&tx, &BTreeSet::from([case_id])).await?;
    let event =
        Event::new(AuditAction::Update, "journey_event").resource(event_id).subjects(subjects).fields(["case_id"]);
    audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(EventView::from(row))
}

/// Journeys by case, for comparing an incremental state with a rebuild.
pub async fn snapshot(db: &impl ConnectionTrait) -> AppResult<HashMap<(Uuid, Uuid), journeys::Model>> {
    Ok(journeys::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|mut j| {
            j.updated_at = DateTime::<Utc>::UNIX_EPOCH;
            j.rev = 0;
            ((j.case_id, j.victim_id), j)
        })
        .collect())
}
