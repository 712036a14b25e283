//! `care-hub generate`: synthetic, linked police, CPS and court extracts calibrated to the
//! published attrition figures (DOMAIN.md §9), in the layouts of docs/import-formats.md.
//!
//! Output is a pure function of the seed and the number of victims: one `StdRng` drawn in victim
//! order, dates placed against a fixed anchor, so the same arguments give the same bytes, and
//! the first `n` victims of a larger run are a smaller run. Rows are written as they are made,
//! so memory does not grow with `N`. Every name is drawn from short built-in lists of common
//! first and family names; no row describes a real person.
mod journey;
mod measure;
pub mod model;
mod people;
mod rows;
pub mod targets;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use measure::{Calibration, Check, Mean, Rate, measure};

use journey::{DAY, Facts, Source};
use model::{CLASSES, Model, RELS, Suspect};

/// The force code crime references are held under.
pub const FORCE: &str = "GEN-POLICE";
/// The CPS area URNs are held under (court events use the URN too).
pub const CPS: &str = "GEN-CPS";
/// The court agency court extracts are loaded as.
pub const COURT: &str = "GEN-COURT";
/// The hub team every generated victim is assigned to.
pub const TEAM: &str = "gen-hub";
pub const INTAKE_FILE: &str = "police-intake.csv";
pub const POLICE_EVENTS_FILE: &str = "police-events.csv";
pub const CPS_EVENTS_FILE: &str = "cps-events.csv";
pub const COURT_EVENTS_FILE: &str = "court-events.csv";

/// Every event happens on or before this instant (2026-06-30T00:00:00Z): fixed, so output
/// depends on nothing but the arguments.
pub const ANCHOR: i64 = 1_782_777_600;
/// Reports spread over the two years before the anchor (longer journeys start earlier).
const WINDOW: i64 = 730 * DAY;
/// Share of victims whose investigation is still open at the anchor.
const OPEN_INVESTIGATION: f64 = 0.08;
/// Share of charged cases still in court at the anchor.
const OPEN_COURT: f64 = 0.25;

/// What `generate` wrote.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub victims: u64,
    pub police_events: u64,
    pub cps_events: u64,
    pub court_events: u64,
    pub files: Vec<PathBuf>,
}

/// Writes the four extracts for `victims` victims into `out` (created if missing).
pub fn generate(victims: u64, seed: u64, out: &Path) -> anyhow::Result<Summary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let model = Model::solve();
    let mut rng = StdRng::seed_from_u64(seed);
    let open = |name: &str| -> anyhow::Result<csv::Writer<BufWriter<File>>> {
        let path = out.join(name);
        let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 16, file)))
    };
    let mut intake = open(INTAKE_FILE)?;
    let mut police = open(POLICE_EVENTS_FILE)?;
    let mut cps = open(CPS_EVENTS_FILE)?;
    let mut court = open(COURT_EVENTS_FILE)?;
    intake.write_record(rows::INTAKE_HEADER)?;
    for w in [&mut police, &mut cps, &mut court] {
        w.write_record(rows::EVENT_HEADER)?;
    }
    let mut summary = Summary { victims, ..Summary::default() };
    let mut urns = rows::UrnIssuer::default();
    for n in 1..=victims {
        let v = victim(&mut rng, &model, n);
        let case = rows::write_intake(&mut intake, &mut rng, &v, &mut urns)?;
        for e in v.journey.events.iter().filter(|e| v.reported + e.at <= ANCHOR) {
            let (w, written) = match e.source {
                Source::Police => (&mut police, &mut summary.police_events),
                Source::Cps => (&mut cps, &mut summary.cps_events),
                Source::Court => (&mut court, &mut summary.court_events),
            };
            *written += 1;
            rows::write_event(w, &mut rng, &case, v.reported, e, *written)?;
        }
    }
    for w in [&mut intake, &mut police, &mut cps, &mut court] {
        w.flush()?;
    }
    summary.files =
        [INTAKE_FILE, POLICE_EVENTS_FILE, CPS_EVENTS_FILE, COURT_EVENTS_FILE].iter().map(|f| out.join(f)).collect();
    Ok(summary)
}

/// One generated victim: who, what happened, and when it was reported (epoch seconds).
pub(crate) struct Victim {
    pub n: u64,
    pub class: usize,
    pub rel: model::Rel,
    pub area: usize,
    pub group: model::DurationGroup,
    pub person: people::Person,
    pub journey: journey::Journey,
    pub reported: i64,
}

fn victim(rng: &mut StdRng, model: &Model, n: u64) -> Victim {
    let class = pick_index(rng, CLASSES.iter().map(|c| c.share));
    let spec = &CLASSES[class];
    let rel_index = pick_index(rng, spec.rels.iter().copied());
    let rel = RELS[rel_index];
    let stranger = rel == model::Rel::Stranger;
    let suspect = if stranger && rng.random_bool(spec.unidentified) {
        Suspect::Unidentified
    } else if rng.random_bool(spec.arrested) {
        Suspect::ArrestedInterviewed
    } else {
        Suspect::Identified
    };
    let supported = rng.random_bool(spec.supported);
    let area = rng.random_range(0..targets::AREAS.len());
    let withdraws = rng.random::<u32>() < model.threshold(class, rel_index, suspect, supported, area);
    let group = journey::duration_group(rng, spec);
    let person = people::person(rng, spec);
    let facts = Facts { spec, rel, suspect, supported, withdraws, group };
    let journey = journey::journey(rng, model, &facts);
    let reported = place(rng, &journey);
    Victim { n, class, rel, area, group, person, journey, reported }
}

/// When the victim reported, so the anchor falls where this victim's journey should be: a few
/// are mid-investigation or mid-trial (chosen at random, so the finished journeys the
/// calibration is measured on are an unbiased sample); the rest finished before it.
fn place(rng: &mut StdRng, j: &journey::Journey) -> i64 {
    // An open journey is cut at `cut` seconds after the report: events up to it are written,
    // the one that ends the phase comes after it.
    if rng.random_bool(OPEN_INVESTIGATION) {
        let cut = (j.pre_end as f64 * rng.random::<f64>()) as i64;
        return ANCHOR - cut;
    }
    if let Some(charged) = j.charged_at
        && rng.random_bool(OPEN_COURT)
    {
        let cut = charged + 1 + ((j.end - charged - 1).max(0) as f64 * rng.random::<f64>()) as i64;
        return ANCHOR - cut;
    }
    if j.end < WINDOW - DAY {
        ANCHOR - j.end - ((WINDOW - j.end) as f64 * rng.random::<f64>()) as i64
    } else {
        ANCHOR - j.end - (30.0 * DAY as f64 * rng.random::<f64>()) as i64
    }
}

fn pick_index(rng: &mut StdRng, weights: impl Iterator<Item = f64>) -> usize {
    let mut u = rng.random::<f64>();
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        if w > 0.0 {
            last = i;
            if u < w {
                return i;
            }
            u -= w;
        }
    }
    last
}
