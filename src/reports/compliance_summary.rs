//! The compliance report a board reads beside the attrition figures: contact updates within the
//! agreed interval, Victims' Code obligations met on time, withdrawals with auditable evidence
//! (the outcome 14/16 measure), needs assessments recorded, data completeness and service
//! recovery within target.
//!
//! Every figure is about the journeys the attrition filters select (cases reported in the period,
//! in the area, …) and the victims on them, as of the report date: contact due dates from the
//! start of the period to today, obligations and service issues once due. Each measure is a
//! numerator of a denominator; its complement (denominator − numerator) is implied, so the three
//! form one group for disclosure control (`sdc`): a small complement withholds the numerator too.
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::attrition::{
    Csv, RATE_MIN_DENOMINATOR, ReportParams, Suppression, begin, cell, count, csv_of, rows, scope, wilson,
};
use super::compliance::victim_due_dates;
use super::sdc::{is_small, suppress};
use crate::auth::Principal;
use crate::clock::london_date;
use crate::db::Db;
use crate::error::AppResult;
use crate::vocab::{ContactState, ObligationStatus};

/// One measure: how many of how many, the share and its 95% Wilson interval.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Measure {
    /// A stable code, e.g. `withdrawals_evidenced`.
    pub measure: String,
    pub label: String,
    /// What the denominator counts: `journeys`, `victims`, `due dates`, `obligations`, `issues`.
    pub unit: String,
    pub numerator: Option<u64>,
    pub denominator: Option<u64>,
    pub rate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplianceSummary {
    /// Victim–case journeys the filters select.
    pub journeys: Option<u64>,
    /// Distinct victims on them.
    pub victims: Option<u64>,
    pub measures: Vec<Measure>,
    /// How each measure is counted.
    pub notes: Vec<String>,
    pub suppression: Suppression,
    pub as_of: DateTime<Utc>,
}

/// The measures' codes, labels and units, in report order.
pub const MEASURES: [(&str, &str, &str); 12] = [
    ("contact_victims_updated_within_interval", "Victims updated within their agreed interval", "victims"),
    ("contact_updates_on_time", "Routine update due dates met", "due dates"),
    ("code_obligations_on_time", "Victims' Code obligations met on time", "obligations"),
    ("code_key_decisions_on_time", "Key-decision obligations met on time", "obligations"),
    ("withdrawals_evidenced", "Outcome 14/16 journeys with an evidenced withdrawal record", "journeys"),
    ("withdrawals_flagged_unevidenced", "Outcome 14/16 journeys with an open unevidenced-withdrawal flag", "journeys"),
    ("needs_assessed", "Victims with a needs assessment recorded in the hub", "victims"),
    ("needs_assessed_by_police", "Journeys with a needs assessment in the police events", "journeys"),
    ("ethnicity_missing", "Victims with ethnicity missing", "victims"),
    ("sex_missing", "Victims with sex missing", "victims"),
    ("relationship_missing", "Journeys with the victim–suspect relationship missing", "journeys"),
    ("service_recovery_within_target", "Service issues resolved within target", "issues"),
];

const NOTES: [&str; 6] = [
    "Contact: each victim's due dates are replayed from their reached updates (as the contact-compliance \
     report does), from the start of the period (or of the record) to today; a victim is updated within \
     their interval when none of those due dates was missed.",
    "Obligations: those due by today (or already discharged) on the selected journeys; met when discharged \
     on or before the due date; waived and cancelled ones are not counted.",
    "Withdrawals: journeys carrying a victim-does-not-support outcome (14 or 16), and of those the ones with a \
     withdrawal record, not rejected, that holds evidence or was confirmed with the victim.",
    "Needs assessments: victims whose hub record holds a needs-assessment date, and journeys whose police \
     events include one (NEEDS_ASSESSED); no deadline is recorded for either, so timeliness is not measured.",
    "Data completeness: a field counts as missing when nothing was recorded; 'not stated' is an answer.",
    "Service recovery: issues about the selected journeys (or their victims) resolved, or open past their \
     target; within target when resolved on or before the target date.",
];

#[derive(Default, Clone, Copy)]
struct Tally {
    num: u64,
    den: u64,
}

impl Tally {
    fn add(&mut self, met: bool) {
        self.den += 1;
        self.num += u64::from(met);
    }
}

