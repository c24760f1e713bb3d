//! The FHIR RESTful interactions and operations, one module each.

pub mod capabilities;
pub mod create;
pub mod delete;
pub mod history;
pub mod patch;
pub mod read;
pub mod search;
pub mod update;
pub mod validate;
pub mod vread;
