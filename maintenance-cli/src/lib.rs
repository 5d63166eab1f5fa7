//! # maintenance-cli
//!
//! The `maintenance` command and the admin page of maintenance-rs. Both work on the same
//! tables as every store (SQLite, PostgreSQL, MariaDB/MySQL through `maintenance-sqlx`), so
//! every server of every framework obeys them within a fraction of a second.
//!
//! - [`args`]: the command line (clap), with every value checked before anything is opened.
//! - [`commands`]: each command, validating all input before its first write.
//! - [`report`]: what `status` and `log` print, as text or JSON.
//! - [`admin`]: the admin web page (axum): login with a token (with a backoff after failures),
//!   CSRF-protected plain forms, answering only its own host names.
//! - [`parse`]: durations, times and other values, with errors that name the bad value.
//! - [`error`]: the errors and their exit statuses (0 success, 1 failure, 2 bad usage).
//!
//! The binary is `maintenance`; see the README for every command with an example.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod args;
pub mod commands;
pub mod error;
pub mod parse;
pub mod report;

pub use args::Cli;
pub use error::{CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
