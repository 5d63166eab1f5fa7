//! Who is making a request: a browser session, a script with the bearer token (checked through
//! the login backoff) or nobody; and the client address and scheme the request came with.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use http::{HeaderMap, header};

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
    /// A bearer token from an address that must still wait this long after a wrong token; it
    /// was not compared.
    Throttled(Duration),
}

impl AdminState {
    /// Who sent `headers` from `client`: a bearer token is checked (through the backoff), else
    /// the session cookie.
    pub(super) fn access(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Access {
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
            return match self.check_token(token, given, client, "bearer token") {
                Ok(()) => Access::Bearer,
                Err(Some(wait)) => Access::Throttled(wait),
                Err(None) => Access::Denied,
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

    /// Compares `given` with the token, unless `client` must still wait after a wrong one:
    /// `Err(Some(wait))` then, without comparing. A wrong token is recorded and logged with
    /// the client address (`Err(None)`); a right one clears the address's failures.
    pub(super) fn check_token(
        &self,
        token: &AdminToken,
        given: &str,
        client: Option<IpAddr>,
        how: &'static str,
    ) -> Result<(), Option<Duration>> {
        let now = self.clock.now();
        if let Err(wait) = self.throttle.admit(client, now) {
            tracing::debug!(client = %client_text(client), how, "admin login not checked: the address must wait after a wrong token");
            return Err(Some(wait));
        }
        if token.matches(given) {
            self.throttle.succeeded(client);
            return Ok(());
        }
        let failure = self.throttle.failed(client, now);
        tracing::warn!(
            client = %client_text(client),
            how,
            failures = failure.failures,
            wait_secs = failure.wait.as_secs_f64(),
            "admin login failed: wrong token from {}; its next attempt waits {:.1} s",
            client_text(client),
            failure.wait.as_secs_f64()
        );
        Err(None)
    }
}

/// Whether the request came over HTTPS through a proxy (the session cookie is then `Secure`).
pub(super) fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

pub(super) fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
}

/// A client address for logs.
pub(super) fn client_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}
