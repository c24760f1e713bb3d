//! Validation of FHIR R4 resources against the base definitions: structure, primitives, cardinality, required bindings and invariants.
