#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod args;
pub mod commands;
pub mod error;
pub mod parse;
pub mod relay;
pub mod report;
pub mod watch;

pub use args::Cli;
pub use error::{CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
