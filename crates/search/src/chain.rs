//! Chained (`subject:Patient.organization.name=x`) and reverse-chained
//! (`_has:Observation:subject:code=x`) parameters, resolved against the `target` lists of the
//! reference parameters.

use crate::error::SearchError;
use crate::query::{parse_filter, Context, Filter};
use crosscare_spec::model::{SearchParamDef, SearchParamType};

/// `param[:Type].rest=value` where `def` is `param`: resolves the target type and parses `rest`
/// against it.
pub(crate) fn parse_chain(
    ctx: &Context<'_>,
    def: &SearchParamDef,
    modifier: Option<&str>,
    rest: &str,
    value: &str,
) -> Result<Filter, SearchError> {
    let name = match modifier {
        Some(m) => format!("{}:{m}.{rest}", def.code),
        None => format!("{}.{rest}", def.code),
    };
    if def.param_type != SearchParamType::Reference {
        return Err(SearchError::invalid(
            &name,
            value,
            format!(
                "{} is not a reference parameter and cannot be chained",
                def.code
            ),
        ));
    }
    let next_code = rest.split(['.', ':']).next().unwrap_or_default();
    let targets: Vec<&str> = if def.target.is_empty() {
        ctx.registry.resource_types()
    } else {
        def.target.iter().map(String::as_str).collect()
    };
    let target_type = match modifier {
        Some(m) => {
            if !targets.contains(&m) {
                return Err(SearchError::UnknownModifier {
                    param: def.code.clone(),
                    modifier: m.to_string(),
                });
            }
            m.to_string()
        }
        None => {
            let candidates: Vec<&str> = targets
                .iter()
                .copied()
                .filter(|t| next_code == "_has" || ctx.registry.param(t, next_code).is_some())
                .collect();
            match candidates.as_slice() {
                [one] => one.to_string(),
                [] => {
                    return Err(SearchError::UnknownParameter {
                        resource_type: targets.join("|"),
                        param: next_code.to_string(),
                    })
                }
                many => {
                    return Err(SearchError::AmbiguousChain {
                        param: def.code.clone(),
                        candidates: many.join(", "),
                        example: many.first().copied().unwrap_or_default().to_string(),
                    })
                }
            }
        }
    };
    let inner_ctx = Context {
        registry: ctx.registry,
        resource_type: Some(&target_type),
        types: &[],
    };
    let inner = parse_filter(&inner_ctx, rest, value)?;
    Ok(Filter::Chain {
        param: def.code.clone(),
        target_type,
        filter: Box::new(inner),
    })
}

/// `_has:Type:param:rest=value` (`rest` may itself be `_has:…` or a chain); `after` is the
/// name without the leading `_has:`.
pub(crate) fn parse_has(
    ctx: &Context<'_>,
    name: &str,
    after: &str,
    value: &str,
) -> Result<Filter, SearchError> {
    let mut it = after.splitn(3, ':');
    let (Some(source_type), Some(ref_param), Some(rest)) = (it.next(), it.next(), it.next()) else {
        return Err(SearchError::invalid(
            name,
            value,
            "expected _has:Type:reference-param:param",
        ));
    };
    if !ctx.registry.is_resource_type(source_type) {
        return Err(SearchError::UnknownResourceType(source_type.to_string()));
    }
    let def = ctx
        .registry
        .param(source_type, ref_param)
        .ok_or_else(|| ctx.registry.unknown(source_type, ref_param))?;
    if def.param_type != SearchParamType::Reference {
        return Err(SearchError::invalid(
            name,
            value,
            format!("{source_type}.{ref_param} is not a reference parameter"),
        ));
    }
    if let Some(here) = ctx.single_type() {
        if !def.target.is_empty() && !def.target.iter().any(|t| t == here) {
            return Err(SearchError::invalid(
                name,
                value,
                format!("{source_type}.{ref_param} cannot refer to {here}"),
            ));
        }
    }
    let inner_ctx = Context {
        registry: ctx.registry,
        resource_type: Some(source_type),
        types: &[],
    };
    let inner = parse_filter(&inner_ctx, rest, value)?;
    Ok(Filter::Has {
        resource_type: source_type.to_string(),
        param: ref_param.to_string(),
        filter: Box::new(inner),
    })
}
