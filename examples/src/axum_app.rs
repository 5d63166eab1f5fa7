//! The test project on axum.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Json, Router, ServiceExt};
use maintenance_axum::{MaintenanceLayer, MaintenanceService};
use maintenance_core::{AllowReason, Maintenance};
use serde::Deserialize;
use tower::Layer;
use tower::util::Either;

use crate::{Config, ConfigError, LOGIN_FORM, SESSION_COOKIE, Sessions, items};

#[derive(Clone)]
struct AppState {
    sessions: Sessions,
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn home(reason: Option<Extension<AllowReason>>) -> Response {
    // A banner for an upcoming window, read from the reason the layer left.
    let banner = match reason.as_deref() {
        Some(AllowReason::Scheduled { starts_at }) => {
            format!(" Maintenance is scheduled for {}.", starts_at.to_rfc3339())
        }
        _ => String::new(),
    };
    format!("This is the home view.{banner}").into_response()
}

async fn ignored() -> &'static str {
    "Ignored"
}

async fn login_form() -> Html<&'static str> {
    Html(LOGIN_FORM)
}

async fn login(State(state): State<AppState>, Form(form): Form<Login>) -> Response {
    match state.sessions.login(&form.username, &form.password) {
        Some(token) => {
            let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
            let mut res = Redirect::to("/").into_response();
            if let Ok(v) = cookie.parse() {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Html("Invalid username or password."),
        )
            .into_response(),
    }
}

async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> String {
    match state.sessions.user(&headers) {
        Some((name, identity)) => format!("{name} ({identity:?})"),
        None => "anonymous".to_owned(),
    }
}

async fn list_items() -> Json<serde_json::Value> {
    Json(items())
}

/// `GET /metrics`: the Prometheus text format.
pub(crate) async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::METRICS_CONTENT_TYPE)],
        crate::metrics_text(),
    )
}

async fn add_item(Json(item): Json<serde_json::Value>) -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::CREATED, Json(item))
}

/// The test project's service: the routes, wrapped as a whole in the maintenance layer unless
/// it is off.
///
/// The layer goes around the [`Router`] rather than in it (`Router::layer`): it sees every
/// request before routing, so a blocked one is never routed, and it adds no allocation to a
/// request that passes, where `Router::layer` boxes every route once more.
pub type App = Either<MaintenanceService<Router>, Router>;

/// The routes, with the maintenance layer around them when `maintenance` is given (leaving
/// the allow reason for the home view's banner when `allow_reason`).
pub fn router(sessions: Sessions, maintenance: Option<Maintenance>, allow_reason: bool) -> App {
    let app = Router::new()
        .route("/", get(home))
        .route("/ignored-page/", get(ignored))
        .route("/admin/login/", get(login_form).post(login))
        .route("/admin/whoami/", get(whoami))
        .route("/api/items", get(list_items).post(add_item))
        .route("/healthz", get(|| async { crate::HEALTHZ }))
        .route("/metrics", get(metrics))
        .with_state(AppState {
            sessions: sessions.clone(),
        });
    match maintenance {
        Some(m) => {
            let layer = MaintenanceLayer::new(m)
                .with_identity(move |parts| sessions.identity(&parts.headers));
            let layer = if allow_reason {
                layer.with_allow_reason()
            } else {
                layer
            };
            Either::Left(layer.layer(app))
        }
        None => Either::Right(app),
    }
}

/// Builds the app from `config`: opens and migrates the store, starts the live handle (unless
/// the layer is off), and returns the app and the handle.
pub async fn build(config: &Config) -> Result<(App, Option<Maintenance>), ConfigError> {
    let maintenance = config.start_maintenance_if_layered().await?;
    Ok((
        router(
            Sessions::default(),
            maintenance.clone(),
            config.allow_reason,
        ),
        maintenance,
    ))
}

/// Serves `app` on `listener` with peer addresses (HTTP/1.1, and HTTP/2 with prior knowledge
/// for gRPC clients), until the process stops.
pub async fn serve(listener: tokio::net::TcpListener, app: App) -> std::io::Result<()> {
    axum::serve(
        listener,
        ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            app,
        ),
    )
    .await
}
