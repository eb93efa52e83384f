//! Numbers as docker prints them: sizes, durations, times.

use wharf_units::calendar::utc_from_unix;

/// `%.4g` as Go formats it: four significant digits, no trailing zeros.
fn g4(value: f64) -> String {
    significant(value, 4)
}

/// `%.Ng` as Go formats it for values below 10^N: `precision` significant
/// digits, no trailing zeros.
fn significant(value: f64, precision: i32) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let digits = value.abs().log10().floor() as i32;
    let decimals = (precision - 1 - digits).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn scaled(mut value: f64, base: f64, units: &[&str]) -> String {
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    format!("{}{}", g4(value), units[unit])
}

/// Binary units (`64MiB`), as `docker stats` shows memory.
pub fn binary_size(bytes: u64) -> String {
    scaled(
        bytes as f64,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB"],
    )
}

/// Decimal units (`1.23kB`), as docker shows I/O and image sizes.
pub fn decimal_size(bytes: u64) -> String {
    scaled(bytes as f64, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"])
}

/// Decimal units with three significant digits (`4.26MB`), as `docker ps -s`
/// shows sizes (go-units' `HumanSizeWithPrecision(size, 3)`).
pub fn decimal_size_3(bytes: u64) -> String {
    let mut value = bytes as f64;
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", significant(value, 3), units[unit])
}

pub use wharf_units::calendar::docker_time;
pub use wharf_units::human_duration;

/// RFC 3339 with nanoseconds, as `logs -t` prints.
pub fn rfc3339_nanos(nanos: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_from_unix(nanos.div_euclid(1_000_000_000));
    let frac = nanos.rem_euclid(1_000_000_000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:09}Z")
}

/// `2006-01-02 15:04:05.000000` in UTC, as `events` prints a time.
pub fn event_time(nanos: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_from_unix(nanos.div_euclid(1_000_000_000));
    let micros = nanos.rem_euclid(1_000_000_000) / 1000;
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{micros:06}")
}

pub use wharf_units::calendar::parse_time;

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_sizes_have_three_significant_digits() {
        assert_eq!(decimal_size_3(0), "0B");
        assert_eq!(decimal_size_3(12), "12B");
        assert_eq!(decimal_size_3(4_300_000), "4.3MB");
        assert_eq!(decimal_size_3(4_264_999), "4.26MB");
        assert_eq!(decimal_size_3(123_456), "123kB");
    }

    #[test]
    fn sizes_match_docker() {
        assert_eq!(binary_size(64 * 1024 * 1024), "64MiB");
        assert_eq!(binary_size(1_585_152), "1.512MiB");
        assert_eq!(binary_size(0), "0B");
        assert_eq!(decimal_size(1234), "1.234kB");
        assert_eq!(decimal_size(648), "648B");
        assert_eq!(decimal_size(2_140_160), "2.14MB");
    }

    #[test]
    fn durations_match_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(70), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }

    #[test]
    fn since_and_until_take_docker_time_forms() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(parse_time("42m", now), Some(now - 42 * 60 * 1_000_000_000));
        assert_eq!(parse_time("1h30m", now), Some(now - 5400 * 1_000_000_000));
        assert_eq!(parse_time("1700000000", now), Some(now));
        assert_eq!(parse_time("2023-11-14T22:13:20Z", now), Some(now));
        assert_eq!(parse_time("2023-11-14T23:13:20+01:00", now), Some(now));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z", now),
            Some(now + 500_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14", now),
            Some(now - (22 * 3600 + 13 * 60 + 20) * 1_000_000_000)
        );
        assert_eq!(parse_time("yesterday", now), None);
        assert_eq!(parse_time("2023-13-01", now), None);
    }

    #[test]
    fn times_format_in_utc() {
        assert_eq!(docker_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(docker_time(1_700_000_000), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(
            rfc3339_nanos(1_700_000_000_000_000_123),
            "2023-11-14T22:13:20.000000123Z"
        );
    }
}
