//! ViewDefinitions: the typed definition, the compiled plan, path handling and row evaluation.

pub mod definition;
pub mod eval;
pub mod path;
pub mod plan;
