//! `date` parameters: every date, dateTime, instant, Period and Timing becomes an inclusive
//! range of UTC instants at microsecond precision, and so does every search value.
//!
//! A value covers its whole precision: `2024` is `[2024-01-01T00:00:00Z, 2024-12-31T23:59:59.999999Z]`,
//! `2024-03-05T10:00` covers that minute, `10:00:00.5` covers 500000..=599999 µs. A value
//! without a time zone (a date, or a time written without offset in a search) is read as UTC:
//! the spec allows the server's local zone, and CrossCare's zone is UTC.

use super::Prefix;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// An inclusive range of instants. `None` is unbounded (a `Period` without `start` or `end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    pub low: Option<DateTime<Utc>>,
    pub high: Option<DateTime<Utc>>,
}

/// Why a date string cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a FHIR date/dateTime/instant: {0}")]
pub struct DateError(pub String);

impl DateRange {
    pub fn new(low: Option<DateTime<Utc>>, high: Option<DateTime<Utc>>) -> Self {
        DateRange { low, high }
    }

    /// The low bound in microseconds since the Unix epoch, `i64::MIN` when unbounded.
    pub fn low_micros(&self) -> i64 {
        self.low.map_or(i64::MIN, |t| t.timestamp_micros())
    }

    /// The high bound (inclusive) in microseconds since the Unix epoch, `i64::MAX` when
    /// unbounded.
    pub fn high_micros(&self) -> i64 {
        self.high.map_or(i64::MAX, |t| t.timestamp_micros())
    }

    /// Reads a FHIR `date`, `dateTime` or `instant`, or a search date value (which may stop at
    /// minutes and may omit the zone), as the range its precision covers.
    pub fn parse(text: &str) -> Result<DateRange, DateError> {
        parse_range(text).ok_or_else(|| DateError(text.to_string()))
    }
}

/// A search value of a `date` parameter (`ge2024-03`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatePredicate {
    pub prefix: Prefix,
    pub range: DateRange,
}

impl DatePredicate {
    /// Reads `[prefix]date`. A space before a zone offset is read as `+`: it is what an
    /// unencoded `+` in a query string decodes to.
    pub fn parse(value: &str) -> Result<DatePredicate, DateError> {
        let (prefix, rest) = Prefix::split(value);
        let fixed;
        let rest = match rest.rfind(' ') {
            Some(i) if rest.contains('T') && rest[i + 1..].len() == 5 => {
                fixed = format!("{}+{}", &rest[..i], &rest[i + 1..]);
                fixed.as_str()
            }
            _ => rest,
        };
        Ok(DatePredicate {
            prefix,
            range: DateRange::parse(rest).map_err(|_| DateError(value.to_string()))?,
        })
    }

    /// The reference semantics of the spec's prefixes over ranges. `ap` widens the search
    /// range on both sides by 10% of the distance between the search value and now, and by at
    /// least one day, then tests for overlap.
    pub fn matches(&self, target: &DateRange) -> bool {
        self.matches_at(target, Utc::now())
    }

    pub fn matches_at(&self, target: &DateRange, now: DateTime<Utc>) -> bool {
        let (mut sl, mut sh) = (self.range.low_micros(), self.range.high_micros());
        if self.prefix == Prefix::Ap {
            let tol = ap_tolerance_micros(&self.range, now);
            sl = sl.saturating_sub(tol);
            sh = sh.saturating_add(tol);
        }
        self.prefix
            .compare_ranges(target.low_micros(), target.high_micros(), sl, sh)
    }
}

