//! The statements of a SQL store, written once and spelt for each dialect: its parameters
//! (`$1` on PostgreSQL, `?` elsewhere), its upserts (`ON CONFLICT` or `ON DUPLICATE KEY`) and
//! whether an `UPDATE` can return what it wrote.
//!
//! Every statement binds its parameters in the order its field's doc gives, the same on every
//! backend, so a store binds them once for all its backends.
//!
//! ```
//! use maintenance_sql::listing::Dialect;
//! use maintenance_sql::statements::Statements;
//!
//! let pg = Statements::of(Dialect::Postgres);
//! assert_eq!(pg.delete_path, "DELETE FROM maintenance_ignored_paths WHERE id = $1");
//! let mysql = Statements::of(Dialect::MySql);
//! assert_eq!(mysql.delete_path, "DELETE FROM maintenance_ignored_paths WHERE id = ?");
//! ```

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use maintenance_core::SiteState;

use crate::bulk::Placeholder;
use crate::engine::NewEvent;
use crate::listing::{Dialect, SITES_WITH_SCOPES};

/// The columns of a site row, in the order stores read them; `scope_patterns` comes from the
/// joined scope row ([`SITES_WITH_SCOPES`]).
pub const SITE_COLUMNS: &str = "id, domain, name, is_default, enabled, mode, message, starts_at, \
     ends_at, retry_after_secs, bypass_secret_hash, updated_at, updated_by, scope_patterns";

/// The aggregate that joins a site's tags by spaces, in the order stores read them
/// ([`crate::rows::SiteRow::tags`]): MySQL's `GROUP_CONCAT` stops at its
/// `group_concat_max_len`, 1,024 bytes by default, which a site's tags never reach
/// ([`maintenance_core::validate::MAX_TAGS`]).
fn tag_list(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "group_concat(tag, ' ')",
        Dialect::Postgres => "string_agg(tag, ' ')",
        Dialect::MySql => "GROUP_CONCAT(tag SEPARATOR ' ')",
    }
}

/// The columns of a site row with its tags ([`SITE_COLUMNS`], then `site_tags`), for a
/// statement that reads some sites: each site's tags come from a subquery on the tags' key,
/// an index lookup per site read.
pub fn site_columns(dialect: Dialect) -> String {
    format!(
        "{SITE_COLUMNS}, (SELECT {} FROM maintenance_site_tags \
         WHERE maintenance_site_tags.site_id = maintenance_sites.id) AS site_tags",
        tag_list(dialect)
    )
}

/// Every site row with its tags, in id order: the tags of every site are grouped once and
/// joined, rather than looked up site by site.
fn every_site(dialect: Dialect) -> String {
    format!(
        "SELECT {SITE_COLUMNS}, site_tag_lists.site_tags FROM {SITES_WITH_SCOPES} \
         LEFT JOIN (SELECT site_id AS tagged_site, {} AS site_tags FROM maintenance_site_tags \
         GROUP BY site_id) site_tag_lists ON site_tag_lists.tagged_site = maintenance_sites.id \
         ORDER BY id",
        tag_list(dialect)
    )
}

/// The columns of an ignored-path row.
pub const PATH_COLUMNS: &str = "id, site_id, pattern, description";

/// The columns of an allowed-network row.
pub const NETWORK_COLUMNS: &str = "id, site_id, cidr, description";

/// The columns of an audit event read back.
pub const EVENT_READ_COLUMNS: &str = "id, site_domain, at, actor, action, detail";

impl Dialect {
    /// How this dialect writes parameters. SQLite takes `?`: it looks a numbered parameter up
    /// by a scan of every name, which makes binding a statement of thousands of `$n`
    /// quadratic.
    pub fn placeholder(self) -> Placeholder {
        match self {
            Dialect::Postgres => Placeholder::Dollar,
            Dialect::Sqlite | Dialect::MySql => Placeholder::Question,
        }
    }

