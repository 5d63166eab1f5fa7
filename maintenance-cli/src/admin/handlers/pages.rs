//! The pages: the list of sites (search, state filter, paging) and each site's page, shown
//! with the notice of the change just made, or again with a refused form's values and
//! messages. Both read through [`MaintenanceStore::list_sites`], never the whole store.
//!
//! [`MaintenanceStore::list_sites`]: maintenance_core::MaintenanceStore::list_sites

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use chrono::Utc;
use http::StatusCode;
use maintenance_core::{ErrorChain, SiteRef, SiteState, StoreError};

use crate::admin::form::{Invalid, NewSecret};
use crate::admin::guard::access::Viewer;
use crate::admin::lookup::lookup;
use crate::admin::params::{ListParams, MAX_SEARCH_CHARS};
use crate::admin::respond::{html, problem};
use crate::admin::views::Frame;
use crate::admin::views::list::{ListView, render_list};
use crate::admin::views::site::{SiteView, render_site};
use crate::admin::{AdminAuth, AdminState};

/// How many audit events a site's page shows.
const LOG_LIMIT: u32 = 100;
/// How many audit events of all sites the list shows.
const LIST_LOG_LIMIT: u32 = 20;

/// The query string's pairs.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The list of sites.
pub(crate) async fn index(
    State(app): State<Arc<AdminState>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let params = match ListParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(p) => p,
        Err(message) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad list address",
                &format!(
                    "{message}. Use q= with at most {MAX_SEARCH_CHARS} characters, state=on, off or scheduled (or nothing for all) and page=1, 2, ..."
                ),
            );
        }
    };
    let notice = list_notice(value(&pairs, "done"), value(&pairs, "count"));
    let frame = page_frame(&app, &viewer.csrf, notice.as_deref(), None);
    list_response(&app, &params, frame, StatusCode::OK).await
}

fn list_notice(done: Option<&str>, count: Option<&str>) -> Option<String> {
    let count = count.and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
    let sites = if count == 1 { "site" } else { "sites" };
    Some(match done? {
        "bulk-on" => format!("{count} {sites} put in maintenance."),
        "bulk-off" => format!("{count} {sites} taken out of maintenance."),
        "site-removed" => "Site removed.".to_owned(),
        _ => return None,
    })
}

/// A site's page.
pub(crate) async fn site_page(
    State(app): State<Arc<AdminState>>,
    Path(domain): Path<String>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = query_pairs(query.as_deref());
    let notice = value(&pairs, "done").and_then(site_notice);
    match lookup(&app, &SiteRef::Domain(domain.clone())).await {
        Ok(Some(site)) => {
            let frame = page_frame(&app, &viewer.csrf, notice, None);
            site_response(&app, &site, None, frame, StatusCode::OK).await
        }
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "Unknown site",
            &format!(
                "There is no site `{domain}`: it may have been removed. The list shows every site."
            ),
        ),
        Err(e) => unavailable(&e),
    }
}

fn site_notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Saved.",
        "unchanged" => "Nothing to save: the state was already so.",
        "ignored-added" => "Ignored pattern saved.",
        "ignored-removed" => "Ignored pattern removed.",
        "network-added" => "Allowed network saved.",
        "network-removed" => "Allowed network removed.",
        "tag-added" => "Tag added.",
        "tag-removed" => "Tag removed.",
        "site-added" => "Site added.",
        "bypass-cleared" => "Bypass secret cleared: its links and cookies no longer work.",
        _ => return None,
    })
}

fn unavailable(e: &StoreError) -> Response {
    tracing::error!(error = %ErrorChain(e), "admin page could not read the store");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "Database unavailable",
        &format!("Could not read the maintenance tables: {}", ErrorChain(e)),
    )
}

/// The frame of a page for the session whose CSRF token is `csrf`, its states computed now:
/// with the `notice` of the change just made, or a refused form (`invalid`) to show again.
pub(crate) fn page_frame<'a>(
    app: &AdminState,
    csrf: &'a str,
    notice: Option<&'a str>,
    invalid: Option<&'a Invalid>,
) -> Frame<'a> {
    Frame {
        csrf,
        notice,
        invalid,
        auth: matches!(app.auth, AdminAuth::Token(_)),
        now: Utc::now(),
    }
}

/// The list page for `params` in `frame`, with `status`.
pub(crate) async fn list_response(
    app: &AdminState,
    params: &ListParams,
    frame: Frame<'_>,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let page = app.store.list_sites(&params.query(frame.now)).await?;
        let events = app.store.events(None, LIST_LOG_LIMIT).await?;
        Ok::<_, StoreError>((page, events))
    }
    .await;
    match loaded {
        Ok((page, events)) => html(
            status,
            render_list(&ListView {
                params,
                page: &page,
                events: &events,
                frame,
            }),
        ),
        Err(e) => unavailable(&e),
    }
}

/// The page of `site` (as given: just read, or as it was when a form was refused) in
/// `frame`, with the bypass `secret` just made if any, and `status`.
pub(crate) async fn site_response(
    app: &AdminState,
    site: &SiteState,
    secret: Option<&NewSecret>,
    frame: Frame<'_>,
    status: StatusCode,
) -> Response {
    let events = app
        .store
        .events(Some(&SiteRef::Domain(site.domain.clone())), LOG_LIMIT)
        .await;
    match events {
        Ok(events) => html(
            status,
            render_site(&SiteView {
                site,
                events: &events,
                secret,
                frame,
            }),
        ),
        Err(e) => unavailable(&e),
    }
}
