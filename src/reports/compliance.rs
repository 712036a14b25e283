//! Contact compliance over a period.
//!
//! **Updates.** For each victim, due dates are replayed from their history: the first is the day
//! the hub took them on plus their interval; each reached update (routine or key decision) on or
//! before a due date meets it and starts the next interval; a due date that passes without one is
//! missed once, and the clock restarts from the next update. Due dates inside the period that have
//! passed (or were met) are counted. A victim is "updated within their interval" when none of their
//! due dates in the period was missed. The interval is the victim's current plan; victims suspended
//! or opted out now are left out, and due dates after a victim's last case closed are not counted.
//!
//! **Key decisions.** Key-decision obligations due inside the period: met when discharged on or
//! before the due date; breached when discharged later or still open after it; still open and not
//! yet due ones are left out. Waived and cancelled ones are not counted.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{Actor, Event};
use crate::auth::Principal;
use crate::clock::london_date;
use crate::config::Config;
use crate::db::Db;
use crate::entities::{case_victims, cases, contact_schedule, contacts, obligation_rules, obligations, victims};
use crate::error::{AppError, AppResult};
use crate::vocab::{AgencyKind, AuditAction, ContactKind, ContactOutcome, ContactState, ObligationStatus, Role};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ComplianceParams {
    /// First day of the period (default: 90 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last day of the period (default: today, London).
    pub to: Option<NaiveDate>,
    /// Only this team's victims (supervisors always get their own team).
    pub team: Option<String>,
    /// Only victims with a case in this area (a police force or BCU agency code).
    pub area: Option<String>,
}

/// Counts for one group. Analysts get `null` for counts below the suppression threshold and for
/// rates whose denominator is below it.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ComplianceRow {
    pub group: String,
    pub victims: Option<u64>,
    pub victims_updated_within_interval: Option<u64>,
    pub share_updated_within_interval: Option<f64>,
    pub updates_due: Option<u64>,
    pub updates_on_time: Option<u64>,
    pub key_decisions_due: Option<u64>,
    pub key_decisions_on_time: Option<u64>,
    pub key_decisions_breached: Option<u64>,
    pub key_decisions_on_time_rate: Option<f64>,
    /// Some value in this row was withheld as a small number.
    pub suppressed: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplianceReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub generated_at: DateTime<Utc>,
    /// Counts below this are withheld (analysts only); 0 when nothing was suppressed for the caller.
    pub suppression_threshold: u64,
    pub overall: ComplianceRow,
    pub by_team: Vec<ComplianceRow>,
    pub by_area: Vec<ComplianceRow>,
    /// Key-decision obligations by the kind of agency responsible (updates are the hub's).
    pub by_agency: Vec<ComplianceRow>,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    victims: u64,
    victims_ok: u64,
    updates_due: u64,
    updates_on_time: u64,
    kd_due: u64,
    kd_on_time: u64,
    kd_breached: u64,
}

impl Tally {
    fn add_victim(&mut self, met: u64, missed: u64) {
        self.victims += 1;
        if missed == 0 {
            self.victims_ok += 1;
        }
        self.updates_due += met + missed;
        self.updates_on_time += met;
    }

    fn row(&self, group: &str, threshold: u64) -> ComplianceRow {
        let mut suppressed = false;
        let mut count = |n: u64| {
            if threshold > 0 && n > 0 && n < threshold {
                suppressed = true;
                None
            } else {
                Some(n)
            }
        };
        let share = |num: u64, den: u64| {
            if den == 0 || (threshold > 0 && den < threshold) { None } else { Some(num as f64 / den as f64) }
        };
        let row = ComplianceRow {
            group: group.to_owned(),
            victims: count(self.victims),
            victims_updated_within_interval: count(self.victims_ok),
            share_updated_within_interval: share(self.victims_ok, self.victims),
            updates_due: count(self.updates_due),
            updates_on_time: count(self.updates_on_time),
            key_decisions_due: count(self.kd_due),
            key_decisions_on_time: count(self.kd_on_time),
            key_decisions_breached: count(self.kd_breached),
            key_decisions_on_time_rate: share(self.kd_on_time, self.kd_on_time + self.kd_breached),
            suppressed: false,
        };
        ComplianceRow { suppressed, ..row }
    }
}

