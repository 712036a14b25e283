//! The journey model (DOMAIN.md §3.1): stage codes as reference data, and how a journey is
//! derived from a case's events. One pure function serves both the incremental update as each
//! event lands and `care-hub journeys rebuild`, so the two cannot disagree.
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// One stage: code, name, owning agency, pre- or post-charge, terminal, and its rank on the way
/// to an outcome (loops share the rank of the stage they return to).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Stage {
    pub code: &'static str,
    pub name: &'static str,
    pub owner: &'static str,
    /// `pre_charge`, `post_charge` or `parallel`.
    pub phase: &'static str,
    pub terminal: bool,
    pub rank: u8,
}

const fn stage(
    code: &'static str,
    name: &'static str,
    owner: &'static str,
    phase: &'static str,
    terminal: bool,
    rank: u8,
) -> Stage {
    Stage { code, name, owner, phase, terminal, rank }
}

pub const STAGES: &[Stage] = &[
    stage("REPORTED", "Incident reported / crime recorded", "police", "pre_charge", false, 1),
    stage("CLOSED_NO_INVESTIGATION", "Closed without investigation", "police", "pre_charge", true, 2),
    stage("NEEDS_ASSESSED", "Needs assessed; enhanced rights determined", "police", "pre_charge", false, 2),
    stage("SUPPORT_REFERRED", "Referred to support services", "victim_services", "parallel", false, 0),
    stage("INVESTIGATION", "Investigation open", "police", "pre_charge", false, 3),
    stage("SUSPECT_IDENTIFIED", "Named suspect identified", "police", "pre_charge", false, 4),
    stage("ARREST_INTERVIEW", "Arrest or interview under caution", "police", "pre_charge", false, 5),
    stage("CPS_PRECHARGE", "Referred to the CPS for a charging decision", "cps", "pre_charge", false, 6),
    stage("ACTION_PLAN", "CPS action plan returned to the police", "police", "pre_charge", false, 6),
    stage("NFA", "No further action", "police", "pre_charge", true, 7),
    stage("OOCD", "Out-of-court disposal", "police", "pre_charge", true, 7),
    stage("CHARGED", "Charged or summonsed", "police", "post_charge", false, 7),
    stage("FIRST_HEARING", "First hearing (magistrates' court)", "hmcts", "post_charge", false, 8),
    stage("SENT_TO_CROWN", "Sent to the Crown Court", "hmcts", "post_charge", false, 9),
    stage("PTPH", "Plea and trial preparation hearing", "hmcts", "post_charge", false, 10),
    stage("TRIAL_LISTED", "Trial listed", "hmcts", "post_charge", false, 11),
    stage("TRIAL_INEFFECTIVE", "Trial ineffective and relisted", "hmcts", "post_charge", false, 11),
    stage("TRIAL_CRACKED", "Trial cracked", "hmcts", "post_charge", false, 12),
    stage("DISCONTINUED", "Discontinued or no evidence offered", "cps", "post_charge", true, 12),
    stage("TRIAL_EFFECTIVE", "Trial started", "hmcts", "post_charge", false, 12),
    stage("VERDICT", "Verdict", "hmcts", "post_charge", false, 13),
    stage("ACQUITTED", "Acquitted", "hmcts", "post_charge", true, 14),
    stage("SENTENCE", "Sentenced", "hmcts", "post_charge", false, 14),
    stage("APPEAL", "Appeal", "hmcts", "post_charge", false, 15),
    stage("VCS_OFFERED", "Victim Contact Scheme offered", "probation", "post_charge", false, 15),
    stage("POST_SENTENCE", "Licence, parole and release notifications", "probation", "post_charge", false, 16),
    stage("CLOSED", "Case closed", "hub", "post_charge", true, 17),
    stage("VICTIM_DISENGAGED", "Victim withdrew support", "any", "parallel", false, 0),
];

/// The event type that carries a Home Office outcome code.
pub const OUTCOME: &str = "OUTCOME";

#[must_use]
pub fn find(code: &str) -> Option<&'static Stage> {
    STAGES.iter().find(|s| s.code == code)
}

/// The stage an outcome code closes a journey at (DOMAIN.md §2 groups).
#[must_use]
pub fn stage_for_outcome(code: &str) -> &'static str {
    match code {
        "1" | "1A" => "CHARGED",
        "2" | "3" | "6" | "7" | "8" | "22" | "23" => "OOCD",
        _ => "NFA",
    }
}

