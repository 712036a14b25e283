//! `journeys`: one victim's path through one case, derived from the case's events.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journeys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub victim_id: Uuid,
    pub current_stage: Option<String>,
    pub furthest_stage: Option<String>,
    pub reported_at: Option<DateTimeUtc>,
    pub charged_at: Option<DateTimeUtc>,
    pub first_hearing_at: Option<DateTimeUtc>,
    pub trial_listed_at: Option<DateTimeUtc>,
    pub verdict_at: Option<DateTimeUtc>,
    pub sentenced_at: Option<DateTimeUtc>,
    /// When a terminal stage was reached.
    pub ended_at: Option<DateTimeUtc>,
    pub action_plan_count: i32,
    pub ineffective_count: i32,
    pub final_outcome: Option<String>,
    pub withdrawn: bool,
    pub withdrawal_stage: Option<String>,
    pub event_count: i32,
    pub updated_at: DateTimeUtc,
    /// First arrest or interview under caution.
    pub arrested_at: Option<DateTimeUtc>,
    /// First referral to the CPS for a charging decision.
    pub cps_referred_at: Option<DateTimeUtc>,
    /// First charge, NFA or out-of-court disposal after the referral to the CPS.
    pub decision_at: Option<DateTimeUtc>,
    /// When a listed trial started or cracked.
    pub trial_started_at: Option<DateTimeUtc>,
    /// `effective` or `cracked` (ineffective listings are counted in `ineffective_count`).
    pub trial_result: Option<String>,
    /// First verdict, crack or discontinuance after a trial was listed.
    pub court_outcome_at: Option<DateTimeUtc>,
    /// First referral to a support service (the parallel track).
    pub support_referred_at: Option<DateTimeUtc>,
    pub withdrawn_at: Option<DateTimeUtc>,
    /// `pre_charge` or `post_charge`.
    pub withdrawal_phase: Option<String>,
    /// The stages passed, loops collapsed, then the exit: `REPORTED>INVESTIGATION>…>WITHDRAWN`.
    pub flow_path: Option<String>,
    /// Change number, for the reports' in-memory journeys (`reports::facts`): set on every write.
    pub rev: i64,
    /// The reason codes of the ineffective listings, in order, joined by `>` (unrecorded ones left out).
    pub ineffective_reasons: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
