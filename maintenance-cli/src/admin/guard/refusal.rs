//! [`Refusal`]: why the guards turned a request away, and the page each reason is answered
//! with. It is the rejection of every extractor in [`super::access`], so a handler runs only
//! for a request that passed them all.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use maintenance_core::{ErrorChain, StoreError};

use crate::admin::respond::{problem, redirect};

/// Why a request was turned away.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A POST from another site (`Origin` or `Sec-Fetch-Site`).
    CrossOrigin,
    /// No session, or a wrong bearer token.
    NotLoggedIn,
    /// A page view without a session: the login page is where to go.
    LogIn,
    /// A bearer token sent to a page that has no token (`--insecure-no-auth`).
    NoBearer,
    /// No randomness for a CSRF token when the page started (`--insecure-no-auth`).
    NoRandomness,
    /// A form whose CSRF token is missing or not the session's.
    BadCsrf,
    /// A form larger than the page reads.
    TooLarge { limit: usize },
    /// A form naming a site that is not there.
    UnknownSite(String),
    /// The store could not be read to find the form's site.
    Store(StoreError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::CrossOrigin => problem(
                StatusCode::FORBIDDEN,
                "Refused",
                "This form was sent from another site (Origin or Sec-Fetch-Site header); nothing \
                 was changed. If the page is reached under another name, start it with \
                 --public-origin.",
            ),
            Refusal::NotLoggedIn => problem(
                StatusCode::UNAUTHORIZED,
                "Not logged in",
                "Log in with the admin token at /login, or send it as `Authorization: Bearer \
                 <token>`.",
            ),
            Refusal::LogIn => redirect("/login"),
            Refusal::NoBearer => problem(
                StatusCode::UNAUTHORIZED,
                "No token configured",
                "This admin page was started without a token (--insecure-no-auth), so it accepts \
                 no `Authorization` header: send the request without it, or start the page with \
                 a token (MAINTENANCE_ADMIN_TOKEN) to use bearer tokens.",
            ),
            Refusal::NoRandomness => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "No CSRF token",
                "The system had no randomness to make a CSRF token with when the page started; \
                 restart it. Nothing was changed.",
            ),
            Refusal::BadCsrf => problem(
                StatusCode::FORBIDDEN,
                "Refused",
                "The form's CSRF token is missing or out of date: reload the page and try again. \
                 Nothing was changed.",
            ),
            Refusal::TooLarge { limit } => problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Form too large",
                &format!("The form is larger than {limit} bytes; nothing was changed."),
            ),
            Refusal::UnknownSite(domain) => problem(
                StatusCode::NOT_FOUND,
                "Unknown site",
                &format!(
                    "unknown site `{domain}`: it may have been removed meanwhile; nothing was \
                     changed"
                ),
            ),
            Refusal::Store(err) => {
                let status = failure_status(&err);
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(error = %ErrorChain(&err), "admin change failed");
                }
                problem(
                    status,
                    "Refused",
                    &format!("{}; nothing was changed", ErrorChain(&err)),
                )
            }
        }
    }
}

/// The status a store error is answered with.
pub(crate) fn failure_status(err: &StoreError) -> StatusCode {
    match err {
        StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StoreError::NotFound { .. }
        | StoreError::UnknownSite(_)
        | StoreError::UnknownTag(_)
        | StoreError::SiteExists(_)
        | StoreError::DefaultSite(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
