//! Site listings ([`MaintenanceStore::list_sites`](maintenance_core::MaintenanceStore::list_sites))
//! filtered, counted and paged in the database, written once for every SQL store.
//!
//! [`ListingSql`] is the query of a [`SiteQuery`] in a backend's dialect: the `WHERE` clause
//! with its parameters, the order and the page. The answer is
//! [`SiteQuery::page_of`]'s: the search is a case-insensitive substring of the domain or the
//! name (`LOWER(..) LIKE`, with the search's own `%`, `_` and `!` escaped), the state filter is
//! evaluated at the query's `now`, bound as a parameter, the tag filter looks the tags up in
//! their own table (by its index on the tag), and sites are ordered default first,
//! then by domain compared byte by byte. Case folding beyond ASCII is the database's (SQLite's
//! `LOWER` folds ASCII only), so searches for non-ASCII names may differ from the in-memory
//! answer.

use chrono::{DateTime, Utc};

use maintenance_core::{MAX_PAGE_SIZE, SitePage, SiteQuery, StateFilter, StoreError};

use crate::bulk::Placeholder;
use crate::engine::{Engine, load};

/// The SQL dialects of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MariaDB/MySQL.
    MySql,
}

/// A parameter of a listing's `WHERE` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// A text (a `LIKE` pattern).
    Text(String),
    /// An instant (the query's `now`).
    Time(DateTime<Utc>),
}

/// A [`SiteQuery`] in a backend's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingSql {
    /// The condition on `maintenance_sites` (`TRUE` for every site), with its parameters
    /// numbered from 1.
    pub where_clause: String,
    /// The parameters of [`ListingSql::where_clause`], in order.
    pub binds: Vec<Bind>,
    /// The `ORDER BY ... LIMIT ... OFFSET ...` tail of the page's query.
    pub order_and_page: String,
    /// The page's size (at most [`MAX_PAGE_SIZE`]).
    pub limit: u32,
    /// How many matching sites the page skips.
    pub offset: u64,
}

impl ListingSql {
    /// `SELECT COUNT(*) AS value` of the matching sites.
    pub fn count_sql(&self) -> String {
        format!(
            "SELECT COUNT(*) AS value FROM maintenance_sites WHERE {}",
            self.where_clause
        )
    }

    /// `SELECT columns` of the page's sites, in listing order. Each site's scope row is
    /// joined ([`SITES_WITH_SCOPES`]), so the columns may name `scope_patterns`.
    pub fn page_sql(&self, columns: &str) -> String {
        format!(
            "SELECT {columns} FROM {SITES_WITH_SCOPES} WHERE {} {}",
            self.where_clause, self.order_and_page
        )
    }
}

/// The sites, each with the `scope_patterns` of its scope row (`NULL` without one): what a
/// store selects site rows from.
pub const SITES_WITH_SCOPES: &str = "maintenance_sites LEFT JOIN maintenance_site_scopes \
     ON maintenance_site_scopes.site_id = maintenance_sites.id";

/// `text` as a `LIKE` pattern matching it anywhere, `!` being the escape character.
pub fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The SQL of `query` in `dialect`, its parameters written as `placeholder` says.
pub fn listing_sql(query: &SiteQuery, dialect: Dialect, placeholder: Placeholder) -> ListingSql {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    let param = |bind: Bind, binds: &mut Vec<Bind>| {
        binds.push(bind);
        placeholder.nth(binds.len())
    };
    if let Some(text) = query.search_text() {
        let pattern = contains_pattern(&text);
        let a = param(Bind::Text(pattern.clone()), &mut binds);
        let b = param(Bind::Text(pattern), &mut binds);
        conditions.push(format!(
            "(LOWER(domain) LIKE {a} ESCAPE '!' OR LOWER(name) LIKE {b} ESCAPE '!')"
        ));
    }
    if !query.tags.is_empty() {
        let tags: Vec<String> = query
            .tags
            .iter()
            .map(|t| param(Bind::Text(t.clone()), &mut binds))
            .collect();
        conditions.push(format!(
            "id IN (SELECT site_id FROM maintenance_site_tags WHERE tag IN ({}))",
            tags.join(", ")
        ));
    }
    if let Some(state) = query.state {
        let mut now = || param(Bind::Time(query.now), &mut binds);
        let mut active = || {
            let (n1, n2) = (now(), now());
            format!(
                "(enabled = TRUE AND (starts_at IS NULL OR starts_at <= {n1}) \
                 AND (ends_at IS NULL OR ends_at > {n2}))"
            )
        };
        // Scheduled sites are never active: their window has not begun.
        let scheduled =
            |n: String| format!("(enabled = TRUE AND starts_at IS NOT NULL AND starts_at > {n})");
        conditions.push(match state {
            StateFilter::On => active(),
            StateFilter::Scheduled => scheduled(now()),
            StateFilter::Off => {
                let active = active();
                format!("(NOT {active} AND NOT {})", scheduled(now()))
            }
        });
    }
    let where_clause = if conditions.is_empty() {
        "1 = 1".to_owned()
    } else {
        conditions.join(" AND ")
    };
    // Byte order, as the in-memory listing sorts.
    let domain_order = match dialect {
        Dialect::Sqlite => "domain",
        Dialect::Postgres => "domain COLLATE \"C\"",
        Dialect::MySql => "CAST(domain AS BINARY)",
    };
    let limit = query.limit.min(MAX_PAGE_SIZE);
    let offset = query.offset.min(i64::MAX as u64);
    ListingSql {
        where_clause,
        binds,
        order_and_page: format!(
            "ORDER BY is_default DESC, {domain_order}, id LIMIT {limit} OFFSET {offset}"
        ),
        limit,
        offset,
    }
}

/// [`MaintenanceStore::list_sites`](maintenance_core::MaintenanceStore::list_sites) through an
/// [`Engine`]: in the database when the store reads listings
/// ([`Engine::read_listing`]), else over every site in memory.
pub async fn list_sites<E: Engine + ?Sized>(
    engine: &E,
    query: &SiteQuery,
) -> Result<SitePage, StoreError> {
    match engine.read_listing(query).await? {
        Some((total, rows)) => Ok(SitePage {
            total,
            sites: rows.into_sites(),
        }),
        None => Ok(query.page_of(&load(engine).await?.sites)),
    }
}
