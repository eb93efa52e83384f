//! Byte sizes as docker's `units.RAMInBytes` reads them: a decimal number and
//! an optional unit `b`, `k`, `m`, `g`, `t` or `p` in any case, with an optional
//! `b` or `ib` after it (`64M`, `512kb`, `1.5GiB`); every multiple is binary.

use crate::UnitError;

/// Bytes of a size like `64M`, `1g`, `512kb`, `1.5GiB` or `1024`.
pub fn parse_bytes(text: &str) -> Result<u64, UnitError> {
    let bad = || UnitError::Size(text.to_string());
    let t = text.trim();
    let number_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(number_end);
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    if number.is_empty()
        || number.starts_with('.')
        || number.ends_with('.')
        || number.matches('.').count() > 1
    {
        return Err(bad());
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = whole
        .parse()
        .map_err(|_| UnitError::TooLarge(text.to_string()))?;
    let multiple = 1u64 << shift;
    let whole = whole
        .checked_mul(multiple)
        .ok_or_else(|| UnitError::TooLarge(text.to_string()))?;
    let fraction_bytes = if fraction.is_empty() {
        0
    } else {
        let f: f64 = format!("0.{fraction}").parse().map_err(|_| bad())?;
        (f * multiple as f64) as u64
    };
    whole
        .checked_add(fraction_bytes)
        .ok_or_else(|| UnitError::TooLarge(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_spellings() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("512kb"), Ok(512 << 10));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(parse_bytes("1 p"), Ok(1 << 50));
        assert_eq!(parse_bytes(" 10b "), Ok(10));
    }

    #[test]
    fn rejects_what_docker_rejects() {
        for bad in ["", "m", ".5m", "5.m", "1.2.3m", "12x", "-1", "1e3", "abc"] {
            assert_eq!(parse_bytes(bad), Err(UnitError::Size(bad.into())), "{bad}");
        }
        assert!(matches!(
            parse_bytes("99999999999999999999"),
            Err(UnitError::TooLarge(_))
        ));
        assert!(matches!(
            parse_bytes("100000p"),
            Err(UnitError::TooLarge(_))
        ));
    }
}
