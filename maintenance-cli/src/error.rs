//! The command's errors and the exit status each one gives.

use maintenance_core::StoreError;

use crate::admin::AdminSetupError;

/// Exit status of a successful command.
pub const EXIT_OK: i32 = 0;
/// Exit status of a command that failed (database, unknown site, nothing to remove, ...).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status of a command given bad arguments (clap uses the same for its usage errors).
pub const EXIT_USAGE: i32 = 2;

/// Why a command did not succeed. Every message names the bad value and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The arguments are wrong in a way clap cannot see (e.g. a window that ends before it
    /// starts). Exit status 2.
    #[error("{0}")]
    Usage(String),
    /// The admin page's options are refused (no token, a short token, ...). Exit status 2.
    #[error(transparent)]
    Admin(#[from] AdminSetupError),
    /// The database could not be opened, or its URL is not usable.
    #[error(transparent)]
    Database(#[from] maintenance_sqlx::Error),
    /// NATS or the relay's bucket failed (`relay`).
    #[error(transparent)]
    Nats(#[from] maintenance_nats::Error),
    /// The store refused or failed a read or a write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Any other failure, already worded for the operator.
    #[error("{0}")]
    Failed(String),
    /// The command `run` ran failed or was interrupted; the exit status is `code`.
    #[error("{message}")]
    Command {
        /// The exit status to give: the command's, or 128 + a signal's number.
        code: i32,
        /// What happened.
        message: String,
    },
}

impl CliError {
    /// The process exit status for this error: 2 for bad usage, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Admin(_) => EXIT_USAGE,
            CliError::Store(StoreError::Invalid(_)) => EXIT_USAGE,
            CliError::Database(
                maintenance_sqlx::Error::UnsupportedUrl { .. }
                | maintenance_sqlx::Error::BackendNotCompiled { .. },
            ) => EXIT_USAGE,
            CliError::Nats(
                maintenance_nats::Error::Url { .. } | maintenance_nats::Error::BucketName(_),
            ) => EXIT_USAGE,
            CliError::Command { code, .. } => *code,
            _ => EXIT_FAILURE,
        }
    }
}
