//! Prices as integer minor units plus an ISO 4217 code: never floats.

use crate::{Error, Result};

/// A price: integer minor units (cents for USD, yen for JPY) in an ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Amount in the currency's minor unit.
    pub minor: i64,
    /// Digits after the decimal point for this currency.
    pub exponent: u32,
}

/// The number of minor-unit digits of an ISO 4217 code (2 for USD, 0 for JPY, 3 for KWD).
pub fn currency_exponent(code: &str) -> Result<u32> {
    let currency = iso_currency::Currency::from_code(code).ok_or_else(|| {
        Error::invalid(
            "currency",
            format!("'{code}' is not an ISO 4217 currency code"),
        )
    })?;
    // Codes without a minor unit (XAU, XDR…) are not prices a shop can charge.
    currency
        .exponent()
        .map(u32::from)
        .ok_or_else(|| Error::invalid("currency", format!("'{code}' has no minor unit")))
}

/// Parses a decimal price ("19.99", "1,299.00", "20") into minor units of `currency`.
///
/// Exact decimal arithmetic: "0.1" is ten cents, not 0.1000000000000000055. More fractional digits
/// than the currency has are an error rather than a silent rounding. A comma is accepted only as
/// a thousands separator ("1,299.00"); a decimal comma ("19,99") is refused rather than read as
/// 1999.
pub fn parse_price(text: &str, currency: &str) -> Result<i64> {
    let exponent = currency_exponent(currency)?;
    let raw = text.trim();
    if raw.contains(',') && !thousands_grouped(raw) {
        return Err(Error::invalid(
            "price",
            format!("'{raw}' is not a number (use '.' for decimals; ',' only between thousands)"),
        ));
    }
    let cleaned: String = raw.chars().filter(|c| *c != ',').collect();
    if cleaned.is_empty() {
        return Err(Error::invalid("price", "is empty"));
    }
    if cleaned.starts_with('-') {
        return Err(Error::invalid("price", format!("'{raw}' is negative")));
    }
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !numeric(whole) || !numeric(frac) {
        return Err(Error::invalid("price", format!("'{raw}' is not a number")));
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > exponent as usize {
        return Err(Error::invalid(
            "price",
            format!("'{raw}' has more decimals than {currency} allows ({exponent})"),
        ));
    }
    let scale = 10i64.pow(exponent);
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| Error::invalid("price", format!("'{raw}' is too large")))?
    };
    let frac_minor: i64 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = exponent as usize);
        padded
            .parse()
            .map_err(|_| Error::invalid("price", format!("'{raw}' is not a number")))?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_minor))
        .ok_or_else(|| Error::invalid("price", format!("'{raw}' is too large")))
}

/// Whether every comma in `raw` separates groups of exactly three digits before the decimal point.
fn thousands_grouped(raw: &str) -> bool {
    let whole = raw.split_once('.').map_or(raw, |(w, _)| w);
    if raw.len() != whole.len() && raw[whole.len()..].contains(',') {
        return false;
    }
    let whole = whole.trim_start_matches(['+', '-']);
    let mut groups = whole.split(',');
    let first_ok = groups
        .next()
        .is_some_and(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()));
    first_ok && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Formats minor units as a decimal string with the currency's digits ("1999" USD → "19.99").
pub fn format_minor(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale as u64;
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prices_exactly() {
        assert_eq!(parse_price("19.99", "USD").unwrap(), 1999);
        assert_eq!(parse_price("0.1", "USD").unwrap(), 10);
        assert_eq!(parse_price("20", "USD").unwrap(), 2000);
        assert_eq!(parse_price("1,299.00", "EUR").unwrap(), 129_900);
        assert_eq!(parse_price("1,234,567", "JPY").unwrap(), 1_234_567);
        assert_eq!(parse_price("1500", "JPY").unwrap(), 1500);
        assert_eq!(parse_price("1.5", "KWD").unwrap(), 1500);
        assert_eq!(parse_price(".5", "USD").unwrap(), 50);
    }

    #[test]
    fn rejects_bad_prices() {
        for bad in [
            "-1",
            "abc",
            "",
            "1.2.3",
            "1.999",
            "1e3",
            "99999999999999999999",
            "19,99",
            "1,2,3",
            "1.2,5",
            "1_000",
            ",100",
            "1,0000.00",
        ] {
            assert!(parse_price(bad, "USD").is_err(), "{bad} should be rejected");
        }
        assert!(parse_price("1.5", "JPY").is_err());
        assert!(parse_price("1", "ZZZ").is_err());
    }

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_minor(1999, 2), "19.99");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(1500, 0), "1500");
        assert_eq!(format_minor(1500, 3), "1.500");
    }
}
