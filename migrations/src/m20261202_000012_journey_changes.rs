//! What the reports' in-memory journey table (`reports::facts`) needs to stay current without
//! reading every journey again: a change number on each journey (`rev`), a tombstone for each
//! deleted one, and triggers that renumber a victim's or a case's journeys when a field the
//! reports filter or break down by changes there. The number is the writing transaction's id on
//! PostgreSQL (readers go by their snapshot's oldest running transaction, so a late commit is
//! never skipped) and one more than the largest so far on SQLite (one writer at a time, so the
//! numbers follow the commits). The flow-path index goes: no report groups by it in SQL now.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Journeys {
    Table,
    Rev,
    FlowPath,
}

#[derive(DeriveIden)]
enum JourneyTombstones {
    Table,
    CaseId,
    VictimId,
    Rev,
}

/// The next change number on SQLite, inside a write (`reports::facts::next_rev` says the same).
const SQLITE_NEXT_REV: &str = "(SELECT MAX(COALESCE((SELECT MAX(rev) FROM journeys), 0), \
                               COALESCE((SELECT MAX(rev) FROM journey_tombstones), 0)) + 1)";
const PG_REV: &str = "pg_current_xact_id()::text::bigint";

/// The victim and case fields a report filters or breaks down by.
const VICTIM_FIELDS: [&str; 5] = ["sex", "date_of_birth", "ethnicity", "disability", "enhanced_rights"];
const CASE_FIELDS: [&str; 6] =
    ["date_reported", "area_code", "offence_group", "priority_flags", "relationship", "location_type"];

fn changed(fields: &[&str], distinct: &str) -> String {
    fields.iter().map(|f| format!("OLD.{f} {distinct} NEW.{f}")).collect::<Vec<_>>().join(" OR ")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Journeys::Table)
                .add_column(ColumnDef::new(Journeys::Rev).big_integer().not_null().default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_journeys_rev").table(Journeys::Table).col(Journeys::Rev).to_owned())
            .await?;
        m.drop_index(Index::drop().name("ix_journeys_flow_path").table(Journeys::Table).to_owned()).await?;
        m.create_table(
            Table::create()
                .table(JourneyTombstones::Table)
                .col(ColumnDef::new(JourneyTombstones::CaseId).uuid().not_null())
                .col(ColumnDef::new(JourneyTombstones::VictimId).uuid().not_null())
                .col(ColumnDef::new(JourneyTombstones::Rev).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_journey_tombstones_rev")
                .table(JourneyTombstones::Table)
                .col(JourneyTombstones::Rev)
                .to_owned(),
        )
        .await?;

        let db = m.get_connection();
        let (victims, cases) = (VICTIM_FIELDS.join(", "), CASE_FIELDS.join(", "));
        if m.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(&format!(
                "CREATE FUNCTION journeys_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN INSERT INTO journey_tombstones (case_id, victim_id, rev)
                 VALUES (OLD.case_id, OLD.victim_id, {PG_REV}); RETURN OLD; END $$"
            ))
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER journeys_deleted AFTER DELETE ON journeys
                 FOR EACH ROW EXECUTE FUNCTION journeys_tombstone()",
            )
            .await?;
            for (table, column, fields, list) in
                [("victims", "victim_id", &VICTIM_FIELDS[..], &victims), ("cases", "case_id", &CASE_FIELDS[..], &cases)]
            {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION {table}_renumber_journeys() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN UPDATE journeys SET rev = {PG_REV} WHERE {column} = NEW.id; RETURN NEW; END $$"
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {table}_report_fields AFTER UPDATE OF {list} ON {table}
                     FOR EACH ROW WHEN ({}) EXECUTE FUNCTION {table}_renumber_journeys()",
                    changed(fields, "IS DISTINCT FROM")
                ))
                .await?;
            }
        } else {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER journeys_deleted AFTER DELETE ON journeys
                 BEGIN INSERT INTO journey_tombstones (case_id, victim_id, rev)
                 VALUES (OLD.case_id, OLD.victim_id, {SQLITE_NEXT_REV}); END"
            ))
            .await?;
            for (table, column, fields, list) in
                [("victims", "victim_id", &VICTIM_FIELDS[..], &victims), ("cases", "case_id", &CASE_FIELDS[..], &cases)]
            {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {table}_report_fields AFTER UPDATE OF {list} ON {table} WHEN {}
                     BEGIN UPDATE journeys SET rev = {SQLITE_NEXT_REV} WHERE {column} = NEW.id; END",
                    changed(fields, "IS NOT")
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for (trigger, table) in
            [("journeys_deleted", "journeys"), ("victims_report_fields", "victims"), ("cases_report_fields", "cases")]
        {
            db.execute_unprepared(&if m.get_database_backend() == DbBackend::Postgres {
                format!("DROP TRIGGER {trigger} ON {table}")
            } else {
                format!("DROP TRIGGER {trigger}")
            })
            .await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            for f in ["journeys_tombstone", "victims_renumber_journeys", "cases_renumber_journeys"] {
                db.execute_unprepared(&format!("DROP FUNCTION {f}()")).await?;
            }
        }
        m.drop_table(Table::drop().table(JourneyTombstones::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_journeys_rev").table(Journeys::Table).to_owned()).await?;
        m.create_index(
            Index::create().name("ix_journeys_flow_path").table(Journeys::Table).col(Journeys::FlowPath).to_owned(),
        )
        .await?;
        m.alter_table(Table::alter().table(Journeys::Table).drop_column(Journeys::Rev).to_owned()).await
    }
}
