//! The test project on rocket 0.5, with `maintenance_rocket::MaintenanceFairing`.

use std::net::SocketAddr;

use maintenance_core::{AllowReason, Identity, Maintenance};
use maintenance_rocket::{MaintenanceFairing, MaintenanceReason};
use rocket::config::LogLevel;
use rocket::fairing::AdHoc;
use rocket::form::Form;
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::response::Redirect;
use rocket::response::content::RawHtml;
use rocket::serde::json::Json;
use rocket::{Build, Request, Rocket};
use tokio::sync::oneshot;

use crate::{Config, ConfigError, LOGIN_FORM, SESSION_COOKIE, Sessions, items};

#[derive(rocket::FromForm)]
struct Login {
    username: String,
    password: String,
}

/// Rocket routes `/a` and `/a/` alike (its route URIs cannot end with a slash); the other
/// servers serve these pages at the path with the slash only, as django-maintenancemode-2 did. This guard
/// forwards requests without it, so they get 404 here too.
struct WithSlash;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for WithSlash {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        if req.uri().path().as_str().ends_with('/') {
            Outcome::Success(WithSlash)
        } else {
            Outcome::Forward(Status::NotFound)
        }
    }
}

#[rocket::get("/")]
fn home(reason: Option<MaintenanceReason>) -> String {
    // A banner for an upcoming window, read from the reason the fairing left.
    let banner = match reason.as_deref() {
        Some(AllowReason::Scheduled { starts_at }) => {
            format!(" Maintenance is scheduled for {}.", starts_at.to_rfc3339())
        }
        _ => String::new(),
    };
    format!("This is the home view.{banner}")
}

#[rocket::get("/healthz")]
fn healthz() -> &'static str {
    crate::HEALTHZ
}

#[rocket::get("/metrics")]
fn metrics() -> (rocket::http::ContentType, String) {
    let prometheus = rocket::http::ContentType::new("text", "plain")
        .with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    (prometheus, crate::metrics_text())
}

#[rocket::get("/ignored-page")]
fn ignored(_slash: WithSlash) -> &'static str {
    "Ignored"
}

#[rocket::get("/admin/login")]
fn login_form(_slash: WithSlash) -> RawHtml<&'static str> {
    RawHtml(LOGIN_FORM)
}

#[rocket::post("/admin/login", data = "<form>")]
fn login(
    _slash: WithSlash,
    form: Form<Login>,
    sessions: &rocket::State<Sessions>,
    cookies: &CookieJar<'_>,
) -> Result<Redirect, (Status, RawHtml<&'static str>)> {
    match sessions.login(&form.username, &form.password) {
        Some(token) => {
            cookies.add(
                Cookie::build((SESSION_COOKIE, token))
                    .path("/")
                    .http_only(true)
                    .same_site(SameSite::Lax),
            );
            Ok(Redirect::to("/"))
        }
        None => Err((
            Status::Unauthorized,
            RawHtml("Invalid username or password."),
        )),
    }
}

/// The demo session named in the request's cookies.
struct SessionUser(Option<(String, Identity)>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SessionUser {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let user = req
            .rocket()
            .state::<Sessions>()
            .and_then(|s| s.user_from_cookies(req.headers().get("Cookie")));
        Outcome::Success(SessionUser(user))
    }
}

#[rocket::get("/admin/whoami")]
fn whoami(_slash: WithSlash, user: SessionUser) -> String {
    match user.0 {
        Some((name, identity)) => format!("{name} ({identity:?})"),
        None => "anonymous".to_owned(),
    }
}

#[rocket::get("/api/items")]
fn list_items() -> Json<serde_json::Value> {
    Json(items())
}

#[rocket::post("/api/items", data = "<item>")]
fn add_item(item: Json<serde_json::Value>) -> (Status, Json<serde_json::Value>) {
    (Status::Created, item)
}

/// Rocket's settings for listening on `bind` (port 0 for any). Rocket's `X-Real-IP` header is
/// not believed: the policy's trusted proxies decide. `quiet` (for tests) turns its log off and
/// leaves signals alone, so that a signal still ends the test process.
pub fn rocket_config(bind: SocketAddr, quiet: bool) -> rocket::Config {
    let mut config = rocket::Config {
        address: bind.ip(),
        port: bind.port(),
        ip_header: None,
        log_level: if quiet {
            LogLevel::Off
        } else {
            LogLevel::Normal
        },
        ..rocket::Config::default()
    };
    if quiet {
        config.shutdown.ctrlc = false;
        #[cfg(unix)]
        config.shutdown.signals.clear();
    }
    config
}

/// The routes, with the maintenance fairing when `maintenance` is given (leaving the allow
/// reason for the home view's banner when `allow_reason`).
pub fn rocket(
    sessions: Sessions,
    maintenance: Option<Maintenance>,
    config: rocket::Config,
    allow_reason: bool,
) -> Rocket<Build> {
    let app = rocket::custom(config).manage(sessions.clone()).mount(
        "/",
        rocket::routes![
            home, ignored, login_form, login, whoami, list_items, add_item, healthz, metrics
        ],
    );
    match maintenance {
        Some(m) => {
            let fairing = MaintenanceFairing::new(m).with_identity(move |req| {
                sessions.identity_from_cookies(req.headers().get("Cookie"))
            });
            app.attach(if allow_reason {
                fairing.with_allow_reason()
            } else {
                fairing
            })
        }
        None => app,
    }
}

/// Builds the app from `config`: opens and migrates the store, starts the live handle (unless
/// the layer is off), and returns the rocket (not launched) and the handle.
pub async fn build(
    config: &Config,
    rocket_config: rocket::Config,
) -> Result<(Rocket<Build>, Option<Maintenance>), ConfigError> {
    let maintenance = config.start_maintenance_if_layered().await?;
    Ok((
        rocket(
            Sessions::default(),
            maintenance.clone(),
            rocket_config,
            config.allow_reason,
        ),
        maintenance,
    ))
}

/// Adds a fairing that reports the address rocket listens on once it has bound it (the real
/// port when the configured one is 0).
pub fn report_address(rocket: Rocket<Build>) -> (Rocket<Build>, oneshot::Receiver<SocketAddr>) {
    let (tx, rx) = oneshot::channel();
    let rocket = rocket.attach(AdHoc::on_liftoff("Report the address", move |r| {
        Box::pin(async move {
            let _ = tx.send(SocketAddr::new(r.config().address, r.config().port));
        })
    }));
    (rocket, rx)
}
