//! Reads generated extracts back and measures them against the calibration targets.
//!
//! Withdrawal rates count victims whose pre-charge phase has ended by the anchor (a `CHARGED`
//! or `OUTCOME` event), like the published figures, which leave out crimes without an outcome;
//! a victim withdrew when an outcome 14 or 16, or `VICTIM_DISENGAGED`, came before any charge.
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::targets;
use super::{COURT_EVENTS_FILE, CPS_EVENTS_FILE, INTAKE_FILE, POLICE_EVENTS_FILE};

/// `count` of `of`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub of: u64,
}

impl Rate {
    #[must_use]
    pub fn value(self) -> f64 {
        if self.of == 0 { f64::NAN } else { self.count as f64 / self.of as f64 }
    }
    fn add(&mut self, hit: bool) {
        self.of += 1;
        self.count += u64::from(hit);
    }
}

/// Mean days over `of` cases.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mean {
    pub total_days: f64,
    pub of: u64,
}

impl Mean {
    #[must_use]
    pub fn value(self) -> f64 {
        if self.of == 0 { f64::NAN } else { self.total_days / self.of as f64 }
    }
    fn add(&mut self, seconds: i64) {
        self.of += 1;
        self.total_days += seconds as f64 / 86_400.0;
    }
}

/// What a set of extracts shows.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    pub victims: u64,
    /// Victims whose pre-charge phase had ended: the denominator of the withdrawal rates.
    pub concluded: u64,
    /// Pre-charge withdrawal by group: `all`, offence groups (`robbery`, `criminal_damage`,
    /// `domestic_abuse`, `adult_rape`, `adult_rape_domestic_abuse`, `adult_sexual`,
    /// `child_sexual_abuse`), relationships (`known`, `partner`, `friend`, `stranger`),
    /// `arrested`/`not_arrested`, `supported`/`unsupported` (sexual offences and domestic abuse)
    /// and `area:<code>`.
    pub withdrawal: BTreeMap<String, Rate>,
    pub ethnicity_missing: Rate,
    /// Ineffective listings among trial listings that had an outcome, in completed cases.
    pub trials_ineffective: Rate,
    /// CPS referral to the first charge or outcome after it: `all`, `rape`, `sexual`.
    pub referral_days: BTreeMap<String, Mean>,
    /// Sent to the Crown Court to sentence, acquittal or discontinuance: `all`, `rape`.
    pub crown_days: BTreeMap<String, Mean>,
}

/// One target against what was measured.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    /// The published figure, as published.
    pub figure: String,
    /// The value the figure implies for these files (for ratios: times the measured reference).
    pub expected: f64,
    pub measured: f64,
    /// Allowed difference, in the unit of `expected`.
    pub tolerance: f64,
    /// Days rather than a share.
    pub days: bool,
    pub sample: u64,
    pub ok: bool,
}

/// Rates may differ by 2 percentage points; mean durations by 5%.
const RATE_TOLERANCE: f64 = 0.02;
const DAYS_TOLERANCE: f64 = 0.05;

impl Calibration {
    fn rate(&self, key: &str) -> Rate {
        self.withdrawal.get(key).copied().unwrap_or_default()
    }

