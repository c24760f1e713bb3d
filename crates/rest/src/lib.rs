//! Transport-agnostic FHIR REST: a [`FhirRequest`] goes in, a [`FhirResponse`] comes out.
//!
//! This crate owns the interactions (one module each), the operations, Bundle processing,
//! paging, and the single table that turns every error into an `OperationOutcome` with its HTTP
//! status ([`error`]). It knows nothing of axum or sockets, and builds no SQL: it talks to a
//! [`crosscare_store::Store`].

pub mod error;
pub mod request;

pub use error::{FhirError, IssueCode, IssueSeverity};
pub use request::{FhirRequest, FhirResponse, Method, Prefer, ReturnPreference};
