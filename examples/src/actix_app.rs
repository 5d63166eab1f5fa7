//! The test project on actix-web 4, with `maintenance_actix::MaintenanceMode`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, guard, web};
use maintenance_actix::MaintenanceMode;
use maintenance_core::{AllowReason, Maintenance};
use serde::Deserialize;

use crate::{Config, ConfigError, LOGIN_FORM, SESSION_COOKIE, Sessions, items};

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

fn cookie_lines(req: &HttpRequest) -> impl Iterator<Item = &str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
}

async fn home(reason: Option<web::ReqData<AllowReason>>) -> String {
    // A banner for an upcoming window, read from the reason the middleware left.
    let banner = match reason.as_deref() {
        Some(AllowReason::Scheduled { starts_at }) => {
            format!(" Maintenance is scheduled for {}.", starts_at.to_rfc3339())
        }
        _ => String::new(),
    };
    format!("This is the home view.{banner}")
}

async fn ignored() -> &'static str {
    "Ignored"
}

async fn login_form() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(LOGIN_FORM)
}

async fn login(sessions: web::Data<Sessions>, form: web::Form<Login>) -> HttpResponse {
    match sessions.login(&form.username, &form.password) {
        Some(token) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .insert_header((
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"),
            ))
            .finish(),
        None => HttpResponse::build(StatusCode::UNAUTHORIZED)
            .content_type(ContentType::html())
            .body("Invalid username or password."),
    }
}

async fn whoami(sessions: web::Data<Sessions>, req: HttpRequest) -> String {
    match sessions.user_from_cookies(cookie_lines(&req)) {
        Some((name, identity)) => format!("{name} ({identity:?})"),
        None => "anonymous".to_owned(),
    }
}

async fn list_items() -> HttpResponse {
    HttpResponse::Ok().json(items())
}

async fn add_item(item: web::Json<serde_json::Value>) -> HttpResponse {
    HttpResponse::Created().json(item.into_inner())
}

/// `GET`, and `HEAD` answered by the same handler (actix routes them apart; axum and rocket
/// answer `HEAD` from `GET` routes).
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The routes and the sessions they share.
pub fn configure(sessions: Sessions) -> impl Fn(&mut web::ServiceConfig) + Clone + Send {
    move |cfg| {
        cfg.app_data(web::Data::new(sessions.clone()))
            .route("/", get_or_head().to(home))
            .route("/ignored-page/", get_or_head().to(ignored))
            .service(
                web::resource("/admin/login/")
                    .route(get_or_head().to(login_form))
                    .route(web::post().to(login)),
            )
            .route("/admin/whoami/", get_or_head().to(whoami))
            .route(
                "/healthz",
                get_or_head().to(|| async { HttpResponse::Ok().body(crate::HEALTHZ) }),
            )
            .route(
                "/metrics",
                get_or_head().to(|| async {
                    HttpResponse::Ok()
                        .content_type(crate::METRICS_CONTENT_TYPE)
                        .body(crate::metrics_text())
                }),
            )
            .service(
                web::resource("/api/items")
                    .route(get_or_head().to(list_items))
                    .route(web::post().to(add_item)),
            );
    }
}

/// The maintenance middleware, with the identity taken from the demo sessions (leaving the
/// allow reason for the home view's banner when `allow_reason`).
pub fn middleware(
    maintenance: Maintenance,
    sessions: Sessions,
    allow_reason: bool,
) -> MaintenanceMode {
    let middleware = MaintenanceMode::new(maintenance)
        .with_identity(move |req| sessions.identity_from_cookies(cookie_lines(req.request())));
    if allow_reason {
        middleware.with_allow_reason()
    } else {
        middleware
    }
}

/// The site: the sessions and, unless the middleware is off, the live handle.
#[derive(Debug, Clone)]
pub struct Site {
    /// The demo sessions.
    pub sessions: Sessions,
    /// The live handle; `None` serves without the middleware.
    pub maintenance: Option<Maintenance>,
    /// Whether the middleware leaves the allow reason (`MAINTENANCE_ALLOW_REASON`).
    pub allow_reason: bool,
}

/// Builds the site from `config`: opens and migrates the store and starts the live handle
/// (unless the middleware is off).
pub async fn build(config: &Config) -> Result<Site, ConfigError> {
    let maintenance = config.start_maintenance_if_layered().await?;
    Ok(Site {
        sessions: Sessions::default(),
        maintenance,
        allow_reason: config.allow_reason,
    })
}

/// How the server runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerOptions {
    /// Worker threads; `None` is actix's default (one per physical core).
    pub workers: Option<usize>,
    /// Stop gracefully on SIGINT, SIGTERM and SIGQUIT. Off in tests, so that a signal still
    /// ends the test process.
    pub handle_signals: bool,
}

/// The server for `site` on `listener`: await it (or spawn it on a Tokio runtime) to serve;
/// its `handle()` stops it. Each worker runs on its own thread and runtime.
pub fn server(
    listener: std::net::TcpListener,
    site: Site,
    options: ServerOptions,
) -> std::io::Result<actix_web::dev::Server> {
    let Site {
        sessions,
        maintenance,
        allow_reason,
    } = site;
    let routes = configure(sessions.clone());
    // The same settings for both servers below.
    macro_rules! tuned {
        ($server:expr) => {{
            let mut server = $server;
            if let Some(n) = options.workers {
                server = server.workers(n);
            }
            if !options.handle_signals {
                server = server.disable_signals();
            }
            server.listen(listener)?.run()
        }};
    }
    // Two servers rather than `middleware::Condition`, so that the baseline has nothing of
    // the middleware in it.
    let server = match maintenance {
        Some(m) => {
            let middleware = middleware(m, sessions, allow_reason);
            tuned!(HttpServer::new(move || {
                App::new()
                    .wrap(middleware.clone())
                    .configure(routes.clone())
            }))
        }
        None => tuned!(HttpServer::new(move || App::new().configure(routes.clone()))),
    };
    Ok(server)
}
