#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod any;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod common;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod engine;
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod migrations;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod startup;
mod url;

pub use any::{DieselStore, connect};
pub use error::{BoxError, Error};
#[cfg(feature = "mysql")]
pub use mysql::{MySqlConnection, MySqlPool, MySqlStore};
#[cfg(feature = "postgres")]
pub use postgres::{NOTIFY_CHANNEL, PgConnection, PgPool, PgStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConnection, SqlitePool, SqliteStore};
pub use startup::Startup;
pub use url::{Backend, DieselBuild, names_a_secret, redact_url};

pub use diesel;
pub use diesel_async;

/// How long `connect` and the pools wait for a database server before giving up.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
