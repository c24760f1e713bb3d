//! Path and method to interaction: the one table that decides what a request means.

use crate::error::FhirError;
use crate::request::Method;
use crosscare_analytics::bulk::ExportLevel;
use crosscare_spec::Spec;

/// One interaction or operation, with the parts of the path it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Capabilities,
    /// `POST [base]` with a `batch` or `transaction` Bundle.
    Bundle,
    HistorySystem,
    /// `GET [base]?…` or `POST [base]/_search`.
    SearchSystem,
    SearchType(String),
    /// `GET [base]/Patient/123/Observation` (`*` for every type in the compartment).
    SearchCompartment {
        compartment: String,
        id: String,
        target: String,
    },
    Create(String),
    ConditionalUpdate(String),
    ConditionalDelete(String),
    ConditionalPatch(String),
    HistoryType(String),
    Read(String, String),
    VRead(String, String, String),
    Update(String, String),
    Delete(String, String),
    Patch(String, String),
    HistoryInstance(String, String),
    /// `[type]/$validate` or `[type]/[id]/$validate`.
    Validate(String, Option<String>),
    /// `Patient/[id]/$everything`.
    Everything(String, String),
    /// `$export` kick-off: `[base]/$export`, `Patient/$export`, `Group/[id]/$export`.
    Export(ExportLevel),
    /// `GET _export/[job]`: the status of an export job (202 running, 200 manifest).
    ExportStatus(String),
    /// `DELETE _export/[job]`: cancels the job and deletes its files.
    ExportCancel(String),
    /// `GET _export/[job]/[file]`: one output file.
    ExportFile(String, String),
    /// `POST [base]/$import`: kick-off of an asynchronous NDJSON import.
    Import,
    /// `GET _import/[job]`: the status of an import job (202 running, 200 outcome).
    ImportStatus(String),
    /// `DELETE _import/[job]`: cancels the job (what it committed stays).
    ImportCancel(String),
    /// `GET _import/[job]/[file]`: the job's error report.
    ImportFile(String, String),
    /// `ViewDefinition/$run` (view inline) or `ViewDefinition/[id]/$run`.
    ViewRun(Option<String>),
    /// `POST [base]/$reset`: a training workspace back to its template's data.
    Reset,
    /// `POST [base]/$reindex` (every type, or the `type` parameters) or `POST [type]/$reindex`:
    /// kick-off of an asynchronous reindex.
    Reindex(Option<String>),
    /// `GET _reindex/[job]`: the status of a reindex.
    ReindexStatus(String),
    /// `DELETE _reindex/[job]`: stops a reindex (what it re-indexed stays).
    ReindexCancel(String),
}

impl Route {
    /// True for interactions that never write.
    pub fn is_read_only(&self) -> bool {
        !matches!(
            self,
            Route::Bundle
                | Route::Reset
                | Route::Reindex(_)
                | Route::Create(_)
                | Route::ConditionalUpdate(_)
                | Route::ConditionalDelete(_)
                | Route::ConditionalPatch(_)
                | Route::Update(..)
                | Route::Delete(..)
                | Route::Patch(..)
        )
    }
}

fn resource_type(segment: &str) -> Result<String, FhirError> {
    let spec = Spec::r4();
    match spec.type_def(segment) {
        Some(t) if spec.is_resource_type(segment) && !t.is_abstract => Ok(segment.to_string()),
        _ => Err(FhirError::not_found(format!(
            "'{segment}' is not a resource type supported by this server"
        ))),
    }
}

/// A logical id as FHIR allows it: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn id(segment: &str) -> Result<String, FhirError> {
    if is_valid_id(segment) {
        Ok(segment.to_string())
    } else {
        Err(FhirError::bad_request(format!(
            "'{segment}' is not a valid resource id ([A-Za-z0-9-.]{{1,64}})"
        )))
    }
}

fn operation(name: &str, ty: &str, id: Option<&str>) -> Result<Route, FhirError> {
    match (name, id) {
        ("$validate", _) => Ok(Route::Validate(ty.to_string(), id.map(str::to_string))),
        ("$everything", Some(id)) if ty == "Patient" => {
            Ok(Route::Everything(ty.to_string(), id.to_string()))
        }
        ("$export", None) if ty == "Patient" => Ok(Route::Export(ExportLevel::Patient)),
        ("$export", Some(id)) if ty == "Group" => {
            Ok(Route::Export(ExportLevel::Group(id.to_string())))
        }
        _ => Err(unknown_operation(name)),
    }
}

fn unknown_operation(name: &str) -> FhirError {
    FhirError::not_supported(format!("operation '{name}' is not supported here"))
}

fn not_allowed(method: Method, path: &[String]) -> FhirError {
    FhirError::method_not_allowed(format!(
        "{} is not allowed on '/{}'",
        method.as_str(),
        path.join("/")
    ))
}

