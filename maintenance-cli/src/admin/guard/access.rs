//! Who is making a request, as extractors: [`Viewer`] for a page, [`Post`] for a form, and
//! [`SitePost`] for a form about one site. Each checks what its request needs (the origin of
//! a POST, the session or bearer token, the CSRF token of a form) and is refused with a
//! [`Refusal`] otherwise, before the handler runs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum_extra::extract::cookie::CookieJar;
use http::request::Parts;
use http::{HeaderMap, header};
use maintenance_core::{ClientIpHeader, SiteRef, SiteState, adapter::WithPeer};

use super::auth::{AdminAuth, AdminToken};
use super::csrf::same_origin;
use super::refusal::Refusal;
use super::session::{COOKIE_NAME, secrets_match};
use crate::admin::AdminState;
use crate::admin::form::FormData;
use crate::admin::lookup::lookup;

/// The largest form body read.
const MAX_BODY: usize = 64 * 1024;

/// Who sent a request.
enum Access {
    /// A browser session, with its id and CSRF token.
    Session { id: String, csrf: String },
    /// A script with the bearer token (no CSRF token needed: browsers cannot send the header
    /// cross-site without the server's consent).
    Bearer,
    /// Nobody known.
    Anonymous,
}

/// Someone who may see the admin pages, with the CSRF token to put in the page's forms (empty
/// for a bearer token, whose requests need none).
pub(crate) struct Viewer {
    pub(crate) csrf: String,
}

impl FromRequestParts<Arc<AdminState>> for Viewer {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<AdminState>) -> Result<Self, Refusal> {
        let client = app.client_ip(parts);
        match app.access(parts, client).await? {
            Access::Session { csrf, .. } => Ok(Viewer { csrf }),
            Access::Bearer => Ok(Viewer {
                csrf: String::new(),
            }),
            Access::Anonymous => match (&app.auth, &app.open_csrf) {
                (AdminAuth::Token(_), _) => Err(Refusal::LogIn),
                // Without a token, a page view stores nothing: its forms carry the page's one
                // CSRF token, so no number of views can create or evict anything.
                (AdminAuth::Open, Some(csrf)) => Ok(Viewer { csrf: csrf.clone() }),
                (AdminAuth::Open, None) => Err(Refusal::NoRandomness),
            },
        }
    }
}

/// A POST that passed the checks: from this page's origin, by someone logged in (or anyone,
/// without a token), carrying the session's CSRF token when it came from a browser.
pub(crate) struct Post {
    /// The form.
    pub(crate) form: FormData,
    /// Who made the change, for the audit log: `admin@<client address>`.
    pub(crate) actor: String,
    /// The CSRF token to render an answer's forms with.
    pub(crate) csrf: String,
    /// The session's id, when the POST came with one (not with a bearer token).
    pub(crate) session: Option<String>,
}

impl FromRequest<Arc<AdminState>> for Post {
    type Rejection = Refusal;

    async fn from_request(req: Request, app: &Arc<AdminState>) -> Result<Self, Refusal> {
        let (mut parts, body) = req.into_parts();
        if !same_origin(&parts.headers, &app.hosts) {
            return Err(Refusal::CrossOrigin);
        }
        let client = app.client_ip(&parts);
        let (session, expected) = match app.access(&mut parts, client).await? {
            Access::Session { id, csrf } => (Some(id), Some(csrf)),
            Access::Bearer => (None, None),
            // Without a token, the page's one CSRF token stands for a session's.
            Access::Anonymous => match (&app.auth, &app.open_csrf) {
                (AdminAuth::Open, Some(csrf)) => (None, Some(csrf.clone())),
                (AdminAuth::Open, None) => return Err(Refusal::NoRandomness),
                (AdminAuth::Token(_), _) => return Err(Refusal::NotLoggedIn),
            },
        };
        let form = read_form(body).await?;
        if let Some(expected) = &expected
            && !form
                .get("csrf")
                .is_some_and(|got| secrets_match(got, expected))
        {
            return Err(Refusal::BadCsrf);
        }
        Ok(Post {
            form,
            actor: format!("admin@{}", client_text(client)),
            csrf: expected.unwrap_or_default(),
            session,
        })
    }
}

/// A [`Post`] about one site (its `site` field), and that site as it is now.
pub(crate) struct SitePost {
    pub(crate) post: Post,
    pub(crate) site: SiteState,
}

