//! The answers to a form that was read: a refusal that re-renders the page with the message
//! beside the field, a store failure, or the redirect after success.

use axum::response::Response;
use http::StatusCode;
use maintenance_core::{ErrorChain, SiteState, StoreError};

use super::pages::{page_frame, site_response};
use crate::admin::AdminState;
use crate::admin::form::{FormKind, Invalid};
use crate::admin::guard::access::Post;
use crate::admin::guard::refusal::failure_status;
use crate::admin::respond::{problem, redirect};
use crate::admin::views::site_href;

/// The site's page again with `errors` (a refused form of `kind`), or, without a site, a
/// problem page with the first message.
pub(crate) async fn refuse(
    app: &AdminState,
    post: &Post,
    site: Option<&SiteState>,
    kind: FormKind,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let Some(site) = site else {
        let message = errors
            .first()
            .map(|(_, m)| m.as_str())
            .unwrap_or("nothing was changed");
        return problem(status, "Refused", message);
    };
    let invalid = Invalid {
        site_id: Some(site.id),
        kind,
        values: post.form.clone(),
        errors,
    };
    let frame = page_frame(app, &post.csrf, None, Some(&invalid));
    site_response(app, site, None, frame, status).await
}

/// A form of `kind` for `site` refused with `errors` beside its fields (422); nothing written.
pub(crate) async fn refuse_invalid(
    app: &AdminState,
    post: &Post,
    site: &SiteState,
    kind: FormKind,
    errors: Vec<(&'static str, String)>,
) -> Response {
    refuse(
        app,
        post,
        Some(site),
        kind,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A change the store refused or failed: the site's page again with the message (a refused
/// value beside the form of `kind`, anything else at the top).
pub(crate) async fn store_failure(
    app: &AdminState,
    post: &Post,
    site: Option<&SiteState>,
    kind: FormKind,
    err: StoreError,
) -> Response {
    let status = failure_status(&err);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %ErrorChain(&err), "admin change failed");
    }
    let kind = if status == StatusCode::UNPROCESSABLE_ENTITY {
        kind
    } else {
        FormKind::Remove
    };
    refuse(
        app,
        post,
        site,
        kind,
        vec![(
            "general",
            format!("{}; nothing was changed", ErrorChain(&err)),
        )],
        status,
    )
    .await
}

/// The redirect to `site`'s page with the notice `code`.
pub(crate) fn done(code: &str, site: &SiteState) -> Response {
    redirect(&format!("{}?done={code}", site_href(&site.domain)))
}
