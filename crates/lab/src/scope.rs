//! SMART v2 system scopes: `system/Patient.rs`, `system/*.cruds` (and the v1 forms
//! `system/Patient.read|write|*`, read as `rs`, `cud` and `cruds`).
//!
//! Only the `system/` context exists for backend services; `patient/` and `user/` scopes are
//! refused with a clear message rather than half-honoured.
//!
//! A scope may be restricted by search parameters (SMART v2 "finer-grained resource
//! constraints"): `system/Observation.rs?category=laboratory` grants reads and searches of the
//! Observations that match `category=laboratory` only. The lab keeps the query as text and
//! checks its parameter names against the spec; the REST layer applies it (an extra search
//! filter, and a match of each resource read or included: `crosscare_rest::guard`).
//! Restrictions apply to `r` and `s` only; several scopes on one type are alternatives.

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

/// One scope: a resource type (or `*`), a set of permissions, and an optional restriction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// A resource type, or `*`.
    pub resource_type: String,
    perms: u8,
    /// `?param=value…` (without the `?`): only resources matching this search are granted.
    pub query: Option<String>,
}

/// What a set of scopes grants on one type for one permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction<'a> {
    /// Nothing.
    Denied,
    /// Every resource of the type.
    All,
    /// The resources matching at least one of these queries.
    AnyOf(Vec<&'a str>),
}

/// Search parameters that never make sense in a scope restriction (they are not filters on
/// one resource, or look at other resources).
const NOT_IN_SCOPES: [&str; 6] = ["_has", "_list", "_text", "_content", "_filter", "_query"];