impl FromRequest<Arc<AdminState>> for SitePost {
    type Rejection = Refusal;

    async fn from_request(req: Request, app: &Arc<AdminState>) -> Result<Self, Refusal> {
        let post = Post::from_request(req, app).await?;
        let domain = post.form.text("site");
        match lookup(app, &SiteRef::Domain(domain.to_owned())).await {
            Ok(Some(site)) => Ok(SitePost { post, site }),
            Ok(None) => Err(Refusal::UnknownSite(domain.to_owned())),
            Err(e) => Err(Refusal::Store(e)),
        }
    }
}

/// The form of a POST's body, at most [`MAX_BODY`] bytes.
pub(crate) async fn read_form(body: axum::body::Body) -> Result<FormData, Refusal> {
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => Ok(FormData::parse(&bytes)),
        Err(_) => Err(Refusal::TooLarge { limit: MAX_BODY }),
    }
}

impl AdminState {
    /// Who sent `parts` from `client`: a bearer token is checked (through the backoff), else
    /// the session cookie.
    async fn access(&self, parts: &mut Parts, client: Option<IpAddr>) -> Result<Access, Refusal> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            // Without a configured token there is nothing a bearer token could be checked
            // against: accepting any would let every local process (or a page the browser was
            // tricked into) script the page without even the CSRF token.
            let AdminAuth::Token(token) = &self.auth else {
                tracing::warn!(
                    client = %client_text(client),
                    "admin request with an Authorization header refused: the page has no token \
                     (--insecure-no-auth)"
                );
                return Err(Refusal::NoBearer);
            };
            let given = auth
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|g| !g.is_empty());
            // Another scheme, or no token at all, is no guess: refused without counting.
            let Some(given) = given else {
                return Err(Refusal::NotLoggedIn);
            };
            return if self.check_token(token, given, client, "bearer token").await {
                Ok(Access::Bearer)
            } else {
                Err(Refusal::NotLoggedIn)
            };
        }
        Ok(match self.session(&parts.headers) {
            Some((id, csrf)) => Access::Session { id, csrf },
            None => Access::Anonymous,
        })
    }

    /// The live session of the request's cookie: its id and CSRF token.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let jar = CookieJar::from_headers(headers);
        let id = jar.get(COOKIE_NAME)?.value();
        let csrf = self.sessions.csrf(id)?;
        Some((id.to_owned(), csrf))
    }

    /// Whether `given` is the token, compared once `client`'s backoff is over (see
    /// [`super::throttle::BackoffPolicy`]): the attempt is held until then, never refused
    /// without being compared, so a right token always gets in. A wrong token is recorded and
    /// logged with the client address; a right one clears the client's failures.
    pub(crate) async fn check_token(
        &self,
        token: &AdminToken,
        given: &str,
        client: Option<IpAddr>,
        how: &'static str,
    ) -> bool {
        let attempt = self.throttle.admit(client, self.clock.now());
        if !attempt.wait.is_zero() {
            tracing::debug!(client = %client_text(client), how, wait_secs = attempt.wait.as_secs_f64(),
                "admin login held: failed logins before it (from this client, or from all)");
            tokio::time::sleep(attempt.wait).await;
        }
        if token.matches(given) {
            self.throttle.succeeded(&attempt);
            return true;
        }
        let failure = self.throttle.failed(&attempt, self.clock.now());
        tracing::warn!(
            client = %client_text(client),
            how,
            failures = failure.failures,
            wait_secs = failure.wait.as_secs_f64(),
            "admin login failed: wrong token from {}; its next attempt is held {:.1} s",
            client_text(client),
            failure.wait.as_secs_f64()
        );
        false
    }

    /// The client's address: the peer, or behind a trusted proxy (`--trusted-proxy`) the
    /// address it forwards in `X-Forwarded-For`, read as the servers read it
    /// ([`maintenance_core::adapter::client_ip`]). `None` when a trusted proxy names no readable
    /// client: such requests share one backoff.
    pub(crate) fn client_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip());
        let view = WithPeer::new(parts, peer);
        maintenance_core::adapter::client_ip(
            &view,
            &self.trusted_proxies,
            &ClientIpHeader::XForwardedFor,
        )
    }
}

/// Whether the request came over HTTPS through a proxy (the session cookie is then `Secure`).
pub(crate) fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A client address for logs.
pub(crate) fn client_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}
