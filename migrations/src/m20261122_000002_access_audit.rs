//! Access control and audit: users, refresh tokens, sign-in throttling, the append-only audit trail,
//! retention policies, and legal hold on victim records.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    Role,
    TeamCode,
    AgencyCode,
    PasswordHash,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    IssuedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Failures,
    WindowStartedAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Seq,
    OccurredAt,
    Actor,
    ActorRole,
    ActorTeam,
    ActorAgency,
    Action,
    Outcome,
    ResourceType,
    ResourceId,
    VictimId,
    Subjects,
    Fields,
    Reason,
    BreakGlass,
    RequestId,
    ClientAddr,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Seq,
    Hash,
}

#[derive(DeriveIden)]
enum RetentionPolicies {
    Table,
    RecordClass,
    RetainDays,
    Description,
    Version,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum Victims {
    Table,
    LegalHold,
    LegalHoldReason,
    AnonymisedAt,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Code,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Users::Email).string_len(254).not_null().unique_key())
                .col(ColumnDef::new(Users::Name).string_len(200).not_null())
                .col(ColumnDef::new(Users::Role).string_len(20).not_null())
                .col(ColumnDef::new(Users::TeamCode).string_len(40).null())
                .col(ColumnDef::new(Users::AgencyCode).string_len(32).null())
                .col(ColumnDef::new(Users::PasswordHash).string_len(200).null())
                .col(ColumnDef::new(Users::Active).boolean().not_null())
                .col(ColumnDef::new(Users::Version).integer().not_null())
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .col(ColumnDef::new(Users::LastLoginAt).timestamp_with_time_zone().null())
                .foreign_key(ForeignKey::create().from(Users::Table, Users::TeamCode).to(Teams::Table, Teams::Code))
                .foreign_key(
                    ForeignKey::create().from(Users::Table, Users::AgencyCode).to(Agencies::Table, Agencies::Code),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(ColumnDef::new(RefreshTokens::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(RefreshTokens::UserId).uuid().not_null())
                .col(ColumnDef::new(RefreshTokens::FamilyId).uuid().not_null())
                .col(ColumnDef::new(RefreshTokens::TokenHash).string_len(64).not_null().unique_key())
                .col(ts(RefreshTokens::IssuedAt))
                .col(ts(RefreshTokens::ExpiresAt))
                .col(ColumnDef::new(RefreshTokens::UsedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(RefreshTokens::RevokedAt).timestamp_with_time_zone().null())
                .foreign_key(
                    ForeignKey::create().from(RefreshTokens::Table, RefreshTokens::UserId).to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_family")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::FamilyId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_user")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoginThrottle::Table)
                .col(ColumnDef::new(LoginThrottle::Key).string_len(300).not_null().primary_key())
                .col(ColumnDef::new(LoginThrottle::Failures).integer().not_null())
                .col(ts(LoginThrottle::WindowStartedAt))
                .col(ColumnDef::new(LoginThrottle::LockedUntil).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;

        // The audit trail: append-only (triggers below) and hash-chained (`prev_hash` -> `hash`).
        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(ColumnDef::new(AuditEvents::Seq).big_integer().not_null().primary_key())
                .col(ts(AuditEvents::OccurredAt))
                .col(ColumnDef::new(AuditEvents::Actor).string_len(254).not_null())
                .col(ColumnDef::new(AuditEvents::ActorRole).string_len(20).null())
                .col(ColumnDef::new(AuditEvents::ActorTeam).string_len(40).null())
                .col(ColumnDef::new(AuditEvents::ActorAgency).string_len(32).null())
                .col(ColumnDef::new(AuditEvents::Action).string_len(40).not_null())
                .col(ColumnDef::new(AuditEvents::Outcome).string_len(20).not_null())
                .col(ColumnDef::new(AuditEvents::ResourceType).string_len(40).not_null())
                .col(ColumnDef::new(AuditEvents::ResourceId).string_len(100).null())
                .col(ColumnDef::new(AuditEvents::VictimId).uuid().null())
                .col(ColumnDef::new(AuditEvents::Subjects).json_binary().not_null())
                .col(ColumnDef::new(AuditEvents::Fields).json_binary().not_null())
                .col(ColumnDef::new(AuditEvents::Reason).text().null())
                .col(ColumnDef::new(AuditEvents::BreakGlass).boolean().not_null())
                .col(ColumnDef::new(AuditEvents::RequestId).string_len(100).null())
                .col(ColumnDef::new(AuditEvents::ClientAddr).string_len(64).null())
                .col(ColumnDef::new(AuditEvents::PrevHash).string_len(64).not_null())
                .col(ColumnDef::new(AuditEvents::Hash).string_len(64).not_null())
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_audit_events_victim", vec![AuditEvents::VictimId, AuditEvents::Seq]),
            ("ix_audit_events_actor", vec![AuditEvents::Actor, AuditEvents::Seq]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(AuditEvents::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }
        m.create_table(
            Table::create()
                .table(AuditHead::Table)
                .col(ColumnDef::new(AuditHead::Id).integer().not_null().primary_key())
                .col(ColumnDef::new(AuditHead::Seq).big_integer().not_null())
                .col(ColumnDef::new(AuditHead::Hash).string_len(64).not_null())
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(AuditHead::Table)
                .columns([AuditHead::Id, AuditHead::Seq, AuditHead::Hash])
                .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        if m.get_database_backend() == DbBackend::Postgres {
            // Events arrive in time order: a BRIN index serves time ranges at almost no cost per insert.
            db.execute_unprepared("CREATE INDEX ix_audit_events_occurred ON audit_events USING brin (occurred_at)")
                .await?;
            {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
                     FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                     FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
                )
                .await?;
            }
        } else {
            {
                db.execute_unprepared("CREATE INDEX ix_audit_events_occurred ON audit_events (occurred_at)").await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
                     BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
                     BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
                )
                .await?;
            }
        }

        m.create_table(
            Table::create()
                .table(RetentionPolicies::Table)
                .col(ColumnDef::new(RetentionPolicies::RecordClass).string_len(40).not_null().primary_key())
                .col(ColumnDef::new(RetentionPolicies::RetainDays).integer().not_null())
                .col(ColumnDef::new(RetentionPolicies::Description).text().not_null())
                .col(ColumnDef::new(RetentionPolicies::Version).integer().not_null())
                .col(ts(RetentionPolicies::UpdatedAt))
                .col(ColumnDef::new(RetentionPolicies::UpdatedBy).string_len(200).not_null())
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(RetentionPolicies::Table)
                .columns([
                    RetentionPolicies::RecordClass,
                    RetentionPolicies::RetainDays,
                    RetentionPolicies::Description,
                    RetentionPolicies::Version,
                    RetentionPolicies::UpdatedAt,
                    RetentionPolicies::UpdatedBy,
                ])
                .values_panic([
                    "victim_record".into(),
                    2192.into(),
                    "Victim records whose cases are all closed: anonymised this many days after the last case closed \
                     (default six years), keeping the fields reporting needs, unless under legal hold."
                        .into(),
                    1.into(),
                    // An untyped literal in the stored format (SQL's CURRENT_TIMESTAMP writes another
                    // one on SQLite); PostgreSQL reads it as a timestamp.
                    Expr::cust("'2026-11-22T00:00:00+00:00'"),
                    "migration".into(),
                ])
                .to_owned(),
        )
        .await?;

        m.alter_table(
            Table::alter()
                .table(Victims::Table)
                .add_column(ColumnDef::new(Victims::LegalHold).boolean().not_null().default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Victims::Table)
                .add_column(ColumnDef::new(Victims::LegalHoldReason).text().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Victims::Table)
                .add_column(ColumnDef::new(Victims::AnonymisedAt).timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Victims::AnonymisedAt, Victims::LegalHoldReason, Victims::LegalHold] {
            m.alter_table(Table::alter().table(Victims::Table).drop_column(col).to_owned()).await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP TRIGGER IF EXISTS audit_events_no_change ON audit_events")
                .await?;
            m.get_connection()
                .execute_unprepared("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
                .await?;
            m.get_connection().execute_unprepared("DROP FUNCTION IF EXISTS audit_events_append_only()").await?;
        }
        for t in [
            RetentionPolicies::Table.into_iden(),
            AuditHead::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            LoginThrottle::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
