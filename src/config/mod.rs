//! Scenario files (SPEC §2): YAML → a validated [`model::Scenario`].

pub mod yaml;
