//! The typed search request ([`SearchQuery`]) and its strict parser: each `(name, value)` pair
//! becomes a [`Filter`] (AND between pairs, OR between comma-separated values) or a result
//! parameter.

use crate::chain;
use crate::derived::Derivation;
use crate::error::SearchError;
use crate::index::IndexValue;
use crate::param::composite::CompositePredicate;
use crate::param::date::DatePredicate;
use crate::param::number::NumberPredicate;
use crate::param::quantity::QuantityPredicate;
use crate::param::reference::ReferencePredicate;
use crate::param::string::{StringMode, StringPredicate};
use crate::param::token::{split_unescaped, TokenMatch, TokenPredicate};
use crate::param::uri::{UriMode, UriPredicate};
use crate::query_string::percent_encode;
use crate::registry::ParamRegistry;
use crate::result_params::{self, ResultParams};
use crosscare_spec::model::{SearchParamDef, SearchParamType};
use crosscare_spec::Spec;

/// A parsed search request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// `None` for a system-level search.
    pub resource_type: Option<String>,
    /// `_type` (system search): the resource types searched; empty means all.
    pub types: Vec<String>,
    /// All must hold (repeated parameters are ANDed).
    pub filters: Vec<Filter>,
    /// `_sort`, `_count`, `_include`, …
    pub result: ResultParams,
    /// The parameters that were applied, normalised (decoded, in request order), for the
    /// `self` link.
    pub applied: Vec<(String, String)>,
    /// Parameters dropped by a lenient parse (unknown names and modifiers), in request order.
    pub ignored: Vec<(String, String)>,
}

/// One condition on the resources searched.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The resource has a value of `param` matching any of the predicates.
    Param(ParamFilter),
    /// `param:missing=true` (no value) or `param:missing=false` (some value).
    Missing { param: String, missing: bool },
    /// The inner filter does not hold (`:not`, `:not-in`): no value of the parameter matches.
    Not(Box<Filter>),
    /// `param:Type.inner`: the resource references (through `param`) a `target_type` resource
    /// for which `filter` holds. A reference to a contained resource (`#id`) is followed into
    /// the entries extracted from that contained resource.
    Chain {
        param: String,
        target_type: String,
        filter: Box<Filter>,
    },
    /// `_has:Type:param:inner`: some `resource_type` resource for which `filter` holds refers
    /// to this resource through its `param`.
    Has {
        resource_type: String,
        param: String,
        filter: Box<Filter>,
    },
    /// Any of these holds (compartments).
    Any(Vec<Filter>),
    /// All of these hold, on the same resource (a composite answered from its components'
    /// parameters, see `derived`; at the top level of a query its filters are listed one by
    /// one instead).
    All(Vec<Filter>),
    /// `_list=id`: the resource is an entry of `List/id`.
    List(String),
}

/// The values of one parameter occurrence, ORed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamFilter {
    /// The search parameter code.
    pub param: String,
    pub param_type: SearchParamType,
    pub values: Vec<Predicate>,
}

/// One search value, typed by its parameter's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Token(TokenPredicate),
    String(StringPredicate),
    Date(DatePredicate),
    Number(NumberPredicate),
    Quantity(QuantityPredicate),
    Reference(ReferencePredicate),
    Uri(UriPredicate),
    Composite(CompositePredicate),
}

impl Predicate {
    /// Reference semantics of one predicate against one index value of the same parameter.
    pub fn matches_value(&self, v: &IndexValue) -> bool {
        match (self, v) {
            (Predicate::Token(p), IndexValue::Token(t)) => p.matches_value(t),
            (Predicate::String(p), IndexValue::String(s)) => p.matches(s),
            (Predicate::Date(p), IndexValue::Date(d)) => p.matches(d),
            (Predicate::Number(p), IndexValue::Number(n)) => p.matches(n),
            (Predicate::Number(p), IndexValue::Quantity(q)) => p.matches(&q.number),
            (Predicate::Quantity(p), IndexValue::Quantity(q)) => p.matches(q),
            (Predicate::Reference(p), IndexValue::Reference(r)) => p.matches(r),
            (Predicate::Uri(p), IndexValue::Uri(u)) => p.matches(u),
            (Predicate::Uri(p), IndexValue::Reference(r)) => {
                r.url.as_deref().is_some_and(|u| p.matches(u))
            }
            (Predicate::Composite(p), IndexValue::Composite(t)) => p.matches(t),
            _ => false,
        }
    }
}

