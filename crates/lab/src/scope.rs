//! SMART v2 system scopes: `system/Patient.rs`, `system/*.cruds` (and the v1 forms
//! `system/Patient.read|write|*`, read as `rs`, `cud` and `cruds`).
//!
//! Only the `system/` context exists for backend services; `patient/` and `user/` scopes and
//! `?param=value` restrictions are refused with a clear message rather than half-honoured.

use crosscare_spec::Spec;
use std::fmt;

/// One permission letter of a SMART v2 scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Perm {
    const ALL: [Perm; 5] = [
        Perm::Create,
        Perm::Read,
        Perm::Update,
        Perm::Delete,
        Perm::Search,
    ];

    fn bit(self) -> u8 {
        match self {
            Perm::Create => 1,
            Perm::Read => 2,
            Perm::Update => 4,
            Perm::Delete => 8,
            Perm::Search => 16,
        }
    }

    fn letter(self) -> char {
        match self {
            Perm::Create => 'c',
            Perm::Read => 'r',
            Perm::Update => 'u',
            Perm::Delete => 'd',
            Perm::Search => 's',
        }
    }
}

/// One scope: a resource type (or `*`) and a set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// A resource type, or `*`.
    pub resource_type: String,
    perms: u8,
}

impl Scope {
    pub fn new(resource_type: &str, perms: &[Perm]) -> Scope {
        Scope {
            resource_type: resource_type.to_string(),
            perms: perms.iter().fold(0, |acc, p| acc | p.bit()),
        }
    }

    pub fn allows(&self, perm: Perm) -> bool {
        self.perms & perm.bit() != 0
    }

    fn covers_type(&self, resource_type: &str) -> bool {
        self.resource_type == "*" || self.resource_type == resource_type
    }

    /// Parses one scope.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let rest = text.strip_prefix("system/").ok_or_else(|| {
            if text.starts_with("patient/") || text.starts_with("user/") {
                format!("scope '{text}': only system/ scopes are supported (backend services)")
            } else {
                format!("scope '{text}' is not a SMART system scope (system/Type.rs)")
            }
        })?;
        if rest.contains('?') {
            return Err(format!(
                "scope '{text}': restrictions by search parameter (?param=value) are not \
                 supported yet; ask for the whole type"
            ));
        }
        let (ty, perms) = rest
            .split_once('.')
            .ok_or_else(|| format!("scope '{text}' has no permissions (system/Type.rs)"))?;
        if ty != "*" && !Spec::r4().is_resource_type(ty) {
            return Err(format!("scope '{text}': '{ty}' is not a resource type"));
        }
        let perms = match perms {
            "read" => Perm::Read.bit() | Perm::Search.bit(),
            "write" => Perm::Create.bit() | Perm::Update.bit() | Perm::Delete.bit(),
            "*" => 31,
            letters => {
                // v2: a non-empty subsequence of "cruds", in that order.
                let mut bits = 0u8;
                let mut next = 0usize;
                for ch in letters.chars() {
                    let pos = Perm::ALL[next..]
                        .iter()
                        .position(|p| p.letter() == ch)
                        .ok_or_else(|| {
                            format!(
                                "scope '{text}': permissions must be letters of 'cruds' in \
                                 that order"
                            )
                        })?;
                    bits |= Perm::ALL[next + pos].bit();
                    next += pos + 1;
                }
                if bits == 0 {
                    return Err(format!("scope '{text}' grants no permission"));
                }
                bits
            }
        };
        Ok(Scope {
            resource_type: ty.to_string(),
            perms,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "system/{}.", self.resource_type)?;
        for p in Perm::ALL {
            if self.allows(p) {
                write!(f, "{}", p.letter())?;
            }
        }
        Ok(())
    }
}

/// A set of scopes (what a client may be granted, or what a token carries).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(pub Vec<Scope>);

impl Scopes {
    /// Parses a space-separated list; every scope must be valid.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        text.split_ascii_whitespace()
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Scopes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether some scope grants `perm` on `resource_type`.
    pub fn allows(&self, resource_type: &str, perm: Perm) -> bool {
        self.0
            .iter()
            .any(|s| s.covers_type(resource_type) && s.allows(perm))
    }

    /// Whether a wildcard scope grants `perm` on every type.
    pub fn allows_all_types(&self, perm: Perm) -> bool {
        self.0
            .iter()
            .any(|s| s.resource_type == "*" && s.allows(perm))
    }

    /// Whether any scope names `resource_type` (or `*`) at all.
    pub fn mentions(&self, resource_type: &str) -> bool {
        self.0.iter().any(|s| s.covers_type(resource_type))
    }

    /// What to grant for `requested` when this set is what the client is allowed: each
    /// requested scope narrowed to the allowed permissions (a requested `*` becomes the allowed
    /// scopes narrowed to the requested permissions). Nothing requested: everything allowed.
    pub fn grant(&self, requested: &Scopes) -> Scopes {
        if requested.is_empty() {
            return self.clone();
        }
        let mut out: Vec<Scope> = Vec::new();
        let mut push = |s: Scope| {
            if s.perms != 0 && !out.contains(&s) {
                out.push(s);
            }
        };
        for r in &requested.0 {
            if r.resource_type == "*" {
                for a in &self.0 {
                    push(Scope {
                        resource_type: a.resource_type.clone(),
                        perms: a.perms & r.perms,
                    });
                }
            } else {
                let allowed = self
                    .0
                    .iter()
                    .filter(|a| a.covers_type(&r.resource_type))
                    .fold(0, |acc, a| acc | a.perms);
                push(Scope {
                    resource_type: r.resource_type.clone(),
                    perms: allowed & r.perms,
                });
            }
        }
        Scopes(out)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        for (text, shown) in [
            ("system/Patient.rs", "system/Patient.rs"),
            ("system/*.cruds", "system/*.cruds"),
            ("system/Observation.read", "system/Observation.rs"),
            ("system/Observation.write", "system/Observation.cud"),
            ("system/Encounter.*", "system/Encounter.cruds"),
            ("system/Patient.cd", "system/Patient.cd"),
        ] {
            assert_eq!(Scope::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in [
            "patient/Patient.rs",
            "user/*.cruds",
            "system/Observation.rs?category=laboratory",
            "system/Patient.sr",
            "system/Patient.x",
            "system/Patient.",
            "system/Nope.rs",
            "system/Patient",
            "openid",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn granting_is_an_intersection() {
        let allowed = Scopes::parse("system/Patient.rs system/Observation.cruds").unwrap();
        let g = |req: &str| allowed.grant(&Scopes::parse(req).unwrap()).to_string();
        assert_eq!(g("system/Patient.cruds"), "system/Patient.rs");
        assert_eq!(g("system/*.rs"), "system/Patient.rs system/Observation.rs");
        assert_eq!(g("system/Encounter.rs"), "");
        assert_eq!(g(""), "system/Patient.rs system/Observation.cruds");
        let wild = Scopes::parse("system/*.rs").unwrap();
        assert_eq!(
            wild.grant(&Scopes::parse("system/Patient.cruds").unwrap())
                .to_string(),
            "system/Patient.rs"
        );
    }

    #[test]
    fn allows() {
        let s = Scopes::parse("system/Patient.rs system/*.s").unwrap();
        assert!(s.allows("Patient", Perm::Read));
        assert!(s.allows("Observation", Perm::Search));
        assert!(!s.allows("Observation", Perm::Read));
        assert!(s.allows_all_types(Perm::Search));
        assert!(!s.allows_all_types(Perm::Read));
    }
}
