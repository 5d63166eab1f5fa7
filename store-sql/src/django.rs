//! django-maintenancemode-2's own tables, read as sites, for a read-only source beside a
//! Django site (whatever the driver that runs [`select_sql`]).
//!
//! The tables (built by Django's migrations, never by ours) are `django_site(id, domain,
//! name)`, `maintenancemode_maintenance(id, site_id UNIQUE, is_being_performed)` and
//! `maintenancemode_ignoredurl(id, maintenance_id, pattern, description)`. Each Django site
//! reads as a site by its domain; the one whose id is the Django `SITE_ID` is the default site;
//! `is_being_performed` is the flag (a site without a `Maintenance` row is not in maintenance,
//! as django-maintenancemode-2 says); each `IgnoredURL` is an ignored pattern with its description, with
//! django-maintenancemode-2's meaning (a regex matched at the start of the path without its leading `/`).
//!
//! The tables have no revision, so a digest stands for one, which any change to the three
//! tables changes: computed by the server ([`digest_sql`]) on PostgreSQL and MySQL, over the
//! rows [`select_sql`] reads ([`digest`]) on SQLite.
//!
//! ```
//! use maintenance_sql::django::{DjangoRow, assemble, digest};
//! let rows = vec![DjangoRow {
//!     site_id: 1,
//!     domain: "example.com".into(),
//!     name: "example.com".into(),
//!     flag: Some(true),
//!     url_id: Some(7),
//!     pattern: Some("^ignored-page/$".into()),
//!     description: Some("the page that stays up".into()),
//! }];
//! let sites = assemble(&rows, 1);
//! assert!(sites[0].is_default && sites[0].enabled);
//! assert_eq!(sites[0].ignored_paths[0].pattern, "^ignored-page/$");
//! assert_ne!(digest(&rows), digest(&[]));
//! ```

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use maintenance_core::{IgnoredPath, SiteState, printable::Printable, validate};

use crate::listing::Dialect;

/// The Django tables read, in the order of their joins.
pub const TABLES: [&str; 3] = [
    "django_site",
    "maintenancemode_maintenance",
    "maintenancemode_ignoredurl",
];

/// Django's default `SITE_ID`.
pub const DEFAULT_SITE_ID: i64 = 1;

/// The digest of the three tables computed by the database server, on PostgreSQL and MySQL:
/// a sum of one hash per row (each value's length written before it), so that a poll moves
/// one number over the network instead of every row. `None` on SQLite, which has no hash
/// function: there the rows are read and hashed with [`digest`] (a local file has no network
/// to spare, and the source reads only when the file changed, see `PRAGMA data_version`).
///
/// Never negative. Any change to a row changes it, but for hash collisions (one in 2^63 on
/// PostgreSQL, `hashtextextended`; one in 2^64 per row on MySQL, two `CRC32`s).
pub fn digest_sql(dialect: Dialect) -> Option<&'static str> {
    match dialect {
        Dialect::Sqlite => None,
        Dialect::Postgres => Some(concat!("SELECT ", postgres_digest!(), " AS digest")),
        Dialect::MySql => Some(concat!("SELECT ", mysql_digest!(), " AS digest")),
    }
}

macro_rules! postgres_digest {
    () => {
        "CAST(MOD(ABS(\
         (SELECT COALESCE(SUM(hashtextextended(CONCAT_WS(':', id, LENGTH(domain), domain, LENGTH(name), name), 1)), 0) FROM django_site) \
         + 3 * (SELECT COALESCE(SUM(hashtextextended(CONCAT_WS(':', id, site_id, is_being_performed), 2)), 0) FROM maintenancemode_maintenance) \
         + 7 * (SELECT COALESCE(SUM(hashtextextended(CONCAT_WS(':', id, maintenance_id, LENGTH(pattern), pattern, LENGTH(description), description), 3)), 0) FROM maintenancemode_ignoredurl) \
         + (SELECT COUNT(*) FROM django_site) + 11 * (SELECT COUNT(*) FROM maintenancemode_ignoredurl)\
         ), 9223372036854775807) AS BIGINT)"
    };
}
use postgres_digest;

