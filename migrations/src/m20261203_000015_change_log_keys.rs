//! The reports' change logs (migrations 000012 and 000014) are compacted by a daily job
//! (`reports::facts::compact_change_logs`): of a victim's entries, or of a journey's tombstones,
//! only the newest is needed. These indexes let the job find the older ones per key instead of
//! scanning the log once per entry.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportVictimChanges {
    Table,
    VictimId,
    Rev,
}

#[derive(DeriveIden)]
enum JourneyTombstones {
    Table,
    CaseId,
    VictimId,
    Rev,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_report_victim_changes_victim")
                .table(ReportVictimChanges::Table)
                .col(ReportVictimChanges::VictimId)
                .col(ReportVictimChanges::Rev)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_journey_tombstones_key")
                .table(JourneyTombstones::Table)
                .col(JourneyTombstones::CaseId)
                .col(JourneyTombstones::VictimId)
                .col(JourneyTombstones::Rev)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_journey_tombstones_key").table(JourneyTombstones::Table).to_owned())
            .await?;
        m.drop_index(Index::drop().name("ix_report_victim_changes_victim").table(ReportVictimChanges::Table).to_owned())
            .await
    }
}
