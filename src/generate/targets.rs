//! Published figures the generator is calibrated to (DOMAIN.md §9).
//!
//! Rates are shares of victims whose pre-charge phase has ended; durations are mean days.

/// Victims withdrawing before a charging decision, all examined offences.
pub const OVERALL: f64 = 0.40;
pub const ROBBERY: f64 = 0.19;
pub const CRIMINAL_DAMAGE: f64 = 0.18;
/// Every domestic-abuse-flagged crime (violence, stalking and rape).
pub const DOMESTIC_ABUSE: f64 = 0.59;
pub const ADULT_RAPE: f64 = 0.69;
pub const ADULT_RAPE_DOMESTIC_ABUSE: f64 = 0.74;
/// Adult sexual offences other than rape.
pub const ADULT_SEXUAL: f64 = 0.50;
pub const CHILD_SEXUAL_ABUSE: f64 = 0.51;
/// Suspect known to the victim (any relationship but stranger).
pub const KNOWN_SUSPECT: f64 = 0.54;
/// Relative likelihood of withdrawal against a stranger suspect.
pub const PARTNER_VS_STRANGER: f64 = 2.1;
pub const FRIEND_VS_STRANGER: f64 = 1.8;
/// Withdrawal is this many times less likely when the suspect was arrested and interviewed.
pub const NOT_ARRESTED_VS_ARRESTED: f64 = 2.7;
/// ISVA/IDVA support (sexual offences and domestic abuse): Lighthouse, 31% against 51%.
pub const SUPPORTED_VS_UNSUPPORTED: f64 = 31.0 / 51.0;
/// BCU rates: the published spread is 34% (Central East) to 44% (West Area); the three
/// between are ours, chosen so the five average the overall 40%.
pub const AREAS: [(&str, f64); 5] = [
    ("GEN-POLICE-N", 0.41),
    ("GEN-POLICE-S", 0.42),
    ("GEN-POLICE-E", 0.39),
    ("GEN-POLICE-W", 0.44),
    ("GEN-POLICE-C", 0.34),
];
/// Victim self-defined ethnicity not recorded.
pub const ETHNICITY_MISSING: f64 = 0.70;
/// Trials listed that did not go ahead (national Crown Court, 2023).
pub const TRIALS_INEFFECTIVE: f64 = 0.27;
/// Reason codes of ineffective listings and their shares, the rest unrecorded. Illustrative, not
/// calibrated: no published split by code is in DOMAIN.md; the prosecution's M-series (witness
/// absent among them) and the court's listing reasons are the largest groups, as in the
/// Crown Court's published rankings.
pub const INEFFECTIVE_REASONS: [(&str, f64); 12] = [
    ("M1", 0.20),
    ("M2", 0.10),
    ("W3", 0.15),
    ("W1", 0.12),
    ("S1", 0.08),
    ("W2", 0.05),
    ("Q1", 0.05),
    ("U1", 0.05),
    ("S2", 0.04),
    ("W5", 0.03),
    ("S3", 0.03),
    ("X", 0.02),
];
/// CPS referral to charging decision, mean days (London): all, other sexual offences, rape.
pub const REFERRAL_DAYS: f64 = 37.0;
pub const REFERRAL_DAYS_SEXUAL: f64 = 130.0;
pub const REFERRAL_DAYS_RAPE: f64 = 267.0;
/// Crown Court receipt to completion, mean days (London): all, rape.
pub const CROWN_DAYS: f64 = 255.0;
pub const CROWN_DAYS_RAPE: f64 = 461.0;
