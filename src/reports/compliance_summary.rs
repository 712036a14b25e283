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
use serde::Serialize;
use utoipa::ToSchema;

use super::attrition::{
    Csv, RATE_MIN_DENOMINATOR, ReportParams, Selection, Suppression, audited_select, cell, csv_of, wilson,
};
use super::compliance::victim_due_dates;
use super::facts::{FactCache, ItemKind, MISSING_ETHNICITY, NO_ROW, bits};
use super::sdc::{is_small, suppress};
use crate::auth::Principal;
use crate::clock::london_date;
use crate::db::Db;
use crate::error::AppResult;

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
    cache: &FactCache,
    user: &Principal,
    p: &ReportParams,
    threshold: u64,
    now: DateTime<Utc>,
) -> AppResult<ComplianceSummary> {
    let selected = audited_select(db, cache, user, p, "compliance", now).await?;
    Ok(figures(&selected, p, threshold, now))
}

/// The figures over the selected journeys, counted from the in-memory journeys and their victims'
/// records (`facts`).
#[must_use]
pub fn figures(s: &Selection<'_>, p: &ReportParams, threshold: u64, now: DateTime<Utc>) -> ComplianceSummary {
    let today = london_date(now);
    let facts = s.facts();
    let mut on_row = vec![false; facts.rows()];
    let mut on_victim = vec![false; facts.victims().len()];
    let mut t: HashMap<&str, Tally> = HashMap::new();
    let (mut journeys, mut victims) = (0, 0);
    let (mut relationship, mut evidenced, mut flagged, mut assessed) = (0, Tally::default(), 0, 0);
    let (mut ethnicity, mut sex) = (0, 0);
    for (row, f) in s.selected_rows() {
        on_row[row as usize] = true;
        journeys += 1;
        relationship += u64::from(f.relationship == 0);
        assessed += u64::from(f.bits & bits::NEEDS_EVENT != 0);
        if f.bits & bits::DOES_NOT_SUPPORT != 0 {
            evidenced.add(f.bits & bits::EVIDENCED != 0);
            flagged += u64::from(f.bits & bits::FLAGGED != 0);
        }
        let seen = &mut on_victim[f.victim as usize];
        if !*seen {
            *seen = true;
            victims += 1;
            ethnicity += u64::from(f.ethnicity_group == MISSING_ETHNICITY);
            sex += u64::from(f.sex == 0);
        }
    }
    t.insert("relationship_missing", Tally { num: relationship, den: journeys });
    t.insert("withdrawals_evidenced", evidenced);
    t.insert("withdrawals_flagged_unevidenced", Tally { num: flagged, den: evidenced.den });
    t.insert("needs_assessed_by_police", Tally { num: assessed, den: journeys });
    t.insert("ethnicity_missing", Tally { num: ethnicity, den: victims });
    t.insert("sex_missing", Tally { num: sex, den: victims });

    let period = (p.from.unwrap_or(NaiveDate::MIN), today);
    let (mut needs, mut contact, mut due) = (0, Tally::default(), Tally::default());
    let (mut all, mut key, mut recovery) = (Tally::default(), Tally::default(), Tally::default());
    for (v, _) in facts.victims().iter().zip(&on_victim).filter(|(_, on)| **on) {
        needs += u64::from(v.needs_assessed);
        if let Some(sc) = v.schedule {
            let updates = &v.updates[..v.updates.partition_point(|d| *d <= today)];
            let (met, missed) = victim_due_dates(sc.start, sc.interval, sc.state, v.closed_on, updates, period, today);
            if met + missed > 0 {
                contact.add(missed == 0);
                due.num += met;
                due.den += met + missed;
            }
        }
        for item in &v.items {
            if item.row != NO_ROW && !on_row[item.row as usize] {
                continue;
            }
            // Met when done by the due (target) day; counted once done or once overdue.
            let met = match item.done {
                Some(done) => done <= item.due,
                None if item.due >= today => continue,
                None => false,
            };
            match item.kind {
                ItemKind::Obligation => all.add(met),
                ItemKind::KeyDecision => {
                    all.add(met);
                    key.add(met);
                }
                ItemKind::ServiceIssue => recovery.add(met),
            }
        }
    }
    t.insert("needs_assessed", Tally { num: needs, den: victims });
    t.insert("contact_victims_updated_within_interval", contact);
    t.insert("contact_updates_on_time", due);
    t.insert("code_obligations_on_time", all);
    t.insert("code_key_decisions_on_time", key);
    t.insert("service_recovery_within_target", recovery);
    summary(journeys, victims, &t, threshold, now)
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
