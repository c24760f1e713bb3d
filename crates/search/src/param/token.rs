//! `token` parameters: `system|code` pairs from Coding, CodeableConcept, Identifier,
//! ContactPoint, code, boolean, id, string and uri values, with the display text kept (folded)
//! for `:text` and an Identifier's type kept for `:of-type`.

use crate::normalize::normalize;

/// One indexed token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TokenValue {
    pub system: Option<String>,
    pub code: Option<String>,
    /// Folded text for `:text`: `Coding.display`, `CodeableConcept.text`, `Identifier.type.text`.
    pub text: Option<String>,
    /// For an Identifier with a `type`: one coding of that type (`:of-type`).
    pub type_system: Option<String>,
    pub type_code: Option<String>,
}

/// What one token search value asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenMatch {
    /// `code`: the code in any system (or none).
    Code(String),
    /// `system|code`.
    SystemCode { system: String, code: String },
    /// `|code`: the code with no system.
    NoSystem(String),
    /// `system|`: any code in the system.
    System(String),
    /// `:text`: the folded text starts with this folded value.
    Text(String),
    /// `:of-type=system|code|value` on an Identifier.
    OfType {
        system: String,
        code: String,
        value: String,
    },
    /// `:in` / `:not-in` with a value set the spec tables expand completely: any of these
    /// `(system, code)` pairs.
    AnyOf {
        value_set: String,
        codes: Vec<(String, String)>,
    },
}

/// A search value of a `token` parameter. (`:not` and `:not-in` are a [`crate::Filter::Not`]
/// around the whole parameter, so that `code:not=a,b` means "neither a nor b".)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPredicate {
    pub matcher: TokenMatch,
}

/// Why a token value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub String);

impl TokenPredicate {
    /// Reads `code`, `system|code`, `|code` or `system|` (escapes `\|`, `\,`, `\$`, `\\`).
    pub fn parse(value: &str) -> Result<TokenPredicate, TokenError> {
        let parts = split_unescaped(value, '|');
        let matcher = match parts.as_slice() {
            [code] if !code.is_empty() => TokenMatch::Code(code.clone()),
            [s, c] if s.is_empty() && !c.is_empty() => TokenMatch::NoSystem(c.clone()),
            [s, c] if !s.is_empty() && c.is_empty() => TokenMatch::System(s.clone()),
            [s, c] if !s.is_empty() => TokenMatch::SystemCode {
                system: s.clone(),
                code: c.clone(),
            },
            _ => {
                return Err(TokenError(
                    "expected code, system|code, |code or system|".into(),
                ))
            }
        };
        Ok(TokenPredicate { matcher })
    }

    /// Reads the `system|code|value` of `:of-type`.
    pub fn parse_of_type(value: &str) -> Result<TokenPredicate, TokenError> {
        match split_unescaped(value, '|').as_slice() {
            [s, c, v] if !s.is_empty() && !c.is_empty() && !v.is_empty() => Ok(TokenPredicate {
                matcher: TokenMatch::OfType {
                    system: s.clone(),
                    code: c.clone(),
                    value: v.clone(),
                },
            }),
            _ => Err(TokenError(
                ":of-type expects system|code|value with all three parts".into(),
            )),
        }
    }

    pub fn text(value: &str) -> TokenPredicate {
        TokenPredicate {
            matcher: TokenMatch::Text(normalize(value)),
        }
    }

    /// True when this one token matches.
    pub fn matches_value(&self, t: &TokenValue) -> bool {
        let sys = t.system.as_deref();
        let code = t.code.as_deref();
        match &self.matcher {
            TokenMatch::Code(c) => code == Some(c),
            TokenMatch::SystemCode { system, code: c } => sys == Some(system) && code == Some(c),
            TokenMatch::NoSystem(c) => sys.is_none() && code == Some(c),
            TokenMatch::System(s) => sys == Some(s),
            TokenMatch::Text(prefix) => t.text.as_deref().is_some_and(|x| x.starts_with(prefix)),
            TokenMatch::OfType {
                system,
                code: tc,
                value,
            } => {
                t.type_system.as_deref() == Some(system)
                    && t.type_code.as_deref() == Some(tc)
                    && code == Some(value)
            }
            TokenMatch::AnyOf { codes, .. } => {
                codes.iter().any(|(s, c)| sys == Some(s) && code == Some(c))
            }
        }
    }

