//! HTTP wiring of the FHIR API.