macro_rules! mysql_digest {
    () => {
        "CAST(MOD(\
         (SELECT COALESCE(SUM(CRC32(CONCAT_WS(':', id, CHAR_LENGTH(domain), domain, CHAR_LENGTH(name), name)) * 4294967296 + CRC32(CONCAT_WS(':', name, domain, id))), 0) FROM django_site) \
         + 3 * (SELECT COALESCE(SUM(CRC32(CONCAT_WS(':', id, site_id, is_being_performed)) * 4294967296 + CRC32(CONCAT_WS(':', is_being_performed, site_id, id))), 0) FROM maintenancemode_maintenance) \
         + 7 * (SELECT COALESCE(SUM(CRC32(CONCAT_WS(':', id, maintenance_id, CHAR_LENGTH(pattern), pattern, CHAR_LENGTH(description), description)) * 4294967296 + CRC32(CONCAT_WS(':', description, pattern, maintenance_id, id))), 0) FROM maintenancemode_ignoredurl) \
         + (SELECT COUNT(*) FROM django_site) + 11 * (SELECT COUNT(*) FROM maintenancemode_ignoredurl)\
         , 9223372036854775807) AS SIGNED)"
    };
}
use mysql_digest;

/// The one statement that reads the three tables: a consistent view on every backend, one row
/// per ignored pattern (or per site without one), with the columns [`DjangoRow`] names; on
/// PostgreSQL and MySQL also a `digest` column, [`digest_sql`]'s value computed in the same
/// statement (so from the same snapshot as the rows).
///
/// Ids are cast to 64-bit integers (Django's `AutoField` is 32-bit on PostgreSQL and MySQL)
/// and the flag to an integer (`NULL` without a `Maintenance` row), so that one decoding fits
/// every backend and every `DEFAULT_AUTO_FIELD`.
pub fn select_sql(dialect: Dialect) -> &'static str {
    macro_rules! select {
        ($int:literal, $digest_column:expr, $digest_join:expr) => {
            concat!(
                "SELECT CAST(s.id AS ",
                $int,
                ") AS site_id, s.domain AS domain, s.name AS name, \
                 CAST(CASE WHEN m.id IS NULL THEN NULL WHEN m.is_being_performed THEN 1 ELSE 0 END AS ",
                $int,
                ") AS flag, CAST(u.id AS ",
                $int,
                ") AS url_id, u.pattern AS pattern, u.description AS description",
                $digest_column,
                " FROM django_site s \
                 LEFT JOIN maintenancemode_maintenance m ON m.site_id = s.id \
                 LEFT JOIN maintenancemode_ignoredurl u ON u.maintenance_id = m.id",
                $digest_join,
                " ORDER BY s.id, u.id"
            )
        };
    }
    match dialect {
        Dialect::Sqlite => select!("BIGINT", "", ""),
        Dialect::Postgres => select!(
            "BIGINT",
            ", d.digest AS digest",
            concat!(" CROSS JOIN (SELECT ", postgres_digest!(), " AS digest) d")
        ),
        Dialect::MySql => select!(
            "SIGNED",
            ", d.digest AS digest",
            concat!(" CROSS JOIN (SELECT ", mysql_digest!(), " AS digest) d")
        ),
    }
}

/// One row of [`select_sql`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoRow {
    /// `django_site.id`.
    pub site_id: i64,
    /// `django_site.domain`.
    pub domain: String,
    /// `django_site.name`.
    pub name: String,
    /// `maintenancemode_maintenance.is_being_performed`; `None` without a row.
    pub flag: Option<bool>,
    /// `maintenancemode_ignoredurl.id`; `None` for a site without ignored URLs.
    pub url_id: Option<i64>,
    /// `maintenancemode_ignoredurl.pattern`.
    pub pattern: Option<String>,
    /// `maintenancemode_ignoredurl.description`.
    pub description: Option<String>,
}

