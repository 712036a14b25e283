//! Bulk writes (`db::bulk`, the import's and the journeys' path) store exactly what the ORM stores:
//! each column's stored form (SQLite's `quote()`, PostgreSQL's text cast) is the same for a row
//! written by `bulk::insert` as for its twin written by the ORM, on SQLite and PostgreSQL, for every
//! kind of column the tables use (UUIDs, text that needs escaping, enums, JSON, booleans, integers,
//! dates, times to the microsecond, NULLs). A difference would read back alike through the entities
//! and still break SQL that compares or sorts the stored values.
use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, IntoActiveModel, Iterable, Statement,
};

use crate::common::*;
use crate::db_test;
use care_hub::db::bulk::{self, OnConflict};
use care_hub::entities::{agencies, cases, teams};
use care_hub::vocab::{CaseStatus, LocationType, OffenceGroup, PriorityFlag, Relationship};

/// Text a JSON payload must escape: quotes, backslashes, control characters, non-ASCII.
const AWKWARD: &str = "say \"hi\" \\ back\nslash\t/ tab \u{1} ctrl, £ é 漢 🙂 ->> 0 ' quote";

/// Every column of the row whose `id` is `id`, in its stored form.
async fn stored<E: EntityTrait>(db: &impl ConnectionTrait, id: uuid::Uuid) -> Vec<(String, Option<String>)> {
    let backend = db.get_database_backend();
    let table = E::default().table_name().to_owned();
    let mut out = Vec::new();
    for column in E::Column::iter() {
        let name = column.as_str();
        let sql = match backend {
            DbBackend::Postgres => format!("SELECT \"{name}\"::text AS v FROM \"{table}\" WHERE id = $1"),
            _ => format!("SELECT quote(\"{name}\") AS v FROM \"{table}\" WHERE id = ?"),
        };
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
            .await
            .expect("read")
            .unwrap_or_else(|| panic!("{table} row {id} is stored"));
        let value: Option<String> = row.try_get("", "v").expect("text");
        out.push((name.to_owned(), value));
    }
    out
}

/// The stored form with the key column left out (the twins differ only there).
fn without_key(mut row: Vec<(String, Option<String>)>) -> Vec<(String, Option<String>)> {
    row.retain(|(name, _)| name != "id");
    row
}

