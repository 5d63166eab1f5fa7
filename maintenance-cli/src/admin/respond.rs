//! The small response helpers: HTML and plain-text pages, redirects and problem pages; and the
//! security headers, which [`with_security_headers`] puts on every answer of the router
//! (axum's own 400, 405 and 415 too).

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::views;

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    typed(status, body, "text/html; charset=utf-8")
}

pub(crate) fn plain(status: StatusCode, body: String) -> Response {
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
pub(crate) async fn with_security_headers(mut res: Response) -> Response {
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

/// `303 See Other` to `location` (the answer to a form that worked).
pub(crate) fn redirect(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

pub(crate) fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, views::problem(title, message))
}

pub(crate) async fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page here.",
    )
}