/// Due dates met and missed in [from, to] for one victim (see the module docs).
#[must_use]
pub fn replay(
    start: NaiveDate,
    interval: i64,
    updates: &[NaiveDate],
    (from, to): (NaiveDate, NaiveDate),
    today: NaiveDate,
    stop: Option<NaiveDate>,
) -> (u64, u64) {
    let end = stop.map_or(to, |s| s.min(to));
    let (mut met, mut missed) = (0, 0);
    let mut base = start;
    let mut i = 0;
    loop {
        let due = base + Duration::days(interval);
        if due > end {
            return (met, missed);
        }
        while i < updates.len() && updates[i] <= base {
            i += 1;
        }
        let next = updates.get(i).copied();
        let in_period = due >= from;
        match next {
            Some(u) if u <= due => {
                if in_period {
                    met += 1;
                }
                base = u;
            }
            Some(u) => {
                if in_period {
                    missed += 1;
                }
                base = u;
            }
            None => {
                if in_period && due < today {
                    missed += 1;
                }
                return (met, missed);
            }
        }
    }
}

/// [`replay`] for one victim's schedule: a closed schedule stops counting when the victim's
/// last case closed (or at once, when no closing date is known).
#[must_use]
pub fn victim_due_dates(
    start: NaiveDate,
    interval: i32,
    state: ContactState,
    closed_on: Option<NaiveDate>,
    updates: &[NaiveDate],
    period: (NaiveDate, NaiveDate),
    today: NaiveDate,
) -> (u64, u64) {
    let stop = if state == ContactState::Closed { Some(closed_on.unwrap_or(start)) } else { None };
    replay(start, i64::from(interval), updates, period, today, stop)
}