pub async fn report(
    db: &Db,
    user: &Principal,
    p: &ReportParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<ComplianceSummary> {
    begin(db, user, p, "compliance", now).await?;
    figures(db.read(), p, threshold, now).await
}

/// The figures, unaudited: for callers that audited the call themselves (the board pack).
pub async fn figures(
    db: &impl ConnectionTrait,
    p: &ReportParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<ComplianceSummary> {
    let today = london_date(now);
    let backend = db.get_database_backend();
    let mut t: HashMap<&str, Tally> = HashMap::new();

    // Journeys: relationship recorded, outcome 14/16, and the withdrawal records behind them.
    let json_len = if backend == DbBackend::Postgres { "jsonb_array_length" } else { "json_array_length" };
    let dns = "j.withdrawn AND EXISTS (SELECT 1 FROM journey_events e WHERE e.case_id = j.case_id \
               AND (e.victim_id IS NULL OR e.victim_id = j.victim_id) AND e.status = 'linked' \
               AND e.outcome_code IN (SELECT code FROM outcome_codes WHERE victim_does_not_support))";
    let evidenced = format!(
        "EXISTS (SELECT 1 FROM withdrawals w WHERE w.case_id = j.case_id AND w.victim_id = j.victim_id \
         AND w.status <> 'rejected' AND (w.confirmed_with_victim OR {json_len}(w.evidence) > 0))"
    );
    let assessed = "EXISTS (SELECT 1 FROM journey_events e WHERE e.case_id = j.case_id \
                    AND (e.victim_id IS NULL OR e.victim_id = j.victim_id) AND e.status = 'linked' \
                    AND e.event_type = 'NEEDS_ASSESSED')";
    let flagged = "EXISTS (SELECT 1 FROM withdrawal_flags f WHERE f.case_id = j.case_id \
                   AND f.victim_id = j.victim_id AND f.cleared_at IS NULL)";
    let (sql, from) = scope(db, p);
    let text = format!(
        "SELECT COUNT(*) AS journeys, \
         SUM(CASE WHEN c.relationship IS NULL THEN 1 ELSE 0 END) AS no_relationship, \
         SUM(CASE WHEN {dns} THEN 1 ELSE 0 END) AS dns, \
         SUM(CASE WHEN {dns} AND {evidenced} THEN 1 ELSE 0 END) AS dns_evidenced, \
         SUM(CASE WHEN {dns} AND {flagged} THEN 1 ELSE 0 END) AS dns_flagged, \
         SUM(CASE WHEN {assessed} THEN 1 ELSE 0 END) AS assessed {from}"
    );
    let r = rows(db, sql, text).await?;
    let get = |c: &str| r.first().map_or(Ok(0), |r| count(r, c));
    let journeys = get("journeys")?;
    let dns_n = get("dns")?;
    t.insert("relationship_missing", Tally { num: get("no_relationship")?, den: journeys });
    t.insert("withdrawals_evidenced", Tally { num: get("dns_evidenced")?, den: dns_n });
    t.insert("withdrawals_flagged_unevidenced", Tally { num: get("dns_flagged")?, den: dns_n });
    t.insert("needs_assessed_by_police", Tally { num: get("assessed")?, den: journeys });

    // Victims on those journeys.
    let (sql, from) = scope(db, p);
    let text = format!(
        "SELECT COUNT(*) AS victims, \
         SUM(CASE WHEN x.ethnicity IS NULL THEN 1 ELSE 0 END) AS no_ethnicity, \
         SUM(CASE WHEN x.sex IS NULL THEN 1 ELSE 0 END) AS no_sex, \
         SUM(CASE WHEN x.needs_assessed_on IS NOT NULL THEN 1 ELSE 0 END) AS assessed \
         FROM victims x WHERE x.id IN (SELECT j.victim_id {from})"
    );
    let r = rows(db, sql, text).await?;
    let get = |c: &str| r.first().map_or(Ok(0), |r| count(r, c));
    let victims = get("victims")?;
    t.insert("ethnicity_missing", Tally { num: get("no_ethnicity")?, den: victims });
    t.insert("sex_missing", Tally { num: get("no_sex")?, den: victims });
    t.insert("needs_assessed", Tally { num: get("assessed")?, den: victims });

    contact(db, p, today, &mut t).await?;
    obligations(db, p, today, &mut t).await?;
    recovery(db, p, today, &mut t).await?;
    Ok(summary(journeys, victims, &t, threshold, now))
}

/// Contact updates: the contact-compliance replay for each victim with an active or closed schedule.
async fn contact(
    db: &impl ConnectionTrait,
    p: &ReportParams,
    today: NaiveDate,
    t: &mut HashMap<&str, Tally>,
) -> AppResult<()> {
    let (sql, from) = scope(db, p);
    let text = format!(
        "SELECT s.victim_id AS victim_id, s.interval_days AS interval_days, s.state AS state, \
         x.created_at AS created_at FROM contact_schedule s JOIN victims x ON x.id = s.victim_id \
         WHERE s.state IN ('active', 'closed') AND s.victim_id IN (SELECT j.victim_id {from})"
    );
    let mut schedules: Vec<(Uuid, i32, ContactState, NaiveDate)> = Vec::new();
    for r in rows(db, sql, text).await? {
        let state: String = r.try_get("", "state")?;
        let state = if state == "closed" { ContactState::Closed } else { ContactState::Active };
        let created: DateTime<Utc> = r.try_get("", "created_at")?;
        schedules.push((r.try_get("", "victim_id")?, r.try_get("", "interval_days")?, state, london_date(created)));
    }
    let (sql, from) = scope(db, p);
    let text = format!(
        "SELECT cv.victim_id AS victim_id, MAX(k.closed_on) AS closed_on FROM case_victims cv \
         JOIN cases k ON k.id = cv.case_id WHERE cv.victim_id IN (SELECT j.victim_id {from}) GROUP BY cv.victim_id"
    );
    let mut closed: HashMap<Uuid, NaiveDate> = HashMap::new();
    for r in rows(db, sql, text).await? {
        if let Some(d) = r.try_get::<Option<NaiveDate>>("", "closed_on")? {
            closed.insert(r.try_get("", "victim_id")?, d);
        }
    }
    let (sql, from) = scope(db, p);
    let text = format!(
        "SELECT u.victim_id AS victim_id, u.occurred_at AS occurred_at FROM contacts u \
         WHERE u.outcome = 'reached' AND u.kind IN ('routine_update', 'key_decision') \
         AND u.victim_id IN (SELECT j.victim_id {from})"
    );
    let mut updates: HashMap<Uuid, Vec<NaiveDate>> = HashMap::new();
    for r in rows(db, sql, text).await? {
        let at: DateTime<Utc> = r.try_get("", "occurred_at")?;
        let d = london_date(at);
        if d <= today {
            updates.entry(r.try_get("", "victim_id")?).or_default().push(d);
        }
    }
    for u in updates.values_mut() {
        u.sort_unstable();
    }
    let period = (p.from.unwrap_or(NaiveDate::MIN), today);
    let (mut victims, mut due) = (Tally::default(), Tally::default());
    for (victim, interval, state, start) in schedules {
        let u = updates.get(&victim).map_or(&[][..], Vec::as_slice);
        let (met, missed) = victim_due_dates(start, interval, state, closed.get(&victim).copied(), u, period, today);
        if met + missed == 0 {
            continue;
        }
        victims.add(missed == 0);
        due.num += met;
        due.den += met + missed;
    }
    t.insert("contact_victims_updated_within_interval", victims);
    t.insert("contact_updates_on_time", due);
    Ok(())
}

/// Obligations on the selected journeys that are due by today or already discharged.
async fn obligations(
    db: &impl ConnectionTrait,
    p: &ReportParams,
    today: NaiveDate,
    t: &mut HashMap<&str, Tally>,
) -> AppResult<()> {
    let (sql, from) = scope(db, p);
    let text = format!(
        "SELECT o.due_on AS due_on, o.status AS status, o.discharged_at AS discharged_at, \
         r.key_decision AS key_decision FROM obligations o JOIN obligation_rules r ON r.code = o.rule_code \
         WHERE o.status IN ('open', 'discharged') \
         AND EXISTS (SELECT 1 {from} AND j.victim_id = o.victim_id AND (o.case_id IS NULL OR o.case_id = j.case_id))"
    );
    let (mut all, mut key) = (Tally::default(), Tally::default());
    for r in rows(db, sql, text).await? {
        let due: NaiveDate = r.try_get("", "due_on")?;
        let status: String = r.try_get("", "status")?;
        let discharged: Option<DateTime<Utc>> = r.try_get("", "discharged_at")?;
        let on_time = match discharged {
            Some(at) if status == ObligationStatus::Discharged.as_str() => london_date(at) <= due,
            _ if due >= today => continue,
            _ => false,
        };
        all.add(on_time);
        if r.try_get::<bool>("", "key_decision")? {
            key.add(on_time);
        }
    }
    t.insert("code_obligations_on_time", all);
    t.insert("code_key_decisions_on_time", key);
    Ok(())
}

/// Service issues about the selected journeys (or their victims): resolved, or open past target.
async fn recovery(
    db: &impl ConnectionTrait,
    p: &ReportParams,
    today: NaiveDate,
    t: &mut HashMap<&str, Tally>,
) -> AppResult<()> {
    let (sql, from) = scope(db, p);
    let text = format!(
        "SELECT i.target_on AS target_on, i.resolved_at AS resolved_at, i.closed_at AS closed_at \
         FROM service_issues i \
         WHERE EXISTS (SELECT 1 {from} AND j.victim_id = i.victim_id AND (i.case_id IS NULL OR i.case_id = j.case_id))"
    );
    let mut within = Tally::default();
    for r in rows(db, sql, text).await? {
        let target: NaiveDate = r.try_get("", "target_on")?;
        let resolved: Option<DateTime<Utc>> = r.try_get("", "resolved_at")?;
        let closed: Option<DateTime<Utc>> = r.try_get("", "closed_at")?;
        match resolved.or(closed) {
            Some(at) => within.add(london_date(at) <= target),
            None if target < today => within.add(false),
            None => {}
        }
    }
    t.insert("service_recovery_within_target", within);
    Ok(())
}

/// The report from the tallies, with disclosure control.
fn summary(
    journeys: u64,
    victims: u64,
    t: &HashMap<&str, Tally>,
    threshold: u64,
    now: DateTime<Utc>,
) -> ComplianceSummary {
    let mut withheld = u64::from(is_small(journeys, threshold)) + u64::from(is_small(victims, threshold));
    let measures = MEASURES
        .iter()
        .map(|(code, label, unit)| {
            let x = t.get(code).copied().unwrap_or_default();
            // Numerator, complement, denominator: the first two add up to the third.
            let values = [x.num, x.den - x.num, x.den];
            let hidden = suppress(&values, &[vec![0, 1, 2]], threshold);
            withheld += u64::from(hidden[0]) + u64::from(hidden[2]);
            let (num, den) = ((!hidden[0]).then_some(x.num), (!hidden[2]).then_some(x.den));
            let ci = match (num, den) {
                (Some(k), Some(n)) if n >= RATE_MIN_DENOMINATOR => Some((k as f64 / n as f64, wilson(k, n))),
                _ => None,
            };
            Measure {
                measure: (*code).to_owned(),
                label: (*label).to_owned(),
                unit: (*unit).to_owned(),
                numerator: num,
                denominator: den,
                rate: ci.map(|c| c.0),
                ci_low: ci.map(|c| c.1.0),
                ci_high: ci.map(|c| c.1.1),
            }
        })
        .collect();
    let mut suppression = Suppression::new(threshold, withheld);
    suppression
        .note
        .push_str(" A measure's numerator is also withheld when the rest of its denominator is a small number.");
    ComplianceSummary {
        journeys: (!is_small(journeys, threshold)).then_some(journeys),
        victims: (!is_small(victims, threshold)).then_some(victims),
        measures,
        notes: NOTES.iter().map(|n| (*n).to_owned()).collect(),
        suppression,
        as_of: now,
    }
}

impl Csv for ComplianceSummary {
    fn csv(&self) -> String {
        let rows = self
            .measures
            .iter()
            .map(|m| {
                vec![
                    m.measure.clone(),
                    m.label.clone(),
                    m.unit.clone(),
                    cell(m.numerator),
                    cell(m.denominator),
                    cell(m.rate),
                    cell(m.ci_low),
                    cell(m.ci_high),
                ]
            })
            .collect();
        csv_of(&["measure", "label", "unit", "numerator", "denominator", "rate", "ci_low", "ci_high"], rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_complement_withholds_the_numerator_and_small_counts_never_show() {
        let mut t = HashMap::new();
        t.insert("ethnicity_missing", Tally { num: 3, den: 200 });
        t.insert("sex_missing", Tally { num: 197, den: 200 });
        t.insert("needs_assessed", Tally { num: 0, den: 200 });
        t.insert("relationship_missing", Tally { num: 40, den: 4 + 40 });
        let r = summary(200, 200, &t, 5, Utc::now());
        let m = |code: &str| r.measures.iter().find(|m| m.measure == code).unwrap().clone();
        assert_eq!((m("ethnicity_missing").numerator, m("ethnicity_missing").denominator), (None, Some(200)));
        // 197 of 200 would reveal the 3 others.
        assert_eq!((m("sex_missing").numerator, m("sex_missing").rate), (None, None));
        assert_eq!((m("needs_assessed").numerator, m("needs_assessed").rate), (Some(0), Some(0.0)));
        assert_eq!(m("relationship_missing").numerator, None);
        for x in &r.measures {
            for v in [x.numerator, x.denominator].into_iter().flatten() {
                assert!(v == 0 || v > 5, "{}: {v}", x.measure);
            }
        }
        assert!(r.suppression.withheld >= 3);
    }
}
