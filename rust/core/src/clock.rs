//! Wall-clock formatting without a calendar crate: epoch milliseconds, ISO-8601 and log dates.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Civil date (year, month 1-12, day 1-31) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // NOTE: Howard Hinnant's days-to-civil algorithm; exact for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The parts of an epoch-millisecond instant in UTC.
struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    milli: u64,
}

fn utc(ms: u64) -> Utc {
    let secs = ms / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400).cast_signed());
    let rem = secs % 86_400;
    Utc {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        milli: ms % 1000,
    }
}

/// `2026-11-26T20:30:01.123Z`, as AWS writes timestamps in logs and records.
pub fn iso8601(ms: u64) -> String {
    let t = utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli
    )
}

/// `2026-11-26T20:30:01Z`, seconds precision, as DynamoDB Streams failure records write times.
pub fn iso8601_seconds(ms: u64) -> String {
    let t = utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `2026-11-26T20:30:01.123+0000`, the `LastModified` of Lambda's control plane.
pub fn lambda_timestamp(ms: u64) -> String {
    let mut s = iso8601(ms);
    s.pop();
    s.push_str("+0000");
    s
}

/// `2026/11/26`, the date prefix of a log stream name.
pub fn log_stream_date(ms: u64) -> String {
    let t = utc(ms);
    format!("{:04}/{:02}/{:02}", t.year, t.month, t.day)
}

/// `26/Nov/2026:20:30:01 +0000`, the request time of an HTTP event (function URLs, API Gateway).
pub fn access_log_time(ms: u64) -> String {
    let t = utc(ms);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `26 Nov 2026 20:30:01,123`, the timestamp of the emulator's own messages.
pub fn message_time(ms: u64) -> String {
    let t = utc(ms);
    format!(
        "{:02} {} {:04} {:02}:{:02}:{:02},{:03}",
        t.day,
        MONTHS[(t.month - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second,
        t.milli
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_a_known_instant() {
        // 2024-02-29T23:59:58.007Z
        let ms = 1_709_251_198_007;
        assert_eq!(iso8601(ms), "2024-02-29T23:59:58.007Z");
        assert_eq!(iso8601_seconds(ms), "2024-02-29T23:59:58Z");
        assert_eq!(iso8601_seconds(1_573_690_399_999), "2019-11-14T00:13:19Z");
        assert_eq!(log_stream_date(ms), "2024/02/29");
        assert_eq!(message_time(ms), "29 Feb 2024 23:59:58,007");
    }

    #[test]
    fn epoch_start() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
    }
}