/// Decides the interaction. `has_query` tells conditional interactions (`PUT [type]?…`) from
/// errors.
pub fn route(method: Method, path: &[String], has_query: bool) -> Result<Route, FhirError> {
    use Method::*;
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    let route = match (method, segs.as_slice()) {
        (Get | Head, []) => Route::SearchSystem,
        (Post, []) => Route::Bundle,
        (Get | Head, ["metadata"]) => Route::Capabilities,
        (Get | Head, ["_history"]) => Route::HistorySystem,
        (Post, ["_search"]) => Route::SearchSystem,
        (_, ["metadata" | "_history" | "_search"]) => return Err(not_allowed(method, path)),
        (Get | Post, ["$export"]) => Route::Export(ExportLevel::System),
        (Post, ["$reset"]) => Route::Reset,
        (Get | Head, ["_export", job]) => Route::ExportStatus(job.to_string()),
        (Delete, ["_export", job]) => Route::ExportCancel(job.to_string()),
        (Get | Head, ["_export", job, file]) => {
            Route::ExportFile(job.to_string(), file.to_string())
        }
        (_, ["_export", ..]) => return Err(not_allowed(method, path)),
        (Post, ["$import"]) => Route::Import,
        (_, ["$import"]) => return Err(not_allowed(method, path)),
        (Get | Head, ["_import", job]) => Route::ImportStatus(job.to_string()),
        (Delete, ["_import", job]) => Route::ImportCancel(job.to_string()),
        (Get | Head, ["_import", job, file]) => {
            Route::ImportFile(job.to_string(), file.to_string())
        }
        (_, ["_import", ..]) => return Err(not_allowed(method, path)),
        (Post, ["$reindex"]) => Route::Reindex(None),
        (_, ["$reindex"]) => return Err(not_allowed(method, path)),
        (Get | Head, ["_reindex", job]) => Route::ReindexStatus(job.to_string()),
        (Delete, ["_reindex", job]) => Route::ReindexCancel(job.to_string()),
        (_, ["_reindex", ..]) => return Err(not_allowed(method, path)),
        // ViewDefinition (SQL-on-FHIR) is not an R4 resource type, so it is matched here.
        (Get | Post, ["ViewDefinition", "$run"]) => Route::ViewRun(None),
        (Get | Post, ["ViewDefinition", i, "$run"]) => Route::ViewRun(Some(id(i)?)),
        (_, [op]) if op.starts_with('$') => return Err(unknown_operation(op)),
        (m, [t]) => {
            let t = resource_type(t)?;
            match m {
                Get | Head => Route::SearchType(t),
                Post => Route::Create(t),
                Put if has_query => Route::ConditionalUpdate(t),
                Delete if has_query => Route::ConditionalDelete(t),
                Patch if has_query => Route::ConditionalPatch(t),
                _ => return Err(not_allowed(method, path)),
            }
        }
        (m, [t, second]) => {
            let t = resource_type(t)?;
            match (m, *second) {
                (Post, "_search") => Route::SearchType(t),
                (Get | Head, "_history") => Route::HistoryType(t),
                (Post, "$reindex") => Route::Reindex(Some(t)),
                (_, "$reindex") => return Err(not_allowed(method, path)),
                (Post | Get, op) if op.starts_with('$') => operation(op, &t, None)?,
                (_, op) if op.starts_with('$') => return Err(not_allowed(method, path)),
                (Get | Head, i) => Route::Read(t, id(i)?),
                (Put, i) => Route::Update(t, id(i)?),
                (Delete, i) => Route::Delete(t, id(i)?),
                (Patch, i) => Route::Patch(t, id(i)?),
                _ => return Err(not_allowed(method, path)),
            }
        }
        (m, [t, i, third]) => {
            let t = resource_type(t)?;
            let i = id(i)?;
            match (m, *third) {
                (Get | Head, "_history") => Route::HistoryInstance(t, i),
                (Post | Get, op) if op.starts_with('$') => operation(op, &t, Some(&i))?,
                (Get | Head, "*") => Route::SearchCompartment {
                    compartment: t,
                    id: i,
                    target: "*".into(),
                },
                (Get | Head, target) => Route::SearchCompartment {
                    compartment: t,
                    id: i,
                    target: resource_type(target)?,
                },
                _ => return Err(not_allowed(method, path)),
            }
        }
        (Get | Head, [t, i, "_history", v]) => {
            Route::VRead(resource_type(t)?, id(i)?, v.to_string())
        }
        _ => {
            return Err(FhirError::not_found(format!(
                "no FHIR interaction at '/{}'",
                path.join("/")
            )))
        }
    };
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, has_query: bool, expected: Result<Route, u16>) {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let got = route(method, &segs, has_query).map_err(|e| e.status);
        assert_eq!(got, expected, "{} {path}", method.as_str());
    }

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn table() {
        use Method::*;
        check(Get, "metadata", false, Ok(Route::Capabilities));
        check(Post, "", false, Ok(Route::Bundle));
        check(Get, "", true, Ok(Route::SearchSystem));
        check(Get, "_history", false, Ok(Route::HistorySystem));
        check(Get, "Patient", true, Ok(Route::SearchType(s("Patient"))));
        check(
            Post,
            "Patient/_search",
            false,
            Ok(Route::SearchType(s("Patient"))),
        );
        check(Post, "Patient", false, Ok(Route::Create(s("Patient"))));
        check(
            Put,
            "Patient",
            true,
            Ok(Route::ConditionalUpdate(s("Patient"))),
        );
        check(Put, "Patient", false, Err(405));
        check(
            Delete,
            "Patient",
            true,
            Ok(Route::ConditionalDelete(s("Patient"))),
        );
        check(
            Get,
            "Patient/1",
            false,
            Ok(Route::Read(s("Patient"), s("1"))),
        );
        check(Get, "Patient/a_b", false, Err(400));
        check(Get, "Foo/1", false, Err(404));
        check(Get, "Resource/1", false, Err(404));
        check(
            Put,
            "Patient/1",
            false,
            Ok(Route::Update(s("Patient"), s("1"))),
        );
        check(
            Patch,
            "Patient/1",
            false,
            Ok(Route::Patch(s("Patient"), s("1"))),
        );
        check(
            Get,
            "Patient/1/_history/2",
            false,
            Ok(Route::VRead(s("Patient"), s("1"), s("2"))),
        );
        check(
            Get,
            "Patient/1/_history",
            false,
            Ok(Route::HistoryInstance(s("Patient"), s("1"))),
        );
        check(
            Get,
            "Patient/_history",
            false,
            Ok(Route::HistoryType(s("Patient"))),
        );
        check(
            Post,
            "Patient/$validate",
            false,
            Ok(Route::Validate(s("Patient"), None)),
        );
        check(
            Get,
            "Patient/1/$everything",
            false,
            Ok(Route::Everything(s("Patient"), s("1"))),
        );
        check(Get, "Observation/1/$everything", false, Err(501));
        check(
            Get,
            "Patient/1/Observation",
            false,
            Ok(Route::SearchCompartment {
                compartment: s("Patient"),
                id: s("1"),
                target: s("Observation"),
            }),
        );
        check(Get, "Patient/1/_history/2/x", false, Err(404));
        check(Post, "$foo", false, Err(501));
        check(Get, "$export", true, Ok(Route::Export(ExportLevel::System)));
        check(
            Post,
            "Patient/$export",
            false,
            Ok(Route::Export(ExportLevel::Patient)),
        );
        check(
            Get,
            "Group/g1/$export",
            false,
            Ok(Route::Export(ExportLevel::Group(s("g1")))),
        );
        check(Get, "Observation/$export", false, Err(501));
        check(Get, "_export/abc", false, Ok(Route::ExportStatus(s("abc"))));
        check(
            Delete,
            "_export/abc",
            false,
            Ok(Route::ExportCancel(s("abc"))),
        );
        check(
            Get,
            "_export/abc/Patient-1.ndjson",
            false,
            Ok(Route::ExportFile(s("abc"), s("Patient-1.ndjson"))),
        );
        check(Put, "_export/abc", false, Err(405));
        check(Post, "ViewDefinition/$run", false, Ok(Route::ViewRun(None)));
        check(Post, "$import", false, Ok(Route::Import));
        check(Post, "$reindex", false, Ok(Route::Reindex(None)));
        check(
            Post,
            "Observation/$reindex",
            false,
            Ok(Route::Reindex(Some(s("Observation")))),
        );
        check(Get, "$reindex", false, Err(405));
        check(Get, "Observation/$reindex", false, Err(405));
        check(Get, "_reindex/j1", false, Ok(Route::ReindexStatus(s("j1"))));
        check(
            Delete,
            "_reindex/j1",
            false,
            Ok(Route::ReindexCancel(s("j1"))),
        );
        check(Get, "_import/j1", false, Ok(Route::ImportStatus(s("j1"))));
        check(
            Delete,
            "_import/j1",
            false,
            Ok(Route::ImportCancel(s("j1"))),
        );
        check(
            Get,
            "_import/j1/errors.ndjson",
            false,
            Ok(Route::ImportFile(s("j1"), s("errors.ndjson"))),
        );
        assert_eq!(
            route(Get, &["$import".to_string()], false)
                .unwrap_err()
                .status,
            405
        );
        check(
            Get,
            "ViewDefinition/v1/$run",
            false,
            Ok(Route::ViewRun(Some(s("v1")))),
        );
        check(Delete, "metadata", false, Err(405));
    }
}
