//! Reading a POSTed form, and the answers to one: the site it names, a refusal that re-renders
//! the page with the message beside the field, a store failure, or the redirect after success.

use axum::extract::Request;
use axum::response::Response;
use http::StatusCode;
use maintenance_core::store::find_site;
use maintenance_core::{ErrorChain, SiteRef, SiteState, StoreError};

use super::csrf::{Post, begin_post};
use super::index::render;
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
    let sites = match app.store.load().await {
        Ok(c) => c.sites,
        Err(e) => return Err(store_failure(app, post, None, kind, e).await),
    };
    match find_site(&sites, &SiteRef::Domain(domain.to_owned())) {
        Some(s) => Ok(s.clone()),
        None => Err(refuse(
            app,
            post,
            None,
            kind,
            vec![(
                "general",
                format!("unknown site `{domain}`: it may have been removed meanwhile; nothing was changed"),
            )],
            StatusCode::NOT_FOUND,
        )
        .await),
    }
}

async fn refuse(
    app: &AdminState,
    post: &Post,
    site_id: Option<i64>,
    kind: FormKind,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let invalid = Invalid {
        site_id,
        kind,
        values: post.form.clone(),
        errors,
    };
    render(app, &post.csrf, None, Some(&invalid), status).await
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
        Some(site.id),
        kind,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

pub(super) async fn store_failure(
    app: &AdminState,
    post: &Post,
    site_id: Option<i64>,
    kind: FormKind,
    err: StoreError,
) -> Response {
    let status = match &err {
        StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StoreError::NotFound { .. } | StoreError::UnknownSite(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
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
        site_id,
        kind,
        vec![(
            "general",
            format!("{}; nothing was changed", ErrorChain(&err)),
        )],
        status,
    )
    .await
}

pub(super) fn done(code: &str, site: &SiteState) -> Response {
    redirect(&format!("/?done={code}#site-{}", site.id), None)
}
