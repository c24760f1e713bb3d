//! FHIR R4 (4.0.1) definitions as typed, indexed tables.
//!
//! The tables are compiled from the official package by `crosscare-spec-gen` into
//! `data/r4-core.json.gz`, embedded in the binary and decoded once on first use. Nothing here
//! does I/O at run time, and nothing knows about HTTP or storage.
//!
//! Entry point: [`Spec::r4`]. Element navigation: [`Spec::child`], which resolves a JSON
//! property name (including choice types such as `valueQuantity`) under an element path.

pub mod extra;
pub mod model;

use model::*;
use std::collections::HashMap;
use std::io::Read;
use std::sync::LazyLock;

static R4_DATA: &[u8] = include_bytes!("../data/r4-core.json.gz");

static R4: LazyLock<Spec> = LazyLock::new(|| match Spec::decode_with_extras(R4_DATA) {
    Ok(spec) => spec,
    // The table is produced by our own generator and checked by this crate's tests, so a
    // failure here is a build defect, never a consequence of user input.
    Err(e) => panic!("embedded FHIR R4 tables are corrupt: {e}"),
});

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot decompress spec tables: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot decode spec tables: {0}")]
    Json(#[from] serde_json::Error),
}

/// Location of one element: index of its type in `types` and of the element in that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ElementLoc {
    type_idx: u32,
    elem_idx: u32,
}

/// The result of resolving a JSON property name under an element.
#[derive(Debug, Clone, Copy)]
pub struct Child<'a> {
    /// The element definition (for a choice, the `value[x]` element).
    pub element: &'a ElementDef,
    /// The concrete type code of the value: for `valueQuantity`, `Quantity`; for a single-typed
    /// element, its only type; `BackboneElement`/`Element` for inline structures.
    pub type_code: &'a str,
    /// The path under which this value's own children are defined: the element's path for
    /// inline structures (`Patient.contact`), the type's name for data types (`HumanName`), or
    /// the target of a `contentReference` (`Questionnaire.item`).
    pub children_path: &'a str,
    /// True when the element was reached through a choice (`value[x]`).
    pub is_choice: bool,
}

/// The loaded definitions with lookup indexes.
#[derive(Debug)]
pub struct Spec {
    data: SpecData,
    type_by_name: HashMap<String, u32>,
    element_by_path: HashMap<String, ElementLoc>,
    /// `Observation.value` -> the `Observation.value[x]` element.
    choice_by_base: HashMap<String, ElementLoc>,
    children_by_path: HashMap<String, Vec<ElementLoc>>,
    search_by_base: HashMap<String, Vec<u32>>,
    search_by_url: HashMap<String, u32>,
    value_set_by_url: HashMap<String, u32>,
}