    /// Whether this dialect's upsert is `ON DUPLICATE KEY UPDATE` (MariaDB/MySQL) rather than
    /// `ON CONFLICT`.
    pub fn on_duplicate_key(self) -> bool {
        self == Dialect::MySql
    }
}

/// A statement's parameter, as every store binds it: a store turns each into its driver's
/// value in one place, and the lists below say the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param<'a> {
    /// A `BIGINT`.
    Int(i64),
    /// A nullable `BIGINT`.
    OptInt(Option<i64>),
    /// A boolean.
    Bool(bool),
    /// A text.
    Text(&'a str),
    /// A nullable text.
    OptText(Option<&'a str>),
    /// A timestamp, in the backend's form.
    Time(DateTime<Utc>),
    /// A nullable timestamp.
    OptTime(Option<DateTime<Utc>>),
}

/// The columns of a site a write sets after its id and name (enabled through updated_by), in
/// [`Statements::update_site`]'s order.
fn site_state_params(site: &SiteState) -> [Param<'_>; 9] {
    [
        Param::Bool(site.enabled),
        Param::Text(site.mode.as_str()),
        Param::OptText(site.message.as_deref()),
        Param::OptTime(site.starts_at),
        Param::OptTime(site.ends_at),
        Param::OptInt(site.retry_after_secs.map(i64::from)),
        Param::OptText(site.bypass_secret_hash.as_deref()),
        Param::OptTime(site.updated_at),
        Param::OptText(site.updated_by.as_deref()),
    ]
}

/// The parameters of [`Statements::insert_site`].
pub fn insert_site_params(site: &SiteState) -> Vec<Param<'_>> {
    let mut params = vec![
        Param::Text(&site.domain),
        Param::Text(&site.name),
        Param::Bool(site.is_default),
    ];
    params.extend(site_state_params(site));
    params
}

/// The parameters of [`Statements::update_site`].
pub fn update_site_params(site: &SiteState) -> Vec<Param<'_>> {
    let mut params = site_state_params(site).to_vec();
    params.push(Param::Int(site.id));
    params
}

/// The parameters of one site in [`crate::bulk::upsert_sites_sql`], one per
/// [`crate::bulk::SITE_WRITE_COLUMNS`] entry.
pub fn upsert_site_params(site: &SiteState) -> Vec<Param<'_>> {
    let mut params = vec![Param::Int(site.id)];
    params.extend(insert_site_params(site));
    params
}

/// The parameters of one event in [`crate::bulk::insert_events_sql`], one per
/// [`crate::bulk::EVENT_COLUMNS`] entry.
pub fn event_params<'a>(event: &NewEvent<'a>) -> [Param<'a>; 6] {
    [
        Param::OptInt(event.site_id),
        Param::OptText(event.site_domain),
        Param::Time(event.at),
        Param::Text(event.actor),
        Param::Text(event.action),
        Param::Text(event.detail),
    ]
}

