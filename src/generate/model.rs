//! The population model: offence classes and their mix, and the withdrawal probabilities solved
//! so the generated population reproduces the calibration targets (DOMAIN.md §9).
//!
//! Withdrawal before a charging decision is a logistic model,
//! `logit p = α[class] + β[relationship] + β_arrested + β_supported + β[BCU]`, over a small table
//! of cells (class × relationship × suspect state × support × BCU). The mix of each cell is
//! fixed below; the α and β are solved at start-up by iterative proportional fitting on the
//! expected marginals, so each target holds exactly in expectation and the generated files
//! differ from it only by sampling noise.

use super::targets;

/// Offence classes: each maps to one or more offence groups and a flag set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    RapeDomesticAbuse,
    Rape,
    Sexual,
    ChildSexualAbuse,
    DomesticAbuse,
    Robbery,
    CriminalDamage,
    Violence,
    Stalking,
    Other,
}

/// Victim–suspect relationship as the model sees it (family is split further when written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    Partner,
    Family,
    Friend,
    Other,
    Stranger,
}

pub const RELS: [Rel; 5] = [Rel::Partner, Rel::Family, Rel::Friend, Rel::Other, Rel::Stranger];

/// How far the police got with the suspect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suspect {
    /// No suspect identified (strangers only): outcome 14 or 18.
    Unidentified,
    Identified,
    ArrestedInterviewed,
}

const SUSPECTS: [Suspect; 3] = [Suspect::Unidentified, Suspect::Identified, Suspect::ArrestedInterviewed];

/// Which published duration a case's CPS and Crown Court times are drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationGroup {
    Rape,
    Sexual,
    Other,
}

/// One offence class and everything the journey draws for it.
#[derive(Clone, Copy, Debug)]
pub struct ClassSpec {
    pub class: Class,
    /// Share of victims.
    pub share: f64,
    /// Relationship mix, in `RELS` order.
    pub rels: [f64; 5],
    /// P(no suspect identified | stranger).
    pub unidentified: f64,
    /// P(arrested and interviewed | suspect identified).
    pub arrested: f64,
    /// P(ISVA/IDVA referral); zero where no specialist adviser applies.
    pub supported: f64,
    /// P(charged | victim did not withdraw, suspect arrested); a quarter of that when not arrested.
    pub charged: f64,
    /// P(the CPS makes the charging decision | charged); otherwise the police charge.
    pub cps_charges: f64,
    /// P(sent to the Crown Court | charged).
    pub crown: f64,
    /// P(guilty plea before trial | Crown Court, victim still engaged).
    pub early_plea: f64,
    /// P(the victim withdraws after charge).
    pub post_charge_withdrawal: f64,
    /// Sexual offences: slower investigations, withdrawal peaks 3–12 months after reporting.
    pub sexual: bool,
    /// Domestic abuse or sexual: outcomes 21 and community resolutions are not used.
    pub protected: bool,
}

/// Share of child sexual abuse recorded as rape (the rest as other sexual offences).
pub const CHILD_RAPE_SHARE: f64 = 0.3;

#[expect(clippy::too_many_arguments, reason = "a table row; the call sites name each column")]
const fn spec(
    class: Class,
    share: f64,
    rels: [f64; 5],
    unidentified: f64,
    arrested: f64,
    supported: f64,
    charged: f64,
    cps_charges: f64,
    crown: f64,
    early_plea: f64,
    post_charge_withdrawal: f64,
) -> ClassSpec {
    let sexual = matches!(class, Class::RapeDomesticAbuse | Class::Rape | Class::Sexual | Class::ChildSexualAbuse);
    let protected = sexual || matches!(class, Class::DomesticAbuse);
    ClassSpec {
        class,
        share,
        rels,
        unidentified,
        arrested,
        supported,
        charged,
        cps_charges,
        crown,
        early_plea,
        post_charge_withdrawal,
        sexual,
        protected,
    }
}