    /// Every target with its measured value and whether it is within tolerance.
    #[must_use]
    pub fn check(&self) -> Vec<Check> {
        let mut out = Vec::new();
        let mut share = |name: &str, figure: String, expected: f64, r: Rate| {
            let measured = r.value();
            out.push(Check {
                name: name.to_owned(),
                figure,
                expected,
                measured,
                tolerance: RATE_TOLERANCE,
                days: false,
                sample: r.of,
                ok: (measured - expected).abs() <= RATE_TOLERANCE,
            });
        };
        let pct = |p: f64| format!("{:.0}%", p * 100.0);
        for (key, name, target) in [
            ("all", "withdrawal: all offences", targets::OVERALL),
            ("robbery", "withdrawal: robbery", targets::ROBBERY),
            ("criminal_damage", "withdrawal: criminal damage", targets::CRIMINAL_DAMAGE),
            ("domestic_abuse", "withdrawal: domestic abuse", targets::DOMESTIC_ABUSE),
            ("adult_rape", "withdrawal: adult rape", targets::ADULT_RAPE),
            ("adult_rape_domestic_abuse", "withdrawal: adult rape, domestic abuse", targets::ADULT_RAPE_DOMESTIC_ABUSE),
            ("adult_sexual", "withdrawal: adult sexual offences (not rape)", targets::ADULT_SEXUAL),
            ("child_sexual_abuse", "withdrawal: child sexual abuse", targets::CHILD_SEXUAL_ABUSE),
            ("known", "withdrawal: suspect known", targets::KNOWN_SUSPECT),
        ] {
            share(name, pct(target), target, self.rate(key));
        }
        let stranger = self.rate("stranger").value();
        share(
            "withdrawal: partner vs stranger",
            format!("{}× stranger", targets::PARTNER_VS_STRANGER),
            targets::PARTNER_VS_STRANGER * stranger,
            self.rate("partner"),
        );
        share(
            "withdrawal: friend vs stranger",
            format!("{}× stranger", targets::FRIEND_VS_STRANGER),
            targets::FRIEND_VS_STRANGER * stranger,
            self.rate("friend"),
        );
        share(
            "withdrawal: arrested and interviewed",
            format!("{}× less likely", targets::NOT_ARRESTED_VS_ARRESTED),
            self.rate("not_arrested").value() / targets::NOT_ARRESTED_VS_ARRESTED,
            self.rate("arrested"),
        );
        share(
            "withdrawal: ISVA/IDVA supported",
            "31% vs 51% unsupported".to_owned(),
            targets::SUPPORTED_VS_UNSUPPORTED * self.rate("unsupported").value(),
            self.rate("supported"),
        );
        for (area, target) in targets::AREAS {
            share(&format!("withdrawal: area {area}"), pct(target), target, self.rate(&format!("area:{area}")));
        }
        share(
            "ethnicity not recorded",
            pct(targets::ETHNICITY_MISSING),
            targets::ETHNICITY_MISSING,
            self.ethnicity_missing,
        );
        share(
            "trials ineffective",
            pct(targets::TRIALS_INEFFECTIVE),
            targets::TRIALS_INEFFECTIVE,
            self.trials_ineffective,
        );
        let mut days = |name: &str, target: f64, m: Option<&Mean>| {
            let m = m.copied().unwrap_or_default();
            let measured = m.value();
            out.push(Check {
                name: name.to_owned(),
                figure: format!("{target:.0} days"),
                expected: target,
                measured,
                tolerance: target * DAYS_TOLERANCE,
                days: true,
                sample: m.of,
                ok: (measured - target).abs() <= target * DAYS_TOLERANCE,
            });
        };
        days("CPS referral to decision: all", targets::REFERRAL_DAYS, self.referral_days.get("all"));
        days(
            "CPS referral to decision: sexual (not rape)",
            targets::REFERRAL_DAYS_SEXUAL,
            self.referral_days.get("sexual"),
        );
        days("CPS referral to decision: rape", targets::REFERRAL_DAYS_RAPE, self.referral_days.get("rape"));
        days("Crown Court receipt to completion: all", targets::CROWN_DAYS, self.crown_days.get("all"));
        days("Crown Court receipt to completion: rape", targets::CROWN_DAYS_RAPE, self.crown_days.get("rape"));
        out
    }

    /// True when every target is within tolerance.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.check().iter().all(|c| c.ok)
    }

    /// The checks as a Markdown table.
    #[must_use]
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| target | published | expected | measured | tolerance | n | ok |\n|---|---|---|---|---|---|---|\n",
        );
        for c in self.check() {
            let (e, m, t) = if c.days {
                (format!("{:.1}", c.expected), format!("{:.1}", c.measured), format!("±{:.1} d", c.tolerance))
            } else {
                (
                    format!("{:.1}%", c.expected * 100.0),
                    format!("{:.1}%", c.measured * 100.0),
                    format!("±{:.0} pp", c.tolerance * 100.0),
                )
            };
            let ok = if c.ok { "yes" } else { "**no**" };
            let _ = writeln!(s, "| {} | {} | {e} | {m} | {t} | {} | {ok} |", c.name, c.figure, c.sample);
        }
        s
    }
}

