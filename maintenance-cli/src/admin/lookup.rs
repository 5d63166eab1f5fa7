//! Finding one site without reading the whole store.

use chrono::Utc;
use maintenance_core::store::find_site;
use maintenance_core::{
    MAX_PAGE_SIZE, SiteQuery, SiteRef, SiteState, StoreError, host::normalize_host,
};

use super::AdminState;

/// Finds one site through [`maintenance_core::MaintenanceStore::list_sites`]: the default
/// site is the first of every listing; a domain is searched for and matched exactly.
pub(crate) async fn lookup(
    app: &AdminState,
    site: &SiteRef,
) -> Result<Option<SiteState>, StoreError> {
    let now = Utc::now();
    let mut query = match site {
        SiteRef::Default => SiteQuery::all(now).limit(1),
        SiteRef::Domain(d) => {
            let domain = normalize_host(d);
            if domain.is_empty() {
                return Ok(None);
            }
            SiteQuery::all(now).search(domain).limit(MAX_PAGE_SIZE)
        }
    };
    loop {
        let page = app.store.list_sites(&query).await?;
        if let Some(found) = find_site(&page.sites, site) {
            return Ok(Some(found.clone()));
        }
        let seen = query.offset + page.sites.len() as u64;
        if matches!(site, SiteRef::Default) || page.sites.is_empty() || seen >= page.total {
            return Ok(None);
        }
        query = query.offset(seen);
    }
}
