//! `quantity` parameters: a number with its implicit range plus the unit's system, code and
//! human-readable unit, from Quantity, Age, Duration, Distance, Count, SimpleQuantity, Money
//! (currency as code, system `urn:iso:std:iso:4217`) and Range.

use super::number::{NumberError, NumberPredicate, NumberValue};
use super::Prefix;

/// One indexed quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityValue {
    pub number: NumberValue,
    pub system: Option<String>,
    pub code: Option<String>,
    /// `Quantity.unit`, the human-readable unit.
    pub unit: Option<String>,
}

/// A search value of a `quantity` parameter: `[prefix]number|system|code`, `number||code`
/// (code or unit, any system) or a bare `number`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityPredicate {
    pub prefix: Prefix,
    pub number: NumberValue,
    pub system: Option<String>,
    /// Matched against `code`, or against `unit` when no system is given.
    pub code: Option<String>,
}

impl QuantityPredicate {
    pub fn parse(value: &str) -> Result<QuantityPredicate, NumberError> {
        let mut parts = super::token::split_unescaped(value, '|').into_iter();
        let number = parts.next().unwrap_or_default();
        let system = parts.next().filter(|s| !s.is_empty());
        let code = parts.next().filter(|s| !s.is_empty());
        if parts.next().is_some() {
            return Err(NumberError(value.to_string()));
        }
        let n = NumberPredicate::parse(&number)?;
        Ok(QuantityPredicate {
            prefix: n.prefix,
            number: n.number,
            system,
            code,
        })
    }

    /// Reference semantics: the number compares as for `number`; a given system must equal the
    /// target's; a given code must equal the target's code, or (without a system) its unit.
    /// No unit conversion is done.
    pub fn matches(&self, target: &QuantityValue) -> bool {
        let number_ok = NumberPredicate {
            prefix: self.prefix,
            number: self.number,
        }
        .matches(&target.number);
        let system_ok = self
            .system
            .as_ref()
            .is_none_or(|s| target.system.as_ref() == Some(s));
        let code_ok = self.code.as_ref().is_none_or(|c| {
            target.code.as_ref() == Some(c)
                || (self.system.is_none() && target.unit.as_ref() == Some(c))
        });
        number_ok && system_ok && code_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(
        v: &str,
        system: Option<&str>,
        code: Option<&str>,
        unit: Option<&str>,
    ) -> QuantityValue {
        QuantityValue {
            number: NumberValue::parse(v).unwrap(),
            system: system.map(str::to_string),
            code: code.map(str::to_string),
            unit: unit.map(str::to_string),
        }
    }

    fn check(query: &str, t: &QuantityValue, expected: bool) {
        assert_eq!(
            QuantityPredicate::parse(query).unwrap().matches(t),
            expected,
            "{query}"
        );
    }

    #[test]
    fn matches_number_system_and_code() {
        let ucum = Some("http://unitsofmeasure.org");
        let t = target("5.4", ucum, Some("mg"), Some("milligram"));
        check("5.4|http://unitsofmeasure.org|mg", &t, true);
        check("5.4||mg", &t, true);
        check("5.4||milligram", &t, true);
        check("5.4|http://other|mg", &t, false);
        check("5.4", &t, true);
        check("gt5|http://unitsofmeasure.org|mg", &t, true);
        check("lt5||mg", &t, false);
        check("5.4||g", &t, false);
        assert!(QuantityPredicate::parse("abc||mg").is_err());
        assert!(QuantityPredicate::parse("5|a|b|c").is_err());
    }
}
