//! Bulk state changes ([`MaintenanceStore::set_state_many`](maintenance_core::MaintenanceStore::set_state_many))
//! in one transaction with one revision, written once for every SQL store.
//!
//! With thousands of sites a change per transaction costs a round trip per statement per
//! site; here the rows are read with a few set-based queries, the change is applied and
//! checked in memory (all or nothing), and the sites and their audit events are written in
//! chunks of [`CHUNK`] rows per statement, which keeps every backend under its limit of bind
//! parameters.

use std::collections::{HashMap, HashSet};

use maintenance_core::store::unknown_site;
use maintenance_core::{
    AuditAction, SiteRef, SiteSelection, SiteState, StateChange, StoreError, host::normalize_host,
};

use crate::engine::{Engine, NewEvent, SiteKey, WriteTx, begin, now, settle, to_micros};
use crate::rows::{NetworkRow, PathRow, SiteRow, assemble_site};

/// The most rows one bulk statement reads or writes.
pub const CHUNK: usize = 500;

/// The columns a bulk write of sites sets, `id` first, in the order the stores bind them.
/// Adding a column to the sites' write means adding it here and binding it in each store's
/// one bulk-write function.
pub const SITE_WRITE_COLUMNS: [&str; 13] = [
    "id",
    "domain",
    "name",
    "is_default",
    "enabled",
    "mode",
    "message",
    "starts_at",
    "ends_at",
    "retry_after_secs",
    "bypass_secret_hash",
    "updated_at",
    "updated_by",
];

/// `DELETE` of the scope rows of `sites` sites (`site_id IN (...)`).
pub fn delete_scopes_sql(sites: usize, placeholder: Placeholder) -> String {
    format!(
        "DELETE FROM maintenance_site_scopes WHERE site_id IN ({})",
        placeholder.list(sites)
    )
}

/// `INSERT` of a scope row for each of `sites` sites, bound as `(site_id, scope_patterns)`
/// pairs.
pub fn insert_scopes_sql(sites: usize, placeholder: Placeholder) -> String {
    format!(
        "INSERT INTO maintenance_site_scopes (site_id, scope_patterns) VALUES {}",
        placeholder.tuples(sites, 2, 1)
    )
}

/// The columns of an audit event, in the order the stores bind them.
pub const EVENT_COLUMNS: [&str; 6] = ["site_id", "site_domain", "at", "actor", "action", "detail"];

/// How a backend writes bind parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `$1`, `$2`, ... (PostgreSQL).
    Dollar,
    /// `?` (MariaDB/MySQL; SQLite, which binds numbered parameters by a scan of their names).
    Question,
}

impl Placeholder {
    /// The `n`th (1-based) parameter.
    pub fn nth(self, n: usize) -> String {
        match self {
            Placeholder::Dollar => format!("${n}"),
            Placeholder::Question => "?".to_owned(),
        }
    }

    /// `(p1, p2, ...), (...)`: `rows` tuples of `width` parameters, numbered from `first`.
    pub fn tuples(self, rows: usize, width: usize, first: usize) -> String {
        let mut out = String::new();
        let mut n = first;
        for row in 0..rows {
            if row > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for col in 0..width {
                if col > 0 {
                    out.push_str(", ");
                }
                out.push_str(&self.nth(n));
                n += 1;
            }
            out.push(')');
        }
        out
    }

