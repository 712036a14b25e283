//! The attrition flow groups every journey by its path: an index on `flow_path` lets both
//! databases count the paths from the index alone, in order, instead of sorting a million paths
//! (BENCHMARKS.md, "Reports": ten times less work for an unfiltered flow on SQLite).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Journeys {
    Table,
    FlowPath,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create().name("ix_journeys_flow_path").table(Journeys::Table).col(Journeys::FlowPath).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_journeys_flow_path").table(Journeys::Table).to_owned()).await
    }
}
