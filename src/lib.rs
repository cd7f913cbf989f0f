//! pesim: a predictive-engagement simulator and action-map rule engine.
//!
//! Data flows one way. [`dsl`] (conditions) and [`config`] (scenario files) feed
//! the [`engine`] (sessions, segments, outcomes, the offer gate); [`sim`] drives
//! it together with [`availability`] (the contact center) and [`traffic`]
//! (synthetic visitors) on one clock; [`report`] only reads results. [`cases`],
//! [`sweep`], [`train`] and [`import`] are commands built on those layers, and
//! [`app`] holds every command as a library function: the binary in
//! `src/main.rs` only parses arguments and prints. [`prefetch`] reads and
//! parses recorded events on a second thread for `replay` and `explain`.

pub mod app;
pub mod availability;
pub mod cases;
pub mod clock;
pub mod config;
pub mod diag;
pub mod dsl;
pub mod engine;
pub mod events;
pub mod import;
pub mod memory;
pub mod prefetch;
pub mod random;
pub mod report;
pub mod sim;
pub mod sweep;
pub mod traffic;
pub mod train;
