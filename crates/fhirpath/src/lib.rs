//! FHIRPath for FHIR R4: lexer, parser, compiled expressions and evaluation over resource JSON.