/// The offence mix. Chosen so the published per-offence rates and the relationship figures
/// agree with the overall 40%: known suspects must be about 47% of victims for "known 54%" and
/// "partner 2.1× stranger" to hold together with "domestic abuse 59%".
#[rustfmt::skip]
pub const CLASSES: [ClassSpec; 10] = [
    //    class                        share  partner family friend other stranger  unid  arrest supp  charge cps   crown plea  pcw
    spec(Class::RapeDomesticAbuse,    0.030, [0.80, 0.20, 0.00, 0.00, 0.00], 0.00, 0.50, 0.50, 0.35, 1.00, 1.00, 0.20, 0.08),
    spec(Class::Rape,                 0.040, [0.00, 0.00, 0.55, 0.15, 0.30], 0.35, 0.45, 0.45, 0.30, 1.00, 1.00, 0.20, 0.08),
    spec(Class::Sexual,               0.060, [0.00, 0.00, 0.30, 0.15, 0.55], 0.45, 0.35, 0.25, 0.35, 1.00, 0.50, 0.45, 0.05),
    spec(Class::ChildSexualAbuse,     0.040, [0.00, 0.40, 0.30, 0.20, 0.10], 0.30, 0.45, 0.40, 0.35, 1.00, 0.80, 0.35, 0.05),
    spec(Class::DomesticAbuse,        0.180, [0.75, 0.25, 0.00, 0.00, 0.00], 0.00, 0.50, 0.25, 0.60, 1.00, 0.15, 0.45, 0.12),
    spec(Class::Robbery,              0.070, [0.00, 0.00, 0.10, 0.00, 0.90], 0.55, 0.40, 0.00, 0.60, 1.00, 0.80, 0.45, 0.04),
    spec(Class::CriminalDamage,       0.080, [0.00, 0.00, 0.25, 0.10, 0.65], 0.55, 0.30, 0.00, 0.50, 0.40, 0.05, 0.45, 0.04),
    spec(Class::Violence,             0.330, [0.00, 0.00, 0.15, 0.07, 0.78], 0.45, 0.40, 0.00, 0.50, 0.80, 0.20, 0.45, 0.04),
    spec(Class::Stalking,             0.050, [0.00, 0.00, 0.45, 0.40, 0.15], 0.30, 0.35, 0.00, 0.45, 0.80, 0.15, 0.45, 0.06),
    spec(Class::Other,                0.120, [0.00, 0.00, 0.15, 0.07, 0.78], 0.45, 0.35, 0.00, 0.45, 0.50, 0.10, 0.45, 0.04),
];

/// P(the victim withdraws while the CPS is considering charge | withdrew, suspect arrested).
/// Low for sexual offences: few reach the CPS at all, which is what lets the published
/// all-offence mean (37 days) sit so far below the sexual-offence means (130 and 267 days).
#[must_use]
pub fn withdrawal_at_cps(spec: &ClassSpec) -> f64 {
    if spec.sexual { 0.1 } else { 0.3 }
}

/// How an identified suspect's case ends when the victim stays engaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndKind {
    Charged,
    Outcome(&'static str),
}

/// One possible ending: its probability and the chance the CPS is consulted first.
#[derive(Clone, Copy, Debug)]
pub struct Ending {
    pub kind: EndKind,
    pub weight: f64,
    pub via_cps: f64,
}

/// Endings for a victim who stays engaged with an identified suspect; the weights sum to one.
#[must_use]
pub fn endings(spec: &ClassSpec, arrested: bool) -> [Ending; 5] {
    let e = |kind, weight, via_cps| Ending { kind, weight, via_cps };
    // Outcome 21 and community resolutions should not normally be used for domestic abuse or
    // sexual offences (DOMAIN.md §2): those cases end evidentially (15) or by police decision (10).
    let (pi, oocd) = if spec.protected { ("10", "15") } else { ("21", "8") };
    if arrested {
        let rest = 1.0 - spec.charged;
        [
            e(EndKind::Charged, spec.charged, spec.cps_charges),
            e(EndKind::Outcome("15"), 0.55 * rest, if spec.sexual { 0.15 } else { 0.5 }),
            e(EndKind::Outcome("9"), 0.10 * rest, 1.0),
            e(EndKind::Outcome(pi), 0.15 * rest, 0.0),
            e(EndKind::Outcome(oocd), 0.20 * rest, 0.0),
        ]
    } else {
        let charged = spec.charged * 0.25;
        let rest = 1.0 - charged;
        [
            e(EndKind::Charged, charged, spec.cps_charges),
            e(EndKind::Outcome("15"), 0.60 * rest, 0.0),
            e(EndKind::Outcome("10"), 0.10 * rest, 0.0),
            e(EndKind::Outcome(pi), 0.15 * rest, 0.0),
            e(EndKind::Outcome(oocd), 0.15 * rest, 0.0),
        ]
    }
}

