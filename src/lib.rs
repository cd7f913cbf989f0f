//! pesim: a predictive-engagement simulator and action-map rule engine.
//!
//! Data flows one way: [`dsl`] (conditions) and [`config`] (scenario files) feed
//! the engine; the binary in `src/main.rs` only parses arguments and prints.

pub mod app;
pub mod availability;
pub mod cases;
pub mod clock;
pub mod config;
pub mod diag;
pub mod dsl;
pub mod engine;
pub mod events;
pub mod random;
pub mod report;
pub mod sim;
pub mod traffic;
pub mod import;
pub mod sweep;
pub mod train;
