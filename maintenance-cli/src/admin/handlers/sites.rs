//! The changes made from the list and from a site's page beyond its forms: adding and removing
//! sites, the bulk actions on the selected sites, and the bypass secret.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use maintenance_core::{
    ErrorChain, SiteRef, SiteSelection, StateChange, StoreError, ValidationError, bypass,
    bypass::BypassSettings,
};

use super::forms::{done, refuse, store_failure};
use super::pages::{list_response, page_frame, site_response};
use crate::admin::AdminState;
use crate::admin::form::{FormKind, Invalid, NewSecret};
use crate::admin::guard::access::{Post, SitePost};
use crate::admin::guard::refusal::failure_status;
use crate::admin::params::ListParams;
use crate::admin::respond::{problem, redirect};
use crate::admin::views::site_href;

/// The list again (page `params`) with a refused form of `kind` and its `errors`.
async fn refuse_on_list(
    app: &AdminState,
    post: &Post,
    params: &ListParams,
    kind: FormKind,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let invalid = Invalid {
        site_id: None,
        kind,
        values: post.form.clone(),
        errors,
    };
    let frame = page_frame(app, &post.csrf, None, Some(&invalid));
    list_response(app, params, frame, status).await
}

/// The add-site form of the list.
pub(crate) async fn add_site(State(app): State<Arc<AdminState>>, post: Post) -> Response {
    let params = ListParams {
        page: 1,
        ..ListParams::default()
    };
    let domain = post.form.text("domain").trim().to_owned();
    let name = post.form.text("name").trim().to_owned();
    if domain.is_empty() {
        let errors = vec![(
            "domain",
            "a domain is needed: expected a host name such as shop.example.com".to_owned(),
        )];
        return refuse_on_list(
            &app,
            &post,
            &params,
            FormKind::AddSite,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let name = (!name.is_empty()).then_some(name.as_str());
    match app.store.add_site(&domain, name, &post.actor).await {
        Ok(site) => {
            tracing::info!(site = %site.domain, actor = %post.actor, "admin added a site");
            done("site-added", &site)
        }
        Err(err) => {
            let field = match &err {
                StoreError::SiteExists(_) | StoreError::Invalid(ValidationError::Domain(_)) => {
                    "domain"
                }
                StoreError::Invalid(ValidationError::TooLong { .. }) => "name",
                _ => "general",
            };
            let status = match failure_status(&err) {
                StatusCode::INTERNAL_SERVER_ERROR => {
                    tracing::error!(error = %ErrorChain(&err), "admin could not add a site");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let errors = vec![(field, format!("{}; nothing was saved", ErrorChain(&err)))];
            refuse_on_list(&app, &post, &params, FormKind::AddSite, errors, status).await
        }
    }
}

/// The remove form of a site's page: needs its confirmation box; never the default site.
pub(crate) async fn remove_site(
    State(app): State<Arc<AdminState>>,
    SitePost { post, site }: SitePost,
) -> Response {
    let refused = |field: &'static str, message: String, status: StatusCode| {
        let errors = vec![(field, message)];
        refuse(
            &app,
            &post,
            Some(&site),
            FormKind::RemoveSite,
            errors,
            status,
        )
    };
    if site.is_default {
        let message = format!(
            "the default site `{}` cannot be removed: it answers every host that has no site of its own; nothing was changed",
            site.domain
        );
        return refused("general", message, StatusCode::CONFLICT).await;
    }
    if post.form.get("confirm") != Some("yes") {
        let message = format!(
            "tick this box to confirm that {} is to be removed; nothing was changed",
            site.domain
        );
        return refused("confirm", message, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    match app.store.remove_site(&site.domain, &post.actor).await {
        Ok(()) => {
            tracing::info!(site = %site.domain, actor = %post.actor, "admin removed a site");
            redirect("/?done=site-removed")
        }
        Err(e) => store_failure(&app, &post, Some(&site), FormKind::RemoveSite, e).await,
    }
}

/// The bulk action of the list on the ticked sites.
pub(crate) async fn bulk(State(app): State<Arc<AdminState>>, post: Post) -> Response {
    let params = match ListParams::from_pairs(
        ["q", "state", "tag", "page"]
            .into_iter()
            .map(|k| (k, post.form.text(k))),
    ) {
        Ok(p) => p,
        Err(message) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad list address",
                &format!("{message}; nothing was changed"),
            );
        }
    };
    let refuse = |field: &'static str, message: String, status: StatusCode| {
        let (app, post, params) = (&app, &post, &params);
        async move {
            refuse_on_list(
                app,
                post,
                params,
                FormKind::Bulk,
                vec![(field, message.clone()), ("general", message)],
                status,
            )
            .await
        }
    };
    let action = post.form.text("action");
    let (change, code) = match action {
        "on" => (StateChange::turn_on(), "bulk-on"),
        "off" => (StateChange::turn_off(), "bulk-off"),
        "" => {
            return refuse(
                "action",
                "No action chosen: choose \"Put in maintenance\" or \"Take out of maintenance\"; nothing was changed.".to_owned(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        other => {
            return refuse(
                "action",
                format!("unknown action `{other}`: expected `on` or `off`; nothing was changed"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let selected: Vec<SiteRef> = post
        .form
        .all("site")
        .filter(|d| !d.is_empty())
        .map(|d| SiteRef::Domain(d.to_owned()))
        .collect();
    // With the list filtered by a tag, "every site tagged" acts on all of them, every page.
    let whole_tag = !params.tag.is_empty() && post.form.text("whole_tag") == "1";
    let selection = if whole_tag {
        SiteSelection::Tagged {
            sites: selected,
            tags: vec![params.tag.clone()],
        }
    } else {
        SiteSelection::Sites(selected)
    };
    if selection.is_empty() {
        return refuse(
            "general",
            "No site selected: tick the sites to change first; nothing was changed.".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match app
        .store
        .set_state_many(&selection, &change, &post.actor)
        .await
    {
        Ok(changed) => {
            tracing::info!(sites = changed.len(), actor = %post.actor, change = %change.describe(), "admin changed several sites");
            redirect(&params.href(params.page, &format!("done={code}&count={}", changed.len())))
        }
        Err(err) => {
            let status = failure_status(&err);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = %ErrorChain(&err), "admin bulk change failed");
            }
            refuse(
                "general",
                format!("{}; nothing was changed", ErrorChain(&err)),
                status,
            )
            .await
        }
    }
}

/// A new bypass secret for the form's site: shown once, on this answer only.
pub(crate) async fn bypass_new(
    State(app): State<Arc<AdminState>>,
    SitePost { post, site }: SitePost,
) -> Response {
    let secret = match bypass::generate_secret() {
        Ok(s) => s,
        Err(e) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "No secret",
                &format!("could not generate a random secret: {e}; nothing was changed"),
            );
        }
    };
    let hash = bypass::hash_secret(&secret);
    let at = SiteRef::Domain(site.domain.clone());
    if let Err(e) = app
        .store
        .set_bypass_secret_hash(&at, Some(&hash), &post.actor)
        .await
    {
        return store_failure(&app, &post, Some(&site), FormKind::Bypass, e).await;
    }
    tracing::info!(site = %site.domain, actor = %post.actor, "admin set a new bypass secret");
    let settings = BypassSettings::default();
    let new = NewSecret {
        link: format!(
            "http://{}{}/{secret}",
            site.domain, settings.path_prefix
        ),
        note: site.is_default.then(|| {
            "The default site answers on every host that has no site of its own: replace `default` in the link with your host.".to_owned()
        }),
        secret,
    };
    let mut shown = site.clone();
    shown.bypass_secret_hash = Some(hash);
    let frame = page_frame(&app, &post.csrf, Some("New bypass secret set."), None);
    site_response(&app, &shown, Some(&new), frame, StatusCode::OK).await
}

/// Clears the form's site's bypass secret.
pub(crate) async fn bypass_clear(
    State(app): State<Arc<AdminState>>,
    SitePost { post, site }: SitePost,
) -> Response {
    let at = SiteRef::Domain(site.domain.clone());
    match app
        .store
        .set_bypass_secret_hash(&at, None, &post.actor)
        .await
    {
        Ok(()) => redirect(&format!("{}?done=bypass-cleared", site_href(&site.domain))),
        Err(e) => store_failure(&app, &post, Some(&site), FormKind::Bypass, e).await,
    }
}