impl Scope {
    pub fn new(resource_type: &str, perms: &[Perm]) -> Scope {
        Scope {
            resource_type: resource_type.to_string(),
            perms: perms.iter().fold(0, |acc, p| acc | p.bit()),
            query: None,
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
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
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
        if let Some(q) = query {
            check_restriction(text, ty, perms, q)?;
        }
        Ok(Scope {
            resource_type: ty.to_string(),
            perms,
            query: query.map(str::to_string),
        })
    }
}

/// A restriction needs a type, grants `r`/`s` only, and names search parameters of the type.
fn check_restriction(text: &str, ty: &str, perms: u8, query: &str) -> Result<(), String> {
    if ty == "*" {
        return Err(format!(
            "scope '{text}': a restriction by search parameter needs a resource type"
        ));
    }
    if perms & !(Perm::Read.bit() | Perm::Search.bit()) != 0 {
        return Err(format!(
            "scope '{text}': restrictions by search parameter apply to reads and searches \
             (r, s) only; ask for c, u or d on the whole type in a separate scope"
        ));
    }
    if query.is_empty() {
        return Err(format!(
            "scope '{text}': the restriction after '?' is empty"
        ));
    }
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let base = name.split(':').next().unwrap_or(name);
        if value.is_empty() {
            return Err(format!("scope '{text}': '{name}' has no value"));
        }
        if name.contains('.') || NOT_IN_SCOPES.contains(&base) {
            return Err(format!(
                "scope '{text}': '{name}' cannot restrict a scope (chains, _has, _list and \
                 text searches look beyond the resource)"
            ));
        }
        if base.starts_with('_')
            && !matches!(
                base,
                "_id" | "_lastUpdated" | "_tag" | "_profile" | "_security"
            )
        {
            return Err(format!(
                "scope '{text}': '{name}' is not a search filter a scope can use"
            ));
        }
        if !base.starts_with('_') && Spec::r4().search_param(ty, base).is_none() {
            return Err(format!(
                "scope '{text}': '{base}' is not a search parameter of {ty}"
            ));
        }
    }
    Ok(())
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "system/{}.", self.resource_type)?;
        for p in Perm::ALL {
            if self.allows(p) {
                write!(f, "{}", p.letter())?;
            }
        }
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
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

    /// What the scopes grant on `resource_type` for any of `perms`: everything (some scope
    /// without restriction), the resources matching one of the restrictions, or nothing.
    pub fn restriction(&self, resource_type: &str, perms: &[Perm]) -> Restriction<'_> {
        let mut queries = Vec::new();
        for s in self
            .0
            .iter()
            .filter(|s| s.covers_type(resource_type) && perms.iter().any(|p| s.allows(*p)))
        {
            match &s.query {
                None => return Restriction::All,
                Some(q) => queries.push(q.as_str()),
            }
        }
        if queries.is_empty() {
            Restriction::Denied
        } else {
            Restriction::AnyOf(queries)
        }
    }

    /// Whether a wildcard scope grants `perm` on every type.
    pub fn allows_all_types(&self, perm: Perm) -> bool {
        self.0
            .iter()
            .any(|s| s.resource_type == "*" && s.allows(perm))
    }

    /// Whether some scope grants `c`, `u` or `d` on some type.
    pub fn allows_some_write(&self) -> bool {
        self.0
            .iter()
            .any(|s| s.allows(Perm::Create) || s.allows(Perm::Update) || s.allows(Perm::Delete))
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
        // Scopes with the same type and restriction are merged (their permissions OR-ed).
        let mut out: Vec<Scope> = Vec::new();
        let mut push = |s: Scope| {
            if s.perms == 0 {
                return;
            }
            match out
                .iter_mut()
                .find(|o| o.resource_type == s.resource_type && o.query == s.query)
            {
                Some(o) => o.perms |= s.perms,
                None => out.push(s),
            }
        };
        for r in &requested.0 {
            for a in self
                .0
                .iter()
                .filter(|a| r.resource_type == "*" || a.covers_type(&r.resource_type))
            {
                let resource_type = if r.resource_type == "*" {
                    a.resource_type.clone()
                } else {
                    r.resource_type.clone()
                };
                // The narrower restriction wins; two different ones grant nothing together.
                let query = match (&r.query, &a.query) {
                    (None, q) | (q, None) => q.clone(),
                    (Some(x), Some(y)) if x == y => Some(x.clone()),
                    _ => continue,
                };
                push(Scope {
                    resource_type,
                    perms: a.perms & r.perms,
                    query,
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
            (
                "system/Observation.rs?category=laboratory",
                "system/Observation.rs?category=laboratory",
            ),
            (
                "system/Observation.read?code=http://loinc.org|1234-5&status=final",
                "system/Observation.rs?code=http://loinc.org|1234-5&status=final",
            ),
        ] {
            assert_eq!(Scope::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in [
            "patient/Patient.rs",
            "user/*.cruds",
            "system/Patient.sr",
            "system/Observation.cruds?category=laboratory",
            "system/*.rs?category=laboratory",
            "system/Observation.rs?nope=1",
            "system/Observation.rs?subject:Patient.name=x",
            "system/Observation.rs?_has:Observation:subject:code=x",
            "system/Observation.rs?category",
            "system/Observation.rs?",
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
    fn restricted_scopes_grant_and_restrict() {
        let lab = "system/Observation.rs?category=laboratory";
        let allowed = Scopes::parse(&format!("{lab} system/Patient.rs")).unwrap();
        let g = |req: &str| allowed.grant(&Scopes::parse(req).unwrap()).to_string();
        assert_eq!(g("system/Observation.rs"), lab);
        assert_eq!(
            g("system/*.r"),
            "system/Observation.r?category=laboratory system/Patient.r"
        );
        assert_eq!(g(lab), lab);
        assert_eq!(g("system/Observation.rs?category=vital-signs"), "");
        let whole = Scopes::parse("system/Observation.rs").unwrap();
        assert_eq!(
            whole.grant(&Scopes::parse(lab).unwrap()).to_string(),
            lab,
            "a client allowed the whole type may ask for less"
        );
        let both = Scopes::parse(&format!(
            "{lab} system/Observation.rs?category=vital-signs system/Patient.rs"
        ))
        .unwrap();
        assert_eq!(
            both.restriction("Observation", &[Perm::Read]),
            Restriction::AnyOf(vec!["category=laboratory", "category=vital-signs"])
        );
        assert_eq!(both.restriction("Patient", &[Perm::Read]), Restriction::All);
        assert_eq!(
            both.restriction("Encounter", &[Perm::Read]),
            Restriction::Denied
        );
        let plus_whole = Scopes::parse(&format!("{lab} system/Observation.s")).unwrap();
        assert_eq!(
            plus_whole.restriction("Observation", &[Perm::Search]),
            Restriction::All
        );
        assert_eq!(
            plus_whole.restriction("Observation", &[Perm::Read]),
            Restriction::AnyOf(vec!["category=laboratory"])
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
