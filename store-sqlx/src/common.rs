//! What this crate adds to the write layer of [`maintenance_sql::engine`]: reading sqlx
//! rows into the core's rows (skipping what cannot be read), and mapping sqlx's errors.
//!
//! A backend supplies the SQL through [`Engine`] (reads) and [`WriteTx`] (one write
//! transaction; dropping it without [`WriteTx::commit`] rolls everything back); the functions
//! of [`maintenance_sql::engine`] hold the behaviour, so every backend matches
//! [`maintenance_core::MemoryStore`] in the same way.

use chrono::{DateTime, Utc};
use maintenance_core::{Event, StoreError};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::Error;

pub(crate) use maintenance_sql::rows::{NetworkRow, PathRow, SiteRow};

/// A result of sqlx, its error mapped into [`StoreError::Backend`] (keeping it as the source).
pub(crate) fn db<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    result.map_err(StoreError::backend)
}

/// The error of a missing revision row, for [`Engine::no_revision_row`].
pub(crate) fn no_revision_row() -> StoreError {
    Error::NoRevisionRow.into()
}

/// Typed column access on any backend's row.
pub(crate) trait RowExt {
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error>;
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn time(&self, col: &str) -> Result<DateTime<Utc>, sqlx::Error>;
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

impl<R> RowExt for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DbTime: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error> {
        self.try_get(col)
    }
    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(col)
    }
    fn time(&self, col: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get(col).map(|t: DbTime| t.0)
    }
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(col).map(|t: Option<DbTime>| t.map(|t| t.0))
    }
}

/// A timestamp column read into UTC, never panicking: a value out of the model's range
/// (PostgreSQL's `infinity`, or a time past year 262143) is a decode error, which the lenient
/// readers log and read as unset.
pub(crate) struct DbTime(DateTime<Utc>);