/// The obligation trigger (issue 4's rules) an event starts, if any.
#[must_use]
pub fn trigger_for(event_type: &str, outcome: Option<&str>) -> Option<&'static str> {
    Some(match (event_type, outcome) {
        ("REPORTED", _) => "crime_reported",
        ("CLOSED_NO_INVESTIGATION", _) => "not_investigated",
        ("ARREST_INTERVIEW", _) => "arrest",
        ("CHARGED", _) => "charged",
        ("NFA", _) => "released_nfa",
        ("OOCD", _) => "out_of_court_disposal",
        ("DISCONTINUED", _) => "discontinued",
        ("FIRST_HEARING" | "TRIAL_LISTED" | "PTPH", _) => "hearing_listed",
        ("VERDICT" | "ACQUITTED", _) => "verdict",
        ("SENTENCE", _) => "sentence",
        ("VCS_OFFERED", _) => "vcs_eligible",
        (OUTCOME, Some(code)) => match stage_for_outcome(code) {
            "CHARGED" => "charged",
            "OOCD" => "out_of_court_disposal",
            _ => "released_nfa",
        },
        _ => return None,
    })
}

/// Who an ineffective trial's reason code puts it down to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Court,
    Defence,
    Prosecution,
    Other,
}

impl Party {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Court => "court",
            Party::Defence => "defence",
            Party::Prosecution => "prosecution",
            Party::Other => "other",
        }
    }
}

/// HMCTS ineffective-trial reason codes (DOMAIN.md §3.2). The prosecution's M-series is taken as
/// `M` and one or two digits: its published list is incomplete in the domain notes, so those
/// codes are accepted and reported under their code until the board agrees their names.
const INEFFECTIVE_REASONS: &[(&str, Party, &str)] = &[
    ("W1", Party::Court, "Another case over-ran"),
    ("W2", Party::Court, "Judge or magistrate unavailable (illness etc.)"),
    ("W3", Party::Court, "Case not reached or floater not reached"),
    ("W4", Party::Court, "Equipment or accommodation failure"),
    ("X", Party::Court, "Insufficient jurors available"),
    ("Q1", Party::Defence, "Defence not ready: disclosure problems (including late alibi notice)"),
    ("Q2", Party::Defence, "Defence not ready: other (including no instructions)"),
    ("Q3", Party::Defence, "Defence asked for an additional prosecution witness to attend"),
    ("R", Party::Defence, "Defence witness absent"),
    ("S1", Party::Defence, "Defendant absent: the court would not proceed in absence"),
    ("S2", Party::Defence, "Defendant ill or otherwise unfit to proceed"),
    ("S4", Party::Defence, "Defendant absent: not notified of the place and time"),
    ("T", Party::Defence, "Defence increased its time estimate: no time for the trial to start"),
    ("U1", Party::Defence, "Defence advocate engaged in another trial"),
    ("U2", Party::Defence, "Defence advocate failed to attend"),
    ("V", Party::Defence, "Defendant dismissed their advocate"),
    ("S3", Party::Other, "Defendant not produced by the prisoner escort service"),
    ("W5", Party::Other, "No interpreter available"),
    ("Y", Party::Other, "Outstanding cases in a magistrates' court"),
    ("Z", Party::Other, "Outstanding cases at another Crown Court centre"),
];

/// An ineffective-trial reason code's party and name, or `None` for a code that is not one.
#[must_use]
pub fn ineffective_reason(code: &str) -> Option<(Party, String)> {
    if let Some((_, party, name)) = INEFFECTIVE_REASONS.iter().find(|(c, ..)| *c == code) {
        return Some((*party, (*name).to_owned()));
    }
    let digits = code.strip_prefix('M')?;
    (!digits.is_empty() && digits.len() <= 2 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| (Party::Prosecution, format!("Prosecution reason {code}")))
}

/// The codes of [`ineffective_reason`], for the generator and the spec.
#[must_use]
pub fn ineffective_reason_codes() -> Vec<&'static str> {
    INEFFECTIVE_REASONS.iter().map(|(c, ..)| *c).collect()
}

/// One event as the derivation sees it.
#[derive(Debug, Clone)]
pub struct EventFact {
    pub event_type: String,
    pub outcome_code: Option<String>,
    /// A `TRIAL_INEFFECTIVE` listing's reason code.
    pub reason_code: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    /// Tie-break for events at the same instant: the order they arrived in.
    pub seq: uuid::Uuid,
}

