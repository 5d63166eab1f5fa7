//! Reading a POSTed form, and the answers to one: the site it names, a refusal that re-renders
//! the page with the message beside the field, a store failure, or the redirect after success.

use axum::extract::Request;
use axum::response::Response;
use http::StatusCode;
use maintenance_core::{ErrorChain, SiteRef, SiteState, StoreError};

use super::csrf::{Post, begin_post};
use super::index::{lookup, site_response};
use super::page::site_href;
use super::respond::{problem, redirect};
use super::{AdminState, FormData, FormKind, Invalid};

/// The largest form body accepted.
const MAX_BODY: usize = 64 * 1024;

pub(super) async fn read_form(req: Request) -> Result<FormData, Response> {
    match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(bytes) => Ok(FormData::parse(&bytes)),
        Err(_) => Err(problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Form too large",
            &format!("The form is larger than {MAX_BODY} bytes; nothing was changed."),
        )),
    }
}

/// Begins a POST that changes one site: the checks of [`begin_post`], then the form's site
/// (or the response that says it is unknown, as a form of `kind`).
pub(super) async fn begin_site_post(
    app: &AdminState,
    req: Request,
    kind: FormKind,
) -> Result<(Post, SiteState), Response> {
    let post = begin_post(app, req).await?;
    let site = form_site(app, &post, kind).await?;
    Ok((post, site))
}

/// Finds the form's site, or the response that says it is unknown.
async fn form_site(app: &AdminState, post: &Post, kind: FormKind) -> Result<SiteState, Response> {
    let domain = post.form.text("site");
    match lookup(app, &SiteRef::Domain(domain.to_owned())).await {
        Ok(Some(site)) => Ok(site),
        Ok(None) => Err(problem(
            StatusCode::NOT_FOUND,
            "Unknown site",
            &format!(
                "unknown site `{domain}`: it may have been removed meanwhile; nothing was changed"
            ),
        )),
        Err(e) => Err(store_failure(app, post, None, kind, e).await),
    }
}

/// The site's page again with `errors` (a refused form of `kind`), or, without a site, a
/// problem page with the first message.
pub(super) async fn refuse(
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
    site_response(app, &post.csrf, site, None, Some(&invalid), None, status).await
}

/// A form of `kind` for `site` refused with `errors` beside its fields (422); nothing written.
pub(super) async fn refuse_invalid(
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

/// The status a store error is answered with.
pub(super) fn failure_status(err: &StoreError) -> StatusCode {
    match err {
        StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StoreError::NotFound { .. }
        | StoreError::UnknownSite(_)
        | StoreError::SiteExists(_)
        | StoreError::DefaultSite(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(super) async fn store_failure(
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
pub(super) fn done(code: &str, site: &SiteState) -> Response {
    redirect(&format!("{}?done={code}", site_href(&site.domain)), None)
}
