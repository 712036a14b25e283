//! One victim's journey through police, CPS and court, as offsets in seconds from the report.
use rand::Rng;
use rand::rngs::StdRng;

use super::targets;

use super::model::{
    CHILD_RAPE_SHARE, ClassSpec, DurationGroup, EndKind, Model, Rel, Suspect, endings, withdrawal_at_cps,
};

pub const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
/// A Crown Court case ending in an early guilty plea takes this share of the mean time.
const PLEA_SHARE_OF_TIME: f64 = 0.6;

/// Which extract an event is written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Police,
    Cps,
    Court,
}

#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// Seconds after the report.
    pub at: i64,
    pub source: Source,
    pub kind: &'static str,
    pub outcome: Option<&'static str>,
    /// An ineffective listing's reason code.
    pub reason: Option<&'static str>,
    /// Concerns the victim rather than the whole case (carries the victim key).
    pub personal: bool,
}

/// What the model decided for a victim, and the events that follow from it.
#[derive(Debug, Default)]
pub struct Journey {
    pub events: Vec<Event>,
    /// When the pre-charge phase ended (charge, outcome or withdrawal).
    pub pre_end: i64,
    pub charged_at: Option<i64>,
    /// When the last event happens.
    pub end: i64,
    /// When the case first needs a URN (first CPS referral or charge).
    pub urn_at: Option<i64>,
}

fn days(d: f64) -> i64 {
    (d * 86_400.0).round() as i64
}

/// Gamma(k, mean / k) as a sum of k exponentials: skewed, never negative, CV 1/√k.
fn gamma(rng: &mut StdRng, k: u32, mean: f64) -> f64 {
    let mut product = 1.0;
    for _ in 0..k {
        product *= 1.0 - rng.random::<f64>();
    }
    -product.ln() / f64::from(k) * mean
}

/// Between `lo` and `hi` days, uniformly.
fn between(rng: &mut StdRng, lo: f64, hi: f64) -> i64 {
    days(rng.random_range(lo..hi))
}

struct Builder {
    events: Vec<Event>,
}

impl Builder {
    fn push(&mut self, at: i64, source: Source, kind: &'static str) {
        self.events.push(Event { at, source, kind, outcome: None, reason: None, personal: false });
    }
    fn personal(&mut self, at: i64, kind: &'static str) {
        self.events.push(Event { at, source: Source::Police, kind, outcome: None, reason: None, personal: true });
    }
    fn outcome(&mut self, at: i64, code: &'static str) {
        self.events.push(Event {
            at,
            source: Source::Police,
            kind: "OUTCOME",
            outcome: Some(code),
            reason: None,
            personal: false,
        });
    }
    /// A withdrawal at `at`: sometimes first recorded as the victim disengaging, then the outcome.
    fn withdrawal(&mut self, rng: &mut StdRng, after: i64, at: i64, code: &'static str) {
        if rng.random_bool(0.6) {
            let lead = between(rng, 0.2, 5.0).min((at - after) / 2);
            self.personal(at - lead, "VICTIM_DISENGAGED");
        }
        self.outcome(at, code);
    }
}

/// Facts about a victim the journey depends on.
pub struct Facts<'a> {
    pub spec: &'a ClassSpec,
    pub rel: Rel,
    pub suspect: Suspect,
    pub supported: bool,
    pub withdraws: bool,
    pub group: DurationGroup,
}

