//! Cross-crate suites of maintenance-rs.
//!
//! [`http`] holds the HTTP conformance suite: written once, run over real TCP with a real
//! HTTP client against every test project (`testproject-axum`, `custom-hyper`, ...), each on
//! its own fresh SQLite database, changed through a second store connection as an operator
//! would change it.
//!
//! [`databases`] makes fresh PostgreSQL and MariaDB databases for the tests that need them (and
//! roles with a server's or an operator's grants), and
//! [`faults`] the TCP proxy and the log capture of the fault suite (`tests/faults.rs`).
//! [`django`] runs a real Django project with django-maintenancemode-2 beside them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod databases;
pub mod django;
pub mod faults;
pub mod http;

/// The workspace README's Rust examples, compiled as doctests so they cannot drift from the
/// API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
