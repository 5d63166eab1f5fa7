//! # maintenance-sqlx
//!
//! The database-backed [`MaintenanceStore`](maintenance_core::MaintenanceStore) of
//! maintenance-rs, on sqlx: SQLite (feature `sqlite`, the default), PostgreSQL (`postgres`) and
//! MariaDB/MySQL (`mysql`). The features add up: all three can be enabled at once.
//!
//! - [`connect`] picks the backend from the URL (`sqlite:`, `postgres:`/`postgresql:`,
//!   `mysql:`/`mariadb:`) and returns a [`SqlxStore`]; [`connect_lazy`] does the same without
//!   reaching a database server, so a server can start while its database is down.
//! - One type per backend, built from an existing pool: [`SqliteStore`], [`PgStore`],
//!   [`MySqlStore`]. Each has `migrate()`, which runs the embedded migrations (safe to run twice,
//!   and from two servers at once) and makes sure the default site exists.
//! - Every write validates through the core first, then bumps the revision and appends an audit
//!   event in the same transaction. `load()` reads one consistent view; rows written by hand
//!   that the core would refuse are skipped with a warning (an unknown mode reads as `full`).
//! - On PostgreSQL a trigger sends `NOTIFY maintenance_changes` and [`PgStore`] hands out a
//!   change feed, so a change made by any writer reaches every server at once. The other
//!   backends are polled through their revision number, one indexed read.
//! - [`DjangoSource`] reads django-maintenancemode-2's own tables instead (read-only), so Rust
//!   services beside a Django site obey its admin's checkbox.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use maintenance_core::{Maintenance, Policy};
//!
//! let store = maintenance_sqlx::connect("sqlite://maintenance.db").await?;
//! store.migrate().await?;
//! let maintenance = Maintenance::start(store, Policy::default()).await;
//! # let _ = maintenance;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod any;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod common;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod django;
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod migrate;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
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