impl Spec {
    /// The official R4 4.0.1 definitions, plus the logical models this server stores like
    /// resources ([`extra`]: SQL-on-FHIR's `ViewDefinition`).
    pub fn r4() -> &'static Spec {
        &R4
    }

    /// Decodes a gzip-compressed `SpecData` document and builds the indexes.
    pub fn decode(gz: &[u8]) -> Result<Spec, SpecError> {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut json)?;
        let data: SpecData = serde_json::from_slice(&json)?;
        Ok(Spec::from_data(data))
    }

    /// Like [`Spec::decode`], with the [`extra`] types, search parameters and operations added.
    pub fn decode_with_extras(gz: &[u8]) -> Result<Spec, SpecError> {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut json)?;
        let mut data: SpecData = serde_json::from_slice(&json)?;
        extra::register(&mut data)?;
        Ok(Spec::from_data(data))
    }

    pub fn from_data(data: SpecData) -> Spec {
        let mut spec = Spec {
            type_by_name: HashMap::new(),
            element_by_path: HashMap::new(),
            choice_by_base: HashMap::new(),
            children_by_path: HashMap::new(),
            search_by_base: HashMap::new(),
            search_by_url: HashMap::new(),
            value_set_by_url: HashMap::new(),
            data,
        };
        for (ti, t) in spec.data.types.iter().enumerate() {
            spec.type_by_name.insert(t.name.clone(), ti as u32);
            for (ei, e) in t.elements.iter().enumerate() {
                let loc = ElementLoc {
                    type_idx: ti as u32,
                    elem_idx: ei as u32,
                };
                spec.element_by_path.insert(e.path.clone(), loc);
                if let Some(base) = e.path.strip_suffix("[x]") {
                    spec.choice_by_base.insert(base.to_string(), loc);
                }
                if let Some((parent, _)) = e.path.rsplit_once('.') {
                    spec.children_by_path
                        .entry(parent.to_string())
                        .or_default()
                        .push(loc);
                }
            }
        }
        for (i, sp) in spec.data.search_params.iter().enumerate() {
            spec.search_by_url.insert(sp.url.clone(), i as u32);
            for base in &sp.base {
                spec.search_by_base
                    .entry(base.clone())
                    .or_default()
                    .push(i as u32);
            }
        }
        for (i, vs) in spec.data.value_sets.iter().enumerate() {
            spec.value_set_by_url.insert(vs.url.clone(), i as u32);
        }
        spec
    }

    pub fn data(&self) -> &SpecData {
        &self.data
    }

    pub fn fhir_version(&self) -> &str {
        &self.data.fhir_version
    }

    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.type_by_name
            .get(name)
            .map(|&i| &self.data.types[i as usize])
    }

    pub fn types(&self) -> impl Iterator<Item = &TypeDef> {
        self.data.types.iter()
    }

    /// Concrete (non-abstract) resource types, sorted by name.
    pub fn resource_types(&self) -> impl Iterator<Item = &TypeDef> {
        self.data
            .types
            .iter()
            .filter(|t| t.kind == TypeKind::Resource && !t.is_abstract)
    }

    /// True for a concrete resource type name such as `Patient`.
    pub fn is_resource_type(&self, name: &str) -> bool {
        self.type_def(name)
            .is_some_and(|t| t.kind == TypeKind::Resource && !t.is_abstract)
    }

    pub fn is_primitive_type(&self, name: &str) -> bool {
        self.type_def(name)
            .is_some_and(|t| t.kind == TypeKind::PrimitiveType)
    }

    /// True when `ty` is `ancestor` or derives from it (`Patient` is a `DomainResource`).
    pub fn is_subtype_of(&self, ty: &str, ancestor: &str) -> bool {
        let mut current = Some(ty);
        let mut guard = 0;
        while let Some(name) = current {
            if name == ancestor {
                return true;
            }
            guard += 1;
            if guard > 16 {
                return false;
            }
            current = self.type_def(name).and_then(|t| t.base.as_deref());
        }
        false
    }

    /// The element at a full path (`Patient.name`, `Observation.value[x]`).
    pub fn element(&self, path: &str) -> Option<&ElementDef> {
        self.element_by_path.get(path).map(|&l| self.at(l))
    }

    /// The direct child elements defined under a path, in definition order.
    pub fn children(&self, path: &str) -> impl Iterator<Item = &ElementDef> {
        self.children_by_path
            .get(path)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&l| self.at(l))
    }

    fn at(&self, loc: ElementLoc) -> &ElementDef {
        &self.data.types[loc.type_idx as usize].elements[loc.elem_idx as usize]
    }

    /// Resolves the JSON property `name` under the element path `parent` (a type name such as
    /// `Patient` or `HumanName`, or an inline path such as `Patient.contact`). Handles choice
    /// types (`valueQuantity` under `Observation`) and walks up the type hierarchy for inherited
    /// elements (`id`, `meta`, `extension`). A leading `_` (primitive extension) is not handled
    /// here: callers strip it and look the primitive up.
    pub fn child<'a>(&'a self, parent: &str, name: &str) -> Option<Child<'a>> {
        let mut owner: Option<&str> = Some(parent);
        let mut guard = 0;
        while let Some(p) = owner {
            if let Some(c) = self.child_direct(p, name) {
                return Some(c);
            }
            guard += 1;
            if guard > 16 {
                return None;
            }
            // Inherited elements: `Patient.id` is defined as `Resource.id`; an inline backbone
            // (`Patient.contact`) inherits from `BackboneElement`.
            owner = if p.contains('.') {
                let el = self.element(p)?;
                match el.types.first().map(|t| t.code.as_str()) {
                    Some(code @ ("BackboneElement" | "Element")) => {
                        self.type_def(code).map(|t| t.name.as_str())
                    }
                    _ => None,
                }
            } else {
                self.type_def(p).and_then(|t| t.base.as_deref())
            };
        }
        None
    }

    fn child_direct<'a>(&'a self, parent: &str, name: &str) -> Option<Child<'a>> {
        let mut path = String::with_capacity(parent.len() + name.len() + 1);
        path.push_str(parent);
        path.push('.');
        path.push_str(name);
        if let Some(&loc) = self.element_by_path.get(&path) {
            let element = self.at(loc);
            let type_code = element
                .types
                .first()
                .map(|t| t.code.as_str())
                .unwrap_or("Element");
            return Some(Child {
                element,
                type_code,
                children_path: self.children_path(element, type_code),
                is_choice: false,
            });
        }
        // Choice types: try every split at an upper-case letter (`multipleBirthBoolean`).
        for (i, ch) in name.char_indices().skip(1) {
            if !ch.is_ascii_uppercase() {
                continue;
            }
            let base_len = parent.len() + 1 + i;
            let Some(&loc) = self.choice_by_base.get(&path[..base_len]) else {
                continue;
            };
            let element = self.at(loc);
            let suffix = &name[i..];
            if let Some(t) = element
                .types
                .iter()
                .find(|t| type_suffix_matches(&t.code, suffix))
            {
                return Some(Child {
                    element,
                    type_code: &t.code,
                    children_path: self.children_path(element, &t.code),
                    is_choice: true,
                });
            }
        }
        None
    }

    fn children_path<'a>(&'a self, element: &'a ElementDef, type_code: &'a str) -> &'a str {
        if let Some(target) = &element.content_reference {
            return target;
        }
        match type_code {
            "BackboneElement" | "Element" if element.path.contains('.') => &element.path,
            _ => type_code,
        }
    }

    /// Search parameters that apply to a resource type, including those defined on `Resource`
    /// and `DomainResource`.
    pub fn search_params_for<'a>(
        &'a self,
        resource_type: &str,
    ) -> impl Iterator<Item = &'a SearchParamDef> + 'a {
        let mut idx: Vec<u32> = Vec::new();
        for base in [resource_type, "Resource", "DomainResource"] {
            if base == "DomainResource" && !self.is_subtype_of(resource_type, "DomainResource") {
                continue;
            }
            if let Some(v) = self.search_by_base.get(base) {
                idx.extend(v);
            }
        }
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter()
            .map(|i| &self.data.search_params[i as usize])
    }

    /// The search parameter with `code` for a resource type.
    pub fn search_param(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        self.search_params_for(resource_type)
            .find(|p| p.code == code)
    }

    pub fn search_param_by_url(&self, url: &str) -> Option<&SearchParamDef> {
        self.search_by_url
            .get(url)
            .map(|&i| &self.data.search_params[i as usize])
    }

    pub fn search_params(&self) -> &[SearchParamDef] {
        &self.data.search_params
    }

    /// A value set by canonical URL (a `|version` suffix is ignored).
    pub fn value_set(&self, url: &str) -> Option<&ValueSetDef> {
        let url = url.split('|').next().unwrap_or(url);
        self.value_set_by_url
            .get(url)
            .map(|&i| &self.data.value_sets[i as usize])
    }

    pub fn compartment(&self, code: &str) -> Option<&CompartmentDef> {
        self.data.compartments.iter().find(|c| c.code == code)
    }

    pub fn operations(&self) -> &[OperationDef] {
        &self.data.operations
    }
}

