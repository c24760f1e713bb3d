//! FHIRPath for FHIR R4: lexer, parser, compiled expressions and evaluation over resource JSON.
//!
//! Compile an expression once with [`Expression::compile`], then evaluate it many times against
//! `serde_json::Value` resources with [`Expression::evaluate`] or, for variables, resolvers and
//! limits, [`Expression::evaluate_with`] and an [`EvalContext`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cli;
mod compile;
mod context;
mod eval;
mod infer;
mod lexer;
pub mod parser;
pub mod print;
mod temporal;
mod types;
mod ucum;
mod value;

use std::sync::Arc;

pub use context::{EvalContext, Limits, Resolver, Terminology};
pub use rust_decimal::Decimal;
pub use temporal::{Precision, Temporal};
pub use value::{Item, Quantity};

/// The source text is not valid FHIRPath, or names an unknown function or wrong arity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FHIRPath syntax error at offset {offset}: {message}")]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            offset,
            message: message.into(),
        }
    }
}

/// Evaluation failed: a type error, a singleton expected, or a resource limit exceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("expected a single item, got a collection of {0}")]
    NotSingleton(usize),
    #[error("type error: {0}")]
    Type(String),
    #[error("unknown variable %{0}")]
    UnknownVariable(String),
    #[error("invalid argument: {0}")]
    Argument(String),
    #[error("evaluation exceeded the step limit of {0}")]
    StepLimit(u64),
    #[error("a collection exceeded the size limit of {0}")]
    SizeLimit(usize),
}

/// A compiled FHIRPath expression: parse and checks happen once, evaluation many times.
#[derive(Debug, Clone)]
pub struct Expression {
    inner: Arc<compile::Compiled>,
}

impl Expression {
    pub fn compile(src: &str) -> Result<Expression, ParseError> {
        let ast = parser::parse(src)?;
        let compiled = compile::compile(&ast, src)?;
        Ok(Expression {
            inner: Arc::new(compiled),
        })
    }

    /// The source text the expression was compiled from.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// Evaluates with the resource as `%resource`/`%context`/`%rootResource`; the root's type
    /// is its `resourceType`.
    pub fn evaluate<'a>(
        &self,
        resource: &'a serde_json::Value,
    ) -> Result<Vec<Item<'a>>, EvalError> {
        self.evaluate_with(&EvalContext::new(resource))
    }

    pub fn evaluate_with<'a>(&self, ctx: &EvalContext<'a>) -> Result<Vec<Item<'a>>, EvalError> {
        eval::run(&self.inner, ctx)
    }

    /// Whether the expression certainly yields nothing on `root`: it is a union of member
    /// paths and `root` holds none of their first members. A cheap test before evaluation (a
    /// resource has a few of the dozens of elements its search parameters name); `false`
    /// means "evaluate to know", never "not empty".
    pub fn is_empty_on(&self, root: &serde_json::Value) -> bool {
        match (&self.inner.root_members, root) {
            (Some(names), serde_json::Value::Object(object)) => {
                !names.iter().any(|n| compile::has_member(object, n))
            }
            _ => false,
        }
    }
}