/// The sites the rows describe, in site id order; the site whose id is `default_site_id` is
/// the default site.
///
/// Read leniently, each skip with a warning naming the Django table and row id: an invalid
/// pattern is left out (the rest of the site is kept); a site whose domain cannot match a host
/// is left out, unless it is the default site. Sites whose domains are the same once
/// normalised (`example.com` and `EXAMPLE.com:8000.`) are merged into one, failing closed
/// (see `merge`), with a warning naming them.
pub fn assemble(rows: &[DjangoRow], default_site_id: i64) -> Vec<SiteState> {
    let mut sites: BTreeMap<i64, Read> = BTreeMap::new();
    for row in rows {
        let read = match sites.entry(row.site_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let mut site = SiteState::new(row.site_id, &row.domain);
                site.is_default = row.site_id == default_site_id;
                site.enabled = row.flag == Some(true);
                e.insert(Read {
                    site,
                    url_ids: Vec::new(),
                })
            }
        };
        read.site.name.clone_from(&row.name);
        if let (Some(url_id), Some(pattern)) = (row.url_id, &row.pattern) {
            match validate::pattern_syntax(pattern) {
                Ok(()) => {
                    read.site.ignored_paths.push(IgnoredPath {
                        pattern: pattern.clone(),
                        description: row.description.clone().unwrap_or_default(),
                    });
                    read.url_ids.push(url_id);
                }
                Err(e) => {
                    tracing::warn!(table = TABLES[2], id = url_id, site_id = row.site_id, error = %e,
                    "skipping an ignored URL whose pattern cannot be used")
                }
            }
        }
    }
    if !sites.contains_key(&default_site_id) {
        tracing::warn!(
            table = TABLES[0],
            site_id = default_site_id,
            "no Django site has the SITE_ID; hosts that name no site get the unknown-host policy"
        );
    }
    // Sites in id order, grouped by their normalised domain (a group in the order of its
    // lowest id).
    let mut by_domain: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<Vec<Read>> = Vec::with_capacity(sites.len());
    for (id, mut read) in sites {
        match validate::domain(&read.site.domain) {
            Ok(domain) => read.site.domain = domain,
            Err(e) if read.site.is_default => {
                tracing::warn!(table = TABLES[0], id, domain = %Printable(&read.site.domain), error = %e,
                    "the SITE_ID site's domain cannot match a host; it still serves unknown hosts");
            }
            Err(e) => {
                tracing::warn!(table = TABLES[0], id, domain = %Printable(&read.site.domain), error = %e,
                    "skipping a Django site whose domain cannot match a host");
                continue;
            }
        }
        match by_domain.entry(read.site.domain.clone()) {
            Entry::Vacant(e) => {
                e.insert(groups.len());
                groups.push(vec![read]);
            }
            Entry::Occupied(e) => {
                if let Some(group) = groups.get_mut(*e.get()) {
                    group.push(read);
                }
            }
        }
    }
    groups.into_iter().filter_map(merge).collect()
}

/// A Django site as read, with the `maintenancemode_ignoredurl` id of each of its patterns
/// (for warnings).
struct Read {
    site: SiteState,
    url_ids: Vec<i64>,
}

/// One site for Django sites that share a normalised domain (in id order), since a request
/// cannot tell them apart; `None` for no site.
///
/// It fails closed: the merged site keeps the default site's id and name if one of them is the
/// default site, else the lowest id's, and is in maintenance if any of them is. A path is
/// exempt only where every site in maintenance exempts it. One pattern list cannot say "matched
/// by one of A's patterns and by one of B's" (the regex engine has no lookahead to join them),
/// so the merged site keeps the patterns that every site in maintenance has (compared as
/// written; every site's, when none is in maintenance): where those sites agree, that is
/// exactly their list; where they differ, a path some of them exempt through different
/// patterns is blocked, the strict side. Each pattern left out is named in a warning.
fn merge(mut group: Vec<Read>) -> Option<SiteState> {
    if group.len() < 2 {
        return group.pop().map(|read| read.site);
    }
    let ids: Vec<i64> = group.iter().map(|r| r.site.id).collect();
    let enabled = group.iter().any(|r| r.site.enabled);
    let deciding: Vec<&Read> = group
        .iter()
        .filter(|r| r.site.enabled || !enabled)
        .collect();
    let kept: Vec<IgnoredPath> = deciding.first().map_or_else(Vec::new, |first| {
        first
            .site
            .ignored_paths
            .iter()
            .filter(|p| {
                deciding
                    .iter()
                    .all(|r| r.site.ignored_paths.iter().any(|q| q.pattern == p.pattern))
            })
            .cloned()
            .collect()
    });
    let at = group.iter().position(|r| r.site.is_default).unwrap_or(0);
    let (kept_id, domain) = group
        .get(at)
        .map(|r| (r.site.id, r.site.domain.clone()))
        .unwrap_or_default();
    tracing::warn!(table = TABLES[0], ids = ?ids, kept = kept_id, domain = %Printable(&domain), enabled,
        "Django sites have the same domain once normalised; merged into one, in maintenance \
         if any of them is, a path ignored only where every one in maintenance ignores it");
    for read in &group {
        for (pattern, url_id) in read.site.ignored_paths.iter().zip(&read.url_ids) {
            if !kept.iter().any(|k| k.pattern == pattern.pattern) {
                tracing::warn!(table = TABLES[2], id = url_id, site_id = read.site.id,
                    pattern = %Printable(&pattern.pattern), domain = %Printable(&domain),
                    "an ignored URL not shared by every merged site in maintenance is left out");
            }
        }
    }
    let mut site = group.swap_remove(at).site;
    site.enabled = enabled;
    site.ignored_paths = kept;
    Some(site)
}

