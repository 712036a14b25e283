//! Linked journeys: agency events (idempotent per source), the journey each victim's case derives
//! from them, Home Office outcome codes, withdrawals with evidence, and unevidenced-withdrawal flags.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutcomeCodes {
    Table,
    Code,
    Label,
    OutcomeGroup,
    VictimDoesNotSupport,
    ValidFrom,
    ValidTo,
}

#[derive(DeriveIden)]
enum JourneyEvents {
    Table,
    Id,
    SourceAgency,
    SourceEventId,
    EventType,
    OccurredAt,
    ReceivedAt,
    OutcomeCode,
    CaseRef,
    VictimRef,
    CaseId,
    VictimId,
    Status,
    LinkageReason,
    Corrects,
    CorrectionAction,
    SupersededBy,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Journeys {
    Table,
    CaseId,
    VictimId,
    CurrentStage,
    FurthestStage,
    ReportedAt,
    ChargedAt,
    FirstHearingAt,
    TrialListedAt,
    VerdictAt,
    SentencedAt,
    EndedAt,
    ActionPlanCount,
    IneffectiveCount,
    FinalOutcome,
    Withdrawn,
    WithdrawalStage,
    EventCount,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Withdrawals {
    Table,
    Id,
    CaseId,
    VictimId,
    WithdrawnOn,
    Stage,
    Reasons,
    FeltPressured,
    Evidence,
    ConfirmedWithVictim,
    Notes,
    Status,
    RecordedBy,
    RecordedAt,
    ReviewedBy,
    ReviewedAt,
    ReviewNote,
    Version,
}

#[derive(DeriveIden)]
enum WithdrawalFlags {
    Table,
    Id,
    CaseId,
    VictimId,
    EventId,
    RaisedAt,
    ClearedAt,
    ClearedBy,
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

/// Home Office crime outcome codes (DOMAIN.md §2): code, label, group, victim does not support.
const OUTCOMES: &[(&str, &str, &str, bool)] = &[
    ("1", "Charged/summonsed", "charged_summonsed", false),
    ("1A", "Charged/summonsed with an alternative offence", "charged_summonsed", false),
    ("2", "Caution - youths", "out_of_court_formal", false),
    ("3", "Caution - adults", "out_of_court_formal", false),
    ("4", "Taken into consideration", "taken_into_consideration", false),
    ("5", "Offender died", "prosecution_prevented", false),
    ("6", "Penalty Notice for Disorder", "out_of_court_formal", false),
    ("7", "Cannabis/Khat warning", "out_of_court_informal", false),
    ("8", "Community Resolution", "out_of_court_informal", false),
    ("9", "Prosecution not in the public interest (CPS)", "prosecution_prevented", false),
    ("10", "Formal action not in the public interest (police)", "prosecution_prevented", false),
    ("11", "Prosecution prevented - suspect below the age of criminal responsibility", "prosecution_prevented", false),
    ("12", "Prosecution prevented - suspect too ill to prosecute", "prosecution_prevented", false),
    ("13", "Prosecution prevented - victim or key witness dead or too ill", "prosecution_prevented", false),
    (
        "14",
        "Evidential difficulties: suspect not identified; victim does not support further action",
        "victim_does_not_support",
        true,
    ),
    (
        "15",
        "Evidential difficulties: suspect identified; victim supports action",
        "evidential_difficulties_victim_supports",
        false,
    ),
    (
        "16",
        "Evidential difficulties: suspect identified; victim does not support further action",
        "victim_does_not_support",
        true,
    ),
    ("17", "Prosecution time limit expired", "time_limit_expired", false),
    ("18", "Investigation complete - no suspect identified", "no_suspect_identified", false),
    ("19", "National Fraud Intelligence Bureau filed", "nfib", false),
    ("20", "Responsibility for further investigation transferred to another body", "responsibility_transferred", false),
    (
        "21",
        "Further investigation not in the public interest - police decision",
        "further_investigation_not_in_public_interest",
        false,
    ),
    ("22", "Diversionary, educational or intervention activity", "diversionary", false),
    ("23", "Deferred prosecution (children)", "diversionary", false),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OutcomeCodes::Table)
                .col(ColumnDef::new(OutcomeCodes::Code).string_len(8).not_null().primary_key())
                .col(text(OutcomeCodes::Label, 200))
                .col(text(OutcomeCodes::OutcomeGroup, 60))
                .col(ColumnDef::new(OutcomeCodes::VictimDoesNotSupport).boolean().not_null())
                .col(ColumnDef::new(OutcomeCodes::ValidFrom).date().not_null())
                .col(ColumnDef::new(OutcomeCodes::ValidTo).date().null())
                .to_owned(),
        )
        .await?;
        for (code, label, group, withdrawn) in OUTCOMES {
            let from = if *code == "23" { "'2024-04-01'" } else { "'2014-04-01'" };
            m.exec_stmt(
                Query::insert()
                    .into_table(OutcomeCodes::Table)
                    .columns([
                        OutcomeCodes::Code,
                        OutcomeCodes::Label,
                        OutcomeCodes::OutcomeGroup,
                        OutcomeCodes::VictimDoesNotSupport,
                        OutcomeCodes::ValidFrom,
                    ])
                    .values_panic([
                        (*code).into(),
                        (*label).into(),
                        (*group).into(),
                        (*withdrawn).into(),
                        Expr::cust(from),
                    ])
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(JourneyEvents::Table)
                .col(ColumnDef::new(JourneyEvents::Id).uuid().not_null().primary_key())
                .col(text(JourneyEvents::SourceAgency, 32))
                .col(text(JourneyEvents::SourceEventId, 100))
                .col(text(JourneyEvents::EventType, 40))
                .col(ts(JourneyEvents::OccurredAt))
                .col(ts_null(JourneyEvents::ReceivedAt))
                .col(text_null(JourneyEvents::OutcomeCode, 8))
                // How the agency named the case (e.g. "TEST-POLICE/crime_reference/CR-1"), kept for linkage.
                .col(text_null(JourneyEvents::CaseRef, 200))
                .col(text_null(JourneyEvents::VictimRef, 20))
                .col(ColumnDef::new(JourneyEvents::CaseId).uuid().null())
                .col(ColumnDef::new(JourneyEvents::VictimId).uuid().null())
                .col(text(JourneyEvents::Status, 20))
                .col(text_null(JourneyEvents::LinkageReason, 300))
                .col(text_null(JourneyEvents::Corrects, 100))
                .col(text_null(JourneyEvents::CorrectionAction, 20))
                .col(ColumnDef::new(JourneyEvents::SupersededBy).uuid().null())
                .col(ts(JourneyEvents::CreatedAt))
                .col(text(JourneyEvents::CreatedBy, 254))
                .foreign_key(
                    ForeignKey::create().from(JourneyEvents::Table, JourneyEvents::CaseId).to(Cases::Table, Cases::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(JourneyEvents::Table, JourneyEvents::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_journey_events_source")
                .table(JourneyEvents::Table)
                .col(JourneyEvents::SourceAgency)
                .col(JourneyEvents::SourceEventId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_journey_events_case")
                .table(JourneyEvents::Table)
                .col(JourneyEvents::CaseId)
                .col(JourneyEvents::OccurredAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_journey_events_status")
                .table(JourneyEvents::Table)
                .col(JourneyEvents::Status)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Journeys::Table)
                .col(ColumnDef::new(Journeys::CaseId).uuid().not_null())
                .col(ColumnDef::new(Journeys::VictimId).uuid().not_null())
                .col(text_null(Journeys::CurrentStage, 40))
                .col(text_null(Journeys::FurthestStage, 40))
                .col(ts_null(Journeys::ReportedAt))
                .col(ts_null(Journeys::ChargedAt))
                .col(ts_null(Journeys::FirstHearingAt))
                .col(ts_null(Journeys::TrialListedAt))
                .col(ts_null(Journeys::VerdictAt))
                .col(ts_null(Journeys::SentencedAt))
                .col(ts_null(Journeys::EndedAt))
                .col(ColumnDef::new(Journeys::ActionPlanCount).integer().not_null())
                .col(ColumnDef::new(Journeys::IneffectiveCount).integer().not_null())
                .col(text_null(Journeys::FinalOutcome, 8))
                .col(ColumnDef::new(Journeys::Withdrawn).boolean().not_null())
                .col(text_null(Journeys::WithdrawalStage, 40))
                .col(ColumnDef::new(Journeys::EventCount).integer().not_null())
                .col(ts(Journeys::UpdatedAt))
                .primary_key(Index::create().col(Journeys::CaseId).col(Journeys::VictimId))
                .foreign_key(ForeignKey::create().from(Journeys::Table, Journeys::CaseId).to(Cases::Table, Cases::Id))
                .foreign_key(
                    ForeignKey::create().from(Journeys::Table, Journeys::VictimId).to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_journeys_victim").table(Journeys::Table).col(Journeys::VictimId).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Withdrawals::Table)
                .col(ColumnDef::new(Withdrawals::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Withdrawals::CaseId).uuid().not_null())
                .col(ColumnDef::new(Withdrawals::VictimId).uuid().not_null())
                .col(ColumnDef::new(Withdrawals::WithdrawnOn).date().not_null())
                .col(text(Withdrawals::Stage, 40))
                .col(ColumnDef::new(Withdrawals::Reasons).json_binary().not_null())
                .col(ColumnDef::new(Withdrawals::FeltPressured).boolean().null())
                .col(ColumnDef::new(Withdrawals::Evidence).json_binary().not_null())
                .col(ColumnDef::new(Withdrawals::ConfirmedWithVictim).boolean().not_null())
                .col(ColumnDef::new(Withdrawals::Notes).text().null())
                .col(text(Withdrawals::Status, 20))
                .col(text(Withdrawals::RecordedBy, 254))
                .col(ts(Withdrawals::RecordedAt))
                .col(text_null(Withdrawals::ReviewedBy, 254))
                .col(ts_null(Withdrawals::ReviewedAt))
                .col(text_null(Withdrawals::ReviewNote, 1000))
                .col(ColumnDef::new(Withdrawals::Version).integer().not_null())
                .foreign_key(
                    ForeignKey::create().from(Withdrawals::Table, Withdrawals::CaseId).to(Cases::Table, Cases::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Withdrawals::Table, Withdrawals::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_withdrawals_case")
                .table(Withdrawals::Table)
                .col(Withdrawals::CaseId)
                .col(Withdrawals::VictimId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WithdrawalFlags::Table)
                .col(ColumnDef::new(WithdrawalFlags::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(WithdrawalFlags::CaseId).uuid().not_null())
                .col(ColumnDef::new(WithdrawalFlags::VictimId).uuid().not_null())
                .col(ColumnDef::new(WithdrawalFlags::EventId).uuid().not_null())
                .col(ts(WithdrawalFlags::RaisedAt))
                .col(ts_null(WithdrawalFlags::ClearedAt))
                .col(text_null(WithdrawalFlags::ClearedBy, 254))
                .foreign_key(
                    ForeignKey::create()
                        .from(WithdrawalFlags::Table, WithdrawalFlags::CaseId)
                        .to(Cases::Table, Cases::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(WithdrawalFlags::Table, WithdrawalFlags::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_withdrawal_flags_event")
                .table(WithdrawalFlags::Table)
                .col(WithdrawalFlags::EventId)
                .col(WithdrawalFlags::VictimId)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WithdrawalFlags::Table.into_iden(),
            Withdrawals::Table.into_iden(),
            Journeys::Table.into_iden(),
            JourneyEvents::Table.into_iden(),
            OutcomeCodes::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
