//! Working days on the England and Wales bank-holiday calendar: deadlines counted in working days.
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included};

use anyhow::{Context, anyhow, bail};
use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use serde_json::Value;

/// GOV.UK's england-and-wales division of <https://www.gov.uk/bank-holidays.json>, trimmed to 2019–2028.
const EMBEDDED: &str = include_str!("../assets/bank-holidays-england-and-wales.json");
const DIVISION: &str = "england-and-wales";

/// Bank holidays of England and Wales, and the working-day arithmetic built on them.
///
/// A working day is Monday to Friday and not a bank holiday. Dates outside the years the data covers are treated
/// as having no bank holidays; check [`Calendar::covers`] to warn when a deadline falls beyond the data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    holidays: BTreeMap<NaiveDate, String>,
}

#[derive(Deserialize)]
struct Division {
    division: Option<String>,
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    title: String,
    date: String,
}

impl Calendar {
    /// The calendar shipped with the binary (`data/bank-holidays-england-and-wales.json`).
    #[must_use]
    pub fn embedded() -> Calendar {
        Calendar::from_govuk_json(EMBEDDED).expect("embedded data/bank-holidays-england-and-wales.json is valid")
    }

    /// Parses GOV.UK's bank-holidays JSON: either the whole document (`{"england-and-wales": {...}, "scotland":
    /// ...}`, of which England and Wales is taken) or that one division on its own (`{"division": ..., "events":
    /// [{"title": ..., "date": "YYYY-MM-DD"}, ...]}`). Unknown fields such as `notes` and `bunting` are ignored.
    pub fn from_govuk_json(text: &str) -> anyhow::Result<Calendar> {
        let document: Value = serde_json::from_str(text).context("bank-holiday data is not valid JSON")?;
        let division = match document.get(DIVISION) {
            Some(division) => division,
            None if document.get("events").is_some() => &document,
            None => bail!("bank-holiday data has no `{DIVISION}` division and no `events` list"),
        };
        let division: Division = serde_path_to_error::deserialize(division)
            .map_err(|e| anyhow!("bank-holiday data for {DIVISION} is malformed at `{}`: {}", e.path(), e.inner()))?;
        if let Some(name) = division.division.as_deref().filter(|name| *name != DIVISION) {
            bail!("bank-holiday data is for division `{name}`, expected `{DIVISION}`");
        }
        if division.events.is_empty() {
            bail!("bank-holiday data for {DIVISION} lists no events");
        }
        let mut dates = Vec::with_capacity(division.events.len());
        for (i, event) in division.events.into_iter().enumerate() {
            let date = NaiveDate::parse_from_str(&event.date, "%Y-%m-%d").map_err(|e| {
                anyhow!(
                    "bank-holiday event {i} ({:?}) has date {:?}, expected YYYY-MM-DD: {e}",
                    event.title,
                    event.date
                )
            })?;
            dates.push((date, event.title));
        }
        Ok(Calendar::from_dates(dates))
    }

    /// Builds a calendar from (date, title) pairs, e.g. rows of a `bank_holidays(date, title)` table. When a date
    /// appears twice the first title is kept. No dates gives a calendar without bank holidays that covers no date.
    #[must_use]
    pub fn from_dates<T: Into<String>>(dates: impl IntoIterator<Item = (NaiveDate, T)>) -> Calendar {
        let mut holidays = BTreeMap::new();
        for (date, title) in dates {
            holidays.entry(date).or_insert_with(|| title.into());
        }
        Calendar { holidays }
    }

    /// Every bank holiday in date order, with its title: the inverse of [`Calendar::from_dates`].
    pub fn holidays(&self) -> impl Iterator<Item = (NaiveDate, &str)> {
        self.holidays.iter().map(|(date, title)| (*date, title.as_str()))
    }

    /// The bank holiday on `date`, if there is one.
    #[must_use]
    pub fn holiday(&self, date: NaiveDate) -> Option<&str> {
        self.holidays.get(&date).map(String::as_str)
    }

    /// 1 January of the first year and 31 December of the last year with data; `None` when there is no data.
    #[must_use]
    pub fn coverage(&self) -> Option<(NaiveDate, NaiveDate)> {
        let (first, _) = self.holidays.first_key_value()?;
        let (last, _) = self.holidays.last_key_value()?;
        Some((NaiveDate::from_ymd_opt(first.year(), 1, 1)?, NaiveDate::from_ymd_opt(last.year(), 12, 31)?))
    }

