//! Field checks shared by every area's input parsing; errors are collected so one answer names them all.
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use crate::error::{AppError, AppResult, FieldError};

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$").expect("regex"));
/// 7 to 15 digits, each optionally in brackets and followed by a space or hyphen; the schema of
/// `ContactInput.phone` states the same pattern.
static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\+?(\(?[0-9]\)?[ -]?){7,15}$").expect("regex"));
static CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z0-9][A-Z0-9_-]{1,31}$").expect("regex"));
static TEAM_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9-]{1,39}$").expect("regex"));

#[derive(Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    #[must_use]
    pub fn new() -> Self {
        Checks::default()
    }

    pub fn fail(&mut self, pointer: impl Into<String>, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::body(pointer, code, message));
    }

    /// Trimmed text that must be present.
    pub fn required_text(&mut self, pointer: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.fail(pointer, "required", "must not be empty");
        } else {
            self.check_text(pointer, v, max);
        }
        v.to_owned()
    }

    /// Trimmed optional text; blank becomes absent.
    pub fn optional_text(&mut self, pointer: &str, value: Option<&str>, max: usize) -> Option<String> {
        let v = value.map(str::trim).filter(|v| !v.is_empty())?;
        self.check_text(pointer, v, max);
        Some(v.to_owned())
    }

    fn check_text(&mut self, pointer: &str, v: &str, max: usize) {
        if v.chars().count() > max {
            self.fail(pointer, "too_long", format!("must be at most {max} characters"));
        }
        if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.fail(pointer, "invalid_characters", "must not contain control characters");
        }
    }

    pub fn email(&mut self, pointer: &str, value: Option<&str>) -> Option<String> {
        let v = self.optional_text(pointer, value, 254)?;
        if !EMAIL.is_match(&v) {
            self.fail(pointer, "invalid_format", "must be an email address such as name@example.org");
        }
        Some(v)
    }

    pub fn phone(&mut self, pointer: &str, value: Option<&str>) -> Option<String> {
        let v = self.optional_text(pointer, value, 32)?;
        if !PHONE.is_match(&v) {
            self.fail(
                pointer,
                "invalid_format",
                "must be a phone number of 7 to 15 digits, optionally starting with +",
            );
        }
        Some(v)
    }

    /// An agency code: upper case, 2 to 32 of A-Z, 0-9, `-` and `_`.
    pub fn agency_code(&mut self, pointer: &str, value: &str) -> String {
        let v = value.trim().to_uppercase();
        if !CODE.is_match(&v) {
            self.fail(pointer, "invalid_format", "must be 2 to 32 of A-Z, 0-9, - and _ (e.g. CPS-LSE)");
        }
        v
    }

    /// A team code: lower case, 2 to 40 of a-z, 0-9 and `-`.
    pub fn team_code(&mut self, pointer: &str, value: &str) -> String {
        let v = value.trim().to_lowercase();
        if !TEAM_CODE.is_match(&v) {
            self.fail(pointer, "invalid_format", "must be 2 to 40 of a-z, 0-9 and - (e.g. north-hub)");
        }
        v
    }

    pub fn not_future(&mut self, pointer: &str, date: Option<NaiveDate>, today: NaiveDate) {
        if let Some(d) = date
            && d > today
        {
            self.fail(pointer, "in_future", "must not be in the future");
        }
    }

    pub fn not_before(&mut self, pointer: &str, date: Option<NaiveDate>, earliest: NaiveDate) {
        if let Some(d) = date
            && d < earliest
        {
            self.fail(pointer, "too_early", format!("must not be before {earliest}"));
        }
    }

    pub fn max_items<T>(&mut self, pointer: &str, items: &[T], max: usize) {
        if items.len() > max {
            self.fail(pointer, "too_many", format!("must have at most {max} items"));
        }
    }

    pub fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::validation(self.errors)) }
    }

    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Checks;

    fn phone_ok(v: &str) -> bool {
        let mut c = Checks::new();
        c.phone("/phone", Some(v));
        c.is_ok()
    }

    #[test]
    fn phone_numbers_have_7_to_15_digits_with_optional_brackets_spaces_and_hyphens() {
        for ok in ["07700 900123", "+44 (0)20 7946 0000", "020-7946-0000", " 1234567 ", "+123456789012345"] {
            assert!(phone_ok(ok), "{ok:?} refused");
        }
        for bad in ["123456", "1234567890123456", "phone", "0770--0900123", "07700 900123 ext 4", "+44 +7700900123"] {
            assert!(!phone_ok(bad), "{bad:?} accepted");
        }
    }
}
