//! Resource types beyond R4 that this server stores, as data: the one registration point for
//! logical models of implementation guides that are handled like resources (stored, read,
//! searched, validated structurally), so that nothing downstream needs per-type code.
//!
//! Each entry is a fragment of [`SpecData`] (`types`, `search_params`, `operations`) in the
//! same form as the compiled R4 tables, under `data/extra/`. Today: SQL-on-FHIR v2's
//! `ViewDefinition`, with `name`, `url`, `status` and `resource` search parameters and `$run`.
//!
//! **Invariant**: an extra never replaces an R4 definition; a name or URL already in the R4
//! tables is a build defect caught by this module's test.

use crate::model::{OperationDef, SearchParamDef, SpecData, TypeDef};
use crate::SpecError;
use serde::Deserialize;

/// The extras, by what they come from.
const EXTRAS: &[(&str, &str)] = &[(
    "SQL-on-FHIR v2 ViewDefinition",
    include_str!("../data/extra/view-definition.json"),
)];

#[derive(Deserialize)]
struct Extra {
    #[serde(default)]
    types: Vec<TypeDef>,
    #[serde(default)]
    search_params: Vec<SearchParamDef>,
    #[serde(default)]
    operations: Vec<OperationDef>,
}

/// The names of the extra resource types.
pub fn extra_type_names() -> Vec<String> {
    EXTRAS
        .iter()
        .filter_map(|(_, json)| serde_json::from_str::<Extra>(json).ok())
        .flat_map(|e| e.types.into_iter().map(|t| t.name))
        .collect()
}

/// Adds every extra to `data`.
pub(crate) fn register(data: &mut SpecData) -> Result<(), SpecError> {
    for (_, json) in EXTRAS {
        let extra: Extra = serde_json::from_str(json)?;
        data.types.extend(extra.types);
        data.search_params.extend(extra.search_params);
        data.operations.extend(extra.operations);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Spec;

    #[test]
    fn extras_add_and_never_replace() {
        let plain = Spec::decode(crate::R4_DATA).unwrap();
        for (what, json) in EXTRAS {
            let extra: Extra = serde_json::from_str(json).unwrap();
            for t in &extra.types {
                assert!(plain.type_def(&t.name).is_none(), "{what}: {}", t.name);
            }
            for p in &extra.search_params {
                assert!(
                    plain.search_param_by_url(&p.url).is_none(),
                    "{what}: {}",
                    p.url
                );
            }
        }
        let spec = Spec::r4();
        assert!(spec.is_resource_type("ViewDefinition"));
        assert_eq!(
            spec.search_param("ViewDefinition", "resource")
                .map(|p| p.expression.clone()),
            Some(Some("ViewDefinition.resource".to_string()))
        );
        assert!(spec.element("ViewDefinition.select.column.path").is_some());
        assert!(spec.child("ViewDefinition.select", "unionAll").is_some());
        assert_eq!(extra_type_names(), ["ViewDefinition"]);
    }
}