/// `DbTime` reads as `DateTime<Utc>` does, on backends whose conversion cannot overflow.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
macro_rules! db_time_as_chrono {
    ($db:ty) => {
        impl Type<$db> for DbTime {
            fn type_info() -> <$db as sqlx::Database>::TypeInfo {
                <DateTime<Utc> as Type<$db>>::type_info()
            }
            fn compatible(ty: &<$db as sqlx::Database>::TypeInfo) -> bool {
                <DateTime<Utc> as Type<$db>>::compatible(ty)
            }
        }
        impl<'r> Decode<'r, $db> for DbTime {
            fn decode(
                value: <$db as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <DateTime<Utc> as Decode<'r, $db>>::decode(value).map(DbTime)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
db_time_as_chrono!(sqlx::Sqlite);
#[cfg(feature = "mysql")]
db_time_as_chrono!(sqlx::MySql);

#[cfg(feature = "postgres")]
impl Type<sqlx::Postgres> for DbTime {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <DateTime<Utc> as Type<sqlx::Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<sqlx::Postgres>>::compatible(ty)
    }
}

/// PostgreSQL sends a `timestamptz` as microseconds since 2000-01-01 UTC; sqlx's own
/// conversion panics on values that do not fit (`infinity` is `i64::MAX`), so the addition is
/// checked here.
#[cfg(feature = "postgres")]
impl<'r> Decode<'r, sqlx::Postgres> for DbTime {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match value.format() {
            sqlx::postgres::PgValueFormat::Binary => {
                let micros = <i64 as Decode<'r, sqlx::Postgres>>::decode(value)?;
                postgres_micros_to_utc(micros).map(DbTime).ok_or_else(|| {
                    format!("timestamp {micros} µs after 2000-01-01 is out of range").into()
                })
            }
            sqlx::postgres::PgValueFormat::Text => {
                <DateTime<Utc> as Decode<'r, sqlx::Postgres>>::decode(value).map(DbTime)
            }
        }
    }
}

/// Microseconds since 2000-01-01 UTC, if the time fits the model.
#[cfg(feature = "postgres")]
fn postgres_micros_to_utc(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(946_684_800, 0)?
        .checked_add_signed(chrono::TimeDelta::microseconds(micros))
}

/// Reads an optional timestamp; one that cannot be read (text written by hand on SQLite) is
/// logged and read as unset, so the row still loads.
fn lenient_time(
    row: &impl RowExt,
    table: &'static str,
    id: i64,
    col: &'static str,
) -> Option<DateTime<Utc>> {
    row.opt_time(col).unwrap_or_else(|e| {
        tracing::warn!(table, id, column = col, error = %e, "unreadable timestamp; reading it as unset");
        None
    })
}

/// A row of one of the tables, read from a sqlx row by its column names.
pub(crate) trait ReadRow: Sized {
    /// The table, which a row that cannot be read is logged with.
    const TABLE: &'static str;
    /// The row; an error when a column it needs cannot be read.
    fn read(row: &impl RowExt) -> Result<Self, sqlx::Error>;
}

impl ReadRow for SiteRow {
    const TABLE: &'static str = "maintenance_sites";

    fn read(row: &impl RowExt) -> Result<Self, sqlx::Error> {
        let id = row.int("id")?;
        let time = |column| lenient_time(row, Self::TABLE, id, column);
        Ok(SiteRow {
            id,
            domain: row.text("domain")?,
            name: row.text("name")?,
            is_default: row.flag("is_default")?,
            enabled: row.flag("enabled")?,
            mode: row.text("mode")?,
            message: row.opt_text("message")?,
            starts_at: time("starts_at"),
            ends_at: time("ends_at"),
            retry_after_secs: row.opt_int("retry_after_secs")?,
            bypass_secret_hash: row.opt_text("bypass_secret_hash")?,
            updated_at: time("updated_at"),
            updated_by: row.opt_text("updated_by")?,
            scope_patterns: row.opt_text("scope_patterns")?,
            tags: row.opt_text("site_tags")?,
        })
    }
}

impl ReadRow for PathRow {
    const TABLE: &'static str = "maintenance_ignored_paths";

    fn read(row: &impl RowExt) -> Result<Self, sqlx::Error> {
        Ok(PathRow {
            id: row.int("id")?,
            site_id: row.int("site_id")?,
            pattern: row.text("pattern")?,
            description: row.text("description")?,
        })
    }
}

impl ReadRow for NetworkRow {
    const TABLE: &'static str = "maintenance_allowed_networks";

    fn read(row: &impl RowExt) -> Result<Self, sqlx::Error> {
        Ok(NetworkRow {
            id: row.int("id")?,
            site_id: row.int("site_id")?,
            cidr: row.text("cidr")?,
            description: row.text("description")?,
        })
    }
}

impl ReadRow for Event {
    const TABLE: &'static str = "maintenance_events";

    fn read(row: &impl RowExt) -> Result<Self, sqlx::Error> {
        Ok(Event {
            id: row.int("id")?,
            site: row.opt_text("site_domain")?,
            at: row.time("at")?,
            actor: row.text("actor")?,
            action: row.text("action")?,
            detail: row.text("detail")?,
        })
    }
}

/// Reads the rows of `rows` one at a time as they arrive: a full load never holds every raw
/// row of a table at once next to what they are read into. A row that cannot be read is
/// logged with its table and id, and skipped.
pub(crate) async fn read_rows<T, R, S>(mut rows: S) -> Result<Vec<T>, sqlx::Error>
where
    T: ReadRow,
    R: RowExt,
    S: futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
{
    use futures_util::TryStreamExt;
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        match T::read(&row) {
            Ok(value) => out.push(value),
            Err(e) => {
                let (table, id) = (T::TABLE, row.int("id").ok());
                tracing::warn!(table, id, error = %e, "skipping a row that cannot be read");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use maintenance_core::{Mode, StateChange};
    use maintenance_sql::engine::{assemble_all, to_micros};
    use maintenance_sql::rows::{Rows, assemble_site};

    fn site_row(id: i64, domain: &str, mode: &str) -> SiteRow {
        SiteRow {
            id,
            domain: domain.to_owned(),
            name: domain.to_owned(),
            is_default: false,
            enabled: true,
            mode: mode.to_owned(),
            message: None,
            starts_at: None,
            ends_at: None,
            retry_after_secs: Some(-5),
            bypass_secret_hash: Some("plaintext".to_owned()),
            updated_at: None,
            updated_by: None,
            scope_patterns: None,
            tags: None,
        }
    }

    #[test]
    fn scopes_read_as_stored_or_as_the_whole_site() {
        let mut row = site_row(7, "shop.example", "full");
        row.scope_patterns = Some(r#"["^checkout/","^api/orders"]"#.to_owned());
        let site = assemble_site(row.clone(), [], []).unwrap();
        assert_eq!(site.scope, ["^checkout/", "^api/orders"]);
        for bad in ["not json", r#"{"a":1}"#, r#"["^ok", "^(broken"]"#, "[1]"] {
            row.scope_patterns = Some(bad.to_owned());
            let site = assemble_site(row.clone(), [], []).unwrap();
            assert!(site.scope.is_empty(), "{bad}: {:?}", site.scope);
        }
    }

    #[test]
    fn invalid_values_are_skipped_and_unknown_mode_reads_as_full() {
        let paths = [
            PathRow {
                id: 1,
                site_id: 7,
                pattern: "^ok/".to_owned(),
                description: String::new(),
            },
            PathRow {
                id: 2,
                site_id: 7,
                pattern: "^(unclosed".to_owned(),
                description: String::new(),
            },
        ];
        let networks = [
            NetworkRow {
                id: 1,
                site_id: 7,
                cidr: "10.0.0.0/8".to_owned(),
                description: String::new(),
            },
            NetworkRow {
                id: 2,
                site_id: 7,
                cidr: "10.0.0.0/99".to_owned(),
                description: String::new(),
            },
        ];
        let site = assemble_site(
            site_row(7, "Shop.example.com", "sideways"),
            &paths,
            &networks,
        )
        .unwrap();
        assert_eq!(site.domain, "shop.example.com");
        assert_eq!(site.mode, Mode::Full);
        assert_eq!(site.retry_after_secs, None);
        assert_eq!(site.bypass_secret_hash, None);
        assert_eq!(site.ignored_paths.len(), 1);
        assert_eq!(site.allowed_networks.len(), 1);

        let read_only = assemble_site(site_row(8, "a.example", "read-only"), [], []).unwrap();
        assert_eq!(read_only.mode, Mode::ReadOnly);
        assert!(assemble_site(site_row(9, "bad domain!", "full"), [], []).is_none());
    }

    #[test]
    fn rows_are_grouped_by_site_in_id_order() {
        let rows = Rows {
            revision: Some(3),
            sites: vec![
                site_row(1, "a.example", "full"),
                site_row(2, "b.example", "full"),
            ],
            paths: vec![
                PathRow {
                    id: 1,
                    site_id: 2,
                    pattern: "^b".to_owned(),
                    description: String::new(),
                },
                PathRow {
                    id: 2,
                    site_id: 1,
                    pattern: "^a".to_owned(),
                    description: String::new(),
                },
                PathRow {
                    id: 3,
                    site_id: 99,
                    pattern: "^orphan".to_owned(),
                    description: String::new(),
                },
            ],
            networks: Vec::new(),
        };
        let contents = assemble_all(rows).unwrap();
        assert_eq!(contents.revision, 3);
        let patterns: Vec<Vec<&str>> = contents
            .sites
            .iter()
            .map(|s| s.ignored_paths.iter().map(|p| p.pattern.as_str()).collect())
            .collect();
        assert_eq!(patterns, [vec!["^a"], vec!["^b"]]);
        assert!(assemble_all(Rows::default()).is_err(), "no revision row");
    }

    #[test]
    fn window_instants_are_cut_to_microseconds() {
        let t = DateTime::from_timestamp(1_900_000_000, 123_456_789).unwrap();
        let change = StateChange::turn_on().window(Some(t), None);
        let cut = to_micros(&change);
        assert_eq!(
            cut.starts_at,
            Some(Some(
                DateTime::from_timestamp(1_900_000_000, 123_456_000).unwrap()
            ))
        );
        assert_eq!(cut.ends_at, Some(None));
        assert_eq!(cut.enabled, Some(true));
    }
}
