//! Amounts of PLX: integer base units (u128), 1 PLX = 10^9 base units.
//!
//! Text forms parse exactly, never through a float: `1500000000` is base units, `1.5plx` (or
//! `1.5 PLX`) is PLX with at most nine decimals. Display is the reverse: `1.5 PLX`.

use std::fmt;

/// An amount in base units.
pub type Amount = u128;

/// Base units in one PLX.
pub const PLX: Amount = 1_000_000_000;

/// Decimal places of one PLX.
pub const PLX_DECIMALS: usize = 9;

/// Why a string is not an amount.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    #[error("empty amount")]
    Empty,
    #[error("invalid amount {0:?}: expected base units like 1500000000 or PLX like 1.5plx")]
    Syntax(String),
    #[error("amount {0:?} has more than 9 decimal places")]
    Precision(String),
    #[error("amount {0:?} does not fit in 128 bits")]
    Overflow(String),
}

/// Parses `1500000000` (base units) or `1.5plx` / `1.5 PLX` / `2plx` (PLX) exactly.
pub fn parse_amount(text: &str) -> Result<Amount, AmountError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(AmountError::Empty);
    }
    let lower = trimmed.to_ascii_lowercase();
    let Some(plx) = lower.strip_suffix("plx") else {
        return parse_digits(trimmed, text);
    };
    let plx = plx.trim_end();
    let (whole, fraction) = plx.split_once('.').unwrap_or((plx, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(AmountError::Syntax(text.to_string()));
    }
    if fraction.len() > PLX_DECIMALS {
        return Err(AmountError::Precision(text.to_string()));
    }
    let whole = if whole.is_empty() {
        0
    } else {
        parse_digits(whole, text)?
    };
    let fraction_units = if fraction.is_empty() {
        0
    } else {
        let padded = format!("{fraction:0<width$}", width = PLX_DECIMALS);
        parse_digits(&padded, text)?
    };
    whole
        .checked_mul(PLX)
        .and_then(|units| units.checked_add(fraction_units))
        .ok_or_else(|| AmountError::Overflow(text.to_string()))
}

fn parse_digits(digits: &str, original: &str) -> Result<Amount, AmountError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::Syntax(original.to_string()));
    }
    digits
        .parse::<Amount>()
        .map_err(|_| AmountError::Overflow(original.to_string()))
}

/// Shows an amount in PLX with trailing zeros trimmed (`1.5 PLX`, `0.000000001 PLX`, `3 PLX`).
pub struct DisplayPlx(pub Amount);

impl fmt::Display for DisplayPlx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / PLX;
        let fraction = self.0 % PLX;
        if fraction == 0 {
            return write!(f, "{whole} PLX");
        }
        let digits = format!("{fraction:0width$}", width = PLX_DECIMALS);
        write!(f, "{whole}.{} PLX", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<Amount, AmountError>) {
        assert_eq!(parse_amount(text), expected, "parsing {text:?}");
    }

    #[test]
    fn parses_exactly() {
        check("1500000000", Ok(1_500_000_000));
        check("1.5plx", Ok(1_500_000_000));
        check("1.5 PLX", Ok(1_500_000_000));
        check("2plx", Ok(2 * PLX));
        check(".5plx", Ok(PLX / 2));
        check("0.000000001plx", Ok(1));
        check("0", Ok(0));
        check(&u128::MAX.to_string(), Ok(u128::MAX));
    }

    #[test]
    fn rejects_clearly() {
        check("", Err(AmountError::Empty));
        check("   ", Err(AmountError::Empty));
        check("1.5", Err(AmountError::Syntax("1.5".into())));
        check("-1", Err(AmountError::Syntax("-1".into())));
        check("+1", Err(AmountError::Syntax("+1".into())));
        check("1e9", Err(AmountError::Syntax("1e9".into())));
        check("plx", Err(AmountError::Syntax("plx".into())));
        check("1.2.3plx", Err(AmountError::Syntax("1.2.3plx".into())));
        check(
            "0.0000000001plx",
            Err(AmountError::Precision("0.0000000001plx".into())),
        );
        let huge = format!("{}0", u128::MAX);
        check(&huge, Err(AmountError::Overflow(huge.clone())));
        let huge_plx = format!("{}plx", u128::MAX);
        check(&huge_plx, Err(AmountError::Overflow(huge_plx.clone())));
    }

    #[test]
    fn displays_round_trip() {
        for units in [0, 1, PLX, PLX / 2, 1_234_567_890_123, u128::MAX] {
            let shown = DisplayPlx(units).to_string();
            let text = shown.replace(" PLX", "plx");
            assert_eq!(parse_amount(&text), Ok(units), "{shown}");
        }
        assert_eq!(DisplayPlx(1_500_000_000).to_string(), "1.5 PLX");
    }
}
