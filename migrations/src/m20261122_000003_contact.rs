//! Keeping victims informed: contact plans, the contact log, each victim's contact schedule (what
//! the due scan reads), Victims' Code deadline rules and the obligations they create, the
//! bank-holiday calendar, and the notification outbox.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ContactPlans {
    Table,
    VictimId,
    IntervalDays,
    PreferredChannel,
    PreferredTimes,
    Suspended,
    SuspendedReason,
    SuspendedAt,
    SuspensionReviewOn,
    RoutineOptOut,
    OptedOutOn,
    OptOutReason,
    KeyDecisionsOptOut,
    Version,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    VictimId,
    CaseId,
    OccurredAt,
    ContactBy,
    AgencyCode,
    Channel,
    Direction,
    Outcome,
    Kind,
    Summary,
    Discharges,
    RecordedAt,
    RecordedBy,
}

#[derive(DeriveIden)]
enum ContactSchedule {
    Table,
    VictimId,
    TeamCode,
    Caseworker,
    State,
    IntervalDays,
    LastUpdateAt,
    NextDueOn,
    EscalatedFor,
    RefreshedAt,
}

#[derive(DeriveIden)]
enum ObligationRules {
    Table,
    Code,
    CodeRef,
    TriggerEvent,
    Description,
    Responsible,
    WorkingDaysStandard,
    WorkingDaysEnhanced,
    ClockStarts,
    KeyDecision,
    Active,
    Version,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum Obligations {
    Table,
    Id,
    VictimId,
    CaseId,
    RuleCode,
    TriggerEvent,
    SourceKey,
    EventOccurredAt,
    EventReceivedAt,
    ClockStartedOn,
    Enhanced,
    WorkingDays,
    DueOn,
    Status,
    DischargedAt,
    DischargedBy,
    WaivedReason,
    EscalatedAt,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum ReminderDays {
    Table,
    Job,
    Day,
    DoneAt,
}

#[derive(DeriveIden)]
enum BankHolidays {
    Table,
    Day,
    Title,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    DedupeKey,
    Kind,
    Recipient,
    Subject,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum Victims {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

fn ts_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().to_owned()
}

fn text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

fn text_null(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().to_owned()
}

async fn index(m: &SchemaManager<'_>, name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(c);
    }
    m.create_index(idx).await
}

/// Victims' Code deadlines (DOMAIN.md §1.3): code, Code right, trigger, description, responsible
/// agency kind, working days standard / enhanced, clock starts at the `event` or on `receipt`
/// by the responsible agency, key decision.
type Rule = (&'static str, &'static str, &'static str, &'static str, &'static str, i32, i32, &'static str, bool);

const RULES: &[Rule] = &[
    (
        "R4_REFERRAL",
        "R4",
        "crime_reported",
        "Refer the victim to a support service",
        "police_force",
        2,
        2,
        "event",
        false,
    ),
    (
        "R6_NOT_INVESTIGATED",
        "R6",
        "not_investigated",
        "Explain the decision not to investigate and offer a referral",
        "police_force",
        5,
        1,
        "event",
        true,
    ),
    ("R6_ARREST", "R6", "arrest", "Tell the victim a suspect was arrested", "police_force", 5, 1, "event", true),
    (
        "R6_INTERVIEW",
        "R6",
        "interview_under_caution",
        "Tell the victim the suspect was interviewed under caution",
        "police_force",
        5,
        1,
        "event",
        true,
    ),
    (
        "R6_NFA",
        "R6",
        "released_nfa",
        "Tell the victim the suspect was released without charge (no further action)",
        "police_force",
        5,
        1,
        "event",
        true,
    ),
    (
        "R6_BAIL_RUI",
        "R6",
        "released_bail_or_rui",
        "Tell the victim the suspect was released on bail or under investigation, or bail conditions changed",
        "police_force",
        5,
        1,
        "event",
        true,
    ),
    ("R6_CHARGE", "R6", "charged", "Tell the victim the suspect was charged", "police_force", 5, 1, "event", true),
    (
        "R6_OOCD",
        "R6",
        "out_of_court_disposal",
        "Tell the victim of the out-of-court disposal",
        "police_force",
        5,
        1,
        "event",
        true,
    ),
    (
        "R6_NOT_CHARGED",
        "R6",
        "decision_not_to_charge",
        "Tell the victim of the decision not to charge, and how to seek a review",
        "police_force",
        5,
        1,
        "event",
        true,
    ),
    (
        "R6_DISCONTINUED",
        "R6",
        "discontinued",
        "Tell the victim the CPS discontinued, altered a charge or offered no evidence, and how to seek a review",
        "cps_area",
        5,
        1,
        "event",
        true,
    ),
    (
        "R8_HEARING",
        "R8",
        "hearing_listed",
        "Tell the victim the date, time and place of the hearing",
        "witness_care_unit",
        1,
        1,
        "receipt",
        true,
    ),
    (
        "R8_BAIL_OUTCOME",
        "R8",
        "bail_hearing_outcome",
        "Tell the victim the bail outcome, conditions or warrant",
        "witness_care_unit",
        5,
        1,
        "receipt",
        true,
    ),
    (
        "R8_GIVE_EVIDENCE",
        "R8",
        "required_to_give_evidence",
        "Tell the victim they are required to give evidence",
        "witness_care_unit",
        1,
        1,
        "receipt",
        true,
    ),
    (
        "R9_VERDICT",
        "R9",
        "verdict",
        "Tell the victim the verdict with short reasons",
        "witness_care_unit",
        1,
        1,
        "receipt",
        true,
    ),
    (
        "R9_SENTENCE",
        "R9",
        "sentence",
        "Tell the victim the sentence and what it means",
        "witness_care_unit",
        1,
        1,
        "receipt",
        true,
    ),
    (
        "R10_EXPENSES",
        "R10",
        "expenses_claim_received",
        "Pay the victim's witness expenses",
        "cps_area",
        10,
        10,
        "receipt",
        false,
    ),
    (
        "R11_VCS",
        "R11",
        "vcs_eligible",
        "Tell the victim about the Victim Contact Scheme and refer them to Probation",
        "witness_care_unit",
        20,
        20,
        "event",
        true,
    ),
    (
        "R12_COMPLAINT",
        "R12",
        "complaint_received",
        "Answer or acknowledge the victim's complaint with a timescale",
        "other",
        10,
        10,
        "receipt",
        false,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ContactPlans::Table)
                .col(ColumnDef::new(ContactPlans::VictimId).uuid().not_null().primary_key())
                .col(ColumnDef::new(ContactPlans::IntervalDays).integer().not_null())
                .col(text_null(ContactPlans::PreferredChannel, 20))
                .col(text_null(ContactPlans::PreferredTimes, 200))
                .col(ColumnDef::new(ContactPlans::Suspended).boolean().not_null())
                .col(text_null(ContactPlans::SuspendedReason, 1000))
                .col(ts_null(ContactPlans::SuspendedAt))
                .col(ColumnDef::new(ContactPlans::SuspensionReviewOn).date().null())
                .col(ColumnDef::new(ContactPlans::RoutineOptOut).boolean().not_null())
                .col(ColumnDef::new(ContactPlans::OptedOutOn).date().null())
                .col(text_null(ContactPlans::OptOutReason, 1000))
                .col(ColumnDef::new(ContactPlans::KeyDecisionsOptOut).boolean().not_null())
                .col(ColumnDef::new(ContactPlans::Version).integer().not_null())
                .col(ts(ContactPlans::UpdatedAt))
                .col(text(ContactPlans::UpdatedBy, 254))
                .foreign_key(
                    ForeignKey::create()
                        .from(ContactPlans::Table, ContactPlans::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Contacts::Table)
                .col(ColumnDef::new(Contacts::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Contacts::VictimId).uuid().not_null())
                .col(ColumnDef::new(Contacts::CaseId).uuid().null())
                .col(ts(Contacts::OccurredAt))
                .col(text(Contacts::ContactBy, 254))
                .col(text_null(Contacts::AgencyCode, 32))
                .col(text(Contacts::Channel, 20))
                .col(text(Contacts::Direction, 20))
                .col(text(Contacts::Outcome, 30))
                .col(text(Contacts::Kind, 30))
                .col(ColumnDef::new(Contacts::Summary).text().null())
                .col(ColumnDef::new(Contacts::Discharges).json_binary().not_null())
                .col(ts(Contacts::RecordedAt))
                .col(text(Contacts::RecordedBy, 254))
                .foreign_key(
                    ForeignKey::create().from(Contacts::Table, Contacts::VictimId).to(Victims::Table, Victims::Id),
                )
                .foreign_key(ForeignKey::create().from(Contacts::Table, Contacts::CaseId).to(Cases::Table, Cases::Id))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_contacts_victim",
            Contacts::Table,
            vec![Contacts::VictimId.into_iden(), Contacts::OccurredAt.into_iden()],
        )
        .await?;

        // One row per victim, kept current by every change that moves their next update.
        m.create_table(
            Table::create()
                .table(ContactSchedule::Table)
                .col(ColumnDef::new(ContactSchedule::VictimId).uuid().not_null().primary_key())
                .col(text(ContactSchedule::TeamCode, 40))
                .col(text_null(ContactSchedule::Caseworker, 200))
                .col(text(ContactSchedule::State, 20))
                .col(ColumnDef::new(ContactSchedule::IntervalDays).integer().not_null())
                .col(ts_null(ContactSchedule::LastUpdateAt))
                .col(ColumnDef::new(ContactSchedule::NextDueOn).date().null())
                // The due date an overdue escalation was queued for, so later scans skip it.
                .col(ColumnDef::new(ContactSchedule::EscalatedFor).date().null())
                .col(ts(ContactSchedule::RefreshedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ContactSchedule::Table, ContactSchedule::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_contact_schedule_due",
            ContactSchedule::Table,
            vec![ContactSchedule::State.into_iden(), ContactSchedule::NextDueOn.into_iden()],
        )
        .await?;
        index(
            m,
            "ix_contact_schedule_team",
            ContactSchedule::Table,
            vec![
                ContactSchedule::TeamCode.into_iden(),
                ContactSchedule::State.into_iden(),
                ContactSchedule::NextDueOn.into_iden(),
            ],
        )
        .await?;
        index(
            m,
            "ix_contact_schedule_caseworker",
            ContactSchedule::Table,
            vec![
                ContactSchedule::Caseworker.into_iden(),
                ContactSchedule::State.into_iden(),
                ContactSchedule::NextDueOn.into_iden(),
            ],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ObligationRules::Table)
                .col(ColumnDef::new(ObligationRules::Code).string_len(40).not_null().primary_key())
                .col(text(ObligationRules::CodeRef, 10))
                .col(text(ObligationRules::TriggerEvent, 60))
                .col(text(ObligationRules::Description, 500))
                .col(text(ObligationRules::Responsible, 30))
                .col(ColumnDef::new(ObligationRules::WorkingDaysStandard).integer().not_null())
                .col(ColumnDef::new(ObligationRules::WorkingDaysEnhanced).integer().not_null())
                .col(text(ObligationRules::ClockStarts, 10))
                .col(ColumnDef::new(ObligationRules::KeyDecision).boolean().not_null())
                .col(ColumnDef::new(ObligationRules::Active).boolean().not_null())
                .col(ColumnDef::new(ObligationRules::Version).integer().not_null())
                .col(ts(ObligationRules::UpdatedAt))
                .col(text(ObligationRules::UpdatedBy, 254))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_obligation_rules_trigger",
            ObligationRules::Table,
            vec![ObligationRules::TriggerEvent.into_iden()],
        )
        .await?;
        for (code, code_ref, trigger, description, responsible, standard, enhanced, starts, key) in RULES {
            m.exec_stmt(
                Query::insert()
                    .into_table(ObligationRules::Table)
                    .columns([
                        ObligationRules::Code,
                        ObligationRules::CodeRef,
                        ObligationRules::TriggerEvent,
                        ObligationRules::Description,
                        ObligationRules::Responsible,
                        ObligationRules::WorkingDaysStandard,
                        ObligationRules::WorkingDaysEnhanced,
                        ObligationRules::ClockStarts,
                        ObligationRules::KeyDecision,
                        ObligationRules::Active,
                        ObligationRules::Version,
                        ObligationRules::UpdatedAt,
                        ObligationRules::UpdatedBy,
                    ])
                    .values_panic([
                        (*code).into(),
                        (*code_ref).into(),
                        (*trigger).into(),
                        (*description).into(),
                        (*responsible).into(),
                        (*standard).into(),
                        (*enhanced).into(),
                        (*starts).into(),
                        (*key).into(),
                        true.into(),
                        1.into(),
                        // The stored format (see the access-audit migration).
                        Expr::cust("'2026-11-22T00:00:00+00:00'"),
                        "migration".into(),
                    ])
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(Obligations::Table)
                .col(ColumnDef::new(Obligations::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Obligations::VictimId).uuid().not_null())
                .col(ColumnDef::new(Obligations::CaseId).uuid().null())
                .col(text(Obligations::RuleCode, 40))
                .col(text(Obligations::TriggerEvent, 60))
                .col(text(Obligations::SourceKey, 200))
                .col(ts(Obligations::EventOccurredAt))
                .col(ts_null(Obligations::EventReceivedAt))
                .col(ColumnDef::new(Obligations::ClockStartedOn).date().not_null())
                .col(ColumnDef::new(Obligations::Enhanced).boolean().not_null())
                .col(ColumnDef::new(Obligations::WorkingDays).integer().not_null())
                .col(ColumnDef::new(Obligations::DueOn).date().not_null())
                .col(text(Obligations::Status, 20))
                .col(ts_null(Obligations::DischargedAt))
                .col(ColumnDef::new(Obligations::DischargedBy).uuid().null())
                .col(text_null(Obligations::WaivedReason, 500))
                .col(ts_null(Obligations::EscalatedAt))
                .col(ts(Obligations::CreatedAt))
                .col(text(Obligations::CreatedBy, 254))
                .foreign_key(
                    ForeignKey::create()
                        .from(Obligations::Table, Obligations::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .foreign_key(
                    ForeignKey::create().from(Obligations::Table, Obligations::CaseId).to(Cases::Table, Cases::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Obligations::Table, Obligations::RuleCode)
                        .to(ObligationRules::Table, ObligationRules::Code),
                )
                .to_owned(),
        )
        .await?;
        // One obligation per rule, victim and triggering event: an event recorded twice creates one.
        m.create_index(
            Index::create()
                .name("ux_obligations_source")
                .table(Obligations::Table)
                .col(Obligations::VictimId)
                .col(Obligations::RuleCode)
                .col(Obligations::SourceKey)
                .unique()
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_obligations_due",
            Obligations::Table,
            vec![Obligations::Status.into_iden(), Obligations::DueOn.into_iden()],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(BankHolidays::Table)
                .col(ColumnDef::new(BankHolidays::Day).date().not_null().primary_key())
                .col(text(BankHolidays::Title, 200))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(ColumnDef::new(Outbox::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Outbox::DedupeKey).string_len(400).not_null().unique_key())
                .col(text(Outbox::Kind, 40))
                .col(text(Outbox::Recipient, 254))
                .col(text(Outbox::Subject, 300))
                .col(ColumnDef::new(Outbox::Body).text().not_null())
                .col(text(Outbox::Status, 20))
                .col(ColumnDef::new(Outbox::Attempts).integer().not_null())
                .col(ts(Outbox::NextAttemptAt))
                .col(ts_null(Outbox::LeaseUntil))
                .col(ColumnDef::new(Outbox::LastError).text().null())
                .col(ts(Outbox::CreatedAt))
                .col(ts_null(Outbox::SentAt))
                .to_owned(),
        )
        .await?;
        // Once-a-day work (the digest) marks its day done so later scans that day skip it.
        m.create_table(
            Table::create()
                .table(ReminderDays::Table)
                .col(text(ReminderDays::Job, 40))
                .col(ColumnDef::new(ReminderDays::Day).date().not_null())
                .col(ts(ReminderDays::DoneAt))
                .primary_key(Index::create().col(ReminderDays::Job).col(ReminderDays::Day))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_outbox_status",
            Outbox::Table,
            vec![Outbox::Status.into_iden(), Outbox::NextAttemptAt.into_iden()],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ReminderDays::Table.into_iden(),
            Outbox::Table.into_iden(),
            BankHolidays::Table.into_iden(),
            Obligations::Table.into_iden(),
            ObligationRules::Table.into_iden(),
            ContactSchedule::Table.into_iden(),
            Contacts::Table.into_iden(),
            ContactPlans::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
