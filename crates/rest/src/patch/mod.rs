//! Patch formats: JSON Patch (RFC 6902) and FHIRPath Patch.

pub mod fhirpath_patch;
pub mod json_patch;

/// Why a patch was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is wrong (400).
    #[error("malformed patch: {0}")]
    Malformed(String),
    /// The patch is well-formed but cannot be applied to this resource (422).
    #[error("patch cannot be applied: {0}")]
    Failed(String),
}
