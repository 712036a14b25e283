//! What the compliance figures of the reports' in-memory journeys (`reports::facts`) need to stay
//! current: a log of victims whose contact, obligation, service-recovery or withdrawal records (or
//! their hub record's start and needs-assessment date, or their cases' closing dates) changed,
//! numbered as migration 000012 numbers journeys. A refresh re-reads those victims' journeys and
//! records. Triggers only append to the log, so a write never waits for a lock on a journey row.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReportVictimChanges {
    Table,
    VictimId,
    Rev,
}

/// The change number on SQLite: as migration 000012's, so the log's numbers and the journeys' run
/// together (a log entry takes the number the next journey write will take; readers read `>=`).
const SQLITE_NEXT_REV: &str = "(SELECT MAX(COALESCE((SELECT MAX(rev) FROM journeys), 0), \
                               COALESCE((SELECT MAX(rev) FROM journey_tombstones), 0)) + 1)";
const PG_REV: &str = "pg_current_xact_id()::text::bigint";

/// Tables whose rows belong to a victim (`victim_id`), and the columns a report reads from them
/// (a victim's links to cases give the last closing date).
const VICTIM_TABLES: [(&str, &str); 7] = [
    ("contacts", "victim_id, outcome, kind, occurred_at"),
    ("contact_schedule", "victim_id, state, interval_days"),
    ("obligations", "victim_id, case_id, status, due_on, discharged_at, rule_code"),
    ("service_issues", "victim_id, case_id, target_on, resolved_at, closed_at"),
    ("withdrawals", "victim_id, case_id, status, evidence, confirmed_with_victim"),
    ("withdrawal_flags", "victim_id, case_id, cleared_at"),
    ("case_victims", "victim_id"),
];

const OPS: [(&str, &str); 3] = [("inserted", "INSERT"), ("updated", "UPDATE"), ("deleted", "DELETE")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ReportVictimChanges::Table)
                .col(ColumnDef::new(ReportVictimChanges::VictimId).uuid().not_null())
                .col(ColumnDef::new(ReportVictimChanges::Rev).big_integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_report_victim_changes_rev")
                .table(ReportVictimChanges::Table)
                .col(ReportVictimChanges::Rev)
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        if m.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(&format!(
                "CREATE FUNCTION report_victim_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF TG_OP = 'INSERT' THEN
                     INSERT INTO report_victim_changes (victim_id, rev) VALUES (NEW.victim_id, {PG_REV});
                   ELSIF TG_OP = 'DELETE' THEN
                     INSERT INTO report_victim_changes (victim_id, rev) VALUES (OLD.victim_id, {PG_REV});
                   ELSE
                     INSERT INTO report_victim_changes (victim_id, rev) VALUES (NEW.victim_id, {PG_REV});
                     IF OLD.victim_id IS DISTINCT FROM NEW.victim_id THEN
                       INSERT INTO report_victim_changes (victim_id, rev) VALUES (OLD.victim_id, {PG_REV});
                     END IF;
                   END IF;
                   RETURN NULL;
                 END $$"
            ))
            .await?;
            for (table, columns) in VICTIM_TABLES {
                for (name, op) in OPS {
                    let op = if op == "UPDATE" { format!("UPDATE OF {columns}") } else { op.to_owned() };
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_report_{name} AFTER {op} ON {table}
                         FOR EACH ROW EXECUTE FUNCTION report_victim_changed()"
                    ))
                    .await?;
                }
            }
            db.execute_unprepared(&format!(
                "CREATE FUNCTION cases_report_closed() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN INSERT INTO report_victim_changes (victim_id, rev)
                 SELECT victim_id, {PG_REV} FROM case_victims WHERE case_id = NEW.id; RETURN NULL; END $$"
            ))
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER cases_report_closed AFTER UPDATE OF closed_on ON cases
                 FOR EACH ROW WHEN (OLD.closed_on IS DISTINCT FROM NEW.closed_on)
                 EXECUTE FUNCTION cases_report_closed()",
            )
            .await?;
            db.execute_unprepared(&format!(
                "CREATE FUNCTION victims_report_contact() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN INSERT INTO report_victim_changes (victim_id, rev) VALUES (NEW.id, {PG_REV});
                 RETURN NULL; END $$"
            ))
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER victims_report_contact AFTER UPDATE OF created_at, needs_assessed_on ON victims
                 FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
                   OR OLD.needs_assessed_on IS DISTINCT FROM NEW.needs_assessed_on)
                 EXECUTE FUNCTION victims_report_contact()",
            )
            .await?;
        } else {
            let log = |who: &str| {
                format!("INSERT INTO report_victim_changes (victim_id, rev) VALUES ({who}, {SQLITE_NEXT_REV});")
            };
            for (table, columns) in VICTIM_TABLES {
                for (name, op) in OPS {
                    let (op, body) = match op {
                        "INSERT" => (op.to_owned(), log("NEW.victim_id")),
                        "DELETE" => (op.to_owned(), log("OLD.victim_id")),
                        _ => (
                            format!("UPDATE OF {columns}"),
                            format!(
                                "{} INSERT INTO report_victim_changes (victim_id, rev) \
                                 SELECT OLD.victim_id, {SQLITE_NEXT_REV} WHERE OLD.victim_id IS NOT NEW.victim_id;",
                                log("NEW.victim_id")
                            ),
                        ),
                    };
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_report_{name} AFTER {op} ON {table} BEGIN {body} END"
                    ))
                    .await?;
                }
            }
            db.execute_unprepared(&format!(
                "CREATE TRIGGER cases_report_closed AFTER UPDATE OF closed_on ON cases
                 WHEN OLD.closed_on IS NOT NEW.closed_on
                 BEGIN INSERT INTO report_victim_changes (victim_id, rev)
                 SELECT victim_id, {SQLITE_NEXT_REV} FROM case_victims WHERE case_id = NEW.id; END"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE TRIGGER victims_report_contact AFTER UPDATE OF created_at, needs_assessed_on ON victims
                 WHEN OLD.created_at IS NOT NEW.created_at OR OLD.needs_assessed_on IS NOT NEW.needs_assessed_on
                 BEGIN {} END",
                log("NEW.id")
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let pg = m.get_database_backend() == DbBackend::Postgres;
        let mut triggers: Vec<(String, &str)> = Vec::new();
        for (table, _) in VICTIM_TABLES {
            for (name, _) in OPS {
                triggers.push((format!("{table}_report_{name}"), table));
            }
        }
        triggers.push(("cases_report_closed".into(), "cases"));
        triggers.push(("victims_report_contact".into(), "victims"));
        for (trigger, table) in triggers {
            db.execute_unprepared(&if pg {
                format!("DROP TRIGGER {trigger} ON {table}")
            } else {
                format!("DROP TRIGGER {trigger}")
            })
            .await?;
        }
        if pg {
            for f in ["report_victim_changed", "cases_report_closed", "victims_report_contact"] {
                db.execute_unprepared(&format!("DROP FUNCTION {f}()")).await?;
            }
        }
        m.drop_table(Table::drop().table(ReportVictimChanges::Table).to_owned()).await
    }
}
