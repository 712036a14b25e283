//! Why a trial listing was ineffective (DOMAIN.md §3.2): the reason code on the court's
//! `TRIAL_INEFFECTIVE` event, and on each journey the codes of its ineffective listings in the
//! order they happened (`W1>M3`), which the trials report counts. Journeys stored before this
//! migration get the field from `care-hub journeys rebuild` (their events carry no codes yet).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JourneyEvents {
    Table,
    ReasonCode,
}

#[derive(DeriveIden)]
enum Journeys {
    Table,
    IneffectiveReasons,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(JourneyEvents::Table)
                .add_column(ColumnDef::new(JourneyEvents::ReasonCode).string_len(8).null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Journeys::Table)
                .add_column(ColumnDef::new(Journeys::IneffectiveReasons).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Journeys::Table).drop_column(Journeys::IneffectiveReasons).to_owned())
            .await?;
        m.alter_table(Table::alter().table(JourneyEvents::Table).drop_column(JourneyEvents::ReasonCode).to_owned())
            .await
    }
}
