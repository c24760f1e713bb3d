//! `capabilities`: `GET metadata`, a CapabilityStatement generated from what this server
//! really implements: every concrete resource type of the spec, its interactions, its search
//! parameters (type and documentation from the spec), and the operations routed in
//! [`crate::router`]: the spec's own (SQL-on-FHIR's `ViewDefinition/$run` among them, from the
//! spec's extra types) and the Bulk Data operations that are configured
//! ([`crate::BulkOperations`]).

use crate::outcome::instant;
use crate::RestConfig;
use crosscare_spec::model::SearchParamType;
use crosscare_spec::Spec;
use serde_json::{json, Value};

/// The interactions every resource type supports.
const TYPE_INTERACTIONS: &[&str] = &[
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
];

/// Operations implemented by [`crate::interaction`], by spec `OperationDefinition` code and the
/// types they are routed for (`None`: every type).
const OPERATIONS: &[(&str, Option<&str>)] = &[
    ("validate", None),
    ("everything", Some("Patient")),
    ("run", Some("ViewDefinition")),
];

/// Bulk Data IG (v2) operation definitions.
const BULK_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
const BULK_PATIENT_EXPORT: &str =
    "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";
const BULK_GROUP_EXPORT: &str = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export";
/// `$import` has no published OperationDefinition yet (it is a proposal of the Bulk Data IG);
/// this canonical names CrossCare's (`docs/api/import.md`).
pub const IMPORT_DEFINITION: &str = "https://crosscare.dev/fhir/OperationDefinition/import";
/// `$reindex` is not a core R4 operation; this canonical names CrossCare's (`docs/api/search.md`).
pub const REINDEX_DEFINITION: &str = "https://crosscare.dev/fhir/OperationDefinition/reindex";
fn param_type(t: SearchParamType) -> &'static str {
    match t {
        SearchParamType::Number => "number",
        SearchParamType::Date => "date",
        SearchParamType::String => "string",
        SearchParamType::Token => "token",
        SearchParamType::Reference => "reference",
        SearchParamType::Composite => "composite",
        SearchParamType::Quantity => "quantity",
        SearchParamType::Uri => "uri",
        SearchParamType::Special => "special",
    }
}

fn operations_for(spec: &Spec, resource_type: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for (code, only) in OPERATIONS {
        if only.is_some_and(|t| t != resource_type) {
            continue;
        }
        let def = spec.operations().iter().find(|o| {
            o.code == *code
                && o.resource
                    .iter()
                    .any(|r| r == resource_type || r == "Resource")
        });
        if let Some(def) = def {
            out.push(json!({ "name": code, "definition": def.url }));
        }
    }
    out
}

/// The Bulk Data operations on one resource type (`Patient/$export`, `Group/[id]/$export`).
fn bulk_operations_for(bulk: crate::BulkOperations, resource_type: &str) -> Vec<Value> {
    match resource_type {
        "Patient" if bulk.export => {
            vec![json!({ "name": "export", "definition": BULK_PATIENT_EXPORT })]
        }
        "Group" if bulk.export => {
            vec![json!({ "name": "export", "definition": BULK_GROUP_EXPORT })]
        }
        _ => Vec::new(),
    }
    .into_iter()
    .chain(
        bulk.reindex
            .then(|| json!({ "name": "reindex", "definition": REINDEX_DEFINITION })),
    )
    .collect()
}

/// The system-level operations (`[base]/$export`, `[base]/$import`).
fn system_operations(bulk: crate::BulkOperations) -> Vec<Value> {
    let mut out = Vec::new();
    if bulk.export {
        out.push(json!({ "name": "export", "definition": BULK_EXPORT }));
    }
    if bulk.import {
        out.push(json!({ "name": "import", "definition": IMPORT_DEFINITION }));
    }
    if bulk.reindex {
        out.push(json!({ "name": "reindex", "definition": REINDEX_DEFINITION }));
    }
    out
}

/// The CapabilityStatement of this server at `base_url`, with the search parameters of
/// `params` that searches may use (custom ones included once searchable).
pub fn capability_statement(
    config: &RestConfig,
    params: &crosscare_search::ParamRegistry,
    base_url: &str,
    now: &chrono::DateTime<chrono::Utc>,
) -> Value {
    let spec = Spec::r4();
    let mut resources = Vec::new();
    for t in spec.resource_types().filter(|t| !t.is_abstract) {
        let name = t.name.as_str();
        let mut search_params: Vec<Value> = params
            .searchable_params(name)
            .map(|p| {
                json!({
                    "name": p.code,
                    "definition": p.url,
                    "type": param_type(p.param_type),
                    "documentation": p.description,
                })
            })
            .collect();
        search_params.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let mut r = json!({
            "type": name,
            "profile": t.url,
            "interaction": TYPE_INTERACTIONS.iter().map(|c| json!({ "code": c })).collect::<Vec<_>>(),
            "versioning": "versioned-update",
            "readHistory": true,
            "updateCreate": true,
            "conditionalCreate": true,
            "conditionalRead": "not-supported",
            "conditionalUpdate": true,
            "conditionalDelete": "single",
            "searchParam": search_params,
        });
        let mut ops = operations_for(spec, name);
        ops.extend(bulk_operations_for(config.bulk, name));
        if !ops.is_empty() {
            r["operation"] = json!(ops);
        }
        resources.push(r);
    }
    let mut statement = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(now),
        "publisher": "CrossCare",
        "kind": "instance",
        "software": { "name": "CrossCare", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "CrossCare FHIR server", "url": base_url },
        "fhirVersion": spec.fhir_version(),
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": format!(
                "Transactions and batches take at most {} entries; pages hold {} entries by default and at most {}.",
                config.max_bundle_entries, config.default_page_size, config.max_page_size
            ),
            "resource": resources,
            "interaction": [
                { "code": "transaction" },
                { "code": "batch" },
                { "code": "search-system" },
                { "code": "history-system" },
            ],
        }],
    });
    let system = system_operations(config.bulk);
    if !system.is_empty() {
        statement["rest"][0]["operation"] = json!(system);
    }
    statement
}
