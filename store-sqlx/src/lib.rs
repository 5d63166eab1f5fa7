#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod any;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod common;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod django;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod engine;
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod migrate;
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

pub use any::{SqlxStore, connect, connect_lazy};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use django::DjangoSource;
pub use error::Error;
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use postgres::{NOTIFY_CHANNEL, PgStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use startup::Startup;
pub use url::{Backend, SqlxBuild, names_a_secret, redact_url};

pub use sqlx;

/// How long `connect` waits for a database server before giving up.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
