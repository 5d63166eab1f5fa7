//! `sites`: list, add and remove the sites (domains) the database knows.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use maintenance_core::{MaintenanceStore, SiteQuery, SiteRef, SiteState};
use serde::Serialize;

use super::{json, load_sites, resolve};
use crate::args::{ListArgs, SitesCommand, TagAction};
use crate::error::CliError;
use crate::report::{Phase, SiteReport, escape};

/// `sites list --json`: one page of the listing.
#[derive(Serialize)]
struct PageReport {
    /// How many sites match in all.
    total: u64,
    /// The page shown, from 1.
    page: u64,
    /// Sites per page.
    per_page: u32,
    /// How many pages the matching sites fill.
    pages: u64,
    sites: Vec<SiteReport>,
}

/// How many pages `total` sites fill, `per_page` a page.
fn page_count(total: u64, per_page: u32) -> u64 {
    total.div_ceil(u64::from(per_page.max(1)))
}

async fn list(
    store: &dyn MaintenanceStore,
    args: &ListArgs,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let mut query = SiteQuery::all(now)
        .offset((args.page - 1).saturating_mul(u64::from(args.per_page)))
        .limit(args.per_page);
    query.search = args.search.clone();
    query.state = args.state;
    query.tags = args.tags.clone();
    let page = store.list_sites(&query).await?;
    let pages = page_count(page.total, args.per_page);
    if args.json {
        return json(&PageReport {
            total: page.total,
            page: args.page,
            per_page: args.per_page,
            pages,
            sites: page.sites.iter().map(|s| SiteReport::new(s, now)).collect(),
        });
    }
    let sites = &page.sites;
    let mut out = String::new();
    if !sites.is_empty() {
        let width = column_width(sites, "DOMAIN", |s| escape(&s.domain));
        let name_width = column_width(sites, "NAME", |s| escape(&s.name));
        out.push_str(&format!(
            "{:<width$}  {:<name_width$}  STATE\n",
            "DOMAIN", "NAME"
        ));
        for s in sites {
            let default = if s.is_default { "  (default site)" } else { "" };
            let tags = if s.tags.is_empty() {
                String::new()
            } else {
                format!("  tags: {}", s.tags.join(", "))
            };
            out.push_str(&format!(
                "{:<width$}  {:<name_width$}  {}{default}{tags}\n",
                escape(&s.domain),
                escape(&s.name),
                Phase::of(s, now).as_str()
            ));
        }
    }
    out.push_str(&footer(
        page.total,
        query.offset,
        sites.len(),
        args.page,
        pages,
    ));
    Ok(out)
}

/// `sites 51-100 of 10000 (page 2 of 200)`, or what an empty page holds.
fn footer(total: u64, offset: u64, shown: usize, page: u64, pages: u64) -> String {
    if shown == 0 {
        return if total == 0 {
            "no sites match\n".to_owned()
        } else {
            format!("no sites on page {page}: {total} sites match (page 1 to {pages})\n")
        };
    }
    let last = offset + shown as u64;
    format!(
        "sites {}-{last} of {total} (page {page} of {pages})\n",
        offset + 1
    )
}

pub(super) async fn sites(
    store: &dyn MaintenanceStore,
    cmd: &SitesCommand,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    match cmd {
        SitesCommand::List(args) => list(store, args, now).await,
        SitesCommand::Add { domain, name } => {
            let site = store.add_site(domain, name.as_deref(), actor).await?;
            Ok(format!(
                "Added site {} ({}).\n",
                escape(&site.domain),
                escape(&site.name)
            ))
        }
        SitesCommand::Tag(action) => {
            let (domain, tags, adding) = match action {
                TagAction::Add { domain, tags } => (domain, tags, true),
                TagAction::Remove { domain, tags } => (domain, tags, false),
            };
            let sites = load_sites(store).await?;
            let site = resolve(&sites, Some(domain))?;
            let reference = SiteRef::Domain(site.domain.clone());
            let site = if adding {
                store.add_tags(&reference, tags, actor).await?
            } else {
                store.remove_tags(&reference, tags, actor).await?
            };
            let now_carries = if site.tags.is_empty() {
                "no tag".to_owned()
            } else {
                site.tags.join(", ")
            };
            Ok(format!(
                "{} {} {}; it carries: {now_carries}.\n",
                if adding { "Tagged" } else { "Untagged" },
                escape(&site.domain),
                tags.join(", ")
            ))
        }
        SitesCommand::Remove { domain } => {
            let sites = load_sites(store).await?;
            let site = resolve(&sites, Some(domain))?;
            store.remove_site(&site.domain, actor).await?;
            Ok(format!(
                "Removed site {} with its patterns and networks.\n",
                escape(&site.domain)
            ))
        }
    }
}

/// The width of a column: its longest value, or its heading.
fn column_width<'a>(
    sites: &'a [SiteState],
    heading: &str,
    value: impl Fn(&'a SiteState) -> Cow<'a, str>,
) -> usize {
    sites
        .iter()
        .map(|s| value(s).chars().count())
        .max()
        .unwrap_or(0)
        .max(heading.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_footer_names_the_range_and_the_page() {
        assert_eq!(
            footer(10_000, 50, 50, 2, 200),
            "sites 51-100 of 10000 (page 2 of 200)\n"
        );
        assert_eq!(footer(3, 0, 3, 1, 1), "sites 1-3 of 3 (page 1 of 1)\n");
        assert_eq!(footer(0, 0, 0, 1, 0), "no sites match\n");
        assert!(footer(3, 50, 0, 2, 1).contains("page 1 to 1"));
        assert_eq!(page_count(10_000, 50), 200);
        assert_eq!(page_count(101, 50), 3);
    }
}
