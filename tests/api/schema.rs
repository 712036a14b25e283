//! Facts about the schema itself: merges know every table that points at a victim, and times
//! round-trip and compare identically on both databases.
use care_hub::entities::teams;
use care_hub::victims::merge::{UNMOVED_VICTIM_TABLES, VICTIM_TABLES};
use chrono::{Duration, TimeZone, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, Statement};

use crate::common::*;
use crate::db_test;

db_test!(merge_handles_every_table_that_points_at_a_victim, |app: TestApp| async move {
    let db = app.state.db.read();
    let sql = match app.backend {
        Backend::Sqlite => {
            "SELECT m.name AS t FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'victim_id'"
        }
        Backend::Postgres => {
            "SELECT table_name AS t FROM information_schema.columns WHERE column_name = 'victim_id' AND table_schema = current_schema()"
        }
    };
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let mut tables: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "t").unwrap()).collect();
    tables.sort();
    let mut known: Vec<String> = VICTIM_TABLES
        .iter()
        .map(|t| (*t).to_owned())
        .chain(UNMOVED_VICTIM_TABLES.iter().map(|(t, _)| (*t).to_owned()))
        .collect();
    known.sort();
    assert_eq!(tables, known, "a table gained victim_id: teach victims::merge to move its rows");
});

db_test!(timestamps_round_trip_and_order_correctly, |app: TestApp| async move {
    let db = app.state.db.begin_write().await.unwrap();
    let base = Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 59).unwrap();
    // Whole seconds, milliseconds and microseconds, which SQLite stores as text of different lengths.
    let times = [
        base,
        base + Duration::microseconds(1),
        base + Duration::milliseconds(1),
        base + Duration::microseconds(999_999),
        base + Duration::seconds(1),
        base - Duration::days(400),
    ];
    for (i, t) in times.iter().enumerate() {
        teams::Entity::insert(teams::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            code: Set(format!("t{i}")),
            name: Set("time".into()),
            active: Set(true),
            version: Set(1),
            created_at: Set(*t),
            updated_at: Set(*t),
        })
        .exec_without_returning(&db)
        .await
        .unwrap();
    }
    db.commit().await.unwrap();
    let rows = teams::Entity::find()
        .filter(teams::Column::Name.eq("time"))
        .filter(teams::Column::CreatedAt.gt(base))
        .filter(teams::Column::CreatedAt.lte(base + Duration::seconds(1)))
        .order_by_asc(teams::Column::CreatedAt)
        .all(app.state.db.read())
        .await
        .unwrap();
    let got: Vec<_> = rows.iter().map(|r| r.created_at).collect();
    assert_eq!(got, [times[1], times[2], times[3], times[4]], "range and order follow time, not text");
    for t in times {
        let back = teams::Entity::find().filter(teams::Column::CreatedAt.eq(t)).one(app.state.db.read()).await.unwrap();
        assert_eq!(back.map(|r| r.created_at), Some(t), "{t} round-trips");
    }
});

db_test!(sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout, |app: TestApp| async move {
    if app.backend != Backend::Sqlite {
        return;
    }
    let db = app.state.db.read();
    let sql = "SELECT (SELECT journal_mode FROM pragma_journal_mode) AS mode, \
        (SELECT foreign_keys FROM pragma_foreign_keys) AS fk, (SELECT timeout FROM pragma_busy_timeout) AS busy";
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    assert_eq!(row.try_get::<String>("", "mode").unwrap(), "wal");
    assert_eq!(row.try_get::<i64>("", "fk").unwrap(), 1);
    assert_eq!(row.try_get::<i64>("", "busy").unwrap(), 5000);
});