pub fn journey(rng: &mut StdRng, model: &Model, f: &Facts<'_>) -> Journey {
    let spec = f.spec;
    let mut b = Builder { events: Vec::with_capacity(24) };
    b.push(0, Source::Police, "REPORTED");
    let assessed = between(rng, 0.1, 2.0);
    b.personal(assessed, "NEEDS_ASSESSED");
    let investigation = assessed + between(rng, 0.05, 1.0);
    b.push(investigation, Source::Police, "INVESTIGATION");
    if f.supported {
        b.personal(assessed + between(rng, 0.5, 10.0), "SUPPORT_REFERRED");
    }
    let slow = if spec.sexual { 4.0 } else { 1.0 };
    let mut j = Journey::default();

    if f.suspect == Suspect::Unidentified {
        let end = investigation + days(gamma(rng, 2, 25.0 * slow)) + HOUR;
        if f.withdraws {
            b.withdrawal(rng, investigation, end, "14");
        } else {
            b.outcome(end, "18");
        }
        j.pre_end = end;
        return finish(b, j);
    }

    let known = f.rel != Rel::Stranger;
    let identified = investigation + if known { between(rng, 0.01, 2.0) } else { days(gamma(rng, 2, 12.0)) + HOUR };
    b.push(identified, Source::Police, "SUSPECT_IDENTIFIED");
    let arrested = f.suspect == Suspect::ArrestedInterviewed;
    let mut last = identified;
    if arrested {
        last += days(gamma(rng, 2, if known { 3.0 } else { 7.0 })) + HOUR;
        b.push(last, Source::Police, "ARREST_INTERVIEW");
    }

    let ending = if f.withdraws {
        None
    } else {
        let ends = endings(spec, arrested);
        let mut u = rng.random::<f64>();
        let mut chosen = ends[ends.len() - 1];
        for e in ends {
            if u < e.weight {
                chosen = e;
                break;
            }
            u -= e.weight;
        }
        Some(chosen)
    };
    let via_cps = match ending {
        None => arrested && rng.random_bool(withdrawal_at_cps(spec)),
        Some(e) => e.via_cps > 0.0 && rng.random_bool(e.via_cps),
    };

    let decided = if via_cps {
        let referral = last + days(gamma(rng, 2, 25.0 * slow.min(3.0))) + HOUR;
        b.push(referral, Source::Cps, "CPS_PRECHARGE");
        j.urn_at = Some(referral);
        let span = days(gamma(rng, 4, model.referral_days(f.group))).max(DAY);
        // Action plans ("ping-pong"): each is a CPS request and a police resubmission.
        let mut plans = 0;
        let first = if spec.sexual { 0.6 } else { 0.35 };
        if rng.random_bool(first) {
            plans = 1;
            while plans < 5 && rng.random_bool(0.4) {
                plans += 1;
            }
        }
        let mut marks: Vec<f64> = (0..plans * 2).map(|_| rng.random_range(0.05..0.95)).collect();
        marks.sort_by(f64::total_cmp);
        for pair in marks.chunks(2) {
            b.push(referral + (span as f64 * pair[0]) as i64, Source::Cps, "ACTION_PLAN");
            b.push(referral + (span as f64 * pair[1]) as i64, Source::Cps, "CPS_PRECHARGE");
        }
        let decided = referral + span;
        match ending {
            None => b.withdrawal(rng, referral, decided, "16"),
            Some(e) => match e.kind {
                EndKind::Charged => b.push(decided, Source::Police, "CHARGED"),
                EndKind::Outcome(code) => b.outcome(decided, code),
            },
        }
        decided
    } else {
        match ending {
            None => {
                // Non-sexual withdrawals come in the first days or weeks; sexual ones peak 3–12 months in.
                let at = if spec.sexual {
                    (last + DAY).max(between(rng, 90.0, 365.0))
                } else {
                    last + days(gamma(rng, 2, 20.0)) + HOUR
                };
                b.withdrawal(rng, last, at, "16");
                at
            }
            Some(e) => {
                let at =
                    last + days(gamma(rng, 2, if e.kind == EndKind::Charged { 10.0 } else { 40.0 * slow.min(2.0) }));
                let at = at + HOUR;
                match e.kind {
                    EndKind::Charged => {
                        b.push(at, Source::Police, "CHARGED");
                        j.urn_at = Some(at);
                    }
                    EndKind::Outcome(code) => b.outcome(at, code),
                }
                at
            }
        }
    };
    j.pre_end = decided;
    if matches!(ending, Some(e) if e.kind == EndKind::Charged) {
        j.charged_at = Some(decided);
        court(rng, model, f, decided, &mut b);
    }
    finish(b, j)
}

fn finish(mut b: Builder, mut j: Journey) -> Journey {
    b.events.sort_by_key(|e| e.at);
    j.end = b.events.last().map_or(0, |e| e.at);
    j.events = b.events;
    j
}

/// The outcome of a trial listing that went ahead or cracked, and how the case completes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Final {
    /// The victim withdrew: the prosecution offers no evidence on the day.
    NoEvidence,
    LatePlea,
    Convicted,
    Acquitted,
}

