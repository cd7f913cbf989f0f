//! Scenario files (SPEC §2): YAML → a validated [`model::Scenario`].
//!
//! `yaml` parses text into span-keeping nodes, `load` reads files and merges
//! `include:`s, `decode` applies the schema (through `reader`'s located, error
//! collecting accessors) and `checks` runs the cross-section static checks.

pub mod checks;
pub mod decode;
pub mod load;
pub mod model;
pub mod overrides;
pub mod reader;
pub mod schema;
pub mod yaml;

pub use load::{Loaded, load_file, load_str, load_with};
pub use model::Scenario;