    /// `p1, p2, ...`: a list of `len` parameters, for `IN (...)`.
    pub fn list(self, len: usize) -> String {
        (1..=len)
            .map(|n| self.nth(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The statement writing `rows` sites at once, every column of [`SITE_WRITE_COLUMNS`] bound
/// per site in that order: an upsert on the primary key (the rows exist, so each updates its
/// row). `on_duplicate_key` picks MariaDB/MySQL's form over `ON CONFLICT (id)`.
pub fn upsert_sites_sql(rows: usize, placeholder: Placeholder, on_duplicate_key: bool) -> String {
    let columns = SITE_WRITE_COLUMNS.join(", ");
    let values = placeholder.tuples(rows, SITE_WRITE_COLUMNS.len(), 1);
    // `domain`, `name` and `is_default` are there for the insert form only: a state change
    // does not rewrite them (a domain stored in another case keeps its spelling).
    let set = |fmt: &dyn Fn(&str) -> String| {
        SITE_WRITE_COLUMNS[4..]
            .iter()
            .map(|c| fmt(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if on_duplicate_key {
        format!(
            "INSERT INTO maintenance_sites ({columns}) VALUES {values} ON DUPLICATE KEY UPDATE {}",
            set(&|c| format!("{c} = VALUES({c})"))
        )
    } else {
        format!(
            "INSERT INTO maintenance_sites ({columns}) VALUES {values} ON CONFLICT (id) DO UPDATE SET {}",
            set(&|c| format!("{c} = excluded.{c}"))
        )
    }
}

/// The statement appending `rows` audit events at once, [`EVENT_COLUMNS`] bound per event.
pub fn insert_events_sql(rows: usize, placeholder: Placeholder) -> String {
    format!(
        "INSERT INTO maintenance_events ({}) VALUES {}",
        EVENT_COLUMNS.join(", "),
        placeholder.tuples(rows, EVENT_COLUMNS.len(), 1)
    )
}

/// The statement recording `rows` sites as changed (not removed) at one revision, in
/// `maintenance_site_changes`: per row the site id and the revision are bound, in that order.
pub fn record_changes_sql(rows: usize, placeholder: Placeholder, on_duplicate_key: bool) -> String {
    let values = placeholder.tuples(rows, 2, 1);
    let values = values.replace(')', ", FALSE)");
    if on_duplicate_key {
        format!(
            "INSERT INTO maintenance_site_changes (site_id, version, removed) VALUES {values} \
             ON DUPLICATE KEY UPDATE version = VALUES(version), removed = VALUES(removed)"
        )
    } else {
        format!(
            "INSERT INTO maintenance_site_changes (site_id, version, removed) VALUES {values} \
             ON CONFLICT (site_id) DO UPDATE SET version = excluded.version, removed = excluded.removed"
        )
    }
}

/// [`MaintenanceStore::set_state_many`](maintenance_core::MaintenanceStore::set_state_many)
/// through an [`Engine`]: one transaction, one revision.
pub async fn set_state_many<E: Engine + ?Sized>(
    engine: &E,
    selection: &SiteSelection,
    change: &StateChange,
    actor: &str,
) -> Result<Vec<SiteState>, StoreError> {
    if selection.is_empty() {
        // Nothing to change: no transaction, no revision, as in the memory store.
        return Ok(Vec::new());
    }
    let (mut tx, revision) = begin(engine).await?;
    let result = set_state_many_in(&mut *tx, revision, selection, change, actor).await;
    settle(tx, result).await
}

/// Up to this many named sites are looked up one by one rather than among every site's row.
const FEW_SITES: usize = 50;

/// The rows of the named sites, each looked up by its key, in id order (each once); an
/// unknown site is an error.
async fn named_rows(tx: &mut dyn WriteTx, refs: &[SiteRef]) -> Result<Vec<SiteRow>, StoreError> {
    let mut rows: Vec<SiteRow> = Vec::with_capacity(refs.len());
    for r in refs {
        let row = tx
            .site_row(&SiteKey::of(r))
            .await?
            .ok_or_else(|| unknown_site(r))?;
        if !rows.iter().any(|known| known.id == row.id) {
            rows.push(row);
        }
    }
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Whether a site row carries `tag` (its `site_tags` column, as stored).
fn carries(row: &SiteRow, tag: &str) -> bool {
    row.tags
        .as_deref()
        .is_some_and(|tags| tags.split(' ').any(|t| t == tag))
}

/// The first of `tags` that none of `rows` carries, as the error of an unknown tag.
fn check_tags(rows: &[SiteRow], tags: &[String]) -> Result<(), StoreError> {
    match tags
        .iter()
        .find(|tag| !rows.iter().any(|row| carries(row, tag)))
    {
        Some(tag) => Err(StoreError::UnknownTag(tag.clone())),
        None => Ok(()),
    }
}

/// The rows of the named sites and of the sites carrying one of the tags, found by key and
/// by tag, in id order (each once); an unknown site or tag is an error.
async fn named_and_tagged_rows(
    tx: &mut dyn WriteTx,
    refs: &[SiteRef],
    tags: &[String],
) -> Result<Vec<SiteRow>, StoreError> {
    let mut rows = named_rows(tx, refs).await?;
    let mut tagged = Vec::new();
    for chunk in tags.chunks(CHUNK) {
        tagged.extend(tx.tagged_site_rows(chunk).await?);
    }
    check_tags(&tagged, tags)?;
    let known: HashSet<i64> = rows.iter().map(|r| r.id).collect();
    rows.extend(tagged.into_iter().filter(|r| !known.contains(&r.id)));
    rows.sort_by_key(|r| r.id);
    rows.dedup_by_key(|r| r.id);
    Ok(rows)
}

/// The rows a selection names, in id order; an unknown site or tag is an error.
fn select_rows(rows: Vec<SiteRow>, selection: &SiteSelection) -> Result<Vec<SiteRow>, StoreError> {
    if let SiteSelection::All = selection {
        return Ok(rows);
    }
    let refs = selection.named();
    let tags = selection.tags();
    let mut ids = HashSet::with_capacity(refs.len());
    for r in refs {
        let found = match r {
            SiteRef::Default => rows.iter().find(|row| row.is_default),
            SiteRef::Domain(d) => {
                let d = normalize_host(d);
                rows.iter().find(|row| row.domain == d)
            }
        };
        ids.insert(found.ok_or_else(|| unknown_site(r))?.id);
    }
    check_tags(&rows, tags)?;
    Ok(rows
        .into_iter()
        .filter(|r| ids.contains(&r.id) || tags.iter().any(|t| carries(r, t)))
        .collect())
}

async fn set_state_many_in(
    tx: &mut dyn WriteTx,
    revision: i64,
    selection: &SiteSelection,
    change: &StateChange,
    actor: &str,
) -> Result<Vec<SiteState>, StoreError> {
    let rows = match selection {
        // A few named sites are looked up by key; reading every row pays off for many.
        SiteSelection::Sites(refs) if refs.len() <= FEW_SITES => named_rows(tx, refs).await?,
        // Tagged sites are found through the tags' index.
        SiteSelection::Tagged { sites, tags } if sites.len() <= FEW_SITES => {
            named_and_tagged_rows(tx, sites, tags).await?
        }
        _ => select_rows(tx.all_site_rows().await?, selection)?,
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut paths: HashMap<i64, Vec<PathRow>> = HashMap::new();
    let mut networks: HashMap<i64, Vec<NetworkRow>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for p in tx.path_rows_of(chunk).await? {
            paths.entry(p.site_id).or_default().push(p);
        }
        for n in tx.network_rows_of(chunk).await? {
            networks.entry(n.site_id).or_default().push(n);
        }
    }
    let change = to_micros(change);
    let at = now();
    let mut sites = Vec::with_capacity(rows.len());
    // The sites whose stored scope the change replaces: only their scope rows are written.
    let mut rescoped: Vec<i64> = Vec::new();
    for row in rows {
        let id = row.id;
        let domain = row.domain.clone();
        let Some(mut site) = assemble_site(
            row,
            paths.get(&id).into_iter().flatten(),
            networks.get(&id).into_iter().flatten(),
        ) else {
            // A named site that cannot be read is unknown, as for one site; with `All` it is
            // skipped, as `load` skips it.
            match selection {
                SiteSelection::All => continue,
                _ => return Err(StoreError::UnknownSite(domain)),
            }
        };
        let scope_before = change.scope.as_ref().map(|_| site.scope.clone());
        if let Err(e) = change.apply_to(&mut site) {
            tracing::warn!(site = %site.domain, error = %e, "the bulk change does not fit this site; nothing was written");
            return Err(e.into());
        }
        if scope_before.is_some_and(|before| before != site.scope) {
            rescoped.push(site.id);
        }
        site.updated_at = Some(at);
        site.updated_by = Some(actor.to_owned());
        sites.push(site);
    }
    // One scope for every site: the change's, checked by `apply_to` above.
    let scope = change.scope.as_deref().map(crate::rows::write_scope);
    for chunk in sites.chunks(CHUNK) {
        tx.update_sites(chunk).await?;
        let ids: Vec<i64> = chunk.iter().map(|s| s.id).collect();
        if let Some(scope) = &scope {
            tx.write_scopes(&ids, scope.as_deref()).await?;
        }
        tx.record_changes(&ids, revision).await?;
    }
    let action = AuditAction::of_change(&change).as_str();
    let detail = change.describe();
    let events: Vec<NewEvent<'_>> = sites
        .iter()
        .map(|site| NewEvent {
            site_id: Some(site.id),
            site_domain: Some(&site.domain),
            at,
            actor,
            action,
            detail: &detail,
        })
        .collect();
    for chunk in events.chunks(CHUNK) {
        tx.insert_events(chunk).await?;
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_number_their_parameters() {
        assert_eq!(Placeholder::Dollar.tuples(2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(Placeholder::Question.list(3), "?, ?, ?");
        let sql = upsert_sites_sql(2, Placeholder::Dollar, false);
        assert!(sql.contains("$26)"), "{sql}");
        assert!(sql.ends_with("updated_by = excluded.updated_by"), "{sql}");
        assert_eq!(
            record_changes_sql(2, Placeholder::Dollar, false),
            "INSERT INTO maintenance_site_changes (site_id, version, removed) VALUES ($1, $2, FALSE), ($3, $4, FALSE) \
             ON CONFLICT (site_id) DO UPDATE SET version = excluded.version, removed = excluded.removed"
        );
        let sql = upsert_sites_sql(1, Placeholder::Question, true);
        assert!(sql.contains("enabled = VALUES(enabled)"), "{sql}");
        assert_eq!(
            insert_events_sql(1, Placeholder::Question),
            "INSERT INTO maintenance_events (site_id, site_domain, at, actor, action, detail) VALUES (?, ?, ?, ?, ?, ?)"
        );
    }
}
