//! # maintenance-diesel
//!
//! The database-backed [`MaintenanceStore`](maintenance_core::MaintenanceStore) of
//! maintenance-rs on diesel 2 and diesel-async: SQLite (feature `sqlite`, the default),
//! PostgreSQL (`postgres`) and MariaDB/MySQL (`mysql`). The features add up: all three can be
//! enabled at once. No native client library is needed: PostgreSQL and MariaDB/MySQL use
//! diesel-async's pure-Rust drivers, and SQLite is bundled.
//!
//! It works on the same tables as maintenance-sqlx, with the same behaviour: both stores, the
//! `maintenance` CLI and plain SQL can share one database, in any order.
//!
//! - [`connect`] picks the backend from the URL (`sqlite:`, `postgres:`/`postgresql:`,
//!   `mysql:`/`mariadb:`) and returns a [`DieselStore`].
//! - One type per backend, built from a deadpool pool of diesel-async connections:
//!   [`SqliteStore`], [`PgStore`], [`MySqlStore`]. Each has `migrate()`, which runs the embedded
//!   migrations (safe to run twice, and from two servers at once) and makes sure the default
//!   site exists.
//! - Every write validates through the core first, then bumps the revision and appends an audit
//!   event in the same transaction. `load()` reads one consistent view; rows written by hand
//!   that the core would refuse are skipped with a warning (an unknown mode reads as `full`).
//! - On PostgreSQL a trigger sends `NOTIFY maintenance_changes` and [`PgStore`] hands out a
//!   change feed. The other backends are polled through their revision number.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use maintenance_core::{Maintenance, Policy};
//!
//! let store = maintenance_diesel::connect("sqlite://maintenance.db").await?;
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
mod error;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod migrations;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod queries;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod schema;
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
