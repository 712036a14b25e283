//! The bank-holiday calendar in the database: seeded from the data shipped with the release when
//! empty, replaceable by an admin (`PUT /api/v1/bank-holidays`, `care-hub holidays import`)
//! without a release.
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, Set};

use crate::calendar::Calendar;
use crate::entities::bank_holidays;
use crate::error::AppResult;

/// The calendar deadlines are counted on.
pub async fn load(db: &impl ConnectionTrait) -> AppResult<Calendar> {
    let rows = bank_holidays::Entity::find().order_by_asc(bank_holidays::Column::Day).all(db).await?;
    if rows.is_empty() {
        return Ok(Calendar::embedded());
    }
    Ok(Calendar::from_dates(rows.into_iter().map(|r| (r.day, r.title))))
}

/// Fills an empty table from the shipped data (after migrating); leaves an edited one alone.
pub async fn seed_if_empty(db: &impl ConnectionTrait) -> AppResult<u64> {
    if bank_holidays::Entity::find().count(db).await? > 0 {
        return Ok(0);
    }
    replace(db, &Calendar::embedded()).await
}

/// Replaces the whole calendar.
pub async fn replace(db: &impl ConnectionTrait, calendar: &Calendar) -> AppResult<u64> {
    bank_holidays::Entity::delete_many().exec(db).await?;
    let rows: Vec<bank_holidays::ActiveModel> = calendar
        .holidays()
        .map(|(day, title)| bank_holidays::ActiveModel { day: Set(day), title: Set(title.to_owned()) })
        .collect();
    let n = rows.len() as u64;
    if !rows.is_empty() {
        bank_holidays::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(n)
}

/// Warns when a deadline falls beyond the calendar's data (weekends still count; holidays may be missed).
pub fn warn_if_uncovered(calendar: &Calendar, day: chrono::NaiveDate, now: DateTime<Utc>) {
    if !calendar.covers(day) {
        tracing::warn!(%day, %now, "a deadline falls outside the bank-holiday calendar: import a newer one");
    }
}
