//! The ignored patterns and allowed networks of a site: the add forms (value and description
//! checked) and the remove buttons.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use maintenance_core::{SiteRef, validate};

use super::forms::{begin_site_post, done, refuse_invalid, store_failure};
use super::{AdminState, FormData, FormKind};
use crate::parse;

/// Checks a value and its description for an add form.
fn check_add(
    form: &FormData,
    field: &'static str,
    check: impl Fn(&str) -> Result<String, String>,
    empty: &str,
) -> Result<(String, String), Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let value = form.text(field).trim();
    let checked = if value.is_empty() {
        errors.push((field, empty.to_owned()));
        None
    } else {
        check(value).map_err(|e| errors.push((field, e))).ok()
    };
    let description = form.text("description").trim().to_owned();
    if let Err(e) = validate::text("description", &description, validate::MAX_DESCRIPTION_LEN) {
        errors.push(("description", e.to_string()));
    }
    match checked {
        Some(v) if errors.is_empty() => Ok((v, description)),
        _ => Err(errors),
    }
}

pub(super) async fn add_ignored(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let (post, site) = match begin_site_post(&app, req, FormKind::IgnoredAdd).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let (pattern, description) = match check_add(
        &post.form,
        "pattern",
        parse::pattern,
        "expected a regular expression such as ^health/$",
    ) {
        Ok(v) => v,
        Err(errors) => {
            return refuse_invalid(&app, &post, &site, FormKind::IgnoredAdd, errors).await;
        }
    };
    match app
        .store
        .add_ignored_path(
            &SiteRef::Domain(site.domain.clone()),
            &pattern,
            &description,
            &post.actor,
        )
        .await
    {
        Ok(()) => done("ignored-added", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::IgnoredAdd, e).await,
    }
}

pub(super) async fn remove_ignored(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let (post, site) = match begin_site_post(&app, req, FormKind::Remove).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let pattern = post.form.text("pattern");
    match app
        .store
        .remove_ignored_path(&SiteRef::Domain(site.domain.clone()), pattern, &post.actor)
        .await
    {
        Ok(()) => done("ignored-removed", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::Remove, e).await,
    }
}

pub(super) async fn add_network(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let (post, site) = match begin_site_post(&app, req, FormKind::NetworkAdd).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let (network, description) = match check_add(
        &post.form,
        "network",
        parse::network,
        "expected a network such as 10.0.0.0/8 or 2001:db8::/32, or a single address",
    ) {
        Ok(v) => v,
        Err(errors) => {
            return refuse_invalid(&app, &post, &site, FormKind::NetworkAdd, errors).await;
        }
    };
    match app
        .store
        .add_allowed_network(
            &SiteRef::Domain(site.domain.clone()),
            &network,
            &description,
            &post.actor,
        )
        .await
    {
        Ok(()) => done("network-added", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::NetworkAdd, e).await,
    }
}

pub(super) async fn remove_network(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let (post, site) = match begin_site_post(&app, req, FormKind::Remove).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let network = post.form.text("network");
    match app
        .store
        .remove_allowed_network(&SiteRef::Domain(site.domain.clone()), network, &post.actor)
        .await
    {
        Ok(()) => done("network-removed", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::Remove, e).await,
    }
}
