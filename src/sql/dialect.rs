//! What differs between the SQL databases the journal runs on, in one
//! place: the reference's column types, how a timestamp is written as
//! text, and how a stored one is read back.

use crate::entry::Timestamp;
use crate::error::{Error, Result};

/// The SQL database behind a [`super::SqlJournal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite, through the bundled library: timestamps are TEXT, context
    /// is TEXT, the key is `INTEGER PRIMARY KEY AUTOINCREMENT`.
    Sqlite,
    /// PostgreSQL, through the `postgres` crate: timestamps are
    /// TIMESTAMPTZ, context is JSONB, the key is `BIGSERIAL`, plus our
    /// columns `timestamp_ns`, `context_text` and `appended_at_ns` that
    /// keep what those types round (docs/SQL.md).
    Postgres,
}

/// The reference's table.
pub const TABLE: &str = "baldur_event_journal";

impl Dialect {
    /// The reference's `CREATE TABLE` and `CREATE INDEX` statements for
    /// this database (`baldur/adapters/sql/event_journal.py`, schema
    /// version 1), then ours: the nullable `appended_at` column, which the
    /// reference neither writes nor reads.
    #[must_use]
    pub fn create_statements(self) -> Vec<String> {
        let (key, ts, json) = match self {
            Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "TEXT"),
            Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ", "JSONB"),
        };
        vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (
            sequence {key},
            event_type VARCHAR(256) NOT NULL,
            source VARCHAR(256) NOT NULL,
            service_name VARCHAR(256) NOT NULL,
            region VARCHAR(128) NOT NULL DEFAULT '',
            tier_id VARCHAR(128) NOT NULL DEFAULT '',
            timestamp {ts} NOT NULL,
            context {json} NOT NULL
        )"
            ),
            format!("CREATE INDEX IF NOT EXISTS idx_{TABLE}_event_type ON {TABLE} (event_type)"),
            format!(
                "CREATE INDEX IF NOT EXISTS idx_{TABLE}_service_name ON {TABLE} (service_name)"
            ),
            format!("CREATE INDEX IF NOT EXISTS idx_{TABLE}_timestamp ON {TABLE} (timestamp)"),
        ]
    }

    /// The statement adding our `appended_at` column to a table that
    /// lacks it.
    #[must_use]
    pub fn add_appended_at(self) -> String {
        match self {
            Dialect::Sqlite => format!("ALTER TABLE {TABLE} ADD COLUMN appended_at TEXT"),
            Dialect::Postgres => {
                format!("ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS appended_at_ns BIGINT")
            }
        }
    }
}

/// The largest sequence a SQL key holds (a signed 64-bit integer).
pub const MAX_SEQUENCE: u64 = i64::MAX as u64;

/// A timestamp as the reference stores it on SQLite (Python's `str()` of
/// an aware UTC datetime): `2025-01-20 02:22:23.984343+00:00`, the
/// fraction in microseconds and only when non-zero. A time with
/// sub-microsecond digits keeps all nine (`...23.984343125+00:00`), which
/// Python reads back truncated to the microsecond. Every text this writes
/// ends in `+00:00`, so comparing two of them as strings compares them as
/// instants (`+` sorts below every digit and below `.`).
#[must_use]
pub fn timestamp_text(t: Timestamp) -> String {
    let nanos = t.as_unix_nanos();
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    // Every i64 of nanoseconds lies inside jiff's range.
    let base = jiff::Timestamp::from_second(seconds)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    if fraction == 0 {
        format!("{base}+00:00")
    } else if fraction % 1000 == 0 {
        format!("{base}.{:06}+00:00", fraction / 1000)
    } else {
        format!("{base}.{fraction:09}+00:00")
    }
}

/// Reads a stored timestamp the way the reference does
/// (`datetime.fromisoformat`, naive values taken as UTC), as an instant:
/// `2025-01-19 23:19:15.863174-05:00` is `2025-01-20T04:19:15.863174Z`.
/// A `T` separator, a `Z` and up to nine fractional digits are accepted.
pub fn parse_timestamp_text(text: &str) -> Result<Timestamp> {
    if let Some(t) = parse_utc_fast(text.as_bytes()) {
        return Ok(t);
    }
    Timestamp::parse(text).map_err(|e| match e {
        Error::InvalidTimestamp { input, reason } => Error::InvalidTimestamp {
            input,
            reason: format!("not a timestamp the reference writes: {reason}"),
        },
        other => other,
    })
}

