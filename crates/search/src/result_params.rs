//! Result parameters: what to return rather than what to match (`_sort`, `_count`, `_offset`,
//! `_total`, `_summary`, `_elements`, `_include`, `_revinclude`, `_contained`,
//! `_containedType`; `_format` and `_pretty` are accepted and left to the REST layer).

use crate::error::SearchError;
use crate::query::Context;
use crosscare_spec::model::SearchParamType;
use crosscare_spec::Spec;

/// Everything about the shape of the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultParams {
    /// `_sort`, first key first.
    pub sort: Vec<SortKey>,
    /// `_count` (page size); the REST layer applies its default and maximum.
    pub count: Option<usize>,
    /// `_offset`: matches to skip.
    pub offset: usize,
    /// `_cursor`: an opaque paging token issued by the server in a `next` link.
    pub cursor: Option<String>,
    pub total: Option<TotalMode>,
    pub summary: Option<SummaryMode>,
    /// `_elements`: top-level element names to keep (plus the mandatory ones).
    pub elements: Vec<String>,
    pub include: Vec<Include>,
    pub revinclude: Vec<Include>,
    pub contained: ContainedMode,
    pub contained_type: ContainedType,
}

/// One `_sort` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub param: String,
    pub param_type: SearchParamType,
    /// The stored parameters whose rows give the key: `param` itself, or the parts of a
    /// derived parameter (`code` and `component-code` for `combo-code`).
    pub stored: Vec<String>,
    /// `-param`.
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalMode {
    None,
    Estimate,
    Accurate,
    /// Not from a query string: the server's default when the client gives no `_total`. The
    /// total is exact when it costs at most this many matches to count, and absent otherwise
    /// (counting every match of a broad search costs more than its first page).
    UpTo(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryMode {
    True,
    Text,
    Data,
    Count,
    False,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainedMode {
    /// Only container resources match (the default).
    #[default]
    False,
    /// Only contained resources match.
    True,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainedType {
    #[default]
    Container,
    Contained,
}

/// One `_include` or `_revinclude`: `source_type:param[:target_type]`, `*` for all reference
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub source_type: String,
    /// `None` for `*`.
    pub param: Option<String>,
    pub target_type: Option<String>,
    /// `:iterate` (or the R3 `:recurse`).
    pub iterate: bool,
}

fn parse_enum<T: Copy>(name: &str, value: &str, table: &[(&str, T)]) -> Result<T, SearchError> {
    table
        .iter()
        .find(|(k, _)| *k == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let allowed: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
            SearchError::invalid(
                name,
                value,
                format!("expected one of {}", allowed.join(", ")),
            )
        })
}

fn parse_usize(name: &str, value: &str) -> Result<usize, SearchError> {
    value
        .parse::<usize>()
        .map_err(|_| SearchError::invalid(name, value, "expected a non-negative integer"))
}

/// Applies one result parameter to `r`.
pub(crate) fn apply(
    r: &mut ResultParams,
    ctx: &Context<'_>,
    name: &str,
    value: &str,
) -> Result<(), SearchError> {
    let (base, modifier) = match name.split_once(':') {
        Some((b, m)) => (b, Some(m)),
        None => (name, None),
    };
    let no_modifier = || match modifier {
        Some(m) => Err(SearchError::UnknownModifier {
            param: base.to_string(),
            modifier: m.to_string(),
        }),
        None => Ok(()),
    };
    match base {
        "_count" => {
            no_modifier()?;
            r.count = Some(parse_usize(name, value)?);
        }
        "_offset" => {
            no_modifier()?;
            r.offset = parse_usize(name, value)?;
        }
        "_cursor" => {
            no_modifier()?;
            r.cursor = Some(value.to_string());
        }
        "_total" => {
            no_modifier()?;
            r.total = Some(parse_enum(
                name,
                value,
                &[
                    ("none", TotalMode::None),
                    ("estimate", TotalMode::Estimate),
                    ("accurate", TotalMode::Accurate),
                ],
            )?);
        }
        "_summary" => {
            no_modifier()?;
            r.summary = Some(parse_enum(
                name,
                value,
                &[
                    ("true", SummaryMode::True),
                    ("text", SummaryMode::Text),
                    ("data", SummaryMode::Data),
                    ("count", SummaryMode::Count),
                    ("false", SummaryMode::False),
                ],
            )?);
        }
        "_contained" => {
            no_modifier()?;
            r.contained = parse_enum(
                name,
                value,
                &[
                    ("false", ContainedMode::False),
                    ("true", ContainedMode::True),
                    ("both", ContainedMode::Both),
                ],
            )?;
        }
        "_containedType" => {
            no_modifier()?;
            r.contained_type = parse_enum(
                name,
                value,
                &[
                    ("container", ContainedType::Container),
                    ("contained", ContainedType::Contained),
                ],
            )?;
        }
        "_format" | "_pretty" => {}
        "_elements" => {
            no_modifier()?;
            for e in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                if let Some(t) = ctx.single_type() {
                    if Spec::r4().child(t, e).is_none() {
                        return Err(SearchError::invalid(
                            name,
                            e,
                            format!("{t} has no element '{e}'"),
                        ));
                    }
                }
                if !r.elements.iter().any(|x| x == e) {
                    r.elements.push(e.to_string());
                }
            }
        }
        "_sort" => {
            no_modifier()?;
            for key in value.split(',').filter(|k| !k.is_empty()) {
                let (descending, code) = match key.strip_prefix('-') {
                    Some(c) => (true, c),
                    None => (false, key),
                };
                let def = ctx.lookup(code).map_err(|_| {
                    SearchError::invalid(
                        name,
                        key,
                        format!("'{code}' is not a search parameter of this type"),
                    )
                })?;
                if matches!(
                    def.param_type,
                    SearchParamType::Composite | SearchParamType::Special
                ) {
                    return Err(SearchError::invalid(
                        name,
                        key,
                        "composite and special parameters cannot be sorted on",
                    ));
                }
                // Composites are refused above, so a derived parameter here is a union.
                let stored = match crate::query::derivation(ctx, code, name)? {
                    Some(crate::Derivation::Union(parts)) => parts,
                    _ => vec![code.to_string()],
                };
                r.sort.push(SortKey {
                    param: code.to_string(),
                    param_type: def.param_type,
                    stored,
                    descending,
                });
            }
        }
        "_include" | "_revinclude" => {
            let iterate = match modifier {
                None => false,
                Some("iterate" | "recurse") => true,
                Some(m) => {
                    return Err(SearchError::UnknownModifier {
                        param: base.to_string(),
                        modifier: m.to_string(),
                    })
                }
            };
            let inc = parse_include(ctx, name, value, iterate)?;
            if base == "_include" {
                r.include.push(inc);
            } else {
                r.revinclude.push(inc);
            }
        }
        _ => {
            return Err(SearchError::UnknownParameter {
                resource_type: ctx.single_type().unwrap_or("Resource").to_string(),
                param: name.to_string(),
            })
        }
    }
    Ok(())
}

fn parse_include(
    ctx: &Context<'_>,
    name: &str,
    value: &str,
    iterate: bool,
) -> Result<Include, SearchError> {
    if value == "*" {
        return Ok(Include {
            source_type: ctx.single_type().unwrap_or("*").to_string(),
            param: None,
            target_type: None,
            iterate,
        });
    }
    let mut parts = value.split(':');
    let source_type = parts.next().unwrap_or_default();
    let param = parts.next();
    let target_type = parts.next();
    if parts.next().is_some() || param.is_none() {
        return Err(SearchError::invalid(
            name,
            value,
            "expected Type:param[:targetType] or *",
        ));
    }
    if !ctx.registry.is_resource_type(source_type) {
        return Err(SearchError::invalid(
            name,
            value,
            format!("unknown resource type '{source_type}'"),
        ));
    }
    let param = match param {
        Some("*") | None => None,
        Some(code) => {
            let def = ctx.registry.param(source_type, code).ok_or_else(|| {
                SearchError::invalid(
                    name,
                    value,
                    format!("{source_type} has no search parameter '{code}'"),
                )
            })?;
            if def.param_type != SearchParamType::Reference {
                return Err(SearchError::invalid(
                    name,
                    value,
                    format!("{source_type}.{code} is not a reference parameter"),
                ));
            }
            if let Some(t) = target_type {
                if !def.target.is_empty() && !def.target.iter().any(|x| x == t) {
                    return Err(SearchError::invalid(
                        name,
                        value,
                        format!("{t} is not a target of {source_type}.{code}"),
                    ));
                }
            }
            Some(code.to_string())
        }
    };
    if let Some(t) = target_type {
        if !ctx.registry.is_resource_type(t) {
            return Err(SearchError::invalid(
                name,
                value,
                format!("unknown resource type '{t}'"),
            ));
        }
    }
    Ok(Include {
        source_type: source_type.to_string(),
        param,
        target_type: target_type.map(str::to_string),
        iterate,
    })
}
