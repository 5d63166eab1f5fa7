//! Rows as a SQL store keeps them, turned into the core's model.
//!
//! For store implementations: every store reads the same tables, and must read bad data the
//! same way (what the core would refuse on write is skipped, or read in its safe form, with a
//! warning naming the table and row id). These functions are that reading, written once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use maintenance_core::validate;
use maintenance_core::{AllowedNetwork, IgnoredPath, Mode, SiteState, printable::Printable};

/// A `maintenance_sites` row as stored.
#[derive(Debug, Clone)]
pub struct SiteRow {
    /// Column `id`.
    pub id: i64,
    /// Column `domain`.
    pub domain: String,
    /// Column `name`.
    pub name: String,
    /// Column `is_default`.
    pub is_default: bool,
    /// Column `enabled`.
    pub enabled: bool,
    /// Column `mode`.
    pub mode: String,
    /// Column `message`.
    pub message: Option<String>,
    /// Column `starts_at`.
    pub starts_at: Option<DateTime<Utc>>,
    /// Column `ends_at`.
    pub ends_at: Option<DateTime<Utc>>,
    /// Column `retry_after_secs`.
    pub retry_after_secs: Option<i64>,
    /// Column `bypass_secret_hash`.
    pub bypass_secret_hash: Option<String>,
    /// Column `updated_at`.
    pub updated_at: Option<DateTime<Utc>>,
    /// Column `updated_by`.
    pub updated_by: Option<String>,
    /// Column `scope_patterns` of the site's `maintenance_site_scopes` row (a JSON array of
    /// patterns), `None` without one.
    pub scope_patterns: Option<String>,
    /// Column `site_tags`: the site's `maintenance_site_tags` rows, their tags joined by
    /// spaces ([`crate::statements::site_columns`]), `None` without one.
    pub tags: Option<String>,
}

/// A `maintenance_ignored_paths` row as stored.
#[derive(Debug, Clone)]
pub struct PathRow {
    /// Column `id`.
    pub id: i64,
    /// Column `site_id`.
    pub site_id: i64,
    /// Column `pattern`.
    pub pattern: String,
    /// Column `description`.
    pub description: String,
}

/// A `maintenance_allowed_networks` row as stored.
#[derive(Debug, Clone)]
pub struct NetworkRow {
    /// Column `id`.
    pub id: i64,
    /// Column `site_id`.
    pub site_id: i64,
    /// Column `cidr`.
    pub cidr: String,
    /// Column `description`.
    pub description: String,
}

/// Everything a store's `load` reads, in one transaction.
#[derive(Debug, Default)]
pub struct Rows {
    /// The revision row's value; `None` when the row is missing.
    pub revision: Option<i64>,
    /// The `maintenance_sites` rows.
    pub sites: Vec<SiteRow>,
    /// The `maintenance_ignored_paths` rows.
    pub paths: Vec<PathRow>,
    /// The `maintenance_allowed_networks` rows.
    pub networks: Vec<NetworkRow>,
}

impl Rows {
    /// Every site, in row order, each with its own patterns and networks, as
    /// [`assemble_site`] reads them.
    pub fn into_sites(self) -> Vec<SiteState> {
        let Rows {
            sites,
            paths: path_rows,
            networks: network_rows,
            ..
        } = self;
        let mut paths: HashMap<i64, Vec<&PathRow>> = HashMap::new();
        for p in &path_rows {
            paths.entry(p.site_id).or_default().push(p);
        }
        let mut networks: HashMap<i64, Vec<&NetworkRow>> = HashMap::new();
        for n in &network_rows {
            networks.entry(n.site_id).or_default().push(n);
        }
        sites
            .into_iter()
            .filter_map(|row| {
                let id = row.id;
                assemble_site(
                    row,
                    paths.get(&id).into_iter().flatten().copied(),
                    networks.get(&id).into_iter().flatten().copied(),
                )
            })
            .collect()
    }
}

/// The scope of partial maintenance as stored: a JSON array of patterns.
pub fn write_scope(patterns: &[String]) -> Option<String> {
    (!patterns.is_empty()).then(|| serde_json::Value::from(patterns.to_vec()).to_string())
}

/// Reads a stored scope. One that cannot be read, or holds an invalid pattern, reads as the
/// whole site (with a warning): maintenance then covers more than the operator meant, never
/// less.
fn read_scope(site_id: i64, text: &str) -> Vec<String> {
    const TABLE: &str = "maintenance_site_scopes";
    let patterns: Vec<String> = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(table = TABLE, site_id, error = %e,
                "scope_patterns is not a JSON array of strings; the whole site is in maintenance");
            return Vec::new();
        }
    };
    let checked = validate::scope_size(patterns.len()).and_then(|()| {
        patterns
            .iter()
            .try_for_each(|p| validate::pattern_syntax(p))
    });
    match checked {
        Ok(()) => patterns,
        Err(e) => {
            tracing::warn!(table = TABLE, site_id, error = %e,
                "invalid scope; the whole site is in maintenance");
            Vec::new()
        }
    }
}

