//! Synthetic people: names from small built-in lists, and the characteristics an intake row
//! carries. Nothing here is, or is derived from, a real person's record.
use rand::Rng;
use rand::rngs::StdRng;

use super::model::{Class, ClassSpec};

#[rustfmt::skip]
const FEMALE: &[&str] = &[
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Freya", "Lily", "Sophie", "Emily", "Ella", "Chloe",
    "Rhiannon", "Cerys", "Seren", "Ffion", "Megan", "Siân", "Zofia", "Agnieszka", "Katarzyna", "Magdalena",
    "Aleksandra", "Gurpreet", "Harpreet", "Simran", "Jaspreet", "Manpreet", "Amira", "Aisha", "Fatima", "Zainab",
    "Priya", "Ananya", "Blessing", "Chiamaka", "Ama", "Nadia", "Roisin", "Aoife",
];

#[rustfmt::skip]
const MALE: &[&str] = &[
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Oscar", "Thomas", "James", "Rhys", "Dylan",
    "Gethin", "Owain", "Iwan", "Cai", "Jakub", "Piotr", "Tomasz", "Krzysztof", "Mateusz", "Gurdeep", "Harjit",
    "Jaswinder", "Manjit", "Amrit", "Mohammed", "Yusuf", "Ibrahim", "Omar", "Arjun", "Rohan", "Kwame", "Chinedu",
    "Tunde", "Darius", "Luca", "Ciaran", "Sean", "Callum",
];

#[rustfmt::skip]
const FAMILY: &[&str] = &[
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Roberts", "Johnson",
    "Lewis", "Walker", "Robinson", "Wood", "Thompson", "White", "Hughes", "Edwards", "Green", "Hall", "Wright",
    "Pritchard", "Llewellyn", "Griffiths", "Morgan", "Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamiński",
    "Lewandowski", "Zielińska", "Singh", "Kaur", "Sandhu", "Gill", "Dhillon", "Sidhu", "Grewal", "Khan", "Ahmed",
    "Hussain", "Begum", "Patel", "Shah", "Okafor", "Mensah", "Adeyemi", "Murphy", "O'Brien", "Kelly",
];

/// ONS Census 2021 (England and Wales) shares, in `vocab::Ethnicity` order, for the 30% of
/// victims whose self-defined ethnicity is recorded (plus a few "not stated").
const ETHNICITY: &[(&str, f64)] = &[
    ("white_british", 74.4),
    ("white_irish", 0.9),
    ("white_gypsy_or_irish_traveller", 0.1),
    ("white_roma", 0.2),
    ("white_other", 6.2),
    ("mixed_white_and_black_caribbean", 0.9),
    ("mixed_white_and_black_african", 0.4),
    ("mixed_white_and_asian", 0.8),
    ("mixed_other", 0.8),
    ("asian_indian", 3.1),
    ("asian_pakistani", 2.7),
    ("asian_bangladeshi", 1.1),
    ("asian_chinese", 0.7),
    ("asian_other", 1.6),
    ("black_caribbean", 1.0),
    ("black_african", 2.5),
    ("black_other", 0.5),
    ("other_arab", 0.6),
    ("other_any", 1.6),
    ("not_stated", 3.0),
];

/// Victim age bands (adults), weights roughly those of police-recorded violence.
const ADULT_AGES: &[(u32, u32, f64)] =
    &[(18, 24, 0.22), (25, 34, 0.28), (35, 44, 0.20), (45, 54, 0.14), (55, 64, 0.09), (65, 84, 0.07)];

/// Picks from weighted items.
pub fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut u = rng.random::<f64>() * total;
    for &(item, w) in items {
        if u < w {
            return item;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

/// The person half of an intake row.
pub struct Person {
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub female: bool,
    /// `female`, `male` or `not_stated`.
    pub sex: &'static str,
    /// Age in whole years on the day of reporting.
    pub age: u32,
    pub ethnicity: &'static str,
    pub disability: &'static str,
}

pub fn person(rng: &mut StdRng, spec: &ClassSpec) -> Person {
    let p_female = match spec.class {
        Class::RapeDomesticAbuse | Class::Rape => 0.92,
        Class::Sexual => 0.85,
        Class::ChildSexualAbuse => 0.8,
        Class::DomesticAbuse => 0.78,
        Class::Stalking => 0.72,
        Class::Robbery => 0.25,
        Class::CriminalDamage => 0.45,
        Class::Violence => 0.38,
        Class::Other => 0.4,
    };
    let female = rng.random_bool(p_female);
    let sex = match (female, rng.random_bool(0.01)) {
        (_, true) => "not_stated",
        (true, false) => "female",
        (false, false) => "male",
    };
    let given = if female { FEMALE } else { MALE };
    let given_name = given[rng.random_range(0..given.len())];
    let family_name = FAMILY[rng.random_range(0..FAMILY.len())];
    let age = match spec.class {
        Class::ChildSexualAbuse => {
            if rng.random_bool(0.7) {
                rng.random_range(12..=17)
            } else {
                rng.random_range(4..=11)
            }
        }
        Class::Robbery | Class::Violence | Class::Other | Class::CriminalDamage if rng.random_bool(0.12) => {
            rng.random_range(12..=17)
        }
        _ => {
            let (lo, hi, _) = *pick_band(rng);
            rng.random_range(lo..=hi)
        }
    };
    let ethnicity = if rng.random_bool(super::targets::ETHNICITY_MISSING) { "" } else { pick(rng, ETHNICITY) };
    let disability = pick(rng, &[("yes", 0.14), ("no", 0.56), ("not_stated", 0.10), ("", 0.20)]);
    Person { given_name, family_name, female, sex, age, ethnicity, disability }
}

fn pick_band(rng: &mut StdRng) -> &'static (u32, u32, f64) {
    let mut u = rng.random::<f64>();
    for band in ADULT_AGES {
        if u < band.2 {
            return band;
        }
        u -= band.2;
    }
    &ADULT_AGES[ADULT_AGES.len() - 1]
}

/// Where the offence happened.
pub fn location(rng: &mut StdRng, class: Class) -> &'static str {
    let table: &[(&str, f64)] = match class {
        Class::RapeDomesticAbuse | Class::DomesticAbuse => {
            &[("private_residence", 0.9), ("public_street", 0.06), ("other", 0.04)]
        }
        Class::Rape | Class::Sexual | Class::ChildSexualAbuse => &[
            ("private_residence", 0.55),
            ("hotel", 0.06),
            ("public_street", 0.12),
            ("licensed_premises", 0.08),
            ("online", 0.07),
            ("education", 0.04),
            ("other", 0.08),
        ],
        Class::Robbery => &[("public_street", 0.7), ("public_transport", 0.15), ("other", 0.1), ("not_known", 0.05)],
        Class::Stalking => {
            &[("online", 0.35), ("private_residence", 0.35), ("workplace", 0.15), ("public_street", 0.15)]
        }
        Class::CriminalDamage => &[("private_residence", 0.55), ("public_street", 0.3), ("workplace", 0.15)],
        Class::Violence | Class::Other => &[
            ("public_street", 0.35),
            ("licensed_premises", 0.2),
            ("private_residence", 0.2),
            ("workplace", 0.1),
            ("public_transport", 0.08),
            ("other", 0.07),
        ],
    };
    pick(rng, table)
}
