//! Generator for `crates/spec/data/r4-core.json.gz`.
//!
//! Run it when the vendored definitions change:
//! `cargo run -p crosscare-spec-gen -- ../shared/fhir-r4/core crates/spec/data/r4-core.json.gz`.
//! It reads the official package (one resource per file), keeps what the server needs, expands
//! the value sets it can expand offline, and writes one gzip-compressed JSON document whose
//! format is `crosscare_spec::model::SpecData`. The output is deterministic: sorted by name.

mod valueset;

use anyhow::{bail, Context, Result};
use crosscare_spec::model::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        bail!("usage: crosscare-spec-gen <fhir-r4-core-dir> <output.json.gz>");
    };
    let resources = load_dir(Path::new(&input))?;
    let data = compile(&resources)?;
    let json = serde_json::to_vec(&data)?;
    let file = std::fs::File::create(&output).with_context(|| format!("creating {output}"))?;
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    gz.write_all(&json)?;
    gz.finish()?;
    eprintln!(
        "wrote {output}: {} types, {} search parameters, {} value sets, {} compartments, {} operations ({} bytes of JSON)",
        data.types.len(),
        data.search_params.len(),
        data.value_sets.len(),
        data.compartments.len(),
        data.operations.len(),
        json.len()
    );
    Ok(())
}

/// All JSON resources of the package, by resource type, sorted by file name.
struct Package {
    by_type: BTreeMap<String, Vec<Value>>,
}