/// Court events from charge to completion.
fn court(rng: &mut StdRng, model: &Model, f: &Facts<'_>, charged: i64, b: &mut Builder) {
    let spec = f.spec;
    let custody = rng.random_bool(0.3);
    let first = charged + if custody { between(rng, 0.5, 1.5) } else { days(7.0 + gamma(rng, 2, 21.0)) };
    b.push(first, Source::Court, "FIRST_HEARING");
    let withdraws = rng.random_bool(spec.post_charge_withdrawal);
    if rng.random_bool(spec.crown) {
        let sent = first + 2 * HOUR;
        b.push(sent, Source::Court, "SENT_TO_CROWN");
        // Receipt to completion: guilty pleas take 0.6 of the mean, trials k times it, so every
        // class's mean is the published one whatever its plea rate.
        let mean = model.crown_days(f.group);
        let total = gamma(rng, 12, mean);
        let plea_share = spec.early_plea * (1.0 - spec.post_charge_withdrawal);
        if !withdraws && rng.random_bool(spec.early_plea) {
            let span = days(PLEA_SHARE_OF_TIME * total);
            b.push(sent + span / 4, Source::Court, "PTPH");
            b.push(sent + span, Source::Court, "SENTENCE");
            return;
        }
        let k = (1.0 - PLEA_SHARE_OF_TIME * plea_share) / (1.0 - plea_share);
        let span = days(k * total);
        let ptph = sent + span / 8;
        b.push(ptph, Source::Court, "PTPH");
        trial(rng, b, ptph, sent + span, withdraws);
    } else {
        if !withdraws && rng.random_bool(0.55) {
            let sentence = first + if rng.random_bool(0.5) { HOUR } else { days(gamma(rng, 2, 21.0)) + HOUR };
            b.push(sentence, Source::Court, "SENTENCE");
            return;
        }
        let end = first + days(gamma(rng, 3, 100.0)) + 2 * DAY;
        trial(rng, b, first, end, withdraws);
    }
}

/// A trial listed at `listed`, with the case complete at `complete`: ineffective listings
/// (each listing independently, at the published rate), then a cracked or effective trial.
fn trial(rng: &mut StdRng, b: &mut Builder, listed: i64, complete: i64, withdraws: bool) {
    let span = complete - listed;
    b.push(listed + HOUR, Source::Court, "TRIAL_LISTED");
    if withdraws && rng.random_bool(0.5) {
        // Discontinued before any trial date.
        b.personal(listed + (span as f64 * rng.random_range(0.2..0.8)) as i64, "VICTIM_DISENGAGED");
        b.push(complete, Source::Cps, "DISCONTINUED");
        return;
    }
    let last = if withdraws {
        Final::NoEvidence
    } else {
        match rng.random::<f64>() {
            u if u < 0.35 => Final::LatePlea,
            u if u < 0.74 => Final::Convicted,
            _ => Final::Acquitted,
        }
    };
    let length = days(rng.random_range(1.0..8.0)).min(span / 20);
    let sentencing = (span as f64 * rng.random_range(0.05..0.15)) as i64;
    let day = match last {
        Final::NoEvidence | Final::Acquitted => complete - length,
        Final::LatePlea => complete - sentencing,
        Final::Convicted => complete - sentencing - length,
    };
    let mut ineffective = 0;
    while ineffective < 6 && rng.random_bool(targets::TRIALS_INEFFECTIVE) {
        ineffective += 1;
    }
    let gap = (day - listed - 2 * HOUR) / (ineffective + 1);
    for i in 0..ineffective {
        let at = listed + 2 * HOUR + gap * i + (gap as f64 * rng.random_range(0.3..0.9)) as i64;
        let mut u = rng.random::<f64>();
        let reason = targets::INEFFECTIVE_REASONS.iter().find(|(_, share)| {
            u -= share;
            u < 0.0
        });
        b.events.push(Event {
            at,
            source: Source::Court,
            kind: "TRIAL_INEFFECTIVE",
            outcome: None,
            reason: reason.map(|r| r.0),
            personal: false,
        });
        b.push(at + HOUR, Source::Court, "TRIAL_LISTED");
    }
    match last {
        Final::NoEvidence => {
            b.personal(listed + (day - listed) / 2, "VICTIM_DISENGAGED");
            b.push(day, Source::Court, "TRIAL_CRACKED");
            b.push(complete, Source::Cps, "DISCONTINUED");
        }
        Final::LatePlea => {
            b.push(day, Source::Court, "TRIAL_CRACKED");
            b.push(complete, Source::Court, "SENTENCE");
        }
        Final::Convicted => {
            b.push(day, Source::Court, "TRIAL_EFFECTIVE");
            b.push(day + length, Source::Court, "VERDICT");
            b.push(complete, Source::Court, "SENTENCE");
        }
        Final::Acquitted => {
            b.push(day, Source::Court, "TRIAL_EFFECTIVE");
            b.push(complete - 60, Source::Court, "VERDICT");
            b.push(complete, Source::Court, "ACQUITTED");
        }
    }
}

/// The duration group of a victim's offence (child sexual abuse is rape for some victims).
pub fn duration_group(rng: &mut StdRng, spec: &ClassSpec) -> DurationGroup {
    use super::model::Class;
    match spec.class {
        Class::RapeDomesticAbuse | Class::Rape => DurationGroup::Rape,
        Class::ChildSexualAbuse if rng.random_bool(CHILD_RAPE_SHARE) => DurationGroup::Rape,
        Class::Sexual | Class::ChildSexualAbuse => DurationGroup::Sexual,
        _ => DurationGroup::Other,
    }
}
