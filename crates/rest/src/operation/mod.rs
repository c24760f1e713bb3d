//! Operations that are not store interactions: Bulk Data `$export` (kick-off, status, files,
//! cancel), the training `$reset` and, later, asynchronous or streamed operations. Each answers a [`FhirResponse`]
//! directly, because their bodies are not always FHIR JSON.
//!
//! [`FhirResponse`]: crate::FhirResponse

pub mod export;
pub mod parameters;
pub mod reset;
pub mod run;
