//! The serialised form of the R4 definitions: what `crosscare-spec-gen` writes and `Spec` loads.
//!
//! Everything here is plain data with no behaviour, so the generator and the runtime agree on
//! one format. Paths are the spec's element paths (`Observation.value[x]`).

use serde::{Deserialize, Serialize};

/// The whole compiled definition set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpecData {
    /// The FHIR version the tables were compiled from (`4.0.1`).
    pub fhir_version: String,
    pub types: Vec<TypeDef>,
    pub search_params: Vec<SearchParamDef>,
    pub value_sets: Vec<ValueSetDef>,
    pub compartments: Vec<CompartmentDef>,
    pub operations: Vec<OperationDef>,
}

/// What kind of definition a `StructureDefinition` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TypeKind {
    PrimitiveType,
    ComplexType,
    Resource,
    Logical,
}

/// One base type (resource, complex or primitive data type) with its snapshot elements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeDef {
    pub name: String,
    pub url: String,
    pub kind: TypeKind,
    #[serde(rename = "abstract")]
    pub is_abstract: bool,
    /// The name of the type this one specialises (`DomainResource` for `Patient`).
    pub base: Option<String>,
    /// Snapshot elements in definition order; the first is the root (`Patient`).
    pub elements: Vec<ElementDef>,
}

/// One element of a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElementDef {
    /// Full path, such as `Patient.contact.name` or `Observation.value[x]`.
    pub path: String,
    pub min: u32,
    /// `None` means unbounded (`*`).
    pub max: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<ElementType>,
    /// For elements defined by reference to another element (`Questionnaire.item.item`),
    /// the path of that element (`Questionnaire.item`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_modifier: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_summary: bool,
}

/// One allowed type of an element.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElementType {
    /// A type name (`string`, `CodeableConcept`, `Reference`), or for the value of a primitive
    /// the FHIRPath system type URL (`http://hl7.org/fhirpath/System.String`).
    pub code: String,
    /// For `Reference` and `canonical`: the names of the allowed target types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_types: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingStrength {
    Required,
    Extensible,
    Preferred,
    Example,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Binding {
    pub strength: BindingStrength,
    /// Canonical URL of the value set, without a version suffix.
    pub value_set: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConstraintSeverity {
    Error,
    Warning,
}

/// An invariant written in FHIRPath (`ele-1`, `obs-6`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Constraint {
    pub key: String,
    pub severity: ConstraintSeverity,
    pub human: String,
    pub expression: String,
}

/// The type of a search parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

/// One `SearchParameter` definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchParamDef {
    pub id: String,
    pub url: String,
    pub code: String,
    pub base: Vec<String>,
    #[serde(rename = "type")]
    pub param_type: SearchParamType,
    /// FHIRPath expression; absent for a few special parameters.
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub component: Vec<SearchParamComponent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifier: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparator: Vec<String>,
    pub description: String,
}

/// One component of a composite search parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchParamComponent {
    /// Canonical URL of the component's search parameter.
    pub definition: String,
    /// FHIRPath expression, relative to the composite's expression result.
    pub expression: String,
}

/// A value set as far as the generator could expand it from the core CodeSystems.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueSetDef {
    pub url: String,
    pub name: String,
    /// True when `codes` is the full expansion; false when part of the composition could not be
    /// expanded offline (an external code system, a filter we do not evaluate).
    pub complete: bool,
    pub codes: Vec<ValueSetCode>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueSetCode {
    pub system: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A `CompartmentDefinition`: which parameters of which resource type link it to the compartment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompartmentDef {
    /// `Patient`, `Encounter`, `RelatedPerson`, `Practitioner` or `Device`.
    pub code: String,
    pub resources: Vec<CompartmentResource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompartmentResource {
    pub code: String,
    /// Search parameter codes; `{def}` means the compartment resource itself.
    pub params: Vec<String>,
}

/// The parts of an `OperationDefinition` the server needs to advertise and route operations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationDef {
    pub url: String,
    pub code: String,
    pub resource: Vec<String>,
    pub system: bool,
    #[serde(rename = "type")]
    pub type_level: bool,
    pub instance: bool,
    pub affects_state: bool,
}
