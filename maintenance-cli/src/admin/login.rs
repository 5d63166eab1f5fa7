//! Login with the admin token (through the backoff after wrong ones), and logout.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;

use super::access::behind_https;
use super::csrf::{begin_post, same_origin};
use super::forms::read_form;
use super::respond::{cross_origin, html, problem, redirect};
use super::{AdminAuth, AdminState, page, session};

pub(super) async fn login_form(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    match (&app.auth, app.session(req.headers())) {
        (AdminAuth::Open, _) | (_, Some(_)) => redirect("/", None),
        _ => html(StatusCode::OK, page::login(None)),
    }
}

pub(super) async fn login(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    if !same_origin(req.headers(), &app.hosts) {
        return cross_origin();
    }
    let AdminAuth::Token(token) = &app.auth else {
        return redirect("/", None);
    };
    let secure = behind_https(req.headers());
    let client = app.client_ip(&req);
    let form = match read_form(req).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let given = form.text("token").trim();
    if given.is_empty() {
        return html(
            StatusCode::UNAUTHORIZED,
            page::login(Some("Enter the admin token.")),
        );
    }
    if !app.check_token(token, given, client, "login form").await {
        return html(
            StatusCode::UNAUTHORIZED,
            page::login(Some(
                "Wrong token: expected the token the server was started with. Each wrong \
                 token makes the next attempt from your address wait longer.",
            )),
        );
    }
    match app.sessions.create() {
        Some((id, _)) => redirect("/", Some(session::set_cookie(&id, secure))),
        None => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Login failed",
            "The system has no randomness to make a session with.",
        ),
    }
}

pub(super) async fn logout(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let post = match begin_post(&app, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    if let Some(id) = &post.session {
        app.sessions.remove(id);
    }
    redirect("/login", Some(session::clear_cookie()))
}
