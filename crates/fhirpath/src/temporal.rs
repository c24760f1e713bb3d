//! Partial-precision dates, dateTimes and times: parsing, comparison, formatting and arithmetic.

use std::cmp::Ordering;

/// How many components of a temporal value are present. Seconds and milliseconds count as one
/// precision for comparison (`@T10:30:00 = @T10:30:00.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

/// A date, dateTime or time value. For a time, the date fields are unused and `precision`
/// counts from `Hour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Temporal {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
    pub precision: Precision,
    /// Offset from UTC in minutes, when a timezone was given.
    pub tz: Option<i16>,
}

fn num(s: &str, at: usize, n: usize) -> Option<u32> {
    let part = s.get(at..at + n)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl Temporal {
    fn empty(precision: Precision) -> Temporal {
        Temporal {
            year: 0,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            millis: 0,
            precision,
            tz: None,
        }
    }

    /// Parses `YYYY[-MM[-DD]]` optionally followed by `T` and a time with timezone. With
    /// `allow_time` false only a date is accepted.
    pub fn parse_date_time(s: &str, allow_time: bool) -> Option<Temporal> {
        let mut t = Temporal::empty(Precision::Year);
        t.year = num(s, 0, 4)? as i32;
        let mut i = 4;
        if s.as_bytes().get(i) == Some(&b'-') {
            t.month = num(s, i + 1, 2)? as u8;
            t.precision = Precision::Month;
            i += 3;
            if s.as_bytes().get(i) == Some(&b'-') {
                t.day = num(s, i + 1, 2)? as u8;
                t.precision = Precision::Day;
                i += 3;
            }
        }
        if !(1..=12).contains(&t.month) || t.day < 1 || t.day > days_in_month(t.year, t.month) {
            return None;
        }
        if i == s.len() {
            return Some(t);
        }
        if !allow_time || s.as_bytes()[i] != b'T' {
            return None;
        }
        i += 1;
        if i == s.len() {
            return Some(t);
        }
        let rest = &s[i..];
        let (time_len, tz) = split_tz(rest)?;
        let time = Temporal::parse_time(&rest[..time_len])?;
        t.hour = time.hour;
        t.minute = time.minute;
        t.second = time.second;
        t.millis = time.millis;
        t.precision = time.precision;
        t.tz = tz;
        Some(t)
    }

    /// Parses `hh[:mm[:ss[.fff]]]`.
    pub fn parse_time(s: &str) -> Option<Temporal> {
        let mut t = Temporal::empty(Precision::Hour);
        t.hour = num(s, 0, 2)? as u8;
        let mut i = 2;
        if s.as_bytes().get(i) == Some(&b':') {
            t.minute = num(s, i + 1, 2)? as u8;
            t.precision = Precision::Minute;
            i += 3;
            if s.as_bytes().get(i) == Some(&b':') {
                t.second = num(s, i + 1, 2)? as u8;
                t.precision = Precision::Second;
                i += 3;
                if s.as_bytes().get(i) == Some(&b'.') {
                    let frac = s.get(i + 1..)?;
                    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    let mut ms = 0u32;
                    for (k, b) in frac.bytes().take(3).enumerate() {
                        ms += u32::from(b - b'0') * [100, 10, 1][k];
                    }
                    t.millis = ms as u16;
                    t.precision = Precision::Millisecond;
                    i = s.len();
                }
            }
        }
        if i != s.len() || t.hour > 23 || t.minute > 59 || t.second > 60 {
            return None;
        }
        Some(t)
    }

    fn components(&self, time_only: bool) -> [i64; 6] {
        let sec_ms = i64::from(self.second) * 1000 + i64::from(self.millis);
        if time_only {
            [
                i64::from(self.hour),
                i64::from(self.minute),
                sec_ms,
                0,
                0,
                0,
            ]
        } else {
            [
                i64::from(self.year),
                i64::from(self.month),
                i64::from(self.day),
                i64::from(self.hour),
                i64::from(self.minute),
                sec_ms,
            ]
        }
    }

    /// Number of comparable components, folding milliseconds into seconds.
    fn depth(&self, time_only: bool) -> usize {
        let p = self.precision.min(Precision::Second) as usize + 1;
        if time_only {
            p - 3
        } else {
            p
        }
    }

    /// Shifts a value with a timezone to UTC so values with different offsets compare.
    fn normalised(&self) -> Temporal {
        match self.tz {
            Some(off) if off != 0 && self.precision >= Precision::Hour => {
                self.add_millis(-i64::from(off) * 60_000)
            }
            _ => *self,
        }
    }

    /// Ordering per FHIRPath: `None` when the values differ only below a precision one of
    /// them lacks.
    pub fn compare(&self, other: &Temporal, time_only: bool) -> Option<Ordering> {
        let (a, b) = if !time_only && self.tz.is_some() && other.tz.is_some() {
            (self.normalised(), other.normalised())
        } else {
            (*self, *other)
        };
        let (ca, cb) = (a.components(time_only), b.components(time_only));
        let (da, db) = (a.depth(time_only), b.depth(time_only));
        for k in 0..da.min(db) {
            match ca[k].cmp(&cb[k]) {
                Ordering::Equal => continue,
                ord => return Some(ord),
            }
        }
        if da == db {
            Some(Ordering::Equal)
        } else {
            None
        }
    }

    /// Equivalence: same precision and same value.
    pub fn equivalent(&self, other: &Temporal, time_only: bool) -> bool {
        self.depth(time_only) == other.depth(time_only)
            && self.compare(other, time_only) == Some(Ordering::Equal)
    }

    pub fn format_date_time(&self, with_t: bool) -> String {
        let mut s = format!("{:04}", self.year);
        if self.precision >= Precision::Month {
            s.push_str(&format!("-{:02}", self.month));
        }
        if self.precision >= Precision::Day {
            s.push_str(&format!("-{:02}", self.day));
        }
        if self.precision >= Precision::Hour {
            s.push('T');
            s.push_str(&self.format_time());
            match self.tz {
                Some(0) => s.push('Z'),
                Some(off) => {
                    let sign = if off < 0 { '-' } else { '+' };
                    let off = off.unsigned_abs();
                    s.push_str(&format!("{sign}{:02}:{:02}", off / 60, off % 60));
                }
                None => {}
            }
        } else if with_t {
            s.push('T');
        }
        s
    }

    pub fn format_time(&self) -> String {
        let mut s = format!("{:02}", self.hour);
        if self.precision >= Precision::Minute {
            s.push_str(&format!(":{:02}", self.minute));
        }
        if self.precision >= Precision::Second {
            s.push_str(&format!(":{:02}", self.second));
        }
        if self.precision >= Precision::Millisecond {
            s.push_str(&format!(".{:03}", self.millis));
        }
        s
    }

    /// Adds a signed number of milliseconds to the date and time fields (for times, wraps at
    /// midnight).
    pub fn add_millis(&self, delta: i64) -> Temporal {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let day_ms = i64::from(self.hour) * 3_600_000
            + i64::from(self.minute) * 60_000
            + i64::from(self.second) * 1000
            + i64::from(self.millis);
        let total = days
            .saturating_mul(86_400_000)
            .saturating_add(day_ms)
            .saturating_add(delta);
        let new_days = total.div_euclid(86_400_000);
        let rem = total.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(new_days);
        let mut t = *self;
        t.year = y.clamp(-999_999, 999_999) as i32;
        t.month = m;
        t.day = d;
        t.hour = (rem / 3_600_000) as u8;
        t.minute = (rem / 60_000 % 60) as u8;
        t.second = (rem / 1000 % 60) as u8;
        t.millis = (rem % 1000) as u16;
        t
    }

    /// Adds calendar months, clamping the day to the end of the resulting month.
    pub fn add_months(&self, months: i64) -> Temporal {
        let total = i64::from(self.year) * 12 + i64::from(self.month) - 1 + months;
        let mut t = *self;
        t.year = total.div_euclid(12).clamp(-999_999, 999_999) as i32;
        t.month = (total.rem_euclid(12) + 1) as u8;
        t.day = t.day.min(days_in_month(t.year, t.month));
        t
    }

    /// The value is a valid year in 1..=9999 (FHIRPath's range).
    pub fn in_range(&self) -> bool {
        (1..=9999).contains(&self.year)
    }
}

fn split_tz(s: &str) -> Option<(usize, Option<i16>)> {
    if let Some(stripped) = s.strip_suffix('Z') {
        return Some((stripped.len(), Some(0)));
    }
    if s.len() >= 6 {
        let at = s.len() - 6;
        let b = s.as_bytes();
        if (b[at] == b'+' || b[at] == b'-') && b[at + 3] == b':' {
            let h = num(s, at + 1, 2)? as i16;
            let m = num(s, at + 4, 2)? as i16;
            let off = h * 60 + m;
            return Some((at, Some(if b[at] == b'-' { -off } else { off })));
        }
    }
    Some((s.len(), None))
}

impl Temporal {
    /// The current instant in UTC at millisecond precision.
    pub fn now_utc() -> Temporal {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mut t = Temporal::empty(Precision::Millisecond);
        t.year = 1970;
        t.tz = Some(0);
        t.add_millis(ms)
    }

    /// Fills the components below the precision with their lowest (`high` false) or highest
    /// possible value, giving millisecond precision (`@2014` -> `@2014-01-01T00:00:00.000`).
    pub fn boundary(&self, high: bool, time_only: bool, target: Precision) -> Temporal {
        let mut t = *self;
        let p = self.precision;
        if !time_only {
            if p < Precision::Month {
                t.month = if high { 12 } else { 1 };
            }
            if p < Precision::Day {
                t.day = if high {
                    days_in_month(t.year, t.month)
                } else {
                    1
                };
            }
        }
        if p < Precision::Hour {
            t.hour = if high { 23 } else { 0 };
        }
        if p < Precision::Minute {
            t.minute = if high { 59 } else { 0 };
        }
        if p < Precision::Second {
            t.second = if high { 59 } else { 0 };
        }
        if p < Precision::Millisecond {
            t.millis = if high { 999 } else { 0 };
        }
        if !time_only && t.tz.is_none() && target >= Precision::Hour {
            // Without a timezone the value could be anywhere from +14:00 to -12:00.
            t.tz = Some(if high { -12 * 60 } else { 14 * 60 });
        }
        t.precision = target;
        t
    }

    /// Digits of precision as FHIRPath's `precision()` counts them.
    pub fn digits(&self, time_only: bool) -> i64 {
        let full = match self.precision {
            Precision::Year => 4,
            Precision::Month => 6,
            Precision::Day => 8,
            Precision::Hour => 10,
            Precision::Minute => 12,
            Precision::Second => 14,
            Precision::Millisecond => 17,
        };
        if time_only {
            full - 8
        } else {
            full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, expected: Option<Ordering>) {
        let x = Temporal::parse_date_time(a, true).unwrap();
        let y = Temporal::parse_date_time(b, true).unwrap();
        assert_eq!(x.compare(&y, false), expected, "{a} vs {b}");
    }

    #[test]
    fn comparisons() {
        check("2012-04-15", "2012-04-16", Some(Ordering::Less));
        check("2012-04-15", "2012-04", None);
        check(
            "2012-04-15T10:00:00+02:00",
            "2012-04-15T08:00:00Z",
            Some(Ordering::Equal),
        );
        check(
            "2012-04-15T10:00:00",
            "2012-04-15T10:00:00.000",
            Some(Ordering::Equal),
        );
        check("2012", "2013-01", Some(Ordering::Less));
    }

    #[test]
    fn arithmetic_and_format() {
        let d = Temporal::parse_date_time("2012-01-31", true).unwrap();
        assert_eq!(d.add_months(1).format_date_time(false), "2012-02-29");
        let t = Temporal::parse_date_time("1973-12-25T00:00:00.000+10:00", true).unwrap();
        assert_eq!(
            t.add_millis(7 * 86_400_000).format_date_time(false),
            "1974-01-01T00:00:00.000+10:00"
        );
        assert!(Temporal::parse_date_time("2012-13", true).is_none());
    }
}