impl Package {
    fn of(&self, resource_type: &str) -> &[Value] {
        self.by_type
            .get(resource_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

fn load_dir(dir: &Path) -> Result<Package> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(rt) = value.get("resourceType").and_then(Value::as_str) {
            by_type.entry(rt.to_string()).or_default().push(value);
        }
    }
    Ok(Package { by_type })
}

fn compile(pkg: &Package) -> Result<SpecData> {
    let mut types = Vec::new();
    for sd in pkg.of("StructureDefinition") {
        // Base definitions only: specialisations plus the roots that have no derivation.
        // Profiles (derivation = constraint) and logical models are not base types.
        let derivation = str_of(sd, "derivation");
        let kind = str_of(sd, "kind").unwrap_or_default();
        if derivation == Some("constraint") || kind == "logical" {
            continue;
        }
        types.push(type_def(sd)?);
    }
    types.sort_by(|a, b| a.name.cmp(&b.name));

    let mut search_params: Vec<SearchParamDef> = pkg
        .of("SearchParameter")
        .iter()
        .map(search_param)
        .collect::<Result<_>>()?;
    search_params.sort_by(|a, b| a.id.cmp(&b.id));

    let value_sets = valueset::expand_all(pkg.of("ValueSet"), pkg.of("CodeSystem"));

    let mut compartments: Vec<CompartmentDef> = pkg
        .of("CompartmentDefinition")
        .iter()
        .filter(|c| str_of(c, "id") != Some("example"))
        .map(|c| CompartmentDef {
            code: str_of(c, "code").unwrap_or_default().to_string(),
            resources: arr(c, "resource")
                .iter()
                .map(|r| CompartmentResource {
                    code: str_of(r, "code").unwrap_or_default().to_string(),
                    params: strings(r, "param"),
                })
                .collect(),
        })
        .collect();
    compartments.sort_by(|a, b| a.code.cmp(&b.code));

    let mut operations: Vec<OperationDef> = pkg
        .of("OperationDefinition")
        .iter()
        .map(|o| OperationDef {
            url: str_of(o, "url").unwrap_or_default().to_string(),
            code: str_of(o, "code").unwrap_or_default().to_string(),
            resource: strings(o, "resource"),
            system: bool_of(o, "system"),
            type_level: bool_of(o, "type"),
            instance: bool_of(o, "instance"),
            affects_state: bool_of(o, "affectsState"),
        })
        .collect();
    operations.sort_by(|a, b| a.url.cmp(&b.url));

    Ok(SpecData {
        fhir_version: "4.0.1".to_string(),
        types,
        search_params,
        value_sets,
        compartments,
        operations,
    })
}

fn type_def(sd: &Value) -> Result<TypeDef> {
    let name = str_of(sd, "type").context("StructureDefinition without type")?;
    let kind = match str_of(sd, "kind") {
        Some("primitive-type") => TypeKind::PrimitiveType,
        Some("complex-type") => TypeKind::ComplexType,
        Some("resource") => TypeKind::Resource,
        other => bail!("unexpected kind {other:?} for {name}"),
    };
    let base = str_of(sd, "baseDefinition")
        .and_then(|u| u.rsplit('/').next())
        .map(str::to_string);
    let elements = sd
        .get("snapshot")
        .map(|s| arr(s, "element"))
        .unwrap_or(&[])
        .iter()
        .map(element_def)
        .collect();
    Ok(TypeDef {
        name: name.to_string(),
        url: str_of(sd, "url").unwrap_or_default().to_string(),
        kind,
        is_abstract: bool_of(sd, "abstract"),
        base,
        elements,
    })
}

fn element_def(e: &Value) -> ElementDef {
    let max = match str_of(e, "max") {
        Some("*") | None => None,
        Some(n) => n.parse().ok(),
    };
    let types = arr(e, "type")
        .iter()
        .map(|t| {
            let fhir_type = arr(t, "extension").iter().find_map(|x| {
                (str_of(x, "url")
                    == Some(
                        "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type",
                    ))
                .then(|| str_of(x, "valueUrl"))
                .flatten()
            });
            let code = fhir_type
                .or(str_of(t, "code"))
                .unwrap_or_default()
                .to_string();
            let target_types = strings(t, "targetProfile")
                .iter()
                .filter_map(|p| p.rsplit('/').next().map(str::to_string))
                .collect();
            ElementType { code, target_types }
        })
        .collect();
    let binding = e.get("binding").map(|b| Binding {
        strength: match str_of(b, "strength") {
            Some("required") => BindingStrength::Required,
            Some("extensible") => BindingStrength::Extensible,
            Some("preferred") => BindingStrength::Preferred,
            _ => BindingStrength::Example,
        },
        value_set: str_of(b, "valueSet").map(|u| u.split('|').next().unwrap_or(u).to_string()),
    });
    let constraints = arr(e, "constraint")
        .iter()
        .filter_map(|c| {
            Some(Constraint {
                key: str_of(c, "key")?.to_string(),
                severity: if str_of(c, "severity") == Some("error") {
                    ConstraintSeverity::Error
                } else {
                    ConstraintSeverity::Warning
                },
                human: str_of(c, "human").unwrap_or_default().to_string(),
                expression: str_of(c, "expression")?.to_string(),
            })
        })
        .collect();
    ElementDef {
        path: str_of(e, "path").unwrap_or_default().to_string(),
        min: e.get("min").and_then(Value::as_u64).unwrap_or(0) as u32,
        max,
        types,
        content_reference: str_of(e, "contentReference")
            .map(|r| r.trim_start_matches('#').to_string()),
        binding,
        constraints,
        is_modifier: bool_of(e, "isModifier"),
        is_summary: bool_of(e, "isSummary"),
    }
}

fn search_param(sp: &Value) -> Result<SearchParamDef> {
    let type_name = str_of(sp, "type").context("SearchParameter without type")?;
    let param_type = serde_json::from_value(Value::String(type_name.to_string()))
        .with_context(|| format!("search parameter type {type_name}"))?;
    Ok(SearchParamDef {
        id: str_of(sp, "id").unwrap_or_default().to_string(),
        url: str_of(sp, "url").unwrap_or_default().to_string(),
        code: str_of(sp, "code").unwrap_or_default().to_string(),
        base: strings(sp, "base"),
        param_type,
        expression: str_of(sp, "expression").map(str::to_string),
        target: strings(sp, "target"),
        component: arr(sp, "component")
            .iter()
            .map(|c| SearchParamComponent {
                definition: str_of(c, "definition").unwrap_or_default().to_string(),
                expression: str_of(c, "expression").unwrap_or_default().to_string(),
            })
            .collect(),
        modifier: strings(sp, "modifier"),
        comparator: strings(sp, "comparator"),
        description: str_of(sp, "description").unwrap_or_default().to_string(),
    })
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn bool_of(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    arr(v, key)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}
