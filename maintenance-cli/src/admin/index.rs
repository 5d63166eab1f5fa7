//! The page itself: every site with its forms and the audit log, shown with the notice of the
//! change just made, or again with a refused form's values and messages.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use chrono::Utc;
use http::{HeaderValue, StatusCode, header};
use maintenance_core::{ErrorChain, StoreError};

use super::access::{Access, behind_https, client_ip};
use super::respond::{html, no_bearer, problem, redirect, throttled, unauthorized};
use super::{AdminAuth, AdminState, Invalid, page, session};

/// How many audit events the page shows.
const LOG_LIMIT: u32 = 100;

pub(super) async fn index(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let notice = req
        .uri()
        .query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "done")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|code| notice_text(&code));
    match app.access(req.headers(), client_ip(&req)) {
        Access::Session { csrf, .. } => render(&app, &csrf, notice, None, StatusCode::OK).await,
        Access::Bearer => render(&app, "", notice, None, StatusCode::OK).await,
        Access::Denied => unauthorized(),
        Access::NoBearer => no_bearer(),
        Access::Throttled(wait) => throttled(wait),
        Access::Anonymous => match app.auth {
            AdminAuth::Token(_) => redirect("/login", None),
            AdminAuth::Open => match app.sessions.create() {
                Some((id, csrf)) => {
                    let mut res = render(&app, &csrf, notice, None, StatusCode::OK).await;
                    let cookie = session::set_cookie(&id, behind_https(req.headers()));
                    if let Ok(v) = HeaderValue::from_str(&cookie) {
                        res.headers_mut().insert(header::SET_COOKIE, v);
                    }
                    res
                }
                None => problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "No session",
                    "The system has no randomness to make a session with.",
                ),
            },
        },
    }
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Saved.",
        "unchanged" => "Nothing to save: the state was already so.",
        "ignored-added" => "Ignored pattern saved.",
        "ignored-removed" => "Ignored pattern removed.",
        "network-added" => "Allowed network saved.",
        "network-removed" => "Allowed network removed.",
        _ => return None,
    })
}

pub(super) async fn render(
    app: &AdminState,
    csrf: &str,
    notice: Option<&str>,
    invalid: Option<&Invalid>,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let contents = app.store.load().await?;
        let events = app.store.events(None, LOG_LIMIT).await?;
        Ok::<_, StoreError>((contents.sites, events))
    }
    .await;
    match loaded {
        Ok((sites, events)) => html(
            status,
            page::render(&page::Page {
                sites: &sites,
                events: &events,
                csrf,
                notice,
                invalid,
                auth: matches!(app.auth, AdminAuth::Token(_)),
                now: Utc::now(),
            }),
        ),
        Err(e) => {
            tracing::error!(error = %ErrorChain(&e), "admin page could not read the store");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Database unavailable",
                &format!("Could not read the maintenance tables: {}", ErrorChain(&e)),
            )
        }
    }
}
