//! Email addresses: validation and the canonical key used for uniqueness and lookup.
//!
//! Policy: the address is trimmed; the stored display form keeps the user's case. The
//! key is the NFKC normalisation, lower-cased (full Unicode lowercase) — so
//! `Alice@Example.com`, `ALICE@EXAMPLE.COM` and fullwidth `ａlice@example.com` are one
//! account. Distinct letters stay distinct (`alıce` with a dotless ı is another address),
//! which is safe because mail only ever goes to the stored address.

use unicode_normalization::UnicodeNormalization;

/// Why an address was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidEmail(pub &'static str);

/// A validated address: what to display, and the lookup key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Trimmed, as typed.
    pub display: String,
    /// Canonical key.
    pub key: String,
}

/// Validates and canonicalises an address.
pub fn parse(raw: &str) -> Result<Email, InvalidEmail> {
    let display = raw.trim();
    if display.is_empty() {
        return Err(InvalidEmail("is required"));
    }
    if display.chars().count() > 254 {
        return Err(InvalidEmail("is too long (at most 254 characters)"));
    }
    if display.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidEmail(
            "must not contain spaces or control characters",
        ));
    }
    let (local, domain) = display
        .rsplit_once('@')
        .ok_or(InvalidEmail("must contain @"))?;
    if local.is_empty() || local.chars().count() > 64 || local.contains('@') {
        return Err(InvalidEmail("has an invalid part before @"));
    }
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if !domain.contains('.') || !labels_ok || domain.chars().any(|c| "()<>[]\\,;:\"".contains(c)) {
        return Err(InvalidEmail("has an invalid domain"));
    }
    let key: String = display.nfkc().collect::<String>().to_lowercase();
    Ok(Email {
        display: display.to_owned(),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_width_and_whitespace_variants_share_a_key() {
        let key = parse("alice@example.com").unwrap().key;
        for variant in [
            "  Alice@Example.COM ",
            "ALICE@EXAMPLE.COM",
            "ａlice@example.com",
        ] {
            assert_eq!(parse(variant).unwrap().key, key, "{variant}");
        }
        assert_eq!(
            parse(" Alice@Example.com").unwrap().display,
            "Alice@Example.com"
        );
        assert_ne!(parse("alıce@example.com").unwrap().key, key);
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "a@-x.com",
            "a@x..com",
            "a\u{0}@x.com",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(
            parse("o'brien+tag@example.com").is_ok(),
            "quotes and plus signs are legal in local parts"
        );
    }
}