/// The `ap` tolerance: 10% of the distance from now, at least one day.
pub fn ap_tolerance_micros(range: &DateRange, now: DateTime<Utc>) -> i64 {
    let mid = range.low_micros() / 2 + range.high_micros() / 2;
    let gap = now.timestamp_micros().saturating_sub(mid).saturating_abs();
    (gap / 10).max(86_400_000_000)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_range(text: &str) -> Option<DateRange> {
    let (date_part, time_part) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut it = date_part.split('-');
    let year = digits(it.next()?, 4)? as i32;
    let month = it.next().map(|m| digits(m, 2)).unwrap_or(Some(0))?;
    let day = it.next().map(|d| digits(d, 2)).unwrap_or(Some(0))?;
    if it.next().is_some() || (month == 0 && day != 0) {
        return None;
    }
    let Some(time) = time_part else {
        // Partial or full date, read in UTC.
        let (start, end) = match (month, day) {
            (0, _) => (
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
            ),
            (m, 0) => {
                let start = NaiveDate::from_ymd_opt(year, m, 1)?;
                (start, start.checked_add_months(chrono::Months::new(1))?)
            }
            (m, d) => {
                let start = NaiveDate::from_ymd_opt(year, m, d)?;
                (start, start.succ_opt()?)
            }
        };
        let low = Utc.from_utc_datetime(&start.and_time(NaiveTime::MIN));
        let high = Utc.from_utc_datetime(&end.and_time(NaiveTime::MIN)) - Duration::microseconds(1);
        return Some(DateRange::new(Some(low), Some(high)));
    };
    if day == 0 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    // Split off the zone: `Z`, `+hh:mm` or `-hh:mm`.
    let (clock, offset_secs) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0i64)
    } else if let Some(pos) = time.rfind(['+', '-']) {
        let (c, z) = time.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (hh, mm) = z[1..].split_once(':')?;
        let (hh, mm) = (digits(hh, 2)?, digits(mm, 2)?);
        if hh > 14 || mm > 59 {
            return None;
        }
        (c, sign * i64::from(hh * 3600 + mm * 60))
    } else {
        (time, 0)
    };
    let mut parts = clock.split(':');
    let hour = digits(parts.next()?, 2)?;
    let minute = digits(parts.next()?, 2)?;
    let (second, micros, span) = match parts.next() {
        None => (0, 0, Duration::minutes(1)),
        Some(sec) => {
            let (whole, frac) = match sec.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (sec, None),
            };
            let second = digits(whole, 2)?;
            match frac {
                None => (second, 0, Duration::seconds(1)),
                Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                    // Precision beyond microseconds is truncated to a microsecond span.
                    let used = &f[..f.len().min(6)];
                    let scale = 10u32.pow(6 - used.len() as u32);
                    let micros: u32 = used.parse().ok()?;
                    (
                        second,
                        micros * scale,
                        Duration::microseconds(i64::from(scale)),
                    )
                }
                Some(_) => return None,
            }
        }
    };
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let t = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    let local = NaiveDateTime::new(date, t);
    let low = Utc.from_utc_datetime(&local) - Duration::seconds(offset_secs);
    let high = low + span - Duration::microseconds(1);
    Some(DateRange::new(Some(low), Some(high)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<(&str, &str)>) {
        let got = DateRange::parse(input).ok().map(|r| {
            (
                r.low.unwrap().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                r.high.unwrap().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            )
        });
        let expected = expected.map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn ranges_by_precision() {
        check(
            "1962",
            Some(("1962-01-01T00:00:00.000000", "1962-12-31T23:59:59.999999")),
        );
        check(
            "2024-02",
            Some(("2024-02-01T00:00:00.000000", "2024-02-29T23:59:59.999999")),
        );
        check(
            "2024-12",
            Some(("2024-12-01T00:00:00.000000", "2024-12-31T23:59:59.999999")),
        );
        check(
            "2024-03-05",
            Some(("2024-03-05T00:00:00.000000", "2024-03-05T23:59:59.999999")),
        );
        check(
            "2024-03-05T10:00",
            Some(("2024-03-05T10:00:00.000000", "2024-03-05T10:00:59.999999")),
        );
        check(
            "2024-03-05T10:00:07Z",
            Some(("2024-03-05T10:00:07.000000", "2024-03-05T10:00:07.999999")),
        );
        check(
            "2024-03-05T10:00:07.5Z",
            Some(("2024-03-05T10:00:07.500000", "2024-03-05T10:00:07.599999")),
        );
        check(
            "2024-03-05T10:00:07.123456789Z",
            Some(("2024-03-05T10:00:07.123456", "2024-03-05T10:00:07.123456")),
        );
    }

    #[test]
    fn time_zones_shift_to_utc() {
        check(
            "2024-03-05T10:00:00+02:00",
            Some(("2024-03-05T08:00:00.000000", "2024-03-05T08:00:00.999999")),
        );
        check(
            "2024-03-05T23:30:00-05:00",
            Some(("2024-03-06T04:30:00.000000", "2024-03-06T04:30:00.999999")),
        );
        check(
            "2024-01-01T00:00+14:00",
            Some(("2023-12-31T10:00:00.000000", "2023-12-31T10:00:59.999999")),
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "24",
            "2024-1",
            "2024-13",
            "2024-02-30",
            "2024-03-05T",
            "2024-03-05T25:00",
            "2024-03-05T10:00:61Z",
            "2024-03-05T10:00:00+15:00",
            "2024-03-05T10:00:00.Z",
            "2024--05",
            "2024-03-05T10",
            "abcd",
            "2024-03-05T10:00:00Zjunk",
            "2024T10:00",
        ] {
            check(bad, None);
        }
    }

    fn matches(query: &str, target: &str) -> bool {
        let p = DatePredicate::parse(query).unwrap();
        p.matches(&DateRange::parse(target).unwrap())
    }

    #[test]
    fn prefixes_follow_the_spec() {
        assert!(matches("2024", "2024-03-05"));
        assert!(matches("eq2024-03", "2024-03-05T10:00:00Z"));
        assert!(!matches("eq2024-03-05", "2024-03"));
        assert!(matches("ne2024-03-05", "2024-03"));
        assert!(matches("gt2024-03-05", "2024-03"));
        assert!(matches("lt2024-03-05", "2024-03"));
        assert!(matches("ge2024-03-05", "2024-03-05T00:00:00Z"));
        assert!(matches("le2024-03-05", "2024-03-05T23:59:59Z"));
        assert!(!matches("gt2024-03-05", "2024-03-05T23:59:59Z"));
        assert!(matches("sa2024-03-05", "2024-03-06"));
        assert!(!matches("sa2024-03-05", "2024-03"));
        assert!(matches("eb2024-03-05", "2024-03-04"));
        assert!(matches("ap2024-03-05", "2024-03-06"));
        assert!(!matches("ap2024-03-05", "2023-03-05"));
        // A dateTime with an offset near midnight falls on the UTC day.
        assert!(matches("2024-03-06", "2024-03-05T23:30:00-05:00"));
    }
}
