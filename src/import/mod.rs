//! Importers: other products' exports → native scenario files (SPEC §1,
//! `pesim import`).
//!
//! [`genesys`] reads Genesys Cloud Journey API JSON (segments, outcomes, action
//! maps and action targets, single objects or paged `{"entities": [...]}` lists)
//! and writes a scenario that `pesim check` accepts. What cannot be mapped is
//! reported as a note (file, line, column, JSON path, why) and repeated as a
//! comment in the YAML; invalid input (malformed JSON, unknown enum values, wrong
//! value types) is a located error and nothing is written.

pub mod genesys;
mod json;

pub use genesys::{Conversion, ImportError, convert, import_genesys};