    /// Whether `date` falls within the years the data covers, so working-day arithmetic on it can be trusted.
    #[must_use]
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.coverage().is_some_and(|(first, last)| first <= date && date <= last)
    }

    /// Monday to Friday and not a bank holiday.
    #[must_use]
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        is_weekday(date) && !self.holidays.contains_key(&date)
    }

    /// The date `n` working days after `start`.
    ///
    /// The day of the event itself never counts, whether or not it is a working day: counting starts the day after
    /// `start`, and the result is the `n`th working day found. So an event on Friday with `n = 1` is due on Monday,
    /// and so is an event on Saturday or Sunday. With `n = 0` the result is the first working day on or after `start`
    /// (`start` itself when it is a working day).
    ///
    /// For `n >= 1` this is the earliest `t` with `working_days_between(start, t) == n`.
    #[must_use]
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut date = start;
        if n == 0 {
            while !self.is_working_day(date) {
                date = next_day(date);
            }
            return date;
        }
        let mut left = n;
        while left > 0 {
            date = next_day(date);
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// The number of working days `d` with `from < d <= to`; negative (minus the count of `to < d <= from`) when
    /// `to` is before `from`, and zero when they are equal.
    #[must_use]
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let (low, high, sign) = if from <= to { (from, to, 1) } else { (to, from, -1) };
        let weekdays = weekdays_through(high) - weekdays_through(low);
        let holidays = self.holidays.range((Excluded(low), Included(high))).filter(|(d, _)| is_weekday(**d)).count();
        sign * (weekdays - holidays as i64)
    }
}

fn is_weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date.succ_opt().expect("working-day arithmetic stays within chrono's date range")
}