/// A hash of the rows, standing for the revision the Django tables do not have: any change to
/// a row [`select_sql`] reads (a flag, a pattern, a description, a domain, a site or pattern
/// added or removed) changes it. Never negative; the same rows give the same value in every
/// process (FNV-1a, with each value's length written before it).
pub fn digest(rows: &[DjangoRow]) -> i64 {
    let mut hash = Fnv::new();
    hash.write(&(rows.len() as u64).to_le_bytes());
    for row in rows {
        hash.write(&row.site_id.to_le_bytes());
        hash.text(&row.domain);
        hash.text(&row.name);
        hash.write(&[match row.flag {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        }]);
        hash.write(&row.url_id.unwrap_or(-1).to_le_bytes());
        hash.opt_text(row.pattern.as_deref());
        hash.opt_text(row.description.as_deref());
    }
    (hash.0 & (i64::MAX as u64)) as i64
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn text(&mut self, text: &str) {
        self.write(&(text.len() as u64).to_le_bytes());
        self.write(text.as_bytes());
    }

    fn opt_text(&mut self, text: Option<&str>) {
        match text {
            None => self.write(&[0]),
            Some(t) => {
                self.write(&[1]);
                self.text(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: i64, domain: &str, flag: Option<bool>) -> DjangoRow {
        DjangoRow {
            site_id: id,
            domain: domain.to_owned(),
            name: format!("site {id}"),
            flag,
            url_id: None,
            pattern: None,
            description: None,
        }
    }

    fn url(mut row: DjangoRow, id: i64, pattern: &str, description: &str) -> DjangoRow {
        row.url_id = Some(id);
        row.pattern = Some(pattern.to_owned());
        row.description = Some(description.to_owned());
        row
    }

    #[test]
    fn sites_flags_and_patterns_read_with_the_seeds_meaning() {
        let shop = site(2, "Shop.Example.com:8000", Some(true));
        let rows = vec![
            site(1, "example.com", Some(false)),
            url(shop.clone(), 10, "^ignored-page/$", "stays up"),
            url(shop, 11, "^api/health", ""),
            site(3, "blog.example.com", None),
        ];
        let sites = assemble(&rows, 1);
        let summary: Vec<_> = sites
            .iter()
            .map(|s| (s.id, s.domain.as_str(), s.is_default, s.enabled))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "example.com", true, false),
                (2, "shop.example.com", false, true),
                (3, "blog.example.com", false, false),
            ]
        );
        let patterns: Vec<_> = sites[1]
            .ignored_paths
            .iter()
            .map(|p| (p.pattern.as_str(), p.description.as_str()))
            .collect();
        assert_eq!(
            patterns,
            [("^ignored-page/$", "stays up"), ("^api/health", "")]
        );
        assert_eq!(sites[1].name, "site 2");
        for s in &sites {
            s.validate().unwrap();
        }
    }

    #[test]
    fn the_site_id_picks_the_default_site() {
        let rows = vec![site(1, "a.example", None), site(5, "b.example", None)];
        let defaults: Vec<_> = assemble(&rows, 5).iter().map(|s| s.is_default).collect();
        assert_eq!(defaults, [false, true]);
        assert!(assemble(&rows, 9).iter().all(|s| !s.is_default));
    }

    #[test]
    fn bad_rows_are_skipped_and_the_rest_is_kept() {
        let rows = vec![
            url(site(1, "not a domain", Some(true)), 1, "^(unclosed", "bad"),
            url(site(1, "not a domain", Some(true)), 2, "^ok/", "good"),
            site(2, "also bad!", Some(true)),
            site(3, "EXAMPLE.com", None),
            site(4, "example.com:8000", Some(true)),
        ];
        let sites = assemble(&rows, 1);
        let ids: Vec<_> = sites.iter().map(|s| s.id).collect();
        // The default site is kept whatever its domain; site 2 cannot match a host; 4 shares
        // 3's domain.
        assert_eq!(ids, [1, 3]);
        assert_eq!(sites[0].ignored_paths.len(), 1);
        assert_eq!(sites[0].ignored_paths[0].pattern, "^ok/");
    }

    #[test]
    fn the_default_site_gives_a_shared_domain_its_id() {
        let rows = vec![
            site(3, "example.com", Some(true)),
            site(4, "Example.com.", Some(false)),
        ];
        let sites = assemble(&rows, 4);
        assert_eq!(sites.len(), 1);
        assert_eq!((sites[0].id, sites[0].is_default), (4, true));
        assert!(sites[0].enabled, "site 3 is in maintenance");
    }

    /// The warnings logged while `f` runs, each as its message and fields.
    fn warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
        use std::sync::{Arc, Mutex};
        use tracing::field::{Field, Visit};

        struct Text<'a>(&'a mut String);
        impl Visit for Text<'_> {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        struct Record(Arc<Mutex<Vec<String>>>);
        impl tracing::Subscriber for Record {
            fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
                *m.level() == tracing::Level::WARN
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, event: &tracing::Event<'_>) {
                let mut text = String::new();
                event.record(&mut Text(&mut text));
                self.0.lock().unwrap().push(text);
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        let _ = tracing::subscriber::set_global_default(maintenance_core::testkit::AskEachTime);
        let logs = Arc::new(Mutex::new(Vec::new()));
        let out = tracing::subscriber::with_default(Record(logs.clone()), f);
        let logs = logs.lock().unwrap().clone();
        (out, logs)
    }

    fn patterns(site: &SiteState) -> Vec<&str> {
        site.ignored_paths
            .iter()
            .map(|p| p.pattern.as_str())
            .collect()
    }

    #[test]
    fn sites_of_one_domain_merge_in_maintenance_if_any_is() {
        // Django's unique domain is case-sensitive, so both rows can exist.
        let rows = vec![
            site(1, "example.com", None),
            site(2, "shop.example", Some(false)),
            site(3, "SHOP.EXAMPLE:8000", Some(true)),
        ];
        let (sites, logs) = warnings(|| assemble(&rows, 1));
        let summary: Vec<_> = sites
            .iter()
            .map(|s| (s.id, s.domain.as_str(), s.enabled))
            .collect();
        assert_eq!(
            summary,
            [(1, "example.com", false), (2, "shop.example", true)]
        );
        let merged: Vec<_> = logs.iter().filter(|l| l.contains("merged")).collect();
        assert_eq!(merged.len(), 1, "{logs:?}");
        for part in [
            "table=\"django_site\"",
            "ids=[2, 3]",
            "kept=2",
            "shop.example",
        ] {
            assert!(merged[0].contains(part), "{part} not in {}", merged[0]);
        }
        // Whatever the order of the ids: the one in maintenance may be the lower or the higher.
        let rows = vec![
            site(2, "shop.example.", Some(true)),
            site(3, "Shop.Example", None),
        ];
        assert!(assemble(&rows, 1)[0].enabled);
        let rows = vec![site(2, "shop.example", None), site(3, "SHOP.example", None)];
        assert!(!assemble(&rows, 1)[0].enabled);
    }

    #[test]
    fn a_merged_site_ignores_only_what_every_site_in_maintenance_ignores() {
        let on = |id, domain: &str| site(id, domain, Some(true));
        let off = |id, domain: &str| site(id, domain, Some(false));
        // Both on, the same patterns: kept as they are.
        let agree = vec![
            url(on(2, "shop.example"), 1, "^a/", "one"),
            url(on(2, "shop.example"), 2, "^b/", ""),
            url(on(3, "SHOP.example"), 3, "^b/", "other text"),
            url(on(3, "SHOP.example"), 4, "^a/", ""),
        ];
        let sites = assemble(&agree, 1);
        assert_eq!(patterns(&sites[0]), ["^a/", "^b/"]);
        assert_eq!(sites[0].ignored_paths[0].description, "one");
        // Both on, different patterns: only the shared one.
        let differ = vec![
            url(on(2, "shop.example"), 1, "^a/", ""),
            url(on(2, "shop.example"), 2, "^b/", ""),
            url(on(3, "SHOP.example"), 3, "^b/", ""),
            url(on(3, "SHOP.example"), 4, "^c/", ""),
        ];
        let (sites, logs) = warnings(|| assemble(&differ, 1));
        assert_eq!(patterns(&sites[0]), ["^b/"]);
        let left_out: Vec<_> = logs.iter().filter(|l| l.contains("left out")).collect();
        assert_eq!(left_out.len(), 2, "{logs:?}");
        assert!(left_out[0].contains("maintenancemode_ignoredurl") && left_out[0].contains("id=1"));
        assert!(left_out[1].contains("id=4"), "{}", left_out[1]);
        // One off: its patterns exempt nothing, since it blocks nothing; the one on decides.
        let one_off = vec![
            url(off(2, "shop.example"), 1, "^a/", ""),
            url(on(3, "SHOP.example"), 2, "^b/", ""),
        ];
        let sites = assemble(&one_off, 1);
        assert_eq!((sites[0].id, sites[0].enabled), (2, true));
        assert_eq!(patterns(&sites[0]), ["^b/"]);
        // One on without patterns: nothing is exempt.
        let none = vec![
            url(on(2, "shop.example"), 1, "^a/", ""),
            on(3, "SHOP.example"),
        ];
        assert!(assemble(&none, 1)[0].ignored_paths.is_empty());
        for rows in [agree, differ, one_off, none] {
            for s in assemble(&rows, 1) {
                s.validate().unwrap();
            }
        }
    }

    #[test]
    fn every_change_changes_the_digest() {
        let base = vec![
            url(site(1, "example.com", Some(false)), 1, "^a", "x"),
            site(2, "b.example", None),
        ];
        let mut seen = vec![digest(&base)];
        let mut changed = |edit: &dyn Fn(&mut Vec<DjangoRow>)| {
            let mut rows = base.clone();
            edit(&mut rows);
            let d = digest(&rows);
            assert!(d >= 0);
            assert!(!seen.contains(&d), "{rows:?} gives a digest seen before");
            seen.push(d);
        };
        changed(&|r| r[0].flag = Some(true));
        changed(&|r| r[0].flag = None);
        changed(&|r| r[0].pattern = Some("^b".into()));
        changed(&|r| r[0].description = Some("y".into()));
        changed(&|r| r[0].url_id = Some(2));
        changed(&|r| r[1].domain = "c.example".into());
        changed(&|r| r[1].name = "B".into());
        changed(&|r| {
            r.pop();
        });
        changed(&|r| r.push(site(3, "c.example", None)));
        // Strings are length-prefixed: moving text between fields is a change too.
        changed(&|r| {
            r[0].pattern = Some("^ax".into());
            r[0].description = Some(String::new());
        });
        assert_eq!(digest(&base), digest(&base.clone()));
    }

    #[test]
    fn the_statement_names_the_columns_rows_are_read_from() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            let sql = select_sql(dialect);
            for column in [
                "site_id",
                "domain",
                "name",
                "flag",
                "url_id",
                "pattern",
                "description",
            ] {
                assert!(sql.contains(&format!("AS {column}")), "{sql}");
            }
            for table in TABLES {
                assert!(sql.contains(table), "{sql}");
            }
        }
        assert!(select_sql(Dialect::MySql).contains("AS SIGNED"));
        assert!(digest_sql(Dialect::Sqlite).is_none());
        for dialect in [Dialect::Postgres, Dialect::MySql] {
            let digest = digest_sql(dialect).unwrap();
            let body = digest
                .trim_start_matches("SELECT ")
                .trim_end_matches(" AS digest");
            assert!(select_sql(dialect).contains(body), "{dialect:?}");
            for table in TABLES {
                assert!(digest.contains(table), "{digest}");
            }
        }
    }
}
