//! The victim record's rules: what a valid record is, how names are matched, what "enhanced" means.
use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

use super::dto::VictimInput;
use crate::entities::victims::EnhancedReasonEntry;
use crate::error::AppResult;
use crate::validate::Checks;
use crate::vocab::{Channel, Disability, Ethnicity, Sex, VictimType};

static LANGUAGE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$").expect("regex"));
/// The schema of `Address.postcode` states the same pattern, either case.
static POSTCODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z0-9][A-Z0-9 ]{0,8}[A-Z0-9]$").expect("regex"));

/// A victim record that passed every field check, normalised for storage.
#[derive(Debug, Clone)]
pub struct ValidVictim {
    pub victim_type: VictimType,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub name_key: String,
    pub search_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_town: Option<String>,
    pub address_postcode: Option<String>,
    pub preferred_channel: Option<Channel>,
    pub contact_restrictions: Option<String>,
    pub language: Option<String>,
    pub interpreter_needed: bool,
    pub communication_needs: Option<String>,
    pub ethnicity: Option<Ethnicity>,
    pub sex: Option<Sex>,
    pub disability: Option<Disability>,
    pub enhanced_reasons: Vec<EnhancedReasonEntry>,
    pub needs_assessed_on: Option<NaiveDate>,
    pub needs_assessed_by: Option<String>,
    pub identified_needs: Vec<String>,
    pub assigned_caseworker: Option<String>,
    /// As given; the service checks the team exists.
    pub team: Option<String>,
}

impl ValidVictim {
    /// Enhanced rights follow from having any reason for them (DOMAIN.md §1.2).
    #[must_use]
    pub fn enhanced_rights(&self) -> bool {
        !self.enhanced_reasons.is_empty()
    }
}

/// Checks every field of `input` (as of `today`) and normalises it.
pub fn check(input: &VictimInput, today: NaiveDate) -> AppResult<ValidVictim> {
    let mut c = Checks::new();
    let given_name = c.required_text("/given_name", &input.given_name, 100);
    let family_name = c.required_text("/family_name", &input.family_name, 100);
    let preferred_name = c.optional_text("/preferred_name", input.preferred_name.as_deref(), 100);
    c.not_future("/date_of_birth", input.date_of_birth, today);
    c.not_before("/date_of_birth", input.date_of_birth, NaiveDate::from_ymd_opt(1900, 1, 1).expect("date"));

    let contact = input.contact.clone().unwrap_or_default();
    let phone = c.phone("/contact/phone", contact.phone.as_deref());
    let email = c.email("/contact/email", contact.email.as_deref());
    let address = contact.address.unwrap_or_default();
    let address_line1 = c.optional_text("/contact/address/line1", address.line1.as_deref(), 200);
    let address_line2 = c.optional_text("/contact/address/line2", address.line2.as_deref(), 200);
    let address_town = c.optional_text("/contact/address/town", address.town.as_deref(), 100);
    let address_postcode =
        c.optional_text("/contact/address/postcode", address.postcode.as_deref(), 12).map(|p| p.to_uppercase());
    if let Some(p) = &address_postcode
        && !POSTCODE.is_match(p)
    {
        c.fail("/contact/address/postcode", "invalid_format", "must be 2 to 10 letters, digits and spaces");
    }
    let contact_restrictions = c.optional_text("/contact/restrictions", contact.restrictions.as_deref(), 1000);

    let language = c.optional_text("/language", input.language.as_deref(), 35);
    if let Some(l) = &language
        && !LANGUAGE.is_match(l)
    {
        c.fail("/language", "invalid_format", "must be a BCP 47 language tag such as en, pl or pa-Guru");
    }
    let communication_needs = c.optional_text("/communication_needs", input.communication_needs.as_deref(), 2000);

    let enhanced_reasons = input.enhanced_reasons.clone().unwrap_or_default();
    let mut seen = BTreeSet::new();
    for (i, r) in enhanced_reasons.iter().enumerate() {
        if !seen.insert(r.reason) {
            c.fail(format!("/enhanced_reasons/{i}/reason"), "duplicate", "each reason is listed once");
        }
        c.not_future(&format!("/enhanced_reasons/{i}/assessed_on"), Some(r.assessed_on), today);
    }

    let (needs_assessed_on, needs_assessed_by, identified_needs) = match &input.needs_assessment {
        None => (None, None, Vec::new()),
        Some(n) => {
            c.not_future("/needs_assessment/assessed_on", Some(n.assessed_on), today);
            let by = c.required_text("/needs_assessment/assessed_by", &n.assessed_by, 200);
            c.max_items("/needs_assessment/needs", &n.needs, 30);
            let needs = n
                .needs
                .iter()
                .enumerate()
                .map(|(i, need)| c.required_text(&format!("/needs_assessment/needs/{i}"), need, 200))
                .collect();
            (Some(n.assessed_on), Some(by), needs)
        }
    };
    let assigned_caseworker = c.optional_text("/assigned_caseworker", input.assigned_caseworker.as_deref(), 200);
    let team = input.team.as_deref().map(|t| c.team_code("/team", t));
    c.finish()?;

    Ok(ValidVictim {
        victim_type: input.victim_type.unwrap_or(VictimType::Direct),
        name_key: name_key(&given_name, &family_name),
        search_name: search_name(&[Some(&given_name), preferred_name.as_ref(), Some(&family_name)]),
        given_name,
        family_name,
        preferred_name,
        date_of_birth: input.date_of_birth,
        phone,
        email,
        address_line1,
        address_line2,
        address_town,
        address_postcode,
        preferred_channel: contact.preferred_channel,
        contact_restrictions,
        language,
        interpreter_needed: input.interpreter_needed.unwrap_or(false),
        communication_needs,
        ethnicity: input.ethnicity,
        sex: input.sex,
        disability: input.disability,
        enhanced_reasons,
        needs_assessed_on,
        needs_assessed_by,
        identified_needs,
        assigned_caseworker,
        team,
    })
}

/// Lower case, accents removed, anything but letters and digits turned into word breaks.
#[must_use]
pub fn words(s: &str) -> Vec<String> {
    let folded: String = s
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| *c != '\'' && *c != '’')
        .collect();
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// The key two records of the same person share: given and family name, normalised.
/// "Siobhán O'Brien" and "siobhan obrien" match.
#[must_use]
pub fn name_key(given: &str, family: &str) -> String {
    format!("{}|{}", words(given).concat(), words(family).concat())
}

/// Space-delimited words of all names with a leading and trailing space, so `LIKE '% word%'`
/// matches the start of any word.
#[must_use]
pub fn search_name(names: &[Option<&String>]) -> String {
    let mut out = String::from(" ");
    for w in names.iter().flatten().flat_map(|n| words(n)) {
        out.push_str(&w);
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_across_accents_case_and_punctuation() {
        assert_eq!(name_key("Siobhán", "O'Brien"), name_key("siobhan", "OBRIEN"));
        assert_eq!(name_key("Anne-Marie", "Smith"), name_key("annemarie", "smith"));
        assert_ne!(name_key("Ann", "Smith"), name_key("Anne", "Smith"));
        let given = "Anne-Marie".to_owned();
        let family = "Ó Súilleabháin".to_owned();
        assert_eq!(search_name(&[Some(&given), None, Some(&family)]), " anne marie o suilleabhain ");
    }
}
