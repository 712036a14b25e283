//! Intake and event rows in the layouts of docs/import-formats.md, and the references they carry.
use std::io::Write;

use rand::Rng;
use rand::rngs::StdRng;

use super::journey::{DAY, Event, Source};
use super::model::{CLASSES, Class, DurationGroup, Rel};
use super::people::{location, pick};
use super::targets;
use super::{CPS, FORCE, TEAM, Victim};

/// The layouts' columns, as the importer reads them (one definition of the file formats).
pub use crate::import::{EVENT_COLUMNS as EVENT_HEADER, INTAKE_COLUMNS as INTAKE_HEADER};

/// Fictional force number for URNs (real forces use 01–63 and a few special codes).
const URN_FORCE: &str = "99";

/// Issues URNs: force, a unit of the BCU's letter and a rollover character, a 5-digit
/// sequence and the year. Unique for the first 3.6 million URNs of each BCU.
#[derive(Default)]
pub struct UrnIssuer {
    issued: [u64; 5],
}

impl UrnIssuer {
    fn issue(&mut self, area: usize, at: i64) -> String {
        let n = self.issued[area];
        self.issued[area] += 1;
        let bcu = targets::AREAS[area].0.as_bytes()[targets::AREAS[area].0.len() - 1] as char;
        let roll = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[((n / 100_000) % 36) as usize] as char;
        let (year, _, _) = civil(at.div_euclid(DAY));
        format!("{URN_FORCE}{bcu}{roll}{:05}{:02}", n % 100_000, year % 100)
    }
}

