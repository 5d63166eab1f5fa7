//! `maintenance-sqlx`: the database-backed store on sqlx (SQLite, PostgreSQL, MariaDB/MySQL).
//!
//! Not built yet: this crate is an empty placeholder in the workspace and
//! provides nothing so far. See the workspace README for what works today.
#![forbid(unsafe_code)]