/// Reads a site's stored tags: each one the core would refuse is left out, with a warning;
/// they come back sorted, each once, at most [`validate::MAX_TAGS`].
fn read_tags(site_id: i64, text: &str) -> Vec<String> {
    const TABLE: &str = "maintenance_site_tags";
    let mut tags: Vec<String> = text
        .split(' ')
        .filter(|t| !t.is_empty())
        .filter(|t| match validate::tag(t) {
            Ok(stored) if stored == *t => true,
            _ => {
                tracing::warn!(table = TABLE, site_id, tag = %Printable(t), "skipping an invalid tag");
                false
            }
        })
        .map(str::to_owned)
        .collect();
    tags.sort();
    tags.dedup();
    if tags.len() > validate::MAX_TAGS {
        tracing::warn!(
            table = TABLE,
            site_id,
            count = tags.len(),
            "more tags than a site carries; reading the first ones"
        );
        tags.truncate(validate::MAX_TAGS);
    }
    tags
}

/// Turns a site row and its pattern and network rows into the core's [`SiteState`].
///
/// Values the core would refuse on write are dealt with here, each with a warning naming the
/// table and row id: an invalid pattern or network is left out; an unknown mode reads as
/// [`Mode::Full`] (maintenance stays in force); a bad `retry_after_secs` or bypass hash reads
/// as unset; a scope that cannot be read reads as the whole site; an invalid tag is left out; a site whose domain cannot match a host is left out (the default site is kept).
pub fn assemble_site<'a>(
    row: SiteRow,
    paths: impl IntoIterator<Item = &'a PathRow>,
    networks: impl IntoIterator<Item = &'a NetworkRow>,
) -> Option<SiteState> {
    const TABLE: &str = "maintenance_sites";
    let id = row.id;
    let domain = match validate::domain(&row.domain) {
        Ok(d) => d,
        Err(e) if row.is_default => {
            tracing::warn!(table = TABLE, id, domain = %Printable(&row.domain), error = %e, "the default site's domain is invalid; keeping it");
            row.domain
        }
        Err(e) => {
            tracing::warn!(table = TABLE, id, domain = %Printable(&row.domain), error = %e, "skipping a site with an invalid domain");
            return None;
        }
    };
    let mode = row.mode.parse::<Mode>().unwrap_or_else(|e| {
        tracing::warn!(table = TABLE, id, mode = %Printable(&row.mode), error = %e,
            "unknown maintenance mode; treating the site as in full maintenance mode");
        Mode::Full
    });
    let retry_after_secs = row.retry_after_secs.and_then(|secs| {
        u32::try_from(secs)
            .inspect_err(|_| {
                tracing::warn!(
                    table = TABLE,
                    id,
                    retry_after_secs = secs,
                    "retry_after_secs out of range; reading it as unset"
                );
            })
            .ok()
    });
    let bypass_secret_hash = row.bypass_secret_hash.filter(|h| {
        validate::secret_hash(h)
            .inspect_err(|e| {
                tracing::warn!(table = TABLE, id, error = %e, "invalid bypass secret hash; reading it as unset");
            })
            .is_ok()
    });
    let scope = row
        .scope_patterns
        .as_deref()
        .map_or_else(Vec::new, |text| read_scope(id, text));
    let tags = row
        .tags
        .as_deref()
        .map_or_else(Vec::new, |text| read_tags(id, text));
    let ignored_paths = paths
        .into_iter()
        .filter(|p| match validate::pattern_syntax(&p.pattern) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(table = "maintenance_ignored_paths", id = p.id, site_id = id, error = %e,
                    "skipping an invalid ignored-path pattern");
                false
            }
        })
        .map(|p| IgnoredPath {
            pattern: p.pattern.clone(),
            description: p.description.clone(),
        })
        .collect();
    let allowed_networks = networks
        .into_iter()
        .filter_map(|n| match validate::network(&n.cidr) {
            Ok(network) => Some(AllowedNetwork {
                network,
                description: n.description.clone(),
            }),
            Err(e) => {
                tracing::warn!(table = "maintenance_allowed_networks", id = n.id, site_id = id, error = %e,
                    "skipping an invalid allowed network");
                None
            }
        })
        .collect();
    let mut site = SiteState::new(id, domain);
    site.name = row.name;
    site.is_default = row.is_default;
    site.enabled = row.enabled;
    site.mode = mode;
    site.message = row.message;
    site.starts_at = row.starts_at;
    site.ends_at = row.ends_at;
    site.retry_after_secs = retry_after_secs;
    site.scope = scope;
    site.tags = tags;
    site.ignored_paths = ignored_paths;
    site.allowed_networks = allowed_networks;
    site.bypass_secret_hash = bypass_secret_hash;
    site.updated_at = row.updated_at;
    site.updated_by = row.updated_by;
    Some(site)
}