/// Every statement a store runs, in one dialect. Parameters are listed in binding order; a
/// statement that reads one value names its column `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statements {
    /// The dialect these are written in.
    pub dialect: Dialect,
    /// The columns a statement selecting some sites reads ([`site_columns`]).
    pub site_columns: String,
    /// The revision. No parameter.
    pub select_revision: String,
    /// Bumps the revision (taking the writers' lock on its row). No parameter.
    pub bump_revision: String,
    /// Bumps the revision and returns the new value, where the dialect can (`RETURNING`);
    /// elsewhere [`Statements::bump_revision`] then [`Statements::select_revision`].
    pub bump_revision_returning: Option<String>,
    /// Every site row, in id order. No parameter.
    pub select_sites: String,
    /// Inserts a tag: site id, tag.
    pub insert_tag: String,
    /// Deletes a tag of a site: site id, tag.
    pub delete_tag: String,
    /// Deletes a site's tags: site id.
    pub delete_site_tags: String,
    /// The default site's row. No parameter.
    pub select_default_site: String,
    /// A site's row: domain.
    pub select_site_by_domain: String,
    /// The default site's domain. No parameter.
    pub select_default_domain: String,
    /// A site's domain, if it exists: domain.
    pub select_domain: String,
    /// A site's id: domain (unique).
    pub select_site_id: String,
    /// Records a site as changed at a revision: site id, revision, removed.
    pub record_change: String,
    /// The sites recorded as changed after a revision: revision. Columns `site_id, removed`.
    pub select_changes_since: String,
    /// Every ignored-path row, in id order. No parameter.
    pub select_paths: String,
    /// A site's ignored-path rows, in id order: site id.
    pub select_site_paths: String,
    /// Every allowed-network row, in id order. No parameter.
    pub select_networks: String,
    /// A site's allowed-network rows, in id order: site id.
    pub select_site_networks: String,
    /// Inserts a site: domain, name, is_default, enabled, mode, message, starts_at, ends_at,
    /// retry_after_secs, bypass_secret_hash, updated_at, updated_by.
    pub insert_site: String,
    /// Writes a site's own columns: enabled, mode, message, starts_at, ends_at,
    /// retry_after_secs, bypass_secret_hash, updated_at, updated_by, id.
    pub update_site: String,
    /// Writes a site's `updated_at` and `updated_by`: updated_at, updated_by, id.
    pub touch_site: String,
    /// Deletes a site's ignored paths: site id.
    pub delete_site_paths: String,
    /// Deletes a site's allowed networks: site id.
    pub delete_site_networks: String,
    /// Deletes a site: id.
    pub delete_site: String,
    /// Inserts an ignored path: site id, pattern, description.
    pub insert_path: String,
    /// Writes an ignored path's description: description, id.
    pub update_path: String,
    /// Deletes an ignored path: id.
    pub delete_path: String,
    /// Inserts an allowed network: site id, cidr, description.
    pub insert_network: String,
    /// Writes an allowed network's description: description, id.
    pub update_network: String,
    /// Deletes an allowed network: id.
    pub delete_network: String,
    /// The newest events first: limit.
    pub select_events: String,
    /// The newest events of one site first: site domain, limit.
    pub select_site_events: String,
    /// Restores the revision row (revision 1) if it is missing. No parameter.
    pub ensure_revision: String,
    /// How many sites are flagged default. No parameter.
    pub count_default_sites: String,
    /// Inserts the default site, unless its domain is taken: domain, name.
    pub insert_default_site: String,
}

static SQLITE: LazyLock<Statements> = LazyLock::new(|| Statements::new(Dialect::Sqlite));
static POSTGRES: LazyLock<Statements> = LazyLock::new(|| Statements::new(Dialect::Postgres));
static MYSQL: LazyLock<Statements> = LazyLock::new(|| Statements::new(Dialect::MySql));