/// True when a choice suffix (`Quantity`, `DateTime`) names the type code (`Quantity`,
/// `dateTime`): the suffix is the type name with its first letter in upper case.
fn type_suffix_matches(code: &str, suffix: &str) -> bool {
    let mut c = code.chars();
    let mut s = suffix.chars();
    match (c.next(), s.next()) {
        (Some(a), Some(b)) if a.to_ascii_uppercase() == b => c.as_str() == s.as_str(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_all_resource_types() {
        let spec = Spec::r4();
        let n = spec.resource_types().count();
        assert!(n >= 145, "only {n} resource types");
        assert!(spec.is_resource_type("Patient"));
        assert!(!spec.is_resource_type("DomainResource"));
        assert!(!spec.is_resource_type("HumanName"));
        assert!(spec.is_subtype_of("Patient", "Resource"));
    }

    fn check_child(parent: &str, name: &str, expected: Option<(&str, &str, &str)>) {
        let got = Spec::r4()
            .child(parent, name)
            .map(|c| (c.element.path.as_str(), c.type_code, c.children_path));
        assert_eq!(got, expected, "{parent} / {name}");
    }

    #[test]
    fn resolves_children() {
        check_child(
            "Patient",
            "name",
            Some(("Patient.name", "HumanName", "HumanName")),
        );
        check_child("Patient", "id", Some(("Patient.id", "string", "string")));
        check_child(
            "Patient",
            "extension",
            Some(("Patient.extension", "Extension", "Extension")),
        );
        check_child(
            "Patient",
            "contact",
            Some(("Patient.contact", "BackboneElement", "Patient.contact")),
        );
        check_child(
            "Patient.contact",
            "id",
            Some(("Patient.contact.id", "string", "string")),
        );
        check_child(
            "Patient",
            "multipleBirthBoolean",
            Some(("Patient.multipleBirth[x]", "boolean", "boolean")),
        );
        check_child(
            "Observation",
            "valueQuantity",
            Some(("Observation.value[x]", "Quantity", "Quantity")),
        );
        check_child(
            "Observation",
            "effectiveDateTime",
            Some(("Observation.effective[x]", "dateTime", "dateTime")),
        );
        check_child(
            "Questionnaire.item",
            "item",
            Some(("Questionnaire.item.item", "Element", "Questionnaire.item")),
        );
        check_child("Patient", "foo", None);
        check_child("Observation", "valueFoo", None);
    }

    #[test]
    fn search_params_and_value_sets() {
        let spec = Spec::r4();
        let p = spec.search_param("Patient", "family").map(|p| p.param_type);
        assert_eq!(p, Some(SearchParamType::String));
        assert!(spec.search_param("Patient", "_id").is_some());
        assert!(spec.search_param("Patient", "_text").is_some());
        let gender = spec.value_set("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1");
        let codes: Vec<&str> = gender
            .map(|v| v.codes.iter().map(|c| c.code.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(codes, ["female", "male", "other", "unknown"]);
        assert!(spec.compartment("Patient").is_some());
    }
}
