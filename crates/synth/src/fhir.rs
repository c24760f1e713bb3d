//! Small builders for FHIR data types (Coding, CodeableConcept, Reference, Quantity) and the
//! calendar arithmetic used by the generator.
//!
//! Days are counted as `chrono` days from the Common Era so that adding durations is integer
//! arithmetic; they are rendered as FHIR `date` or `dateTime` (fixed offset +01:00, the
//! standard time of France and Germany; daylight saving time is not modelled).

use chrono::{Datelike, NaiveDate};
use serde_json::{json, Value};

/// A day, counted from 0001-01-01 (`NaiveDate::num_days_from_ce`).
pub type Day = i32;

/// A code from a code system, with its display.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

/// Shorthand constructor usable in `const` tables.
pub const fn code(system: &'static str, code: &'static str, display: &'static str) -> Code {
    Code {
        system,
        code,
        display,
    }
}

pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const ATC: &str = "http://www.whocc.no/atc";
pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
pub const ICD10GM: &str = "http://fhir.de/CodeSystem/bfarm/icd-10-gm";
pub const OPS: &str = "http://fhir.de/CodeSystem/bfarm/ops";
pub const CCAM: &str = "https://www.atih.sante.fr/ccam";
pub const CVX: &str = "http://hl7.org/fhir/sid/cvx";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

impl Code {
    pub fn coding(&self) -> Value {
        json!({"system": self.system, "code": self.code, "display": self.display})
    }

    pub fn concept(&self) -> Value {
        json!({"coding": [self.coding()], "text": self.display})
    }
}

/// A CodeableConcept with several codings (e.g. ICD-10-GM and SNOMED CT for one diagnosis).
pub fn concept_of(codes: &[Code], text: &str) -> Value {
    let coding: Vec<Value> = codes.iter().map(Code::coding).collect();
    json!({"coding": coding, "text": text})
}

pub fn reference(resource_type: &str, id: &str) -> Value {
    json!({"reference": format!("{resource_type}/{id}")})
}

/// A UCUM quantity. The value is rounded to `decimals` places.
pub fn quantity(value: f64, decimals: u32, unit: &str) -> Value {
    json!({"value": round(value, decimals), "unit": unit, "system": UCUM, "code": unit})
}

/// Rounds to `decimals` places; integers are rendered without a fraction.
pub fn round(value: f64, decimals: u32) -> Value {
    if decimals == 0 {
        return json!(value.round() as i64);
    }
    let f = 10f64.powi(decimals as i32);
    json!((value * f).round() / f)
}

pub fn day_of(y: i32, m: u32, d: u32) -> Day {
    NaiveDate::from_ymd_opt(y, m, d)
        .map(|date| date.num_days_from_ce())
        .unwrap_or(0)
}

fn ymd(day: Day) -> (i32, u32, u32) {
    NaiveDate::from_num_days_from_ce_opt(day)
        .map(|d| (d.year(), d.month(), d.day()))
        .unwrap_or((1970, 1, 1))
}

pub fn year_of(day: Day) -> i32 {
    ymd(day).0
}

pub fn month_of(day: Day) -> u32 {
    ymd(day).1
}

/// FHIR `date`: `YYYY-MM-DD`.
pub fn date(day: Day) -> String {
    let (y, m, d) = ymd(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// FHIR `dateTime` at `minute` minutes after midnight (minutes beyond a day roll over).
pub fn date_time(day: Day, minute: u32) -> String {
    let (y, m, d) = ymd(day + (minute / 1440) as i32);
    let minute = minute % 1440;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:00+01:00",
        minute / 60,
        minute % 60
    )
}

/// Age in whole years at `day` for someone born on `birth`.
pub fn age_at(birth: Day, day: Day) -> i32 {
    let (by, bm, bd) = ymd(birth);
    let (y, m, d) = ymd(day);
    let mut age = y - by;
    if (m, d) < (bm, bd) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(day: Day, minute: u32, expected: &str) {
        assert_eq!(date_time(day, minute), expected);
    }

    #[test]
    fn renders_dates() {
        let d = day_of(2020, 2, 29);
        assert_eq!(date(d), "2020-02-29");
        check(d, 0, "2020-02-29T00:00:00+01:00");
        check(d, 9 * 60 + 5, "2020-02-29T09:05:00+01:00");
        check(d, 1440 + 30, "2020-03-01T00:30:00+01:00");
        assert_eq!(age_at(day_of(1980, 3, 1), d), 39);
        assert_eq!(age_at(day_of(1980, 2, 29), d), 40);
    }

    #[test]
    fn rounds_values() {
        assert_eq!(round(7.25, 1).to_string(), "7.3");
        assert_eq!(round(120.4, 0).to_string(), "120");
        assert_eq!(quantity(1.0, 1, "mg/dL")["code"], "mg/dL");
    }
}
