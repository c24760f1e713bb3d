//! `reference` parameters: Reference (literal, logical via identifier, contained `#id`),
//! canonical and uri values, indexed as type/id/version for local references and as an
//! absolute URL otherwise.

use super::token::{TokenPredicate, TokenValue};
use crosscare_spec::Spec;

/// One indexed reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ReferenceValue {
    /// The target type (`Patient`): from a relative or absolute URL, `Reference.type`, or the
    /// contained resource.
    pub resource_type: Option<String>,
    /// The target id, for relative references (`Patient/123`) and absolute URLs ending in
    /// `Type/id`.
    pub id: Option<String>,
    /// `_history/2` of a versioned reference, or `|1.0` of a canonical.
    pub version: Option<String>,
    /// The absolute URL (or canonical without version), when the reference is absolute;
    /// `None` for relative and contained references.
    pub url: Option<String>,
    /// `Reference.identifier`, for `:identifier`.
    pub identifier: Option<TokenValue>,
    /// The local id (without `#`) of a reference to a contained resource.
    pub contained: Option<String>,
}

impl ReferenceValue {
    /// Reads a reference string: `Patient/123`, `Patient/123/_history/2`,
    /// `http://host/fhir/Patient/123`, `http://x.org/ValueSet/v|1.0`, `urn:uuid:…` or `#p1`.
    pub fn parse(reference: &str) -> ReferenceValue {
        let mut v = ReferenceValue::default();
        if let Some(local) = reference.strip_prefix('#') {
            v.contained = Some(local.to_string());
            return v;
        }
        let (body, canonical_version) = match reference.split_once('|') {
            Some((b, ver)) => (b, Some(ver.to_string())),
            None => (reference, None),
        };
        let absolute = body.contains(':');
        let segments: Vec<&str> = body.split('/').collect();
        let n = segments.len();
        let spec = Spec::r4();
        let (ty, id, version) = if n >= 4 && segments[n - 2] == "_history" {
            (segments[n - 4], segments[n - 3], Some(segments[n - 1]))
        } else if n >= 2 {
            (segments[n - 2], segments[n - 1], None)
        } else {
            ("", "", None)
        };
        if spec.is_resource_type(ty) && !id.is_empty() {
            v.resource_type = Some(ty.to_string());
            v.id = Some(id.to_string());
            v.version = version.map(str::to_string);
        }
        if absolute {
            v.url = Some(body.to_string());
            if canonical_version.is_some() {
                v.version = canonical_version;
            }
        }
        v
    }
}

/// A search value of a `reference` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferencePredicate {
    /// `id`, `Type/id` (or `id` with a `:Type` modifier), optionally `/_history/v`.
    Local {
        resource_type: Option<String>,
        id: String,
        version: Option<String>,
    },
    /// An absolute URL or canonical (`|version` kept separately).
    Url {
        url: String,
        version: Option<String>,
    },
    /// `:identifier=system|value`.
    Identifier(TokenPredicate),
}

impl ReferencePredicate {
    /// Reads a reference search value; `type_modifier` is the `:Type` of the parameter name.
    pub fn parse(value: &str, type_modifier: Option<&str>) -> Result<ReferencePredicate, String> {
        if value.is_empty() {
            return Err("empty reference".into());
        }
        let parsed = ReferenceValue::parse(value);
        if let Some(url) = parsed.url {
            return Ok(ReferencePredicate::Url {
                url,
                version: parsed.version,
            });
        }
        if let (Some(ty), Some(id)) = (parsed.resource_type, parsed.id) {
            if let Some(m) = type_modifier {
                if m != ty {
                    return Err(format!("type modifier :{m} contradicts {ty}/{id}"));
                }
            }
            return Ok(ReferencePredicate::Local {
                resource_type: Some(ty),
                id,
                version: parsed.version,
            });
        }
        if value.contains('/') || value.starts_with('#') {
            return Err("expected id, Type/id or an absolute URL".into());
        }
        Ok(ReferencePredicate::Local {
            resource_type: type_modifier.map(str::to_string),
            id: value.to_string(),
            version: None,
        })
    }

    pub fn matches(&self, target: &ReferenceValue) -> bool {
        match self {
            ReferencePredicate::Local {
                resource_type,
                id,
                version,
            } => {
                target.url.is_none()
                    && target.id.as_ref() == Some(id)
                    && resource_type
                        .as_ref()
                        .is_none_or(|t| target.resource_type.as_ref() == Some(t))
                    && version
                        .as_ref()
                        .is_none_or(|v| target.version.as_ref() == Some(v))
            }
            ReferencePredicate::Url { url, version } => {
                target.url.as_ref() == Some(url)
                    && version
                        .as_ref()
                        .is_none_or(|v| target.version.as_ref() == Some(v))
            }
            ReferencePredicate::Identifier(p) => target
                .identifier
                .as_ref()
                .is_some_and(|t| p.matches_value(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        input: &str,
        ty: Option<&str>,
        id: Option<&str>,
        ver: Option<&str>,
        url: Option<&str>,
    ) {
        let v = ReferenceValue::parse(input);
        let got = (
            v.resource_type.as_deref(),
            v.id.as_deref(),
            v.version.as_deref(),
            v.url.as_deref(),
        );
        assert_eq!(got, (ty, id, ver, url), "{input}");
    }

    #[test]
    fn parses_reference_forms() {
        check("Patient/123", Some("Patient"), Some("123"), None, None);
        check(
            "Patient/123/_history/2",
            Some("Patient"),
            Some("123"),
            Some("2"),
            None,
        );
        check(
            "http://x.org/fhir/Patient/9",
            Some("Patient"),
            Some("9"),
            None,
            Some("http://x.org/fhir/Patient/9"),
        );
        check(
            "http://hl7.org/fhir/ValueSet/x|4.0.1",
            Some("ValueSet"),
            Some("x"),
            Some("4.0.1"),
            Some("http://hl7.org/fhir/ValueSet/x"),
        );
        check("urn:uuid:abc", None, None, None, Some("urn:uuid:abc"));
        check("Foo/1", None, None, None, None);
        assert_eq!(
            ReferenceValue::parse("#p1").contained.as_deref(),
            Some("p1")
        );
    }

    fn matches(query: &str, modifier: Option<&str>, target: &str) -> bool {
        ReferencePredicate::parse(query, modifier)
            .unwrap()
            .matches(&ReferenceValue::parse(target))
    }

    #[test]
    fn predicates() {
        assert!(matches("123", None, "Patient/123"));
        assert!(matches("Patient/123", None, "Patient/123"));
        assert!(matches("123", Some("Patient"), "Patient/123"));
        assert!(!matches("123", Some("Group"), "Patient/123"));
        assert!(!matches("Group/123", None, "Patient/123"));
        assert!(matches("http://x/Patient/1", None, "http://x/Patient/1"));
        assert!(!matches("Patient/1", None, "http://x/Patient/1"));
        assert!(ReferencePredicate::parse("Patient/1", Some("Group")).is_err());
        assert!(ReferencePredicate::parse("", None).is_err());
        assert!(ReferencePredicate::parse("a/b/c", None).is_err());
    }
}
