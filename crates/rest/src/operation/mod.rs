//! Operations that are not store interactions: Bulk Data `$export` and `$import` (kick-off,
//! status, files, cancel), the streamed `ViewDefinition/$run` and the training `$reset`. Each
//! answers a [`FhirResponse`]
//! directly, because their bodies are not always FHIR JSON.
//!
//! [`FhirResponse`]: crate::FhirResponse

pub mod export;
pub mod import;
pub mod parameters;
pub mod reset;
pub mod run;