/// The references an intake row gave its case.
pub struct CaseRefs {
    pub n: u64,
    pub crime_ref: String,
    pub victim_key: String,
    pub urn: Option<String>,
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn date(days: i64) -> String {
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn time(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(DAY));
    let s = secs.rem_euclid(DAY);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Courts sit in the day: the time of day is squeezed into 10:00–17:00 on the same date, which
/// keeps the order of events.
fn sitting_hours(at: i64) -> i64 {
    let day = at.div_euclid(DAY) * DAY;
    let sat = day + 10 * 3_600 + at.rem_euclid(DAY) * 7 / 24;
    if sat <= super::ANCHOR { sat } else { at }
}

pub fn write_intake(
    w: &mut csv::Writer<impl Write>,
    rng: &mut StdRng,
    v: &Victim,
    urns: &mut UrnIssuer,
) -> anyhow::Result<CaseRefs> {
    let spec = &CLASSES[v.class];
    let p = &v.person;
    let reported_day = v.reported.div_euclid(DAY);
    let (year, _, _) = civil(reported_day);
    let crime_ref = format!("GEN/{:07}/{:02}", v.n, year % 100);
    let victim_key = format!("V{:07}", v.n);
    let urn =
        v.journey.urn_at.filter(|at| v.reported + at <= super::ANCHOR).map(|at| urns.issue(v.area, v.reported + at));
    let offence_group = match spec.class {
        Class::RapeDomesticAbuse | Class::Rape => "rape",
        Class::ChildSexualAbuse if v.group == DurationGroup::Rape => "rape",
        Class::Sexual | Class::ChildSexualAbuse => "other_sexual_offences",
        Class::DomesticAbuse => pick(
            rng,
            &[("violence_with_injury", 0.45), ("violence_without_injury", 0.4), ("stalking_and_harassment", 0.15)],
        ),
        Class::Robbery => "robbery",
        Class::CriminalDamage => "criminal_damage",
        Class::Violence => pick(rng, &[("violence_with_injury", 0.45), ("violence_without_injury", 0.55)]),
        Class::Stalking => "stalking_and_harassment",
        Class::Other => pick(rng, &[("public_order_offences", 0.8), ("arson", 0.2)]),
    };
    let hate = matches!(spec.class, Class::Violence | Class::Other | Class::Robbery | Class::CriminalDamage)
        && rng.random_bool(0.06);
    let mut flags: Vec<&str> = Vec::new();
    let mut enhanced: Vec<&str> = Vec::new();
    if matches!(spec.class, Class::RapeDomesticAbuse | Class::DomesticAbuse) {
        flags.push("domestic_abuse");
    }
    if offence_group == "rape" {
        flags.push("rape");
    }
    if matches!(spec.class, Class::RapeDomesticAbuse | Class::Rape | Class::ChildSexualAbuse)
        || (spec.class == Class::Sexual && rng.random_bool(0.3))
    {
        flags.push("serious_sexual_offence");
    }
    if spec.class == Class::ChildSexualAbuse {
        flags.push("child_abuse");
    }
    if offence_group == "stalking_and_harassment" {
        flags.push(if rng.random_bool(0.6) { "stalking" } else { "harassment" });
    }
    if hate {
        flags.push("hate_crime");
    }
    if p.female && (spec.protected || (spec.class == Class::Stalking && rng.random_bool(0.5))) {
        flags.push("vawg");
    }
    if spec.protected || hate {
        enhanced.push("most_serious_crime");
    }
    if spec.class == Class::Stalking && rng.random_bool(0.6)
        || spec.class == Class::DomesticAbuse && rng.random_bool(0.2)
    {
        enhanced.push("persistently_targeted");
    }
    if p.disability == "yes" && rng.random_bool(0.5) {
        enhanced.push("vulnerable");
    }
    if matches!(spec.class, Class::DomesticAbuse | Class::RapeDomesticAbuse | Class::Stalking) && rng.random_bool(0.3) {
        enhanced.push("intimidated");
    }
    if p.age < 18 {
        enhanced.push("under_18");
    }
    let relationship = match v.rel {
        Rel::Partner => "partner_ex_partner",
        Rel::Family if spec.class == Class::ChildSexualAbuse => pick(rng, &[("parent", 0.5), ("other_family", 0.5)]),
        Rel::Family => pick(rng, &[("son_daughter", 0.4), ("parent", 0.2), ("other_family", 0.4)]),
        Rel::Friend => "friend_acquaintance",
        Rel::Other => "other",
        Rel::Stranger => "stranger",
    };
    let location_type = location(rng, spec.class);
    // Born on a day that makes the victim exactly `age` when reporting.
    let born = reported_day - (f64::from(p.age) * 365.25) as i64 - rng.random_range(20..340);
    let lag = if spec.sexual && rng.random_bool(0.35) {
        rng.random_range(7..1100).min((reported_day - born) - 365)
    } else {
        pick(rng, &[(0, 0.8), (1, 0.15), (3, 0.05)])
    };
    let row: [&str; 19] = [
        &crime_ref,
        &victim_key,
        urn.as_deref().unwrap_or(""),
        if urn.is_some() { CPS } else { "" },
        TEAM,
        p.given_name,
        p.family_name,
        &date(born),
        p.sex,
        p.ethnicity,
        p.disability,
        &enhanced.join(";"),
        offence_group,
        &flags.join(";"),
        relationship,
        location_type,
        targets::AREAS[v.area].0,
        &date(reported_day),
        &date(reported_day - lag.max(0)),
    ];
    w.write_record(row)?;
    Ok(CaseRefs { n: v.n, crime_ref, victim_key, urn })
}

/// One event row; `seq` numbers the rows of its file.
pub fn write_event(
    w: &mut csv::Writer<impl Write>,
    rng: &mut StdRng,
    case: &CaseRefs,
    reported: i64,
    e: &Event,
    seq: u64,
) -> anyhow::Result<()> {
    let in_court = e.source == Source::Court || e.kind == "DISCONTINUED";
    let at = if in_court { sitting_hours(reported + e.at) } else { reported + e.at };
    let (prefix, agency, ref_type, value) = match e.source {
        Source::Police => ("P", FORCE, "crime_reference", case.crime_ref.as_str()),
        Source::Cps => ("C", CPS, "cps_urn", case.urn.as_deref().unwrap_or_default()),
        Source::Court => ("H", CPS, "cps_urn", case.urn.as_deref().unwrap_or_default()),
    };
    // Courts tell the Witness Care Unit a few hours to a few days later.
    let received =
        if e.source == Source::Court { time(at + rng.random_range(2 * 3_600..72 * 3_600)) } else { String::new() };
    let id = format!("GEN{prefix}-{:07}-{seq:09}", case.n);
    let row: [&str; 10] = [
        &id,
        e.kind,
        &time(at),
        &received,
        e.outcome.unwrap_or(""),
        agency,
        ref_type,
        value,
        if e.personal { &case.victim_key } else { "" },
        e.reason.unwrap_or(""),
    ];
    w.write_record(row)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right_either_side_of_leap_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(time(super::super::ANCHOR), "2026-06-30T00:00:00Z");
        assert_eq!(date(19_782), "2024-02-29");
        assert_eq!(time(951_782_400 + 3_661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn references_fit_their_formats() {
        let mut urns = UrnIssuer::default();
        for area in 0..5 {
            let urn = urns.issue(area, super::super::ANCHOR);
            let v = crate::agencies::references::normalise_value(crate::vocab::RefType::CpsUrn, &urn);
            assert_eq!(v.as_deref(), Ok(urn.as_str()));
        }
        let v = crate::agencies::references::normalise_value(crate::vocab::RefType::CrimeReference, "GEN/0000001/26");
        assert_eq!(v.as_deref(), Ok("GEN/0000001/26"));
    }
}
