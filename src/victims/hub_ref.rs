//! The hub reference: `VCH-` + ten Crockford base32 symbols + one check symbol.
//!
//! The check symbol uses the Damm algorithm over GF(32) (x∘y = 2x ⊕ y), which catches every
//! single mistyped symbol and every swap of two neighbours, so a mistyped reference is refused
//! rather than matched to someone else. References are random: they encode nothing about the person.
use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PREFIX: &str = "VCH-";
const BODY_LEN: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HubRef(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HubRefError {
    #[error("must start with VCH-")]
    Prefix,
    #[error("must have 11 symbols after VCH- (10 plus a check symbol)")]
    Length,
    #[error("contains {0:?}, which is not a Crockford base32 symbol")]
    Symbol(char),
    #[error("the check symbol does not match: the reference is mistyped")]
    Check,
}

/// Multiplication by 2 in GF(2^5) with the primitive polynomial x^5 + x^2 + 1.
fn times2(x: u8) -> u8 {
    let y = x << 1;
    if y & 0x20 == 0 { y } else { (y ^ 0x25) & 0x1f }
}

fn fold(digits: impl IntoIterator<Item = u8>) -> u8 {
    digits.into_iter().fold(0, |acc, d| times2(acc) ^ d)
}

fn decode_symbol(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u8)
}

impl HubRef {
    /// A new random reference.
    #[must_use]
    pub fn generate() -> Self {
        let digits: Vec<u8> = (0..BODY_LEN).map(|_| rand::random_range(0..32u8)).collect();
        Self::from_digits(&digits)
    }

    fn from_digits(digits: &[u8]) -> Self {
        let check = times2(fold(digits.iter().copied()));
        let mut s = String::with_capacity(PREFIX.len() + BODY_LEN + 1);
        s.push_str(PREFIX);
        for &d in digits.iter().chain(std::iter::once(&check)) {
            s.push(ALPHABET[d as usize] as char);
        }
        HubRef(s)
    }

    /// Parses a reference as a person might type it: any case, with O for 0 and I/L for 1,
    /// and spaces or hyphens between groups.
    pub fn parse(input: &str) -> Result<Self, HubRefError> {
        let trimmed = input.trim();
        let rest = trimmed
            .get(..3)
            .filter(|p| p.eq_ignore_ascii_case("VCH"))
            .map(|_| &trimmed[3..])
            .ok_or(HubRefError::Prefix)?;
        let mut digits = Vec::with_capacity(BODY_LEN + 1);
        for c in rest.chars().filter(|c| *c != '-' && *c != ' ') {
            digits.push(decode_symbol(c).ok_or(HubRefError::Symbol(c))?);
        }
        if digits.len() != BODY_LEN + 1 {
            return Err(HubRefError::Length);
        }
        if fold(digits.iter().copied()) != 0 {
            return Err(HubRefError::Check);
        }
        Ok(Self::from_digits(&digits[..BODY_LEN]))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HubRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_references_parse_back() {
        for _ in 0..1000 {
            let r = HubRef::generate();
            assert_eq!(HubRef::parse(r.as_str()).unwrap(), r);
            assert_eq!(HubRef::parse(&r.as_str().to_lowercase()).unwrap(), r);
        }
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_caught() {
        for _ in 0..200 {
            let r = HubRef::generate();
            let body: Vec<char> = r.as_str()[PREFIX.len()..].chars().collect();
            for i in 0..body.len() {
                for &sym in ALPHABET {
                    let sym = sym as char;
                    if sym == body[i] {
                        continue;
                    }
                    let mut typo = body.clone();
                    typo[i] = sym;
                    let typo: String = typo.into_iter().collect();
                    assert_eq!(HubRef::parse(&format!("VCH-{typo}")), Err(HubRefError::Check));
                }
                if i + 1 < body.len() && body[i] != body[i + 1] {
                    let mut swapped = body.clone();
                    swapped.swap(i, i + 1);
                    let swapped: String = swapped.into_iter().collect();
                    assert_eq!(HubRef::parse(&format!("VCH-{swapped}")), Err(HubRefError::Check));
                }
            }
        }
    }

    #[test]
    fn readable_variants_are_accepted_and_garbage_is_named() {
        let r = HubRef::from_digits(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let body = &r.as_str()[4..];
        let spaced = format!("vch {} {}", &body[..5], &body[5..]);
        assert_eq!(HubRef::parse(&spaced).unwrap(), r);
        let with_o = r.as_str().replacen('0', "O", 1);
        assert_eq!(HubRef::parse(&with_o).unwrap(), r);
        assert_eq!(HubRef::parse("ABC-123"), Err(HubRefError::Prefix));
        assert_eq!(HubRef::parse("VCH-123"), Err(HubRefError::Length));
        assert_eq!(HubRef::parse("VCH-0123456789U"), Err(HubRefError::Symbol('U')));
    }

    // Property tests (scripts/fuzz.sh runs them with many more cases: PROPTEST_CASES).
    proptest::proptest! {
        #[test]
        fn fuzz_any_text_parses_or_is_refused_with_a_reason(
            input in proptest::prop_oneof![proptest::prelude::any::<String>(), "(?i:vch)[- ]*[0-9a-zA-Z -]{0,16}"],
        ) {
            if let Ok(r) = HubRef::parse(&input) {
                // What parses is a canonical reference that parses to itself.
                proptest::prop_assert_eq!(HubRef::parse(r.as_str()), Ok(r.clone()));
                proptest::prop_assert!(r.as_str().starts_with(PREFIX) && r.as_str().len() == PREFIX.len() + BODY_LEN + 1);
            }
        }

        #[test]
        fn fuzz_references_survive_the_ways_people_type_them(
            digits in proptest::collection::vec(0u8..32, BODY_LEN),
            lower in proptest::bool::ANY,
            gap in "[- ]{0,2}",
        ) {
            let r = HubRef::from_digits(&digits);
            let body = &r.as_str()[PREFIX.len()..];
            let typed = format!("VCH{gap}{}{gap}{}", &body[..5], &body[5..]);
            let typed = if lower { typed.to_lowercase() } else { typed };
            proptest::prop_assert_eq!(HubRef::parse(&typed), Ok(r));
        }
    }
}