impl Statements {
    /// The statements of `dialect`, written once per process.
    pub fn of(dialect: Dialect) -> &'static Statements {
        match dialect {
            Dialect::Sqlite => &SQLITE,
            Dialect::Postgres => &POSTGRES,
            Dialect::MySql => &MYSQL,
        }
    }

    /// The statements of `dialect`, written anew.
    pub fn new(dialect: Dialect) -> Statements {
        let ph = dialect.placeholder();
        let p = |n: usize| ph.nth(n);
        let columns = site_columns(dialect);
        let sites = format!("SELECT {columns} FROM {SITES_WITH_SCOPES}");
        let record_change = if dialect.on_duplicate_key() {
            "ON DUPLICATE KEY UPDATE version = VALUES(version), removed = VALUES(removed)"
        } else {
            "ON CONFLICT (site_id) DO UPDATE SET version = excluded.version, removed = excluded.removed"
        };
        let bump = "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1";
        let site_id = format!("= {}", p(1));
        Statements {
            dialect,
            site_columns: columns.clone(),
            select_revision: "SELECT revision AS value FROM maintenance_revision WHERE id = 1"
                .to_owned(),
            bump_revision: bump.to_owned(),
            bump_revision_returning: match dialect {
                Dialect::MySql => None,
                Dialect::Sqlite | Dialect::Postgres => {
                    Some(format!("{bump} RETURNING revision AS value"))
                }
            },
            select_sites: every_site(dialect),
            insert_tag: format!(
                "INSERT INTO maintenance_site_tags (site_id, tag) VALUES ({}, {})",
                p(1),
                p(2)
            ),
            delete_tag: format!(
                "DELETE FROM maintenance_site_tags WHERE site_id = {} AND tag = {}",
                p(1),
                p(2)
            ),
            delete_site_tags: format!("DELETE FROM maintenance_site_tags WHERE site_id = {}", p(1)),
            select_default_site: format!("{sites} WHERE is_default = TRUE ORDER BY id LIMIT 1"),
            select_site_by_domain: format!("{sites} WHERE domain = {}", p(1)),
            select_default_domain: "SELECT domain AS value FROM maintenance_sites \
                 WHERE is_default = TRUE ORDER BY id LIMIT 1"
                .to_owned(),
            select_domain: format!(
                "SELECT domain AS value FROM maintenance_sites WHERE domain = {}",
                p(1)
            ),
            select_site_id: format!(
                "SELECT id AS value FROM maintenance_sites WHERE domain = {}",
                p(1)
            ),
            record_change: format!(
                "INSERT INTO maintenance_site_changes (site_id, version, removed) VALUES ({}, {}, {}) {record_change}",
                p(1),
                p(2),
                p(3)
            ),
            select_changes_since: format!(
                "SELECT site_id, removed FROM maintenance_site_changes WHERE version > {}",
                p(1)
            ),
            select_paths: PATHS.select(None),
            select_site_paths: PATHS.select(Some(&site_id)),
            select_networks: NETWORKS.select(None),
            select_site_networks: NETWORKS.select(Some(&site_id)),
            insert_site: format!(
                "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode, message, \
                 starts_at, ends_at, retry_after_secs, bypass_secret_hash, updated_at, updated_by) \
                 VALUES {}",
                ph.tuples(1, 12, 1)
            ),
            update_site: format!(
                "UPDATE maintenance_sites SET enabled = {}, mode = {}, message = {}, starts_at = {}, \
                 ends_at = {}, retry_after_secs = {}, bypass_secret_hash = {}, updated_at = {}, \
                 updated_by = {} WHERE id = {}",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10)
            ),
            touch_site: format!(
                "UPDATE maintenance_sites SET updated_at = {}, updated_by = {} WHERE id = {}",
                p(1),
                p(2),
                p(3)
            ),
            delete_site_paths: PATHS.delete_by("site_id", ph),
            delete_site_networks: NETWORKS.delete_by("site_id", ph),
            delete_site: format!("DELETE FROM maintenance_sites WHERE id = {}", p(1)),
            insert_path: PATHS.insert(ph),
            update_path: PATHS.update_description(ph),
            delete_path: PATHS.delete_by("id", ph),
            insert_network: NETWORKS.insert(ph),
            update_network: NETWORKS.update_description(ph),
            delete_network: NETWORKS.delete_by("id", ph),
            select_events: format!(
                "SELECT {EVENT_READ_COLUMNS} FROM maintenance_events ORDER BY id DESC LIMIT {}",
                p(1)
            ),
            select_site_events: format!(
                "SELECT {EVENT_READ_COLUMNS} FROM maintenance_events WHERE site_domain = {} \
                 ORDER BY id DESC LIMIT {}",
                p(1),
                p(2)
            ),
            ensure_revision: if dialect.on_duplicate_key() {
                "INSERT INTO maintenance_revision (id, revision) VALUES (1, 1) \
                 ON DUPLICATE KEY UPDATE id = id"
            } else {
                "INSERT INTO maintenance_revision (id, revision) VALUES (1, 1) \
                 ON CONFLICT (id) DO NOTHING"
            }
            .to_owned(),
            count_default_sites:
                "SELECT COUNT(*) AS value FROM maintenance_sites WHERE is_default = TRUE".to_owned(),
            insert_default_site: format!(
                "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode) \
                 VALUES ({}, {}, TRUE, FALSE, 'full') {}",
                p(1),
                p(2),
                if dialect.on_duplicate_key() {
                    "ON DUPLICATE KEY UPDATE id = id"
                } else {
                    "ON CONFLICT (domain) DO NOTHING"
                }
            ),
        }
    }

    /// The site rows whose id is one of `count` bound ids, in id order.
    pub fn select_sites_in(&self, count: usize) -> String {
        let ids = self.site_ids_in(count);
        let columns = &self.site_columns;
        format!("SELECT {columns} FROM {SITES_WITH_SCOPES} WHERE id {ids} ORDER BY id")
    }

    /// The site rows carrying one of `count` bound tags, in id order (found through the tags'
    /// index).
    pub fn select_sites_tagged(&self, count: usize) -> String {
        let tags = self.dialect.placeholder().list(count);
        let columns = &self.site_columns;
        format!(
            "SELECT {columns} FROM {SITES_WITH_SCOPES} WHERE id IN \
             (SELECT site_id FROM maintenance_site_tags WHERE tag IN ({tags})) ORDER BY id"
        )
    }

    /// The ignored-path rows of `count` bound site ids, in id order.
    pub fn select_paths_in(&self, count: usize) -> String {
        PATHS.select(Some(&self.site_ids_in(count)))
    }

    /// The allowed-network rows of `count` bound site ids, in id order.
    pub fn select_networks_in(&self, count: usize) -> String {
        NETWORKS.select(Some(&self.site_ids_in(count)))
    }

    /// `IN` and a list of `count` parameters: the site ids a statement of many sites binds.
    fn site_ids_in(&self, count: usize) -> String {
        format!("IN ({})", self.dialect.placeholder().list(count))
    }
}

