//! Login with the admin token (through the backoff after wrong ones), and logout.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use http::StatusCode;

use crate::admin::guard::access::{Post, behind_https, read_form};
use crate::admin::guard::csrf::same_origin;
use crate::admin::guard::refusal::Refusal;
use crate::admin::guard::session;
use crate::admin::respond::{html, problem, redirect};
use crate::admin::views;
use crate::admin::{AdminAuth, AdminState};

pub(crate) async fn login_form(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    match (&app.auth, app.session(req.headers())) {
        (AdminAuth::Open, _) | (_, Some(_)) => redirect("/"),
        _ => html(StatusCode::OK, views::login(None)),
    }
}

pub(crate) async fn login(
    State(app): State<Arc<AdminState>>,
    jar: CookieJar,
    req: Request,
) -> Result<Response, Refusal> {
    if !same_origin(req.headers(), &app.hosts) {
        return Err(Refusal::CrossOrigin);
    }
    let AdminAuth::Token(token) = &app.auth else {
        return Ok(redirect("/"));
    };
    let secure = behind_https(req.headers());
    let (parts, body) = req.into_parts();
    let client = app.client_ip(&parts);
    let form = read_form(body).await?;
    let given = form.text("token").trim();
    if given.is_empty() {
        return Ok(html(
            StatusCode::UNAUTHORIZED,
            views::login(Some("Enter the admin token.")),
        ));
    }
    if !app.check_token(token, given, client, "login form").await {
        return Ok(html(
            StatusCode::UNAUTHORIZED,
            views::login(Some(
                "Wrong token: expected the token the server was started with. Each wrong \
                 token makes the next attempt from your address wait longer.",
            )),
        ));
    }
    Ok(match app.sessions.create() {
        Some((id, _)) => (jar.add(session::cookie(id, secure)), redirect("/")).into_response(),
        None => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Login failed",
            "The system has no randomness to make a session with.",
        ),
    })
}

pub(crate) async fn logout(
    State(app): State<Arc<AdminState>>,
    jar: CookieJar,
    post: Post,
) -> Response {
    if let Some(id) = &post.session {
        app.sessions.remove(id);
    }
    (jar.remove(session::removal()), redirect("/login")).into_response()
}