db_test!(bulk_inserts_store_every_column_as_the_orm_does, |app: TestApp| async move {
    let db = app.state.db.read();
    // Times with and without fractions, and a fraction past the microsecond (kept to it).
    let times = [
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap() + chrono::Duration::microseconds(123_456),
        Utc.with_ymd_and_hms(1999, 12, 31, 0, 0, 1).unwrap() + chrono::Duration::microseconds(1),
    ];
    for (i, t) in times.into_iter().enumerate() {
        let team = teams::Model {
            id: uuid::Uuid::now_v7(),
            code: format!("bulk-{i}"),
            name: format!("{AWKWARD} {i}"),
            active: i % 2 == 0,
            version: i as i32 + 1,
            created_at: t,
            updated_at: t + chrono::Duration::days(400),
        };
        team.clone().into_active_model().insert(db).await.expect("ORM insert");
        // Two twins: one inserted alone (on SQLite every column it has is then bound once, as
        // shared by all its rows), one beside a row that differs in every column (each cell then
        // travels in the JSON rows).
        let twin = |n: &str| teams::Model { id: uuid::Uuid::now_v7(), code: format!("bulk-{n}-{i}"), ..team.clone() };
        let (alone, beside) = (twin("alone"), twin("beside"));
        let foil = teams::Model {
            id: uuid::Uuid::now_v7(),
            code: format!("bulk-foil-{i}"),
            name: "foil".into(),
            active: !team.active,
            version: team.version + 100,
            created_at: t + chrono::Duration::seconds(1),
            updated_at: t,
        };
        assert_eq!(bulk::insert(db, std::slice::from_ref(&alone), OnConflict::Fail).await.expect("bulk insert"), 1);
        assert_eq!(bulk::insert(db, &[beside.clone(), foil], OnConflict::Fail).await.expect("bulk insert"), 2);
        // The twins differ in their id and code only.
        let same = |row: Vec<(String, Option<String>)>| {
            without_key(row).into_iter().filter(|(n, _)| n != "code").collect::<Vec<_>>()
        };
        let orm = same(stored::<teams::Entity>(db, team.id).await);
        for twin in [alone, beside] {
            assert_eq!(orm, same(stored::<teams::Entity>(db, twin.id).await), "team {i}, {}", twin.code);
            let back = teams::Entity::find_by_id(twin.id).one(db).await.expect("read").expect("stored");
            assert_eq!(back, twin, "read back through the entity");
        }
    }

    // A case's area is an agency's code.
    let area = agencies::Entity::find().one(db).await.expect("read").expect("the test agencies").code;
    let full = cases::Model {
        id: uuid::Uuid::now_v7(),
        offence_group: OffenceGroup::StalkingAndHarassment,
        offence_description: Some(AWKWARD.into()),
        priority_flags: cases::PriorityFlags(vec![PriorityFlag::DomesticAbuse, PriorityFlag::Stalking]),
        area_code: Some(area),
        date_reported: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        offence_date: Some(NaiveDate::from_ymd_opt(2025, 12, 24).unwrap()),
        relationship: Some(Relationship::PartnerExPartner),
        location_type: Some(LocationType::PublicTransport),
        status: CaseStatus::Closed,
        closed_on: Some(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
        version: 3,
        created_at: Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap() + chrono::Duration::microseconds(999_999),
        created_by: AWKWARD.into(),
        updated_at: Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap(),
    };
    // Different from `full` in every column.
    let sparse = cases::Model {
        id: uuid::Uuid::now_v7(),
        offence_group: OffenceGroup::Robbery,
        offence_description: None,
        priority_flags: cases::PriorityFlags(Vec::new()),
        area_code: None,
        offence_date: None,
        relationship: None,
        location_type: None,
        status: CaseStatus::Open,
        closed_on: None,
        date_reported: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
        version: 1,
        created_at: Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap(),
        created_by: "caseworker".into(),
        updated_at: Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap() + chrono::Duration::microseconds(7),
    };
    let twin = |case: &cases::Model| cases::Model { id: uuid::Uuid::now_v7(), ..case.clone() };
    // Twins inserted alone (every column bound once on SQLite) and side by side (no column shared).
    let alone = [twin(&full), twin(&sparse)];
    let beside = [twin(&full), twin(&sparse)];
    for t in &alone {
        bulk::insert(db, std::slice::from_ref(t), OnConflict::Fail).await.expect("bulk insert");
    }
    bulk::insert(db, &beside, OnConflict::Fail).await.expect("bulk insert");
    for (n, case) in [full, sparse].into_iter().enumerate() {
        case.clone().into_active_model().insert(db).await.expect("ORM insert");
        let orm = without_key(stored::<cases::Entity>(db, case.id).await);
        // NULLs are stored as NULL (SQLite's quote() spells it out).
        let description = orm.iter().find(|(n, _)| n == "offence_description").and_then(|(_, v)| v.as_deref());
        assert_eq!(description.is_none_or(|v| v == "NULL"), case.offence_description.is_none(), "{description:?}");
        for twin in [&alone[n], &beside[n]] {
            assert_eq!(orm, without_key(stored::<cases::Entity>(db, twin.id).await), "case {:?}", case.status);
            let back = cases::Entity::find_by_id(twin.id).one(db).await.expect("read").expect("stored");
            assert_eq!(&back, twin, "read back through the entity");
        }
    }
});

db_test!(bulk_upserts_skip_or_overwrite_what_is_stored, |app: TestApp| async move {
    let db = app.state.db.read();
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
    let team = |code: &str, name: &str| teams::Model {
        id: uuid::Uuid::now_v7(),
        code: code.into(),
        name: name.into(),
        active: true,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let first: Vec<teams::Model> = (0..300).map(|i| team(&format!("up-{i}"), "first")).collect();
    assert_eq!(bulk::insert(db, &first, OnConflict::Fail).await.expect("insert"), 300);
    // The same ids again with new names: skipped, then overwritten.
    let again: Vec<teams::Model> = first.iter().map(|t| teams::Model { name: "second".into(), ..t.clone() }).collect();
    let key = [teams::Column::Id];
    assert_eq!(bulk::insert(db, &again, OnConflict::Skip(&key)).await.expect("skip"), 0);
    let names = |rows: Vec<teams::Model>| rows.into_iter().filter(|t| t.code.starts_with("up-")).map(|t| t.name);
    assert!(names(teams::Entity::find().all(db).await.expect("read")).all(|n| n == "first"));
    let update = OnConflict::Update { key: &key, columns: &[teams::Column::Name] };
    assert_eq!(bulk::insert(db, &again[..120], update).await.expect("update"), 120);
    let after: Vec<String> = names(teams::Entity::find().all(db).await.expect("read")).collect();
    assert_eq!(after.iter().filter(|n| *n == "second").count(), 120);
    assert_eq!(after.len(), 300);
    // A unique violation fails the whole statement: nothing of it is stored.
    let clash = vec![team("up-new", "x"), team("up-0", "clash")];
    assert!(bulk::insert(db, &clash, OnConflict::Fail).await.is_err());
    assert!(teams::Entity::find().all(db).await.expect("read").iter().all(|t| t.code != "up-new"));
});