/// A journey as derived from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Derived {
    pub current_stage: Option<String>,
    pub furthest_stage: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
    pub charged_at: Option<DateTime<Utc>>,
    pub first_hearing_at: Option<DateTime<Utc>>,
    pub trial_listed_at: Option<DateTime<Utc>>,
    pub verdict_at: Option<DateTime<Utc>>,
    pub sentenced_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub action_plan_count: i32,
    pub ineffective_count: i32,
    /// The recorded reason codes of the ineffective listings, in order.
    pub ineffective_reasons: Vec<String>,
    pub final_outcome: Option<String>,
    pub withdrawn: bool,
    pub withdrawal_stage: Option<String>,
    pub event_count: i32,
    pub arrested_at: Option<DateTime<Utc>>,
    pub cps_referred_at: Option<DateTime<Utc>>,
    pub decision_at: Option<DateTime<Utc>>,
    pub trial_started_at: Option<DateTime<Utc>>,
    pub trial_result: Option<&'static str>,
    pub court_outcome_at: Option<DateTime<Utc>>,
    pub support_referred_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// The stages passed, in order, each of a higher rank than the one before: loops (action
    /// plans, relisted trials) and steps back collapse into the node reached first, so the
    /// paths of all journeys together form a DAG.
    pub path: Vec<&'static str>,
    /// How much of `path` was passed when the victim withdrew.
    pub path_at_withdrawal: Option<usize>,
}

/// The exit of a journey the victim withdrew from, in a flow.
pub const EXIT_WITHDRAWN: &str = "WITHDRAWN";
/// The exit of a journey still under way, in a flow.
pub const EXIT_OPEN: &str = "OPEN";

/// Stages past which a journey has its outcome even though none of them is terminal.
const OUTCOME_REACHED: &[&str] = &["SENTENCE", "APPEAL", "VCS_OFFERED", "POST_SENTENCE"];

impl Derived {
    /// Whether the victim withdrew before a charging decision (or before any charge).
    #[must_use]
    pub fn withdrawal_phase(&self) -> Option<&'static str> {
        if !self.withdrawn {
            return None;
        }
        let after_charge = match (self.charged_at, self.withdrawn_at) {
            (Some(c), Some(w)) => w >= c,
            (Some(_), None) => {
                self.withdrawal_stage.as_deref().and_then(find).is_some_and(|s| s.phase == "post_charge")
            }
            (None, _) => false,
        };
        Some(if after_charge { "post_charge" } else { "pre_charge" })
    }

    /// The journey as a flow draws it: its path (cut where the victim withdrew) and its exit,
    /// joined by `>`; `None` when no stage was reached.
    #[must_use]
    pub fn flow_path(&self) -> Option<String> {
        if self.path.is_empty() && !self.withdrawn {
            return None;
        }
        let mut nodes: Vec<&str> = match self.path_at_withdrawal {
            Some(n) if self.withdrawn => self.path[..n.min(self.path.len())].to_vec(),
            _ => self.path.clone(),
        };
        if nodes.is_empty() {
            nodes.push("REPORTED");
        }
        if self.withdrawn {
            nodes.push(EXIT_WITHDRAWN);
        } else if let Some(last) = nodes.last().and_then(|c| find(c))
            && !last.terminal
            && !OUTCOME_REACHED.contains(&last.code)
        {
            nodes.push(EXIT_OPEN);
        }
        Some(nodes.join(">"))
    }

    /// Marks the journey withdrawn at `stage` on `at` (a withdrawal record with no outcome event).
    pub fn withdraw_at_stage(&mut self, stage: &str, at: DateTime<Utc>) {
        if self.withdrawn {
            return;
        }
        self.withdrawn = true;
        self.withdrawal_stage = Some(stage.to_owned());
        self.withdrawn_at = Some(at);
        let rank = find(stage).map_or(u8::MAX, |s| s.rank);
        self.path_at_withdrawal = Some(self.path.iter().filter(|c| find(c).is_some_and(|s| s.rank <= rank)).count());
    }
}

