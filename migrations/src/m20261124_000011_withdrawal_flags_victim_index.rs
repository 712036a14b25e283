//! A caseworker's due work lists the open withdrawal flags of their caseload: an index on
//! `withdrawal_flags.victim_id` finds them per victim instead of scanning every flag (the load
//! benchmark, BENCHMARKS.md, "Load"). It also spares SQLite a scan of the table when it checks the
//! foreign key to `victims`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WithdrawalFlags {
    Table,
    VictimId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_withdrawal_flags_victim")
                .table(WithdrawalFlags::Table)
                .col(WithdrawalFlags::VictimId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_withdrawal_flags_victim").table(WithdrawalFlags::Table).to_owned()).await
    }
}
