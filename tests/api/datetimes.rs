//! Stored times round-trip (issue 8): a time the API accepts comes back as the same instant, kept
//! to the microsecond (PostgreSQL's precision, and so the service's on both databases); dates come
//! back unchanged. Checked through the API (a contact's time) and through the entities for the two
//! kinds of column every table uses (`timestamptz`/text datetimes and dates), on SQLite and
//! PostgreSQL, with generated values biased towards the awkward ones: Europe/London's clock
//! changes, leap days, the first and last years the API accepts, and sub-microsecond fractions.
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, SubsecRound, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;

use crate::common::*;
use crate::db_test;

/// Values per property and backend (`PROPTEST_CASES` for long runs, as in scripts/fuzz.sh).
fn cases() -> usize {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40)
}

fn sample<S: Strategy>(strategy: S) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..cases()).map(|_| strategy.new_tree(&mut runner).expect("value").current()).collect()
}

/// The last Sunday of `month` in `year`: Europe/London's clocks change there at 01:00 UTC.
fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let last = NaiveDate::from_ymd_opt(year, month + 1, 1).expect("date") - Duration::days(1);
    last - Duration::days(i64::from(last.weekday().num_days_from_sunday()))
}

fn instant(max: DateTime<Utc>) -> impl Strategy<Value = DateTime<Utc>> {
    let (lo, hi) = (Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap().timestamp(), max.timestamp());
    let anywhen = (lo..=hi, 0u32..1_000_000_000).prop_map(|(s, n)| Utc.timestamp_opt(s, n).unwrap());
    let clock_change = (1972i32..2026, prop::bool::ANY, -90i64..=90, 0u32..1_000_000_000).prop_map(
        |(year, spring, minutes, nanos)| {
            let day = last_sunday(year, if spring { 3 } else { 10 });
            Utc.from_utc_datetime(&day.and_hms_opt(1, 0, 0).unwrap())
                + Duration::minutes(minutes)
                + Duration::nanoseconds(i64::from(nanos))
        },
    );
    let leap_day = (0i32..100, 0u32..86_400, 0u32..1_000_000_000).prop_map(|(k, secs, nanos)| {
        let year = [1604, 1904, 1996, 2000, 2024][(k % 5) as usize] + 4 * (k / 5) % 20;
        let day = NaiveDate::from_ymd_opt(year, 2, 29).unwrap_or(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
            + Duration::seconds(i64::from(secs))
            + Duration::nanoseconds(i64::from(nanos))
    });
    let bounds = (0u32..1_000_000_000).prop_map(move |n| Utc.timestamp_opt(lo, n).unwrap());
    prop_oneof![4 => anywhen, 3 => clock_change, 2 => leap_day, 1 => bounds].prop_map(move |t| t.min(max))
}

fn date() -> impl Strategy<Value = NaiveDate> {
    let lo = NaiveDate::from_ymd_opt(1, 1, 1).unwrap().num_days_from_ce();
    let hi = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap().num_days_from_ce();
    prop_oneof![
        (lo..=hi).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap()),
        (0i32..600).prop_map(|k| NaiveDate::from_ymd_opt(1600 + 4 * k, 2, 29).unwrap_or(NaiveDate::MIN)),
        (1972i32..2100, prop::bool::ANY).prop_map(|(y, spring)| last_sunday(y, if spring { 3 } else { 10 })),
    ]
    .prop_filter("in range", move |d| (lo..=hi).contains(&d.num_days_from_ce()))
}

/// What the service keeps of a time: whole microseconds, truncated.
fn kept(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

db_test!(contact_times_come_back_as_sent_to_the_microsecond, |app: TestApp| async move {
    let hub = app.any_victim().await;
    let cw = app.caseworker();
    let url = format!("/api/v1/victims/{hub}/contacts");
    // Offsets a caller may send: UTC, London in winter and summer, and others.
    let offsets = sample((instant(start_time()), prop::sample::select(vec![0, 3600, -18_000, 19_800, -43_200])));
    for (t, offset) in offsets {
        let local = t.with_timezone(&FixedOffset::east_opt(offset).unwrap());
        let body = json!({"occurred_at": local.to_rfc3339(), "channel": "phone", "outcome": "reached", "kind": "routine_update"});
        let created = app.post(&cw, &url, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{local}: {}", created.body);
        let sent: DateTime<Utc> = created.body["occurred_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(sent, kept(t), "{local} was answered as {sent}");
        let id = created.body["id"].clone();
        let list = app.get(&cw, &format!("{url}?limit=200")).await;
        let stored = list.body["items"].as_array().unwrap().iter().find(|c| c["id"] == id).expect("listed");
        let read: DateTime<Utc> = stored["occurred_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(read, kept(t), "{local} was read back as {read}");
    }
});

db_test!(datetime_and_date_columns_round_trip_through_the_entities, |app: TestApp| async move {
    use care_hub::entities::{bank_holidays, teams};
    let db = app.state.db.read();
    let far = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    for (i, (created, updated)) in sample((instant(far), instant(far))).into_iter().enumerate() {
        let code = format!("rt-{i}");
        teams::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            code: Set(code.clone()),
            name: Set("Round trip".into()),
            active: Set(true),
            version: Set(1),
            created_at: Set(kept(created)),
            updated_at: Set(kept(updated)),
        }
        .insert(db)
        .await
        .expect("insert");
        let back =
            teams::Entity::find().all(db).await.expect("read").into_iter().find(|t| t.code == code).expect("stored");
        assert_eq!((back.created_at, back.updated_at), (kept(created), kept(updated)), "{code}");
    }
    for day in sample(date()) {
        bank_holidays::Entity::delete_many().exec(db).await.expect("clear");
        bank_holidays::ActiveModel { day: Set(day), title: Set("Round trip".into()) }.insert(db).await.expect("insert");
        let back = bank_holidays::Entity::find().all(db).await.expect("read");
        assert_eq!(back.iter().map(|h| h.day).collect::<Vec<_>>(), [day]);
    }
});