pub async fn report(
    db: &Db,
    user: &Principal,
    p: &ComplianceParams,
    config: &Config,
    now: DateTime<Utc>,
) -> AppResult<ComplianceReport> {
    user.require(&[Role::Supervisor, Role::Admin, Role::Analyst])?;
    let today = london_date(now);
    let to = p.to.unwrap_or(today);
    let from = p.from.unwrap_or(to - Duration::days(90));
    if from > to {
        return Err(AppError::invalid_query("from", "after_to", "must not be after to"));
    }
    let team = if user.is(Role::Supervisor) {
        match &p.team {
            Some(t) if Some(t.as_str()) != user.team() => {
                return Err(AppError::forbidden("supervisors see their own team's compliance"));
            }
            _ => user.team().map(str::to_owned),
        }
    } else {
        p.team.clone()
    };
    let threshold = if user.is(Role::Analyst) { config.suppression_threshold } else { 0 };
    let conn = db.read();

    // Victims in scope, with their team, interval, start and areas.
    let mut q = contact_schedule::Entity::find()
        .select_only()
        .columns([
            contact_schedule::Column::VictimId,
            contact_schedule::Column::TeamCode,
            contact_schedule::Column::IntervalDays,
            contact_schedule::Column::State,
        ])
        .filter(contact_schedule::Column::State.is_in([ContactState::Active, ContactState::Closed]));
    if let Some(t) = &team {
        q = q.filter(contact_schedule::Column::TeamCode.eq(t.as_str()));
    }
    let scope: Vec<(Uuid, String, i32, ContactState)> = q.into_tuple().all(conn).await?;
    let ids: Vec<Uuid> = scope.iter().map(|s| s.0).collect();
    let areas = victim_areas(conn, &ids).await?;
    let scope: Vec<_> = match &p.area {
        Some(a) => scope.into_iter().filter(|s| areas.get(&s.0).is_some_and(|v| v.0.contains(a))).collect(),
        None => scope,
    };
    let created = created_dates(conn, &scope.iter().map(|s| s.0).collect::<Vec<_>>()).await?;
    let updates = update_dates(conn, &scope.iter().map(|s| s.0).collect::<Vec<_>>(), to).await?;

    let mut overall = Tally::default();
    let mut by_team: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_area: BTreeMap<String, Tally> = BTreeMap::new();
    let no_updates = Vec::new();
    for (victim, team_code, interval, state) in &scope {
        let Some(start) = created.get(victim) else { continue };
        let (victim_areas, closed_on) = areas.get(victim).cloned().unwrap_or_default();
        let u = updates.get(victim).unwrap_or(&no_updates);
        let (met, missed) = victim_due_dates(*start, *interval, *state, closed_on, u, (from, to), today);
        if met + missed == 0 {
            continue;
        }
        overall.add_victim(met, missed);
        by_team.entry(team_code.clone()).or_default().add_victim(met, missed);
        let names = if victim_areas.is_empty() { vec!["(no area)".to_owned()] } else { victim_areas };
        for a in names {
            by_area.entry(a).or_default().add_victim(met, missed);
        }
    }

    // Key-decision obligations due in the period.
    let rules: HashMap<String, AgencyKind> = obligation_rules::Entity::find()
        .filter(obligation_rules::Column::KeyDecision.eq(true))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.code, r.responsible))
        .collect();
    let teams: HashMap<Uuid, String> = scope.iter().map(|s| (s.0, s.1.clone())).collect();
    let obls: Vec<obligations::Model> = obligations::Entity::find()
        .filter(obligations::Column::DueOn.between(from, to))
        .filter(obligations::Column::Status.is_in([ObligationStatus::Open, ObligationStatus::Discharged]))
        .filter(obligations::Column::RuleCode.is_in(rules.keys().cloned()))
        .all(conn)
        .await?;
    let mut by_agency: BTreeMap<String, Tally> = BTreeMap::new();
    for o in obls {
        let Some(team_code) = teams.get(&o.victim_id) else { continue };
        let on_time = match (o.status, o.discharged_at) {
            (ObligationStatus::Discharged, Some(at)) => london_date(at) <= o.due_on,
            _ if o.due_on >= today => continue,
            _ => false,
        };
        let agency = rules.get(&o.rule_code).map_or_else(String::new, |a| a.as_str());
        let (victim_areas, _) = areas.get(&o.victim_id).cloned().unwrap_or_default();
        let names = if victim_areas.is_empty() { vec!["(no area)".to_owned()] } else { victim_areas };
        let mut tallies = vec![&mut overall];
        tallies.push(by_team.entry(team_code.clone()).or_default());
        for t in tallies {
            t.kd_due += 1;
            if on_time { t.kd_on_time += 1 } else { t.kd_breached += 1 }
        }
        for a in names {
            let t = by_area.entry(a).or_default();
            t.kd_due += 1;
            if on_time { t.kd_on_time += 1 } else { t.kd_breached += 1 }
        }
        let t = by_agency.entry(agency).or_default();
        t.kd_due += 1;
        if on_time { t.kd_on_time += 1 } else { t.kd_breached += 1 }
    }

    let event = Event::new(AuditAction::Read, "report").resource("contact-compliance").fields(["aggregates"]);
    let tx = db.begin_write().await?;
    crate::audit::record(&tx, &Actor::from(user), now, event).await?;
    tx.commit().await?;
    Ok(ComplianceReport {
        from,
        to,
        generated_at: now,
        suppression_threshold: threshold,
        overall: overall.row("all", threshold),
        by_team: by_team.iter().map(|(k, t)| t.row(k, threshold)).collect(),
        by_area: by_area.iter().map(|(k, t)| t.row(k, threshold)).collect(),
        by_agency: by_agency.iter().map(|(k, t)| t.row(k, threshold)).collect(),
    })
}