/// The form this module writes, and the reference writes for UTC values
/// (`YYYY-MM-DD HH:MM:SS[.f{1,9}]+00:00`), read without a general parser:
/// SQL time conditions call this once per row. `None` for anything else
/// (which then takes the general parser) or outside the storable range.
fn parse_utc_fast(b: &[u8]) -> Option<Timestamp> {
    let tail = b.strip_suffix(b"+00:00")?;
    if tail.len() < 19 || tail[4] != b'-' || tail[7] != b'-' || tail[10] != b' ' {
        return None;
    }
    if tail[13] != b':' || tail[16] != b':' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        tail[range].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > days_in_month[usize::try_from(month - 1).ok()?] {
        return None;
    }
    let fraction = match &tail[19..] {
        [] => 0,
        [b'.', rest @ ..] if (1..=9).contains(&rest.len()) => {
            let value = digits(20..tail.len())?;
            value * 10i64.pow(9 - u32::try_from(rest.len()).ok()?)
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
    // days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    seconds
        .checked_mul(1_000_000_000)?
        .checked_add(fraction)
        .map(Timestamp::from_unix_nanos)
}

/// The text bounds a stored timestamp's string must fall between for its
/// instant to be within `[start, end)`, whatever its UTC offset: a local
/// wall clock is within a day of its instant, and two days of margin also
/// cover a `T` separator, which sorts after a space. The exact test then
/// compares instants.
pub fn text_window(
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> (Option<String>, Option<String>) {
    const MARGIN: i64 = 2 * 86_400 * 1_000_000_000;
    let low = start.and_then(|s| s.as_unix_nanos().checked_sub(MARGIN));
    let high = end.and_then(|e| e.as_unix_nanos().checked_add(MARGIN));
    (
        low.map(|n| timestamp_text(Timestamp::from_unix_nanos(n))),
        high.map(|n| timestamp_text(Timestamp::from_unix_nanos(n))),
    )
}

/// The conditions on event types, service and region that every SQL
/// journal applies in the database; `mark` adds a text parameter and
/// gives its placeholder (`?n` or `$n`).
pub(crate) fn value_conditions(
    filter: &crate::entry::JournalQueryFilter,
    mut mark: impl FnMut(String) -> String,
) -> Vec<String> {
    let mut clauses = Vec::new();
    if let Some(types) = &filter.event_types {
        let marks: Vec<String> = types.iter().map(|t| mark(t.clone())).collect();
        clauses.push(format!("event_type IN ({})", marks.join(", ")));
    }
    if let Some(service) = &filter.service_name {
        clauses.push(format!("service_name = {}", mark(service.clone())));
    }
    if let Some(region) = &filter.region {
        clauses.push(format!("region = {}", mark(region.clone())));
    }
    clauses
}

/// ` WHERE a AND b …`, or nothing without a clause.
pub(crate) fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_in_the_reference_form() {
        let t = |n| timestamp_text(Timestamp::from_unix_nanos(n));
        assert_eq!(t(0), "1970-01-01 00:00:00+00:00");
        assert_eq!(t(1_500_000), "1970-01-01 00:00:00.001500+00:00");
        assert_eq!(t(-5), "1969-12-31 23:59:59.999999995+00:00");
        assert_eq!(
            t(1_737_339_743_984_343_000),
            "2025-01-20 02:22:23.984343+00:00"
        );
    }

    #[test]
    fn written_texts_read_back_exactly_and_order_as_instants() {
        let samples = [
            i64::MIN,
            -1_000_000_001,
            -5,
            0,
            1,
            999,
            1000,
            1_000_000,
            1_500_000_000,
            1_737_339_743_984_343_000,
            i64::MAX,
        ];
        for n in samples {
            let text = timestamp_text(Timestamp::from_unix_nanos(n));
            assert_eq!(
                parse_timestamp_text(&text).unwrap().as_unix_nanos(),
                n,
                "{text}"
            );
        }
        for pair in samples.windows(2) {
            let (a, b) = (
                timestamp_text(Timestamp::from_unix_nanos(pair[0])),
                timestamp_text(Timestamp::from_unix_nanos(pair[1])),
            );
            assert!(a < b, "{a} !< {b}");
        }
    }

    #[test]
    fn the_fast_reader_agrees_with_the_general_one() {
        for text in [
            "2025-01-20 02:22:23+00:00",
            "2024-02-29 23:59:59.5+00:00",
            "2000-03-01 00:00:00.000000001+00:00",
            "1969-12-31 23:59:59.999999995+00:00",
            "2262-04-11 23:47:16.854775807+00:00",
        ] {
            let fast = parse_utc_fast(text.as_bytes()).unwrap();
            assert_eq!(fast, Timestamp::parse(text).unwrap(), "{text}");
        }
        // The earliest storable time overflows the fast sum: the general
        // reader takes it.
        let earliest = "1677-09-21 00:12:43.145224192+00:00";
        assert_eq!(parse_timestamp_text(earliest).unwrap(), Timestamp::MIN);
        for other in [
            "2025-02-29 00:00:00+00:00",
            "2025-01-20T02:22:23+00:00",
            "2025-01-20 02:22:23-05:00",
            "2025-01-20 02:22:23.1234567890+00:00",
            "2025-01-20 24:00:00+00:00",
            "2262-04-11 23:47:16.854775808+00:00",
        ] {
            assert_eq!(parse_utc_fast(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn python_texts_with_offsets_read_as_instants() {
        let at = |text| parse_timestamp_text(text).unwrap();
        assert_eq!(
            at("2025-01-19 23:19:15.863174-05:00"),
            at("2025-01-20T04:19:15.863174Z")
        );
        assert_eq!(at("2025-01-20 09:00:00+09:00"), at("2025-01-20 00:00:00"));
        assert!(parse_timestamp_text("yesterday").is_err());
    }
}
