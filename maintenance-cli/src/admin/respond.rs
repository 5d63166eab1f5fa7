//! The small response helpers: HTML and plain-text pages, redirects, problem pages, and the
//! refusals every handler shares; and the security headers, which [`with_security_headers`]
//! puts on every answer of the router (axum's own 400, 405 and 415 too).

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::page;

pub(super) fn html(status: StatusCode, body: String) -> Response {
    typed(status, body, "text/html; charset=utf-8")
}

pub(super) fn plain(status: StatusCode, body: String) -> Response {
    typed(status, body, "text/plain; charset=utf-8")
}

/// A response of `content_type`.
fn typed(status: StatusCode, body: String, content_type: &'static str) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// `res` with the security headers: the layer over the whole router, so that no answer
/// (a handler's, a refused host's, or one axum makes itself) goes without them.
pub(super) async fn with_security_headers(mut res: Response) -> Response {
    security_headers(res.headers_mut());
    res
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

pub(super) fn redirect(location: &str, cookie: Option<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    res
}

pub(super) fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, page::problem(title, message))
}

pub(super) async fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page here.",
    )
}

pub(super) fn unauthorized() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Not logged in",
        "Log in with the admin token at /login, or send it as `Authorization: Bearer <token>`.",
    )
}

pub(super) fn no_bearer() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "No token configured",
        "This admin page was started without a token (--insecure-no-auth), so it accepts no \
         `Authorization` header: send the request without it, or start the page with a token \
         (MAINTENANCE_ADMIN_TOKEN) to use bearer tokens.",
    )
}

pub(super) fn cross_origin() -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form was sent from another site (Origin or Sec-Fetch-Site header); nothing was \
         changed. If the page is reached under another name, start it with --public-origin.",
    )
}