/// One victim as the intake and the events describe them.
#[derive(Default)]
struct Seen {
    groups: Vec<String>,
    /// Sexual offence or domestic abuse: ISVA/IDVA support applies.
    supportable: bool,
    duration_group: &'static str,
    first_outcome: Option<i64>,
    charged: Option<i64>,
    withdrew: Option<i64>,
    arrested: Option<i64>,
    supported: Option<i64>,
    referral: Option<i64>,
    decisions: Vec<i64>,
    sent: Option<i64>,
    completions: Vec<i64>,
    listings: [u64; 3],
}

fn earliest(slot: &mut Option<i64>, at: i64) {
    *slot = Some(slot.map_or(at, |s| s.min(at)));
}

struct Columns {
    reader: csv::Reader<std::fs::File>,
    index: HashMap<String, usize>,
}

impl Columns {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
        let index = reader.headers()?.iter().enumerate().map(|(i, h)| (h.to_owned(), i)).collect();
        Ok(Self { reader, index })
    }
    fn col(&self, name: &str) -> anyhow::Result<usize> {
        self.index.get(name).copied().with_context(|| format!("no {name} column"))
    }
}

fn parse_time(s: &str) -> anyhow::Result<i64> {
    Ok(chrono::DateTime::parse_from_rfc3339(s).with_context(|| format!("bad time {s}"))?.timestamp())
}

fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Reads the extracts in `dir` (as `generate` wrote them) and measures them.
pub fn measure(dir: &Path) -> anyhow::Result<Calibration> {
    let mut cal = Calibration::default();
    let mut victims: Vec<Seen> = Vec::new();
    let mut by_crime_ref: HashMap<String, usize> = HashMap::new();
    let mut by_urn: HashMap<String, usize> = HashMap::new();

    let mut intake = Columns::open(&dir.join(INTAKE_FILE))?;
    let [crime_ref, urn, dob, ethnicity, offence, flags, rel, area, reported] = [
        "crime_ref",
        "urn",
        "date_of_birth",
        "ethnicity",
        "offence_group",
        "priority_flags",
        "relationship",
        "area",
        "date_reported",
    ]
    .map(|c| intake.col(c));
    let (crime_ref, urn, dob, ethnicity, offence, flags, rel, area, reported) =
        (crime_ref?, urn?, dob?, ethnicity?, offence?, flags?, rel?, area?, reported?);
    let mut row = csv::StringRecord::new();
    while intake.reader.read_record(&mut row)? {
        let adult = match (parse_date(&row[dob]), parse_date(&row[reported])) {
            (Some(born), Some(on)) => on.years_since(born).is_some_and(|y| y >= 18),
            _ => true,
        };
        let flag_list: Vec<&str> = row[flags].split(';').collect();
        let da = flag_list.contains(&"domestic_abuse");
        let mut groups = vec!["all".to_owned(), format!("area:{}", &row[area])];
        let offence_group = &row[offence];
        let sexual = matches!(offence_group, "rape" | "other_sexual_offences");
        match offence_group {
            "robbery" => groups.push("robbery".into()),
            "criminal_damage" => groups.push("criminal_damage".into()),
            "rape" if adult => {
                groups.push("adult_rape".into());
                if da {
                    groups.push("adult_rape_domestic_abuse".into());
                }
            }
            "other_sexual_offences" if adult => groups.push("adult_sexual".into()),
            _ => {}
        }
        if da {
            groups.push("domestic_abuse".into());
        }
        if flag_list.contains(&"child_abuse") && sexual {
            groups.push("child_sexual_abuse".into());
        }
        match &row[rel] {
            "" | "not_known" | "no_suspect" => {}
            "stranger" => groups.push("stranger".into()),
            r => {
                groups.push("known".into());
                match r {
                    "partner_ex_partner" => groups.push("partner".into()),
                    "friend_acquaintance" => groups.push("friend".into()),
                    _ => {}
                }
            }
        }
        cal.victims += 1;
        cal.ethnicity_missing.add(row[ethnicity].is_empty());
        let i = victims.len();
        by_crime_ref.insert(row[crime_ref].to_owned(), i);
        if !row[urn].is_empty() {
            by_urn.insert(row[urn].to_owned(), i);
        }
        victims.push(Seen {
            groups,
            supportable: sexual || da,
            duration_group: match offence_group {
                "rape" => "rape",
                "other_sexual_offences" => "sexual",
                _ => "other",
            },
            ..Seen::default()
        });
    }

    for (file, by_urn_ref) in [(POLICE_EVENTS_FILE, false), (CPS_EVENTS_FILE, true), (COURT_EVENTS_FILE, true)] {
        let mut events = Columns::open(&dir.join(file))?;
        let (kind, at, outcome, ref_value) = (
            events.col("event_type")?,
            events.col("occurred_at")?,
            events.col("outcome_code")?,
            events.col("ref_value")?,
        );
        while events.reader.read_record(&mut row)? {
            let map = if by_urn_ref { &by_urn } else { &by_crime_ref };
            let Some(&i) = map.get(&row[ref_value]) else { continue };
            let v = &mut victims[i];
            let t = parse_time(&row[at])?;
            match &row[kind] {
                "CHARGED" => {
                    earliest(&mut v.charged, t);
                    earliest(&mut v.first_outcome, t);
                    v.decisions.push(t);
                }
                "OUTCOME" => {
                    earliest(&mut v.first_outcome, t);
                    v.decisions.push(t);
                    if matches!(&row[outcome], "14" | "16") {
                        earliest(&mut v.withdrew, t);
                    }
                }
                "VICTIM_DISENGAGED" => earliest(&mut v.withdrew, t),
                "ARREST_INTERVIEW" => earliest(&mut v.arrested, t),
                "SUPPORT_REFERRED" => earliest(&mut v.supported, t),
                "CPS_PRECHARGE" => earliest(&mut v.referral, t),
                "SENT_TO_CROWN" => earliest(&mut v.sent, t),
                "SENTENCE" | "ACQUITTED" | "DISCONTINUED" => v.completions.push(t),
                "TRIAL_INEFFECTIVE" => v.listings[0] += 1,
                "TRIAL_CRACKED" => v.listings[1] += 1,
                "TRIAL_EFFECTIVE" => v.listings[2] += 1,
                _ => {}
            }
        }
    }

    for v in &victims {
        if v.first_outcome.is_some() {
            cal.concluded += 1;
            let withdrew = v.withdrew.is_some_and(|w| v.charged.is_none_or(|c| w < c));
            let mut groups: Vec<&str> = v.groups.iter().map(String::as_str).collect();
            groups.push(if v.arrested.is_some() { "arrested" } else { "not_arrested" });
            if v.supportable {
                groups.push(if v.supported.is_some() { "supported" } else { "unsupported" });
            }
            for g in groups {
                cal.withdrawal.entry(g.to_owned()).or_default().add(withdrew);
            }
        }
        if let Some(referral) = v.referral
            && let Some(decided) = v.decisions.iter().filter(|&&d| d >= referral).min()
        {
            for g in ["all", v.duration_group] {
                cal.referral_days.entry(g.to_owned()).or_default().add(decided - referral);
            }
        }
        let completed = v.charged.and_then(|c| v.completions.iter().filter(|&&d| d >= c).min().copied());
        if completed.is_some() {
            cal.trials_ineffective.count += v.listings[0];
            cal.trials_ineffective.of += v.listings.iter().sum::<u64>();
        }
        if let (Some(sent), Some(done)) = (v.sent, completed)
            && done >= sent
        {
            let mut groups = vec!["all"];
            if v.duration_group == "rape" {
                groups.push("rape");
            }
            for g in groups {
                cal.crown_days.entry(g.to_owned()).or_default().add(done - sent);
            }
        }
    }
    Ok(cal)
}
