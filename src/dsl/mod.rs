//! The condition language (SPEC §3): grammar → AST → typed, compiled conditions.
//!
//! Stages, each its own module: [`parser`] (pest + Pratt) builds an [`ast::Expr`];
//! [`compile`] resolves names, checks types and produces [`eval`] nodes that the
//! engine evaluates per event against a [`context::Context`].

pub mod ast;
pub mod compile;
pub mod context;
pub mod error;
pub mod eval;
pub mod fields;
pub mod needle;
pub mod parser;

pub use ast::{Expr, Span};
pub use compile::{Compiled, Compiler, CountPattern, Deps, Names};
pub use context::{Context, CountSlot, DynValue, Interner, OutcomeId, ScoreMetric, SegmentId, Sym};
pub use error::{DslError, DslErrorKind};
pub use eval::{BoolNode, NumNode};
pub use parser::{parse, parse_duration_ms};

#[cfg(test)]
pub(crate) mod tests;
