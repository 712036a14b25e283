//! An outbox notification may carry one attachment (the monthly board pack, issue 7): its file
//! name, media type and text. Text rather than bytes: the packs emailed are HTML pages.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    AttachmentName,
    AttachmentType,
    Attachment,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for c in [
            ColumnDef::new(Outbox::AttachmentName).string_len(200).null().to_owned(),
            ColumnDef::new(Outbox::AttachmentType).string_len(100).null().to_owned(),
            ColumnDef::new(Outbox::Attachment).text().null().to_owned(),
        ] {
            m.alter_table(Table::alter().table(Outbox::Table).add_column(c).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for c in [Outbox::AttachmentName, Outbox::AttachmentType, Outbox::Attachment] {
            m.alter_table(Table::alter().table(Outbox::Table).drop_column(c).to_owned()).await?;
        }
        Ok(())
    }
}