/// One of a site's two lists, ignored paths and allowed networks: a table of `id, site_id,
/// <entry>, description` rows, whose statements are written alike.
#[derive(Debug, Clone, Copy)]
struct List {
    table: &'static str,
    /// Its columns, in the order stores read them.
    columns: &'static str,
    /// The column that holds the entry: a pattern, a CIDR.
    entry: &'static str,
}

/// The `maintenance_ignored_paths` table.
const PATHS: List = List {
    table: "maintenance_ignored_paths",
    columns: PATH_COLUMNS,
    entry: "pattern",
};

/// The `maintenance_allowed_networks` table.
const NETWORKS: List = List {
    table: "maintenance_allowed_networks",
    columns: NETWORK_COLUMNS,
    entry: "cidr",
};

impl List {
    /// Its rows in id order: every row, or with `site_ids` (`= $1`, `IN ($1, $2)`) those of the
    /// sites it names.
    fn select(self, site_ids: Option<&str>) -> String {
        let List { table, columns, .. } = self;
        match site_ids {
            None => format!("SELECT {columns} FROM {table} ORDER BY id"),
            Some(ids) => format!("SELECT {columns} FROM {table} WHERE site_id {ids} ORDER BY id"),
        }
    }

    /// Inserts a row: site id, entry, description.
    fn insert(self, ph: Placeholder) -> String {
        let List { table, entry, .. } = self;
        let values = ph.tuples(1, 3, 1);
        format!("INSERT INTO {table} (site_id, {entry}, description) VALUES {values}")
    }

    /// Writes a row's description: description, id.
    fn update_description(self, ph: Placeholder) -> String {
        let (description, id) = (ph.nth(1), ph.nth(2));
        format!(
            "UPDATE {} SET description = {description} WHERE id = {id}",
            self.table
        )
    }

