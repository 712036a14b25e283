//! What the attrition reports read from each journey (issue 7): the dates of the stages the
//! timeliness measures run between, when and in which phase the victim withdrew, the trial's
//! result, referral to support, and the journey's path as a Sankey draws it (`REPORTED>…>exit`, loops collapsed).
//! Journeys stored before this migration get these fields from `care-hub journeys rebuild`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Journeys {
    Table,
    ArrestedAt,
    CpsReferredAt,
    DecisionAt,
    TrialStartedAt,
    TrialResult,
    CourtOutcomeAt,
    SupportReferredAt,
    WithdrawnAt,
    WithdrawalPhase,
    FlowPath,
}

const TIMES: [Journeys; 6] = [
    Journeys::ArrestedAt,
    Journeys::CpsReferredAt,
    Journeys::DecisionAt,
    Journeys::TrialStartedAt,
    Journeys::CourtOutcomeAt,
    Journeys::SupportReferredAt,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for c in TIMES.into_iter().chain([Journeys::WithdrawnAt]) {
            m.alter_table(
                Table::alter()
                    .table(Journeys::Table)
                    .add_column(ColumnDef::new(c).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        }
        for (c, len) in [(Journeys::TrialResult, 20), (Journeys::WithdrawalPhase, 20), (Journeys::FlowPath, 400)] {
            m.alter_table(
                Table::alter().table(Journeys::Table).add_column(ColumnDef::new(c).string_len(len).null()).to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for c in TIMES.into_iter().chain([
            Journeys::WithdrawnAt,
            Journeys::TrialResult,
            Journeys::WithdrawalPhase,
            Journeys::FlowPath,
        ]) {
            m.alter_table(Table::alter().table(Journeys::Table).drop_column(c).to_owned()).await?;
        }
        Ok(())
    }
}
