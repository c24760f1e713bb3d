//! What an export covers: level, types, `_since`, `_typeFilter` and the patients of a patient
//! or group export, and how that becomes one scan per resource type.

use super::BulkError;
use chrono::{DateTime, SecondsFormat, Utc};
use crosscare_search::{compartment_params, compartment_types, SearchQuery};
use crosscare_spec::Spec;
use crosscare_store::{CompartmentScope, ScanQuery};
use serde::{Deserialize, Serialize};

/// The three kick-off endpoints of `$export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportLevel {
    /// `[base]/$export`: every resource.
    System,
    /// `[base]/Patient/$export`: the Patient compartments of all patients (or of `patient`).
    Patient,
    /// `[base]/Group/[id]/$export`: the Patient compartments of the group's members.
    Group(String),
}

/// One `_typeFilter`: a search on one type, run with the search engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeFilter {
    pub resource_type: String,
    /// The query's parameters, decoded.
    pub params: Vec<(String, String)>,
}

impl TypeFilter {
    /// Parses `Type?name=value&…` and checks it with the strict search parser.
    pub fn parse(text: &str) -> Result<TypeFilter, BulkError> {
        let (ty, query) = text.split_once('?').ok_or_else(|| {
            BulkError::Invalid(format!(
                "_typeFilter '{text}' is not of the form Type?search-parameters"
            ))
        })?;
        if !Spec::r4().is_resource_type(ty) {
            return Err(BulkError::Invalid(format!(
                "_typeFilter '{text}': '{ty}' is not a resource type"
            )));
        }
        let filter = TypeFilter {
            resource_type: ty.to_string(),
            params: crosscare_search::parse_query_string(query),
        };
        filter.query()?;
        Ok(filter)
    }

    /// The search query (strict: an unknown parameter is an error).
    pub fn query(&self) -> Result<SearchQuery, BulkError> {
        let q = SearchQuery::parse(Some(&self.resource_type), &self.params, false)?;
        let r = &q.result;
        if !r.include.is_empty()
            || !r.revinclude.is_empty()
            || r.summary.is_some()
            || !r.elements.is_empty()
        {
            return Err(BulkError::Invalid(format!(
                "_typeFilter for {} may only hold search filters (no _include, _revinclude, \
                 _summary or _elements)",
                self.resource_type
            )));
        }
        Ok(q)
    }
}

/// Everything that decides the content of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub level: ExportLevel,
    /// `_type`; empty means every type the level covers.
    pub types: Vec<String>,
    /// `_since` as RFC 3339 (kept as text so records stay readable).
    pub since: Option<String>,
    /// `_typeFilter`s; several for one type are alternatives (OR).
    pub type_filters: Vec<TypeFilter>,
    /// The patients whose compartments are exported (patient level with `patient`, group
    /// level: the members, intersected with `patient`). `None`: every patient.
    pub patients: Option<Vec<String>>,
    /// The partition read.
    pub partition: String,
}

impl ExportRequest {
    /// An export of the whole default partition.
    pub fn system() -> ExportRequest {
        ExportRequest {
            level: ExportLevel::System,
            types: Vec::new(),
            since: None,
            type_filters: Vec::new(),
            patients: None,
            partition: crosscare_store::DEFAULT_PARTITION.to_string(),
        }
    }

    pub fn since_time(&self) -> Result<Option<DateTime<Utc>>, BulkError> {
        self.since.as_deref().map(parse_instant).transpose()
    }

    /// The types exported, in order (sorted by name).
    pub fn resolved_types(&self) -> Vec<String> {
        let mut all: Vec<String> = match self.level {
            ExportLevel::System => Spec::r4()
                .resource_types()
                .map(|t| t.name.clone())
                .collect(),
            ExportLevel::Patient | ExportLevel::Group(_) => compartment_types("Patient"),
        };
        if !self.types.is_empty() {
            all.retain(|t| self.types.contains(t));
        }
        all.sort();
        all.dedup();
        all
    }

    /// The first scan query of one type, bounded by `until` (the transaction time).
    pub fn scan_query(
        &self,
        resource_type: &str,
        until: DateTime<Utc>,
        batch: usize,
    ) -> Result<ScanQuery, BulkError> {
        let mut q = ScanQuery::new(resource_type, batch);
        q.since = self.since_time()?;
        q.until = Some(until);
        if self.level != ExportLevel::System {
            let (params, includes_self) =
                compartment_params("Patient", resource_type).ok_or_else(|| {
                    BulkError::Invalid(format!("{resource_type} is not in the Patient compartment"))
                })?;
            q.compartment = Some(CompartmentScope {
                compartment: "Patient".into(),
                params,
                includes_self,
                ids: self.patients.clone(),
            });
        }
        Ok(q)
    }

    /// The `_typeFilter`s of one type.
    pub fn filters_for(&self, resource_type: &str) -> Vec<&TypeFilter> {
        self.type_filters
            .iter()
            .filter(|f| f.resource_type == resource_type)
            .collect()
    }

    /// Checks what can be checked before the export starts: `_since`, `_type` names (and,
    /// for patient and group exports, that they are in the Patient compartment) and every
    /// `_typeFilter`.
    pub fn validate(&self) -> Result<(), BulkError> {
        self.since_time()?;
        let spec = Spec::r4();
        let compartment = compartment_types("Patient");
        for t in &self.types {
            if !spec.is_resource_type(t) {
                return Err(BulkError::Invalid(format!(
                    "_type: '{t}' is not a resource type"
                )));
            }
            if self.level != ExportLevel::System && !compartment.contains(t) {
                return Err(BulkError::Invalid(format!(
                    "_type: {t} is not in the Patient compartment, so a patient or group \
                     export has none"
                )));
            }
        }
        for f in &self.type_filters {
            if !self.types.is_empty() && !self.types.contains(&f.resource_type) {
                return Err(BulkError::Invalid(format!(
                    "_typeFilter on {} which is not in _type",
                    f.resource_type
                )));
            }
            f.query()?;
        }
        Ok(())
    }
}

/// Parses a FHIR `instant` (RFC 3339 with a time zone) such as `_since`.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, BulkError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            BulkError::Invalid(format!(
                "'{text}' is not a FHIR instant (e.g. 2024-01-31T12:00:00Z)"
            ))
        })
}

/// An instant as FHIR JSON writes it (microseconds, `Z`).
pub fn format_instant(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters() {
        let f = TypeFilter::parse("Observation?code=http://loinc.org|1234-5&status=final").unwrap();
        assert_eq!(f.resource_type, "Observation");
        assert_eq!(f.params.len(), 2);
        for bad in [
            "Observation",
            "Nope?x=1",
            "Observation?nope=1",
            "Observation?_include=Observation:subject",
        ] {
            assert!(TypeFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn types_by_level() {
        let mut r = ExportRequest::system();
        assert!(r.resolved_types().contains(&"CodeSystem".to_string()));
        r.level = ExportLevel::Patient;
        let types = r.resolved_types();
        assert!(types.contains(&"Observation".to_string()) && types.contains(&"Patient".into()));
        assert!(!types.contains(&"CodeSystem".to_string()));
        r.types = vec!["CodeSystem".into()];
        assert!(r.validate().is_err());
        r.types = vec!["Observation".into()];
        assert!(r.validate().is_ok());
        r.since = Some("yesterday".into());
        assert!(r.validate().is_err());
    }
}
