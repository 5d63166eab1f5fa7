//! What this crate adds to the write layer of [`maintenance_sql::engine`]: reading
//! timestamps and events leniently (skipping or unsetting what cannot be read), and the error
//! of a missing revision row.
//!
//! A backend supplies its queries through [`Engine`] (reads, and opening a write) and
//! [`WriteTx`] (one write transaction, rolled back explicitly); the functions of
//! [`maintenance_sql::engine`] hold the behaviour, so that every backend matches
//! [`maintenance_core::MemoryStore`] and maintenance-sqlx the same way.

use chrono::{DateTime, Utc};
use maintenance_core::{Event, StoreError};

use crate::error::Error;

pub(crate) use maintenance_sql::rows::{NetworkRow, PathRow, SiteRow};

/// The error of a missing revision row, for [`Engine::no_revision_row`].
pub(crate) fn no_revision_row() -> StoreError {
    Error::NoRevisionRow.into()
}

/// A timestamp column's value as the backend gave it: `None` (SQL NULL), or a value that
/// either converted (`Ok`) or did not (`Err`, e.g. text written by hand on SQLite).
pub(crate) type RawTime = Option<Result<DateTime<Utc>, String>>;

/// Reads an optional timestamp; one that cannot be read is logged with its table, row id and
/// column, and read as unset, so the row still loads.
pub(crate) fn lenient_time(
    table: &'static str,
    id: i64,
    column: &'static str,
    raw: RawTime,
) -> Option<DateTime<Utc>> {
    match raw? {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(table, id, column, error = %e, "unreadable timestamp; reading it as unset");
            None
        }
    }
}

/// An event row, or `None` (with a warning naming the row) when its time cannot be read.
pub(crate) fn event_from_parts(
    id: i64,
    site: Option<String>,
    at: Result<DateTime<Utc>, String>,
    actor: String,
    action: String,
    detail: String,
) -> Option<Event> {
    match at {
        Ok(at) => Some(Event {
            id,
            site,
            at,
            actor,
            action,
            detail,
        }),
        Err(e) => {
            tracing::warn!(table = "maintenance_events", id, column = "at", error = %e,
                "skipping an event whose time cannot be read");
            None
        }
    }
}