    /// Deletes the rows whose `column` (`id`, `site_id`) holds the one parameter.
    fn delete_by(self, column: &str, ph: Placeholder) -> String {
        format!("DELETE FROM {} WHERE {column} = {}", self.table, ph.nth(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::{EVENT_COLUMNS, SITE_WRITE_COLUMNS};

    const DIALECTS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql];

    /// The parameters a statement names: `$n` in order, or one per `?`.
    fn parameters(sql: &str, dialect: Dialect) -> Vec<usize> {
        match dialect.placeholder() {
            Placeholder::Question => (1..=sql.matches('?').count()).collect(),
            Placeholder::Dollar => sql
                .split('$')
                .skip(1)
                .map(|rest| {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse().expect("a numbered parameter")
                })
                .collect(),
        }
    }

    #[test]
    fn every_statement_binds_its_documented_parameters_in_order() {
        for dialect in DIALECTS {
            let s = Statements::of(dialect);
            let expected: [(&str, usize); 19] = [
                (&s.select_site_by_domain, 1),
                (&s.record_change, 3),
                (&s.insert_site, 12),
                (&s.update_site, 10),
                (&s.touch_site, 3),
                (&s.insert_path, 3),
                (&s.update_path, 2),
                (&s.delete_path, 1),
                (&s.insert_network, 3),
                (&s.update_network, 2),
                (&s.delete_network, 1),
                (&s.select_events, 1),
                (&s.select_site_events, 2),
                (&s.select_changes_since, 1),
                (&s.select_site_id, 1),
                (&s.bump_revision, 0),
                (&s.insert_tag, 2),
                (&s.delete_tag, 2),
                (&s.delete_site_tags, 1),
            ];
            assert_eq!(
                parameters(&s.insert_default_site, dialect),
                [1, 2],
                "{dialect:?}"
            );
            for (sql, count) in expected {
                assert_eq!(
                    parameters(sql, dialect),
                    (1..=count).collect::<Vec<_>>(),
                    "{dialect:?}: {sql}"
                );
            }
        }
    }

    #[test]
    fn the_parameter_lists_match_their_statements() {
        let site = SiteState::new(3, "a.example");
        assert_eq!(insert_site_params(&site).len(), 12);
        assert_eq!(update_site_params(&site).len(), 10);
        assert_eq!(update_site_params(&site).last(), Some(&Param::Int(3)));
        assert_eq!(upsert_site_params(&site).len(), SITE_WRITE_COLUMNS.len());
        assert_eq!(upsert_site_params(&site)[1], Param::Text("a.example"));
        let event = NewEvent {
            site_id: None,
            site_domain: None,
            at: Utc::now(),
            actor: "a",
            action: "on",
            detail: "",
        };
        assert_eq!(event_params(&event).len(), EVENT_COLUMNS.len());
    }

    #[test]
    fn dialects_differ_where_their_sql_does() {
        let (sqlite, pg, mysql) = (
            Statements::of(Dialect::Sqlite),
            Statements::of(Dialect::Postgres),
            Statements::of(Dialect::MySql),
        );
        assert!(sqlite.record_change.contains("ON CONFLICT (site_id)"));
        assert!(mysql.record_change.contains("ON DUPLICATE KEY UPDATE"));
        assert!(mysql.bump_revision_returning.is_none());
        assert!(
            pg.bump_revision_returning
                .as_deref()
                .unwrap()
                .ends_with("RETURNING revision AS value")
        );
        assert!(
            pg.select_sites_in(2)
                .contains("WHERE id IN ($1, $2) ORDER BY id")
        );
        assert!(pg.select_paths_in(3).contains("IN ($1, $2, $3)"));
        assert!(sqlite.select_networks_in(2).contains("IN (?, ?)"));
        assert_eq!(Statements::new(Dialect::MySql), *mysql);
    }
}