/// Monday-to-Friday days from an arbitrary fixed origin up to and including `date`; only differences are meaningful.
fn weekdays_through(date: NaiveDate) -> i64 {
    // Day 1 of the common era, 0001-01-01, is a Monday in the proleptic Gregorian calendar.
    let day = i64::from(date.num_days_from_ce());
    5 * day.div_euclid(7) + day.rem_euclid(7).min(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn holidays_in(cal: &Calendar, year: i32) -> Vec<NaiveDate> {
        cal.holidays().map(|(d, _)| d).filter(|d| d.year() == year).collect()
    }

    #[test]
    fn weekends_are_not_working_days_and_ordinary_weekdays_are() {
        let cal = Calendar::embedded();
        assert!(cal.is_working_day(date(2026, 11, 20)), "Friday");
        assert!(!cal.is_working_day(date(2026, 11, 21)), "Saturday");
        assert!(!cal.is_working_day(date(2026, 11, 22)), "Sunday");
        assert!(cal.is_working_day(date(2026, 11, 23)), "Monday");
    }

    #[test]
    fn event_on_friday_plus_one_working_day_is_due_monday() {
        let cal = Calendar::embedded();
        assert_eq!(cal.add_working_days(date(2026, 11, 20), 1), date(2026, 11, 23));
        assert_eq!(cal.add_working_days(date(2026, 11, 20), 5), date(2026, 11, 27));
    }

    #[test]
    fn event_at_the_weekend_plus_one_working_day_is_due_monday() {
        let cal = Calendar::embedded();
        assert_eq!(cal.add_working_days(date(2026, 11, 21), 1), date(2026, 11, 23));
        assert_eq!(cal.add_working_days(date(2026, 11, 22), 1), date(2026, 11, 23));
        assert_eq!(cal.add_working_days(date(2026, 11, 21), 2), date(2026, 11, 24));
    }

    #[test]
    fn zero_working_days_is_the_first_working_day_on_or_after_start() {
        let cal = Calendar::embedded();
        assert_eq!(cal.add_working_days(date(2026, 11, 18), 0), date(2026, 11, 18), "a working day is itself");
        assert_eq!(cal.add_working_days(date(2026, 11, 21), 0), date(2026, 11, 23), "Saturday moves to Monday");
        assert_eq!(cal.add_working_days(date(2026, 4, 3), 0), date(2026, 4, 7), "Good Friday moves past Easter");
        assert_eq!(cal.add_working_days(date(2026, 12, 25), 0), date(2026, 12, 29), "Christmas moves past Boxing Day");
    }

    #[test]
    fn easter_2026_is_skipped() {
        let cal = Calendar::embedded();
        assert!(!cal.is_working_day(date(2026, 4, 3)), "Good Friday");
        assert!(!cal.is_working_day(date(2026, 4, 6)), "Easter Monday");
        assert_eq!(cal.add_working_days(date(2026, 4, 2), 1), date(2026, 4, 7));
        assert_eq!(cal.working_days_between(date(2026, 4, 2), date(2026, 4, 7)), 1);
    }

    #[test]
    fn christmas_2026_is_skipped_with_boxing_day_substituted_to_monday() {
        let cal = Calendar::embedded();
        assert_eq!(cal.holiday(date(2026, 12, 28)), Some("Boxing Day"));
        assert_eq!(cal.add_working_days(date(2026, 12, 24), 1), date(2026, 12, 29));
        assert_eq!(cal.add_working_days(date(2026, 12, 21), 5), date(2026, 12, 30));
        assert_eq!(cal.working_days_between(date(2026, 12, 21), date(2026, 12, 30)), 5);
    }

    #[test]
    fn substitute_days_in_2027_and_2028_are_holidays() {
        let cal = Calendar::embedded();
        // 2027: Christmas on Saturday and Boxing Day on Sunday move to Monday 27 and Tuesday 28.
        assert!(!cal.is_working_day(date(2027, 12, 27)));
        assert!(!cal.is_working_day(date(2027, 12, 28)));
        assert_eq!(cal.add_working_days(date(2027, 12, 24), 1), date(2027, 12, 29));
        // 2028: New Year's Day on Saturday moves to Monday 3 January.
        assert!(!cal.is_working_day(date(2028, 1, 3)));
        assert_eq!(cal.add_working_days(date(2027, 12, 31), 1), date(2028, 1, 4));
        assert_eq!(cal.working_days_between(date(2027, 12, 24), date(2028, 1, 4)), 4);
    }

    #[test]
    fn one_off_days_replace_or_add_to_the_usual_holidays() {
        let cal = Calendar::embedded();
        // 2020: early May bank holiday moved to Friday 8 May for VE Day.
        assert!(!cal.is_working_day(date(2020, 5, 8)));
        assert!(cal.is_working_day(date(2020, 5, 4)));
        // 2022: spring bank holiday moved to Thursday 2 June, Platinum Jubilee on Friday 3 June, state funeral.
        assert!(cal.is_working_day(date(2022, 5, 30)));
        assert!(!cal.is_working_day(date(2022, 6, 2)));
        assert!(!cal.is_working_day(date(2022, 6, 3)));
        assert!(!cal.is_working_day(date(2022, 9, 19)));
        assert_eq!(cal.add_working_days(date(2022, 6, 1), 1), date(2022, 6, 6));
        // 2023: coronation, a week after the early May bank holiday.
        assert!(!cal.is_working_day(date(2023, 5, 1)));
        assert!(!cal.is_working_day(date(2023, 5, 8)));
    }

    #[test]
    fn embedded_data_has_the_known_dates_for_2026_to_2028() {
        let cal = Calendar::embedded();
        let expected = [
            (2026, [(1, 1), (4, 3), (4, 6), (5, 4), (5, 25), (8, 31), (12, 25), (12, 28)]),
            (2027, [(1, 1), (3, 26), (3, 29), (5, 3), (5, 31), (8, 30), (12, 27), (12, 28)]),
            (2028, [(1, 3), (4, 14), (4, 17), (5, 1), (5, 29), (8, 28), (12, 25), (12, 26)]),
        ];
        for (year, days) in expected {
            let days: Vec<_> = days.iter().map(|&(m, d)| date(year, m, d)).collect();
            assert_eq!(holidays_in(&cal, year), days, "{year}");
        }
    }

    #[test]
    fn every_year_2019_to_2028_has_at_least_eight_holidays_all_on_weekdays() {
        let cal = Calendar::embedded();
        for year in 2019..=2028 {
            let days = holidays_in(&cal, year);
            assert!(days.len() >= 8, "{year} has {} holidays", days.len());
            for day in days {
                assert!(is_weekday(day), "{day} is at a weekend");
            }
        }
        assert_eq!(cal.holidays().count(), 83);
    }

    #[test]
    fn covers_exactly_the_years_in_the_data() {
        let cal = Calendar::embedded();
        assert_eq!(cal.coverage(), Some((date(2019, 1, 1), date(2028, 12, 31))));
        assert!(!cal.covers(date(2018, 12, 31)));
        assert!(cal.covers(date(2019, 1, 1)));
        assert!(cal.covers(date(2028, 12, 31)));
        assert!(!cal.covers(date(2029, 1, 1)));
    }

    #[test]
    fn working_days_between_counts_days_after_from_up_to_and_including_to() {
        let cal = Calendar::embedded();
        assert_eq!(cal.working_days_between(date(2026, 11, 20), date(2026, 11, 20)), 0);
        assert_eq!(cal.working_days_between(date(2026, 11, 20), date(2026, 11, 22)), 0, "weekend only");
        assert_eq!(cal.working_days_between(date(2026, 11, 20), date(2026, 11, 23)), 1);
        assert_eq!(cal.working_days_between(date(2026, 11, 23), date(2026, 11, 20)), -1);
        assert_eq!(cal.working_days_between(date(2025, 12, 31), date(2026, 12, 31)), 253, "2026 has 253 working days");
    }

    #[test]
    fn working_days_between_agrees_with_counting_day_by_day() {
        let cal = Calendar::embedded();
        let origin = date(2018, 12, 20);
        let mut counted = 0;
        let mut day = origin;
        while day <= date(2029, 1, 10) {
            assert_eq!(cal.working_days_between(origin, day), counted, "{origin} to {day}");
            assert_eq!(cal.working_days_between(day, origin), -counted, "{day} to {origin}");
            day = next_day(day);
            if cal.is_working_day(day) {
                counted += 1;
            }
        }
    }

    #[test]
    fn add_working_days_and_working_days_between_round_trip_over_2026() {
        let cal = Calendar::embedded();
        let mut start = date(2026, 1, 1);
        while start.year() == 2026 {
            for n in 0..=25 {
                let due = cal.add_working_days(start, n);
                assert!(cal.is_working_day(due), "{start} + {n} = {due}");
                // n = 0 moves a non-working start forward, which counts as one working day.
                let expected = if n == 0 && !cal.is_working_day(start) { 1 } else { i64::from(n) };
                assert_eq!(cal.working_days_between(start, due), expected, "{start} + {n} = {due}");
                if n > 0 {
                    let day_before = due.pred_opt().unwrap();
                    assert_eq!(cal.working_days_between(start, day_before), expected - 1, "{start} + {n} is earliest");
                }
            }
            start = next_day(start);
        }
    }

    #[test]
    fn from_dates_and_holidays_round_trip() {
        let cal = Calendar::embedded();
        let rows: Vec<(NaiveDate, String)> = cal.holidays().map(|(d, t)| (d, t.to_owned())).collect();
        assert_eq!(Calendar::from_dates(rows), cal);
        let first = cal.holidays().next().unwrap();
        assert_eq!(first, (date(2019, 1, 1), "New Year’s Day"));
    }

    #[test]
    fn calendar_without_data_covers_nothing_and_counts_weekdays() {
        let cal = Calendar::from_dates(Vec::<(NaiveDate, String)>::new());
        assert_eq!(cal.coverage(), None);
        assert!(!cal.covers(date(2026, 1, 1)));
        assert!(cal.is_working_day(date(2026, 12, 25)));
        assert_eq!(cal.working_days_between(date(2026, 12, 24), date(2026, 12, 29)), 3);
    }

    #[test]
    fn from_govuk_json_takes_england_and_wales_from_the_full_document() {
        let text = r#"{
            "england-and-wales": {"division": "england-and-wales", "events": [
                {"title": "Christmas Day", "date": "2026-12-25", "notes": "", "bunting": true},
                {"title": "Boxing Day", "date": "2026-12-28", "notes": "Substitute day", "bunting": true}
            ]},
            "scotland": {"division": "scotland", "events": [
                {"title": "2nd January", "date": "2026-01-02", "notes": "", "bunting": true}
            ]},
            "northern-ireland": {"division": "northern-ireland", "events": []}
        }"#;
        let cal = Calendar::from_govuk_json(text).unwrap();
        let holidays: Vec<_> = cal.holidays().collect();
        assert_eq!(holidays, [(date(2026, 12, 25), "Christmas Day"), (date(2026, 12, 28), "Boxing Day")]);
        assert!(cal.is_working_day(date(2026, 1, 2)), "Scottish holidays are not taken");
        assert_eq!(cal.coverage(), Some((date(2026, 1, 1), date(2026, 12, 31))));
    }

    #[test]
    fn from_govuk_json_names_what_is_wrong() {
        let cases = [
            ("{not json", "not valid JSON"),
            ("[]", "has no `england-and-wales` division and no `events` list"),
            (r#"{"scotland": {"events": []}}"#, "no `england-and-wales` division"),
            (r#"{"events": {}}"#, "malformed at `events`"),
            (r#"{"events": [{"date": "2026-01-01"}]}"#, "malformed at `events[0]`: missing field `title`"),
            (r#"{"division": "scotland", "events": [{"title": "x", "date": "2026-01-02"}]}"#, "division `scotland`"),
            (r#"{"division": "england-and-wales", "events": []}"#, "lists no events"),
            (r#"{"events": [{"title": "Bad", "date": "2026-13-01"}]}"#, r#"event 0 ("Bad") has date "2026-13-01""#),
            (r#"{"events": [{"title": "Bad", "date": "01/01/2026"}]}"#, "expected YYYY-MM-DD"),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", Calendar::from_govuk_json(text).unwrap_err());
            assert!(err.contains(expected), "{text}: {err:?} should mention {expected:?}");
        }
    }

    #[test]
    fn weekdays_through_steps_by_one_exactly_on_weekdays() {
        let mut day = date(-3, 1, 1);
        while day < date(3, 1, 1) {
            let next = next_day(day);
            assert_eq!(weekdays_through(next) - weekdays_through(day), i64::from(is_weekday(next)), "{next}");
            day = next;
        }
    }
}
