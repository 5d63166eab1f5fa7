//! Who is making a request: a browser session, a script with the bearer token (checked through
//! the login backoff) or nobody; and the client address and scheme the request came with.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use http::{HeaderMap, header};
use maintenance_core::{ClientIpHeader, WithPeer};

use super::{AdminAuth, AdminState, AdminToken, COOKIE_NAME, session};

/// Who is making a request.
pub(super) enum Access {
    /// A browser session, with its id and CSRF token.
    Session { id: String, csrf: String },
    /// A script with the bearer token (no CSRF token needed: browsers cannot send the header
    /// cross-site without the server's consent).
    Bearer,
    /// Nobody known.
    Anonymous,
    /// A wrong bearer token.
    Denied,
    /// A bearer token sent to a page that has no token (`--insecure-no-auth`).
    NoBearer,
}

impl AdminState {
    /// Who sent `headers` from `client`: a bearer token is checked (through the backoff), else
    /// the session cookie.
    pub(super) async fn access(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Access {
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            // Without a configured token there is nothing a bearer token could be checked
            // against: accepting any would let every local process (or a page the browser was
            // tricked into) script the page without even the CSRF token.
            let AdminAuth::Token(token) = &self.auth else {
                tracing::warn!(
                    client = %client_text(client),
                    "admin request with an Authorization header refused: the page has no token \
                     (--insecure-no-auth)"
                );
                return Access::NoBearer;
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
                return Access::Denied;
            };
            return if self.check_token(token, given, client, "bearer token").await {
                Access::Bearer
            } else {
                Access::Denied
            };
        }
        match self.session(headers) {
            Some((id, csrf)) => Access::Session { id, csrf },
            None => Access::Anonymous,
        }
    }

    /// The live session of the request's cookie: its id and CSRF token.
    pub(super) fn session(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let id = session::cookie(headers, COOKIE_NAME)?;
        let csrf = self.sessions.csrf(id)?;
        Some((id.to_owned(), csrf))
    }

    /// Whether `given` is the token, compared once `client`'s backoff is over (see
    /// [`super::BackoffPolicy`]): the attempt is held until then, never refused without being
    /// compared, so a right token always gets in. A wrong token is recorded and logged with
    /// the client address; a right one clears the client's failures.
    pub(super) async fn check_token(
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
    /// ([`maintenance_core::client_ip`]). `None` when a trusted proxy names no readable
    /// client: such requests share one backoff.
    pub(super) fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip());
        let view = WithPeer::new(req, peer);
        maintenance_core::client_ip(&view, &self.trusted_proxies, &ClientIpHeader::XForwardedFor)
    }
}

/// Whether the request came over HTTPS through a proxy (the session cookie is then `Secure`).
pub(super) fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A client address for logs.
pub(super) fn client_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}