/// Each victim's case areas and, when all their cases are closed, the last closing date.
async fn victim_areas(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, (Vec<String>, Option<NaiveDate>)>> {
    let mut out: HashMap<Uuid, (Vec<String>, Option<NaiveDate>)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let links: Vec<(Uuid, Uuid)> = case_victims::Entity::find()
            .select_only()
            .columns([case_victims::Column::VictimId, case_victims::Column::CaseId])
            .filter(case_victims::Column::VictimId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        let case_ids: Vec<Uuid> = links.iter().map(|l| l.1).collect();
        let case_rows: HashMap<Uuid, (Option<String>, Option<NaiveDate>)> = cases::Entity::find()
            .select_only()
            .columns([cases::Column::Id, cases::Column::AreaCode, cases::Column::ClosedOn])
            .filter(cases::Column::Id.is_in(case_ids))
            .into_tuple::<(Uuid, Option<String>, Option<NaiveDate>)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(id, a, c)| (id, (a, c)))
            .collect();
        for (victim, case) in links {
            let Some((area, closed)) = case_rows.get(&case) else { continue };
            let entry = out.entry(victim).or_default();
            if let Some(a) = area
                && !entry.0.contains(a)
            {
                entry.0.push(a.clone());
            }
            entry.1 = match (entry.1, closed) {
                (Some(x), Some(y)) => Some(x.max(*y)),
                (x, y) => x.or(*y),
            };
        }
    }
    Ok(out)
}

async fn created_dates(db: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<HashMap<Uuid, NaiveDate>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, DateTime<Utc>)> = victims::Entity::find()
            .select_only()
            .columns([victims::Column::Id, victims::Column::CreatedAt])
            .filter(victims::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|(id, at)| (id, london_date(at))));
    }
    Ok(out)
}

/// Reached updates up to the end of the period, per victim, as sorted London dates.
async fn update_dates(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    to: NaiveDate,
) -> AppResult<HashMap<Uuid, Vec<NaiveDate>>> {
    let until = (to + Duration::days(2)).and_hms_opt(0, 0, 0).map_or_else(Utc::now, |t| t.and_utc());
    let mut out: HashMap<Uuid, Vec<NaiveDate>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, DateTime<Utc>)> = contacts::Entity::find()
            .select_only()
            .columns([contacts::Column::VictimId, contacts::Column::OccurredAt])
            .filter(contacts::Column::VictimId.is_in(chunk.to_vec()))
            .filter(contacts::Column::Outcome.eq(ContactOutcome::Reached))
            .filter(contacts::Column::Kind.is_in([ContactKind::RoutineUpdate, ContactKind::KeyDecision]))
            .filter(contacts::Column::OccurredAt.lt(until))
            .order_by_asc(contacts::Column::OccurredAt)
            .into_tuple()
            .all(db)
            .await?;
        for (id, at) in rows {
            let d = london_date(at);
            if d <= to {
                out.entry(id).or_default().push(d);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn replay_counts_met_and_missed_due_dates() {
        let period = (d("2026-01-01"), d("2026-03-31"));
        let today = d("2026-06-01");
        // Taken on 1 Jan, 28-day interval, updated on 20 Jan and 10 Feb: both on time; then nothing,
        // so 10 Mar is missed once.
        let updates = [d("2026-01-20"), d("2026-02-10")];
        assert_eq!(replay(d("2026-01-01"), 28, &updates, period, today, None), (2, 1));
        // Updated late (day 30): one missed, then on time from the late update.
        let updates = [d("2026-01-31"), d("2026-02-20"), d("2026-03-15")];
        assert_eq!(replay(d("2026-01-01"), 28, &updates, period, today, None), (2, 1));
        // A due date not yet passed is not counted.
        assert_eq!(replay(d("2026-03-20"), 28, &[], (d("2026-01-01"), d("2026-04-30")), d("2026-04-10"), None), (0, 0));
        // Nothing counted after the victim's cases closed.
        assert_eq!(replay(d("2026-01-01"), 28, &[], period, today, Some(d("2026-01-15"))), (0, 0));
    }
}