    /// True when any of a resource's tokens of this parameter matches.
    pub fn matches(&self, values: &[&TokenValue]) -> bool {
        values.iter().any(|v| self.matches_value(v))
    }
}

/// Splits on `sep` where it is not escaped with `\`, and removes the escapes of `\|`, `\,`,
/// `\$` and `\\` (the spec's escaping of search values).
pub fn split_unescaped(value: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('|' | ',' | '$' | '\\')) => {
                    if let Some(last) = out.last_mut() {
                        last.push(n)
                    }
                }
                Some(n) => {
                    if let Some(last) = out.last_mut() {
                        last.push('\\');
                        last.push(n);
                    }
                }
                None => {
                    if let Some(last) = out.last_mut() {
                        last.push('\\')
                    }
                }
            }
        } else if c == sep {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// Escapes `\`, `|`, `,` and `$` in one part of a search value.
pub fn escape(part: &str) -> String {
    let mut s = String::with_capacity(part.len());
    for c in part.chars() {
        if matches!(c, '\\' | '|' | ',' | '$') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(system: Option<&str>, code: &str) -> TokenValue {
        TokenValue {
            system: system.map(str::to_string),
            code: Some(code.to_string()),
            ..Default::default()
        }
    }

    fn check(query: &str, t: &TokenValue, expected: bool) {
        let p = TokenPredicate::parse(query).unwrap();
        assert_eq!(p.matches(&[t]), expected, "{query} vs {t:?}");
    }

    #[test]
    fn system_and_code_forms() {
        let loinc = tok(Some("http://loinc.org"), "2339-0");
        check("2339-0", &loinc, true);
        check("http://loinc.org|2339-0", &loinc, true);
        check("http://loinc.org|", &loinc, true);
        check("|2339-0", &loinc, false);
        check("http://snomed.info/sct|2339-0", &loinc, false);
        let bare = tok(None, "true");
        check("|true", &bare, true);
        check("true", &bare, true);
        check("false", &bare, false);
        assert!(TokenPredicate::parse("").is_err());
        assert!(TokenPredicate::parse("|").is_err());
        assert!(TokenPredicate::parse("a|b|c").is_err());
    }

    #[test]
    fn escapes() {
        assert_eq!(split_unescaped(r"a\|b|c", '|'), vec!["a|b", "c"]);
        assert_eq!(split_unescaped(r"a\\|c", '|'), vec![r"a\", "c"]);
        assert_eq!(split_unescaped(r"a\x", '|'), vec![r"a\x"]);
        assert_eq!(escape("a|b,c$d\\"), r"a\|b\,c\$d\\");
        let p = TokenPredicate::parse(r"urn:x|a\|b").unwrap();
        assert!(p.matches(&[&tok(Some("urn:x"), "a|b")]));
    }

    #[test]
    fn text_and_of_type() {
        let t = TokenValue {
            text: Some(normalize("Hämoglobin A1c")),
            type_system: Some("http://terminology.hl7.org/CodeSystem/v2-0203".into()),
            type_code: Some("MR".into()),
            ..tok(Some("urn:mrn"), "12345")
        };
        assert!(TokenPredicate::text("hamoglobin").matches(&[&t]));
        assert!(!TokenPredicate::text("A1c").matches(&[&t]));
        let of =
            TokenPredicate::parse_of_type("http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345")
                .unwrap();
        assert!(of.matches(&[&t]));
        assert!(TokenPredicate::parse_of_type("MR|12345").is_err());
    }
}
