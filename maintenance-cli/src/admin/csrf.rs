//! The checks every POST passes before it is read: its origin is the page's, its sender is
//! logged in, and a browser session's form carries the session's CSRF token.

use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};

use super::access::{Access, client_text};
use super::forms::read_form;
use super::respond::{cross_origin, no_bearer, problem, unauthorized};
use super::{AdminAuth, AdminState, AllowedHosts, FormData, secrets_match};

/// Whether a POST comes from this page: its `Origin`, when sent, is one of the page's origins
/// (listen address, loopback names, public origins), and `Sec-Fetch-Site`, when sent, does not
/// name another site.
///
/// `X-Forwarded-Host` is not consulted: a page that rebound its name to this address may send
/// any such header with `fetch`; the public origin behind a proxy is configured instead.
pub(super) fn same_origin(headers: &HeaderMap, hosts: &AllowedHosts) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        match site.to_str() {
            Ok("same-origin" | "none") => {}
            _ => return false,
        }
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|o| hosts.allows_origin(o)),
    }
}

/// A POST that passed the checks: the form, the actor and the CSRF token to render with.
pub(super) struct Post {
    pub(super) form: FormData,
    pub(super) actor: String,
    pub(super) csrf: String,
    /// The session's id, when the POST came with one (not with a bearer token).
    pub(super) session: Option<String>,
}

/// Checks origin, login and CSRF token, then reads the form.
pub(super) async fn begin_post(app: &AdminState, req: Request) -> Result<Post, Response> {
    if !same_origin(req.headers(), &app.hosts) {
        return Err(cross_origin());
    }
    let client = app.client_ip(&req);
    let actor = format!("admin@{}", client_text(client));
    let (session, session_csrf) = match app.access(req.headers(), client).await {
        Access::Session { id, csrf } => (Some(id), Some(csrf)),
        Access::Bearer => (None, None),
        // Without a token, the page's one CSRF token stands for a session's.
        Access::Anonymous if matches!(app.auth, AdminAuth::Open) => match &app.open_csrf {
            Some(csrf) => (None, Some(csrf.clone())),
            None => return Err(no_randomness()),
        },
        Access::Denied | Access::Anonymous => return Err(unauthorized()),
        Access::NoBearer => return Err(no_bearer()),
    };
    let form = read_form(req).await?;
    if let Some(expected) = &session_csrf
        && !form
            .get("csrf")
            .is_some_and(|got| secrets_match(got, expected))
    {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's CSRF token is missing or out of date: reload the page and try again. Nothing was changed.",
        ));
    }
    Ok(Post {
        form,
        actor,
        csrf: session_csrf.unwrap_or_default(),
        session,
    })
}

/// The answer when the system gave no randomness for a CSRF token.
pub(super) fn no_randomness() -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "No CSRF token",
        "The system had no randomness to make a CSRF token with when the page started; restart \
         it. Nothing was changed.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origin_must_be_one_of_the_pages_when_sent() {
        let hosts = AllowedHosts::new(
            "127.0.0.1:8085".parse().unwrap(),
            vec!["https://admin.example.com".parse().unwrap()],
        );
        let local = ("host", "127.0.0.1:8085");
        let cases: [(&[(&'static str, &str)], bool); 8] = [
            (&[local], true),
            (&[local, ("origin", "http://127.0.0.1:8085")], true),
            (
                &[
                    ("host", "localhost:8085"),
                    ("origin", "http://localhost:8085"),
                ],
                true,
            ),
            (&[local, ("origin", "http://evil.example")], false),
            (&[local, ("origin", "null")], false),
            (&[local, ("sec-fetch-site", "cross-site")], false),
            // Behind a proxy: the configured public origin, whatever Host the proxy sends.
            (&[local, ("origin", "https://admin.example.com")], true),
            // A forwarded host proves nothing: a rebinding page can send it.
            (
                &[
                    local,
                    ("x-forwarded-host", "evil.example"),
                    ("origin", "https://evil.example"),
                ],
                false,
            ),
        ];
        for (pairs, same) in cases {
            assert_eq!(same_origin(&headers(pairs), &hosts), same, "{pairs:?}");
        }
    }
}
