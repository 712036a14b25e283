//! The due scan's reads answered from the index alone: the digest and escalation sets are a range
//! of (state, next_due_on), and these are the only columns they read (BENCHMARKS.md, "Reminders").
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ContactSchedule {
    Table,
    VictimId,
    TeamCode,
    Caseworker,
    State,
    NextDueOn,
    EscalatedFor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_contact_schedule_due").table(ContactSchedule::Table).to_owned()).await?;
        m.create_index(
            Index::create()
                .name("ix_contact_schedule_due")
                .table(ContactSchedule::Table)
                .col(ContactSchedule::State)
                .col(ContactSchedule::NextDueOn)
                .col(ContactSchedule::TeamCode)
                .col(ContactSchedule::Caseworker)
                .col(ContactSchedule::VictimId)
                .col(ContactSchedule::EscalatedFor)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_contact_schedule_due").table(ContactSchedule::Table).to_owned()).await?;
        m.create_index(
            Index::create()
                .name("ix_contact_schedule_due")
                .table(ContactSchedule::Table)
                .col(ContactSchedule::State)
                .col(ContactSchedule::NextDueOn)
                .to_owned(),
        )
        .await
    }
}
