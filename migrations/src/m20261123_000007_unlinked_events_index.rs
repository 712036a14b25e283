//! Only events waiting for linkage are looked up by status (the linkage queue); the index on
//! every event's status cost each insert of an import a write into one ever-growing "linked"
//! range (BENCHMARKS.md, "Import"). A partial index holds the waiting events alone.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JourneyEvents {
    Table,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_journey_events_status").table(JourneyEvents::Table).to_owned()).await?;
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_journey_events_unlinked ON journey_events (source_agency, id) \
                 WHERE status = 'unlinked'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_journey_events_unlinked").table(JourneyEvents::Table).to_owned()).await?;
        m.create_index(
            Index::create()
                .name("ix_journey_events_status")
                .table(JourneyEvents::Table)
                .col(JourneyEvents::Status)
                .to_owned(),
        )
        .await
    }
}