/// The most links (`.` and `_has:`) one parameter name may chain; bounds recursion and the
/// joins a backend has to build.
pub const MAX_CHAIN_DEPTH: usize = 8;

/// The names that are result parameters (or otherwise handled outside filters).
const RESULT_PARAMS: &[&str] = &[
    "_sort",
    "_count",
    "_offset",
    "_cursor",
    "_total",
    "_summary",
    "_elements",
    "_include",
    "_revinclude",
    "_contained",
    "_containedType",
    "_format",
    "_pretty",
];

impl SearchQuery {
    /// Parses a search against the R4 core parameters. See [`SearchQuery::parse_with`].
    pub fn parse(
        resource_type: Option<&str>,
        params: &[(String, String)],
        lenient: bool,
    ) -> Result<SearchQuery, SearchError> {
        Self::parse_with(ParamRegistry::r4(), resource_type, params, lenient)
    }

    /// Parses decoded `(name, value)` pairs. Strict (`lenient == false`): any unknown
    /// parameter, modifier or bad value is an error. Lenient: unknown parameters and modifiers
    /// are dropped into [`SearchQuery::ignored`]; bad values are still errors.
    pub fn parse_with(
        registry: &ParamRegistry,
        resource_type: Option<&str>,
        params: &[(String, String)],
        lenient: bool,
    ) -> Result<SearchQuery, SearchError> {
        if let Some(t) = resource_type {
            if !registry.is_resource_type(t) {
                return Err(SearchError::UnknownResourceType(t.to_string()));
            }
        }
        let mut q = SearchQuery {
            resource_type: resource_type.map(str::to_string),
            ..SearchQuery::default()
        };
        // `_type` first: it sets the context in which system-level parameters are read.
        for (name, value) in params {
            if name == "_type" {
                if resource_type.is_some() {
                    return Err(SearchError::invalid(
                        name,
                        value,
                        "_type is only allowed in a system-level search",
                    ));
                }
                for t in value.split(',') {
                    if !registry.is_resource_type(t) {
                        return Err(SearchError::UnknownResourceType(t.to_string()));
                    }
                    if !q.types.iter().any(|x| x == t) {
                        q.types.push(t.to_string());
                    }
                }
                q.applied.push((name.clone(), value.clone()));
            }
        }
        let ctx = Context {
            registry,
            resource_type,
            types: &q.types,
        };
        for (name, value) in params {
            let base = name.split(':').next().unwrap_or_default();
            let outcome = if name == "_type" {
                continue;
            } else if matches!(name.as_str(), "_text" | "_content" | "_query" | "_filter") {
                Err(SearchError::unsupported(
                    name,
                    "full-text and named queries are not available",
                ))
            } else if name == "_list" {
                if value.is_empty() || value.contains(',') {
                    Err(SearchError::invalid(name, value, "expected one List id"))
                } else {
                    q.filters.push(Filter::List(value.clone()));
                    Ok(())
                }
            } else if RESULT_PARAMS.contains(&base) {
                result_params::apply(&mut q.result, &ctx, name, value)
            } else if name.matches('.').count() + name.matches("_has:").count() > MAX_CHAIN_DEPTH {
                Err(SearchError::invalid(
                    name,
                    value,
                    format!("chains are limited to {MAX_CHAIN_DEPTH} links"),
                ))
            } else {
                parse_filter(&ctx, name, value).map(|f| match f {
                    Filter::All(all) => q.filters.extend(all),
                    f => q.filters.push(f),
                })
            };
            match outcome {
                Ok(()) => q.applied.push((name.clone(), value.clone())),
                Err(
                    e
                    @ (SearchError::UnknownParameter { .. } | SearchError::UnknownModifier { .. }),
                ) if lenient => {
                    let _ = e;
                    q.ignored.push((name.clone(), value.clone()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(q)
    }

    /// The applied parameters as a query string (`name=value&…`, percent-encoded), for the
    /// bundle's `self` link. Parsing it again gives an equal query.
    pub fn to_query_string(&self) -> String {
        self.applied
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Where a parameter is read: a resource type, or a system search over `types`.
pub(crate) struct Context<'a> {
    pub registry: &'a ParamRegistry,
    pub resource_type: Option<&'a str>,
    pub types: &'a [String],
}

impl Context<'_> {
    /// Looks a parameter up: on the resource type, or for a system search on every `_type`
    /// (the definitions must agree on the type) or on `Resource`.
    pub fn lookup(&self, code: &str) -> Result<&SearchParamDef, SearchError> {
        let unknown = |rt: &str| self.registry.unknown(rt, code);
        if let Some(rt) = self.resource_type {
            return self.registry.param(rt, code).ok_or_else(|| unknown(rt));
        }
        match self.types {
            [] => self
                .registry
                .common_param(code)
                .ok_or_else(|| unknown("Resource")),
            [first, rest @ ..] => {
                let def = self
                    .registry
                    .param(first, code)
                    .ok_or_else(|| unknown(first))?;
                for t in rest {
                    let other = self.registry.param(t, code).ok_or_else(|| unknown(t))?;
                    if other.param_type != def.param_type {
                        return Err(unknown(t));
                    }
                }
                Ok(def)
            }
        }
    }

    /// The single resource type parameters are read against, when there is one.
    pub fn single_type(&self) -> Option<&str> {
        match (self.resource_type, self.types) {
            (Some(t), _) => Some(t),
            (None, [t]) => Some(t),
            _ => None,
        }
    }
}

/// Parses one `name=value` pair (a parameter with optional modifier and chain, or `_has`).
pub(crate) fn parse_filter(
    ctx: &Context<'_>,
    name: &str,
    value: &str,
) -> Result<Filter, SearchError> {
    if let Some(rest) = name.strip_prefix("_has:") {
        return chain::parse_has(ctx, name, rest, value);
    }
    let (head, chain_rest) = match name.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (name, None),
    };
    let (code, modifier) = match head.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (head, None),
    };
    let def = ctx.lookup(code)?;
    if let Some(rest) = chain_rest {
        return chain::parse_chain(ctx, def, modifier, rest, value);
    }
    if modifier == Some("missing") {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => {
                return Err(SearchError::invalid(
                    name,
                    value,
                    ":missing expects true or false",
                ))
            }
        };
        let present = present(ctx, code, name)?;
        return Ok(match present {
            Filter::Missing { param, .. } => Filter::Missing { param, missing },
            some if missing => Filter::Not(Box::new(some)),
            some => some,
        });
    }
    let unknown_modifier = |m: &str| SearchError::UnknownModifier {
        param: code.to_string(),
        modifier: m.to_string(),
    };
    let parts = split_keep_escapes(value, ',');
    if parts.iter().all(|p| p.is_empty()) {
        return Err(SearchError::invalid(name, value, "empty value"));
    }
    let mut negate = false;
    let mut values = Vec::with_capacity(parts.len());
    for part in parts.iter().filter(|p| !p.is_empty()) {
        let predicate = match def.param_type {
            SearchParamType::Token => {
                if matches!(modifier, None | Some("not"))
                    && !matches!(part.as_str(), "true" | "false")
                    && is_boolean_param(def, ctx.single_type())
                {
                    return Err(SearchError::invalid(name, part, "expected true or false"));
                }
                let (p, neg) = parse_token(name, part, modifier, &unknown_modifier)?;
                negate = neg;
                p
            }
            SearchParamType::Reference => {
                let type_modifier = match modifier {
                    None => None,
                    Some("identifier") => {
                        let t = TokenPredicate::parse(part)
                            .map_err(|e| SearchError::invalid(name, part, e.0))?;
                        values.push(Predicate::Reference(ReferencePredicate::Identifier(t)));
                        continue;
                    }
                    Some(m) if is_target(def, m) => Some(m),
                    Some(m @ ("above" | "below")) => {
                        return Err(SearchError::unsupported(
                            name,
                            format!(":{m} on references needs resource hierarchies"),
                        ))
                    }
                    Some(m) => return Err(unknown_modifier(m)),
                };
                let p = ReferencePredicate::parse(&unescape(part), type_modifier)
                    .map_err(|e| SearchError::invalid(name, part, e))?;
                if let ReferencePredicate::Local {
                    resource_type: Some(t),
                    ..
                } = &p
                {
                    if !is_target(def, t) {
                        return Err(SearchError::invalid(
                            name,
                            part,
                            format!("{t} is not a target of {code}"),
                        ));
                    }
                }
                Predicate::Reference(p)
            }
            _ => {
                if let Some(m) = modifier {
                    if !modifier_allowed(def.param_type, m) {
                        return Err(unknown_modifier(m));
                    }
                }
                parse_simple(def, name, part, modifier)?
            }
        };
        values.push(predicate);
    }
    let filter = matching(ctx, code, name, def.param_type, values)?;
    Ok(if negate {
        Filter::Not(Box::new(filter))
    } else {
        filter
    })
}

/// How a derived parameter is answered from stored ones (see `derived`), on the type(s)
/// searched; `None` when `code` is stored itself. Across several `_type`s the parameter must
/// be derived the same way on all, or stored on all.
pub(crate) fn derivation(
    ctx: &Context<'_>,
    code: &str,
    name: &str,
) -> Result<Option<Derivation>, SearchError> {
    let types: Vec<&str> = match ctx.resource_type {
        Some(t) => vec![t],
        None => ctx.types.iter().map(String::as_str).collect(),
    };
    let mut found: Option<Option<&Derivation>> = None;
    for t in types {
        let here = ctx.registry.derivation(t, code);
        match found {
            None => found = Some(here),
            Some(prev) if prev == here => {}
            Some(_) => {
                return Err(SearchError::unsupported(
                    name,
                    format!("{code} is indexed differently on the types searched; search them one at a time"),
                ))
            }
        }
    }
    Ok(found.flatten().cloned())
}

/// "`code` has some value", on stored parameters: `Missing { missing: false }` for a stored
/// one; for a union, some part has a value; for a joined composite, every component has one
/// (its tuples are their combinations).
fn present(ctx: &Context<'_>, code: &str, name: &str) -> Result<Filter, SearchError> {
    let has = |param: &str| Filter::Missing {
        param: param.to_string(),
        missing: false,
    };
    Ok(match derivation(ctx, code, name)? {
        None => has(code),
        Some(Derivation::Union(parts)) => Filter::Any(
            parts
                .iter()
                .map(|p| present(ctx, p, name))
                .collect::<Result<_, _>>()?,
        ),
        Some(Derivation::Joined(parts)) => Filter::All(parts.iter().map(|(p, _)| has(p)).collect()),
    })
}

/// "Some value of `code` matches one of `values`", on stored parameters: for a union, some
/// part's value does; for a joined composite, for one value, each component's parameter has a
/// value matching that component.
fn matching(
    ctx: &Context<'_>,
    code: &str,
    name: &str,
    param_type: SearchParamType,
    values: Vec<Predicate>,
) -> Result<Filter, SearchError> {
    Ok(match derivation(ctx, code, name)? {
        None => Filter::Param(ParamFilter {
            param: code.to_string(),
            param_type,
            values,
        }),
        Some(Derivation::Union(parts)) => Filter::Any(
            parts
                .iter()
                .map(|p| matching(ctx, p, name, param_type, values.clone()))
                .collect::<Result<_, _>>()?,
        ),
        Some(Derivation::Joined(parts)) => {
            let mut any = Vec::with_capacity(values.len());
            for v in values {
                let Predicate::Composite(CompositePredicate { components }) = v else {
                    return Err(SearchError::unsupported(name, "expected a composite value"));
                };
                if components.len() != parts.len() {
                    return Err(SearchError::unsupported(name, "component count differs"));
                }
                let all = parts
                    .iter()
                    .zip(components)
                    .map(|((param, param_type), c)| {
                        Filter::Param(ParamFilter {
                            param: param.clone(),
                            param_type: *param_type,
                            values: vec![c],
                        })
                    })
                    .collect();
                any.push(Filter::All(all));
            }
            match any.len() {
                1 => any.swap_remove(0),
                _ => Filter::Any(any),
            }
        }
    })
}

/// True when every branch of the parameter's expression is a plain path to a `boolean`
/// element (`Patient.active`), so that a value other than `true`/`false` is an error.
fn is_boolean_param(def: &SearchParamDef, resource_type: Option<&str>) -> bool {
    let Some(expression) = def.expression.as_deref() else {
        return false;
    };
    let spec = Spec::r4();
    let expression = match resource_type {
        Some(rt) => crate::extract::branches_for_type(expression, rt),
        None => expression.to_string(),
    };
    let mut any = false;
    for branch in crate::extract::union_branches(&expression) {
        if !branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            return false;
        }
        let mut segments = branch.split('.');
        let Some(mut parent) = segments.next().map(str::to_string) else {
            return false;
        };
        let mut type_code = String::new();
        for seg in segments {
            let Some(child) = spec.child(&parent, seg) else {
                return false;
            };
            type_code = child.type_code.to_string();
            parent = child.children_path.to_string();
        }
        if type_code != "boolean" {
            return false;
        }
        any = true;
    }
    any
}

fn modifier_allowed(t: SearchParamType, m: &str) -> bool {
    match t {
        SearchParamType::String => matches!(m, "exact" | "contains"),
        SearchParamType::Uri => matches!(m, "below" | "above"),
        _ => false,
    }
}

fn is_target(def: &SearchParamDef, t: &str) -> bool {
    if def.target.is_empty() {
        Spec::r4().is_resource_type(t)
    } else {
        def.target.iter().any(|x| x == t)
    }
}

/// A token value under a modifier; the flag says the filter is negated (`:not`, `:not-in`).
fn parse_token(
    name: &str,
    part: &str,
    modifier: Option<&str>,
    unknown_modifier: &dyn Fn(&str) -> SearchError,
) -> Result<(Predicate, bool), SearchError> {
    let bad = |e: crate::param::token::TokenError| SearchError::invalid(name, part, e.0);
    let (p, neg) = match modifier {
        None => (TokenPredicate::parse(part).map_err(bad)?, false),
        Some("not") => (TokenPredicate::parse(part).map_err(bad)?, true),
        Some("text") => (TokenPredicate::text(&unescape(part)), false),
        Some("of-type") => (TokenPredicate::parse_of_type(part).map_err(bad)?, false),
        Some(m @ ("in" | "not-in")) => {
            let url = unescape(part);
            let vs = Spec::r4()
                .value_set(&url)
                .filter(|vs| vs.complete)
                .ok_or_else(|| {
                    SearchError::unsupported(
                        name,
                        format!("value set {url} cannot be expanded here"),
                    )
                })?;
            let codes = vs
                .codes
                .iter()
                .map(|c| (c.system.clone(), c.code.clone()))
                .collect();
            (
                TokenPredicate {
                    matcher: TokenMatch::AnyOf {
                        value_set: url,
                        codes,
                    },
                },
                m == "not-in",
            )
        }
        Some(m @ ("above" | "below")) => {
            return Err(SearchError::unsupported(
                name,
                format!(":{m} on tokens needs code system hierarchies"),
            ))
        }
        Some(m) => return Err(unknown_modifier(m)),
    };
    Ok((Predicate::Token(p), neg))
}

/// Values of string, date, number, quantity, uri and composite parameters.
pub(crate) fn parse_simple(
    def: &SearchParamDef,
    name: &str,
    part: &str,
    modifier: Option<&str>,
) -> Result<Predicate, SearchError> {
    let raw = unescape(part);
    Ok(match def.param_type {
        SearchParamType::String => {
            let mode = match modifier {
                Some("exact") => StringMode::Exact,
                Some("contains") => StringMode::Contains,
                _ => StringMode::Prefix,
            };
            Predicate::String(StringPredicate::new(mode, &raw))
        }
        SearchParamType::Date => Predicate::Date(
            DatePredicate::parse(&raw)
                .map_err(|e| SearchError::invalid(name, part, e.to_string()))?,
        ),
        SearchParamType::Number => Predicate::Number(
            NumberPredicate::parse(&raw)
                .map_err(|e| SearchError::invalid(name, part, e.to_string()))?,
        ),
        SearchParamType::Quantity => Predicate::Quantity(
            QuantityPredicate::parse(part)
                .map_err(|e| SearchError::invalid(name, part, e.to_string()))?,
        ),
        SearchParamType::Uri => {
            let mode = match modifier {
                Some("below") => UriMode::Below,
                Some("above") => UriMode::Above,
                _ => UriMode::Exact,
            };
            Predicate::Uri(UriPredicate { mode, value: raw })
        }
        SearchParamType::Composite => parse_composite(def, name, part)?,
        SearchParamType::Token | SearchParamType::Reference => {
            // Composite components of these types come through here without modifiers.
            match def.param_type {
                SearchParamType::Token => Predicate::Token(
                    TokenPredicate::parse(part)
                        .map_err(|e| SearchError::invalid(name, part, e.0))?,
                ),
                _ => Predicate::Reference(
                    ReferencePredicate::parse(&raw, None)
                        .map_err(|e| SearchError::invalid(name, part, e))?,
                ),
            }
        }
        SearchParamType::Special => {
            return Err(SearchError::unsupported(
                name,
                "special parameters are not implemented",
            ))
        }
    })
}

fn parse_composite(def: &SearchParamDef, name: &str, part: &str) -> Result<Predicate, SearchError> {
    let pieces = split_keep_escapes(part, '$');
    if pieces.len() != def.component.len() {
        return Err(SearchError::invalid(
            name,
            part,
            format!("expected {} components separated by $", def.component.len()),
        ));
    }
    let mut components = Vec::with_capacity(pieces.len());
    for (piece, comp) in pieces.iter().zip(&def.component) {
        let comp_def = Spec::r4()
            .search_param_by_url(&comp.definition)
            .ok_or_else(|| {
                SearchError::unsupported(name, format!("unknown component {}", comp.definition))
            })?;
        components.push(parse_simple(comp_def, name, piece, None)?);
    }
    Ok(Predicate::Composite(CompositePredicate { components }))
}

/// Splits on an unescaped separator and keeps escapes in the parts (a later stage unescapes).
pub(crate) fn split_keep_escapes(value: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in value.chars() {
        let Some(last) = out.last_mut() else { break };
        if escaped {
            last.push(c);
            escaped = false;
        } else if c == '\\' {
            last.push(c);
            escaped = true;
        } else if c == sep {
            out.push(String::new());
        } else {
            last.push(c);
        }
    }
    out
}

/// Removes search-value escapes (`\,` `\|` `\$` `\\`).
pub(crate) fn unescape(part: &str) -> String {
    split_unescaped(part, '\u{0}').join("\u{0}")
}