/// One cell of the population table.
#[derive(Clone, Copy, Debug)]
struct Cell {
    class: usize,
    rel: usize,
    suspect: Suspect,
    supported: bool,
    area: usize,
    weight: f64,
}

/// The solved model: withdrawal probabilities per cell, and the duration means that make the
/// published overall means come out given the mix of cases reaching the CPS and the Crown Court.
#[derive(Clone, Debug)]
pub struct Model {
    pub alpha: [f64; 10],
    pub beta_rel: [f64; 5],
    pub beta_arrested: f64,
    pub beta_supported: f64,
    pub beta_area: [f64; 5],
    /// Mean CPS referral-to-decision days for non-sexual offences.
    pub referral_days_other: f64,
    /// Mean Crown Court receipt-to-completion days for offences other than rape.
    pub crown_days_other: f64,
    /// Expected CPS referrals per victim: rape, other sexual offences, the rest.
    pub referrals: [f64; 3],
    /// Expected Crown Court cases per victim, in the same groups.
    pub crown_cases: [f64; 3],
    /// `u32` thresholds: withdraw when a uniform `u32` draw is below.
    thresholds: Vec<u32>,
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn index(class: usize, rel: usize, suspect: Suspect, supported: bool, area: usize) -> usize {
    let s = match suspect {
        Suspect::Unidentified => 0,
        Suspect::Identified => 1,
        Suspect::ArrestedInterviewed => 2,
    };
    (((class * 5 + rel) * 3 + s) * 2 + usize::from(supported)) * 5 + area
}

/// Expected marginals of the current parameters (sums of weight and of weight × p).
#[derive(Default)]
struct Margins {
    all: (f64, f64),
    class: [(f64, f64); 10],
    rel: [(f64, f64); 5],
    arrested: [(f64, f64); 2],
    /// Among classes with specialist support: [unsupported, supported].
    supported: [(f64, f64); 2],
    area: [(f64, f64); 5],
}

fn add(acc: &mut (f64, f64), w: f64, p: f64) {
    acc.0 += w;
    acc.1 += w * p;
}

fn rate(acc: (f64, f64)) -> f64 {
    acc.1 / acc.0
}

fn sum(parts: &[(f64, f64)]) -> (f64, f64) {
    parts.iter().fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
}

fn cells() -> Vec<Cell> {
    let mut out = Vec::new();
    for (class, spec) in CLASSES.iter().enumerate() {
        for (rel, &pr) in spec.rels.iter().enumerate() {
            for suspect in SUSPECTS {
                let stranger = RELS[rel] == Rel::Stranger;
                let unid = if stranger { spec.unidentified } else { 0.0 };
                let ps = match suspect {
                    Suspect::Unidentified => unid,
                    Suspect::Identified => (1.0 - unid) * (1.0 - spec.arrested),
                    Suspect::ArrestedInterviewed => (1.0 - unid) * spec.arrested,
                };
                for supported in [false, true] {
                    let psup = if supported { spec.supported } else { 1.0 - spec.supported };
                    for area in 0..5 {
                        let weight = spec.share * pr * ps * psup / 5.0;
                        if weight > 0.0 {
                            out.push(Cell { class, rel, suspect, supported, area, weight });
                        }
                    }
                }
            }
        }
    }
    out
}

impl Model {
    /// Solves the model for the targets (a few hundred passes over 1,500 cells: milliseconds).
    #[must_use]
    pub fn solve() -> Self {
        let cells = cells();
        let mut m = Model {
            alpha: [0.0; 10],
            beta_rel: [0.0; 5],
            beta_arrested: 0.0,
            beta_supported: 0.0,
            beta_area: [0.0; 5],
            referral_days_other: 0.0,
            crown_days_other: 0.0,
            referrals: [0.0; 3],
            crown_cases: [0.0; 3],
            thresholds: Vec::new(),
        };
        let class_targets: [(&[usize], f64, usize); 7] = [
            (&[5], targets::ROBBERY, 5),
            (&[6], targets::CRIMINAL_DAMAGE, 6),
            (&[0], targets::ADULT_RAPE_DOMESTIC_ABUSE, 0),
            (&[0, 1], targets::ADULT_RAPE, 1),
            (&[0, 4], targets::DOMESTIC_ABUSE, 4),
            (&[2], targets::ADULT_SEXUAL, 2),
            (&[3], targets::CHILD_SEXUAL_ABUSE, 3),
        ];
        for _ in 0..2000 {
            let before = m.parameters();
            for &(classes, target, param) in &class_targets {
                let g = m.margins(&cells);
                let parts: Vec<(f64, f64)> = classes.iter().map(|&c| g.class[c]).collect();
                m.alpha[param] += logit(target) - logit(rate(sum(&parts)));
            }
            // Classes without a published rate share one shift that makes the overall 40%.
            let g = m.margins(&cells);
            let shift = logit(targets::OVERALL) - logit(rate(g.all));
            for c in [7, 8, 9] {
                m.alpha[c] += shift;
            }
            let g = m.margins(&cells);
            let known = sum(&g.rel[..4]);
            m.beta_rel[4] -= logit(targets::KNOWN_SUSPECT) - logit(rate(known));
            let g = m.margins(&cells);
            let stranger = rate(g.rel[4]);
            m.beta_rel[0] += logit(targets::PARTNER_VS_STRANGER * stranger) - logit(rate(g.rel[0]));
            m.beta_rel[2] += logit(targets::FRIEND_VS_STRANGER * stranger) - logit(rate(g.rel[2]));
            let g = m.margins(&cells);
            m.beta_arrested +=
                logit(rate(g.arrested[0]) / targets::NOT_ARRESTED_VS_ARRESTED) - logit(rate(g.arrested[1]));
            let g = m.margins(&cells);
            m.beta_supported +=
                logit(targets::SUPPORTED_VS_UNSUPPORTED * rate(g.supported[0])) - logit(rate(g.supported[1]));
            let g = m.margins(&cells);
            for (a, (_, target)) in targets::AREAS.iter().enumerate() {
                m.beta_area[a] += logit(*target) - logit(rate(g.area[a]));
            }
            let first = m.beta_area[0];
            for b in &mut m.beta_area {
                *b -= first;
            }
            let moved = before.iter().zip(m.parameters()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            if moved < 1e-12 {
                break;
            }
        }
        m.thresholds = vec![0; 10 * 5 * 3 * 2 * 5];
        for c in &cells {
            let p = m.probability(c);
            m.thresholds[index(c.class, c.rel, c.suspect, c.supported, c.area)] = (p * 4_294_967_296.0) as u32;
        }
        m.solve_durations(&cells);
        m
    }

    fn parameters(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(22);
        v.extend(self.alpha);
        v.extend(self.beta_rel);
        v.extend([self.beta_arrested, self.beta_supported]);
        v.extend(self.beta_area);
        v
    }

    fn probability(&self, c: &Cell) -> f64 {
        let mut x = self.alpha[c.class] + self.beta_rel[c.rel] + self.beta_area[c.area];
        if c.suspect == Suspect::ArrestedInterviewed {
            x += self.beta_arrested;
        }
        if c.supported {
            x += self.beta_supported;
        }
        sigmoid(x)
    }

    fn margins(&self, cells: &[Cell]) -> Margins {
        let mut g = Margins::default();
        for c in cells {
            let (w, p) = (c.weight, self.probability(c));
            add(&mut g.all, w, p);
            add(&mut g.class[c.class], w, p);
            add(&mut g.rel[c.rel], w, p);
            add(&mut g.arrested[usize::from(c.suspect == Suspect::ArrestedInterviewed)], w, p);
            if CLASSES[c.class].supported > 0.0 {
                add(&mut g.supported[usize::from(c.supported)], w, p);
            }
            add(&mut g.area[c.area], w, p);
        }
        g
    }

    /// The withdrawal threshold for a victim (compare with a uniform `u32`).
    #[must_use]
    pub fn threshold(&self, class: usize, rel: usize, suspect: Suspect, supported: bool, area: usize) -> u32 {
        self.thresholds[index(class, rel, suspect, supported, area)]
    }

    /// Expected cases reaching the CPS and the Crown Court per duration group, so the
    /// non-sexual means can be set to make the published all-offence means come out.
    fn solve_durations(&mut self, cells: &[Cell]) {
        // [rape, sexual, other]
        let mut referrals = [0.0; 3];
        let mut crown = [0.0; 3];
        for c in cells {
            let spec = &CLASSES[c.class];
            if c.suspect == Suspect::Unidentified {
                continue;
            }
            let arrested = c.suspect == Suspect::ArrestedInterviewed;
            let p = self.probability(c);
            let withdrawn_at_cps = if arrested { withdrawal_at_cps(spec) } else { 0.0 };
            let ends = endings(spec, arrested);
            let referred = p * withdrawn_at_cps + (1.0 - p) * ends.iter().map(|e| e.weight * e.via_cps).sum::<f64>();
            let charged = (1.0 - p) * ends[0].weight;
            for (g, share) in group_shares(spec.class) {
                let i = g as usize;
                referrals[i] += c.weight * referred * share;
                crown[i] += c.weight * charged * spec.crown * share;
            }
        }
        self.referral_days_other = (targets::REFERRAL_DAYS * referrals.iter().sum::<f64>()
            - targets::REFERRAL_DAYS_RAPE * referrals[0]
            - targets::REFERRAL_DAYS_SEXUAL * referrals[1])
            / referrals[2];
        self.crown_days_other = (targets::CROWN_DAYS * crown.iter().sum::<f64>() - targets::CROWN_DAYS_RAPE * crown[0])
            / (crown[1] + crown[2]);
        self.referrals = referrals;
        self.crown_cases = crown;
    }

    /// Mean CPS referral-to-decision days for a duration group.
    #[must_use]
    pub fn referral_days(&self, group: DurationGroup) -> f64 {
        match group {
            DurationGroup::Rape => targets::REFERRAL_DAYS_RAPE,
            DurationGroup::Sexual => targets::REFERRAL_DAYS_SEXUAL,
            DurationGroup::Other => self.referral_days_other,
        }
    }

    /// Mean Crown Court receipt-to-completion days for a duration group.
    #[must_use]
    pub fn crown_days(&self, group: DurationGroup) -> f64 {
        match group {
            DurationGroup::Rape => targets::CROWN_DAYS_RAPE,
            DurationGroup::Sexual | DurationGroup::Other => self.crown_days_other,
        }
    }
}

/// The duration groups a class's victims fall in, with their shares.
fn group_shares(class: Class) -> Vec<(DurationGroup, f64)> {
    match class {
        Class::RapeDomesticAbuse | Class::Rape => vec![(DurationGroup::Rape, 1.0)],
        Class::Sexual => vec![(DurationGroup::Sexual, 1.0)],
        Class::ChildSexualAbuse => {
            vec![(DurationGroup::Rape, CHILD_RAPE_SHARE), (DurationGroup::Sexual, 1.0 - CHILD_RAPE_SHARE)]
        }
        _ => vec![(DurationGroup::Other, 1.0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_complete() {
        let total: f64 = CLASSES.iter().map(|c| c.share).sum();
        assert!((total - 1.0).abs() < 1e-9, "class shares sum to {total}");
        for c in &CLASSES {
            let rels: f64 = c.rels.iter().sum();
            assert!((rels - 1.0).abs() < 1e-9, "{:?} relationships sum to {rels}", c.class);
            let ends: f64 = endings(c, true).iter().chain(&endings(c, false)).map(|e| e.weight).sum();
            assert!((ends - 2.0).abs() < 1e-9, "{:?} endings sum to {ends}", c.class);
        }
    }

    #[test]
    fn the_solved_model_meets_every_target_in_expectation() {
        let m = Model::solve();
        let cells = cells();
        let g = m.margins(&cells);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(close(rate(g.all), targets::OVERALL));
        assert!(close(rate(g.class[5]), targets::ROBBERY));
        assert!(close(rate(sum(&[g.class[0], g.class[4]])), targets::DOMESTIC_ABUSE));
        assert!(close(rate(sum(&g.rel[..4])), targets::KNOWN_SUSPECT));
        assert!(close(rate(g.rel[0]) / rate(g.rel[4]), targets::PARTNER_VS_STRANGER));
        assert!(close(rate(g.arrested[0]) / rate(g.arrested[1]), targets::NOT_ARRESTED_VS_ARRESTED));
        for (a, (_, t)) in targets::AREAS.iter().enumerate() {
            assert!(close(rate(g.area[a]), *t));
        }
        println!(
            "referrals per victim {:?} (other: {:.1} days); Crown Court cases {:?} (not rape: {:.1} days)",
            m.referrals, m.referral_days_other, m.crown_cases, m.crown_days_other
        );
        assert!(m.referral_days_other > 5.0, "non-sexual referral days {}", m.referral_days_other);
        assert!(m.crown_days_other > 100.0, "non-rape Crown Court days {}", m.crown_days_other);
    }
}