/// Derives a journey from its live events, whatever order they arrived in. `victim_outcomes`
/// says which outcome codes mean the victim does not support action (14 and 16).
#[must_use]
pub fn derive(events: &[EventFact], victim_outcomes: &[String]) -> Derived {
    let mut sorted: Vec<&EventFact> = events.iter().collect();
    sorted.sort_by_key(|e| (e.occurred_at, e.seq));
    let mut d = Derived { event_count: events.len() as i32, ..Derived::default() };
    let mut furthest_rank = 0u8;
    for e in sorted {
        let outcome = e.outcome_code.as_deref();
        let code =
            if e.event_type == OUTCOME { outcome.map_or("NFA", stage_for_outcome) } else { e.event_type.as_str() };
        let Some(stage) = find(code) else { continue };
        let withdrew =
            e.event_type == "VICTIM_DISENGAGED" || outcome.is_some_and(|o| victim_outcomes.iter().any(|v| v == o));
        if withdrew && !d.withdrawn {
            d.withdrawn = true;
            d.withdrawal_stage = d.current_stage.clone().or_else(|| Some("REPORTED".into()));
            d.withdrawn_at = Some(e.occurred_at);
            d.path_at_withdrawal = Some(d.path.len());
        }
        if let Some(o) = outcome {
            d.final_outcome = Some(o.to_owned());
        }
        match stage.code {
            "REPORTED" => d.reported_at = d.reported_at.or(Some(e.occurred_at)),
            "CHARGED" => d.charged_at = d.charged_at.or(Some(e.occurred_at)),
            "FIRST_HEARING" => d.first_hearing_at = d.first_hearing_at.or(Some(e.occurred_at)),
            "TRIAL_LISTED" => d.trial_listed_at = d.trial_listed_at.or(Some(e.occurred_at)),
            "VERDICT" | "ACQUITTED" => d.verdict_at = d.verdict_at.or(Some(e.occurred_at)),
            "SENTENCE" => d.sentenced_at = d.sentenced_at.or(Some(e.occurred_at)),
            "ACTION_PLAN" => d.action_plan_count += 1,
            "TRIAL_INEFFECTIVE" => {
                d.ineffective_count += 1;
                d.ineffective_reasons.extend(e.reason_code.clone());
            }
            "ARREST_INTERVIEW" => d.arrested_at = d.arrested_at.or(Some(e.occurred_at)),
            "CPS_PRECHARGE" => d.cps_referred_at = d.cps_referred_at.or(Some(e.occurred_at)),
            "SUPPORT_REFERRED" => d.support_referred_at = d.support_referred_at.or(Some(e.occurred_at)),
            _ => {}
        }
        if matches!(stage.code, "CHARGED" | "NFA" | "OOCD") && d.cps_referred_at.is_some() && d.decision_at.is_none() {
            d.decision_at = Some(e.occurred_at);
        }
        if matches!(stage.code, "TRIAL_EFFECTIVE" | "TRIAL_CRACKED") && d.trial_result.is_none() {
            d.trial_started_at = Some(e.occurred_at);
            d.trial_result = Some(if stage.code == "TRIAL_EFFECTIVE" { "effective" } else { "cracked" });
        }
        if matches!(stage.code, "VERDICT" | "ACQUITTED" | "TRIAL_CRACKED" | "DISCONTINUED" | "SENTENCE")
            && d.trial_listed_at.is_some()
            && d.court_outcome_at.is_none()
        {
            d.court_outcome_at = Some(e.occurred_at);
        }
        if stage.phase == "parallel" {
            continue;
        }
        d.current_stage = Some(stage.code.to_owned());
        if stage.terminal {
            d.ended_at = d.ended_at.or(Some(e.occurred_at));
        }
        if d.path.last().and_then(|c| find(c)).is_none_or(|last| stage.rank > last.rank) {
            d.path.push(stage.code);
        }
        if stage.rank >= furthest_rank {
            furthest_rank = stage.rank;
            d.furthest_stage = Some(stage.code.to_owned());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: &str, outcome: Option<&str>, day: u32) -> EventFact {
        EventFact {
            event_type: t.into(),
            outcome_code: outcome.map(str::to_owned),
            reason_code: None,
            occurred_at: format!("2026-01-{day:02}T10:00:00Z").parse().unwrap(),
            received_at: None,
            seq: uuid::Uuid::now_v7(),
        }
    }

    #[test]
    fn a_journey_is_the_same_whatever_order_its_events_arrive_in() {
        let events = vec![
            ev("REPORTED", None, 1),
            ev("ARREST_INTERVIEW", None, 3),
            ev("CPS_PRECHARGE", None, 5),
            ev("ACTION_PLAN", None, 7),
            ev("CPS_PRECHARGE", None, 9),
            ev("ACTION_PLAN", None, 11),
            ev(OUTCOME, Some("16"), 20),
        ];
        let victim = vec!["14".to_owned(), "16".to_owned()];
        let forwards = derive(&events, &victim);
        let mut backwards = events.clone();
        backwards.reverse();
        assert_eq!(derive(&backwards, &victim), forwards);
        assert_eq!(forwards.current_stage.as_deref(), Some("NFA"));
        assert_eq!(forwards.furthest_stage.as_deref(), Some("NFA"));
        assert_eq!(forwards.action_plan_count, 2);
        assert!(forwards.withdrawn);
        assert_eq!(forwards.withdrawal_stage.as_deref(), Some("ACTION_PLAN"));
        assert_eq!(forwards.final_outcome.as_deref(), Some("16"));
        assert!(forwards.ended_at.is_some());
        // The flow stops where the victim withdrew; the loop is one node.
        assert_eq!(forwards.flow_path().as_deref(), Some("REPORTED>ARREST_INTERVIEW>CPS_PRECHARGE>WITHDRAWN"));
        assert_eq!(forwards.withdrawal_phase(), Some("pre_charge"));
        assert_eq!(forwards.cps_referred_at, Some("2026-01-05T10:00:00Z".parse().unwrap()));
        assert_eq!(forwards.decision_at, Some("2026-01-20T10:00:00Z".parse().unwrap()));
    }

    #[test]
    fn loops_are_counted_and_the_furthest_stage_kept() {
        let mut events = vec![
            ev("CHARGED", None, 1),
            ev("TRIAL_LISTED", None, 2),
            ev("TRIAL_INEFFECTIVE", None, 3),
            ev("TRIAL_LISTED", None, 4),
            ev("TRIAL_INEFFECTIVE", None, 5),
            ev("TRIAL_LISTED", None, 6),
            ev("SUPPORT_REFERRED", None, 7),
            ev("TRIAL_INEFFECTIVE", None, 8),
            ev("TRIAL_LISTED", None, 9),
        ];
        events[4].reason_code = Some("M3".into());
        events[7].reason_code = Some("W1".into());
        // Arrival order is not the order they happened in.
        events.reverse();
        let d = derive(&events, &[]);
        assert_eq!(d.ineffective_count, 3);
        assert_eq!(d.ineffective_reasons, ["M3", "W1"], "in the order they happened; the unrecorded one left out");
        assert_eq!(d.current_stage.as_deref(), Some("TRIAL_LISTED"));
        assert_eq!(d.furthest_stage.as_deref(), Some("TRIAL_LISTED"));
        assert!(!d.withdrawn);
        assert_eq!(d.trial_listed_at, Some("2026-01-02T10:00:00Z".parse().unwrap()));
        assert_eq!(d.flow_path().as_deref(), Some("CHARGED>TRIAL_LISTED>OPEN"));
        assert_eq!(ineffective_reason("W5").map(|r| r.0), Some(Party::Other));
        assert_eq!(ineffective_reason("M12"), Some((Party::Prosecution, "Prosecution reason M12".into())));
        assert_eq!(ineffective_reason("M"), None);
        assert_eq!(ineffective_reason("M123"), None);
        assert_eq!(ineffective_reason("w1"), None);
        assert_eq!(d.withdrawal_phase(), None);
    }

    #[test]
    fn a_trial_result_and_a_withdrawal_record_after_charge() {
        let mut d = derive(
            &[
                ev("REPORTED", None, 1),
                ev("CHARGED", None, 2),
                ev("TRIAL_LISTED", None, 3),
                ev("TRIAL_CRACKED", None, 9),
                ev("SENTENCE", None, 20),
            ],
            &[],
        );
        assert_eq!(d.trial_result, Some("cracked"));
        assert_eq!(d.court_outcome_at, Some("2026-01-09T10:00:00Z".parse().unwrap()));
        assert_eq!(d.flow_path().as_deref(), Some("REPORTED>CHARGED>TRIAL_LISTED>TRIAL_CRACKED>SENTENCE"));
        d.withdraw_at_stage("TRIAL_LISTED", "2026-01-05T00:00:00Z".parse().unwrap());
        assert_eq!(d.withdrawal_phase(), Some("post_charge"));
        assert_eq!(d.flow_path().as_deref(), Some("REPORTED>CHARGED>TRIAL_LISTED>WITHDRAWN"));
    }
}
