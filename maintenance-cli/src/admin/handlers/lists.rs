//! The ignored patterns, allowed networks and tags of a site: the add forms (value and
//! description checked) and the remove buttons.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use maintenance_core::{SiteRef, validate};

use super::forms::{done, refuse_invalid, store_failure};
use crate::admin::AdminState;
use crate::admin::form::{FormData, FormKind};
use crate::admin::guard::access::SitePost;
use crate::admin::views::site::{IGNORED, ListBlock, NETWORKS};
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

/// One of a site's lists.
#[derive(Debug, Clone, Copy)]
enum List {
    /// The ignored path patterns.
    Ignored,
    /// The allowed networks.
    Allowed,
}

impl List {
    /// How the site's page shows the list: the form field holding an entry, the add form.
    fn block(self) -> &'static ListBlock {
        match self {
            List::Ignored => &IGNORED,
            List::Allowed => &NETWORKS,
        }
    }

    /// Checks a new entry: the normalised value, or what is wrong with it.
    fn check(self, value: &str) -> Result<String, String> {
        match self {
            List::Ignored => parse::pattern(value),
            List::Allowed => parse::network(value),
        }
    }

    /// What an empty entry is told.
    fn expected(self) -> &'static str {
        match self {
            List::Ignored => "expected a regular expression such as ^health/$",
            List::Allowed => {
                "expected a network such as 10.0.0.0/8 or 2001:db8::/32, or a single address"
            }
        }
    }

    /// The notice after a change (`added` or `removed`).
    fn notice(self, added: bool) -> &'static str {
        match (self, added) {
            (List::Ignored, true) => "ignored-added",
            (List::Ignored, false) => "ignored-removed",
            (List::Allowed, true) => "network-added",
            (List::Allowed, false) => "network-removed",
        }
    }
}

/// The add form of `list`.
async fn add(app: Arc<AdminState>, SitePost { post, site }: SitePost, list: List) -> Response {
    let block = list.block();
    let kind = block.kind;
    let checked = check_add(&post.form, block.field, |v| list.check(v), list.expected());
    let (value, description) = match checked {
        Ok(v) => v,
        Err(errors) => return refuse_invalid(&app, &post, &site, kind, errors).await,
    };
    let at = SiteRef::Domain(site.domain.clone());
    let added = match list {
        List::Ignored => {
            app.store
                .add_ignored_path(&at, &value, &description, &post.actor)
                .await
        }
        List::Allowed => {
            app.store
                .add_allowed_network(&at, &value, &description, &post.actor)
                .await
        }
    };
    match added {
        Ok(()) => done(list.notice(true), &site),
        Err(e) => store_failure(&app, &post, Some(&site), kind, e).await,
    }
}

/// A remove button of `list`.
async fn remove(app: Arc<AdminState>, SitePost { post, site }: SitePost, list: List) -> Response {
    let value = post.form.text(list.block().field);
    let at = SiteRef::Domain(site.domain.clone());
    let removed = match list {
        List::Ignored => app.store.remove_ignored_path(&at, value, &post.actor).await,
        List::Allowed => {
            app.store
                .remove_allowed_network(&at, value, &post.actor)
                .await
        }
    };
    match removed {
        Ok(()) => done(list.notice(false), &site),
        Err(e) => store_failure(&app, &post, Some(&site), FormKind::Remove, e).await,
    }
}

pub(crate) async fn add_ignored(State(app): State<Arc<AdminState>>, form: SitePost) -> Response {
    add(app, form, List::Ignored).await
}

pub(crate) async fn remove_ignored(State(app): State<Arc<AdminState>>, form: SitePost) -> Response {
    remove(app, form, List::Ignored).await
}

pub(crate) async fn add_network(State(app): State<Arc<AdminState>>, form: SitePost) -> Response {
    add(app, form, List::Allowed).await
}

pub(crate) async fn remove_network(State(app): State<Arc<AdminState>>, form: SitePost) -> Response {
    remove(app, form, List::Allowed).await
}

/// The form that adds a tag to a site.
pub(crate) async fn add_tag(
    State(app): State<Arc<AdminState>>,
    SitePost { post, site }: SitePost,
) -> Response {
    let tag = match parse::tag(post.form.text("tag")) {
        Ok(tag) => tag,
        Err(e) => {
            let errors = vec![("tag", e)];
            return refuse_invalid(&app, &post, &site, FormKind::TagAdd, errors).await;
        }
    };
    let at = SiteRef::Domain(site.domain.clone());
    match app.store.add_tags(&at, &[tag], &post.actor).await {
        Ok(_) => done("tag-added", &site),
        Err(e) => store_failure(&app, &post, Some(&site), FormKind::TagAdd, e).await,
    }
}

/// A tag's remove button.
pub(crate) async fn remove_tag(
    State(app): State<Arc<AdminState>>,
    SitePost { post, site }: SitePost,
) -> Response {
    let tag = post.form.text("tag").to_owned();
    let at = SiteRef::Domain(site.domain.clone());
    match app.store.remove_tags(&at, &[tag], &post.actor).await {
        Ok(_) => done("tag-removed", &site),
        Err(e) => store_failure(&app, &post, Some(&site), FormKind::Remove, e).await,
    }
}
