//! The admin web page: every site with its maintenance state, ignored patterns and allowed
//! networks, edited through plain HTML forms, and the audit log.
//!
//! - Login with the admin token (at least 32 characters, compared in constant time) sets an
//!   `HttpOnly`, `SameSite=Strict` session cookie; scripts may send
//!   `Authorization: Bearer <token>` instead, which is refused when no token is configured.
//! - After a wrong token, the client address must wait before its next token is compared
//!   (see [`BackoffPolicy`]): its attempts meanwhile get 429 with `Retry-After`. Each failure
//!   is logged as a warning with the client address.
//! - A request whose `Host` is not the listen address, a loopback name with the listen port or a
//!   configured public origin is refused with 421 (see [`AllowedHosts`]): a page whose name was
//!   made to resolve to this address (DNS rebinding) gets nothing.
//! - Every form carries the session's CSRF token, checked on each POST; a POST whose `Origin`
//!   is not one of the page's origins (or whose `Sec-Fetch-Site` shows another site) is
//!   refused.
//! - POST-redirect-GET; a refused value re-renders the page with the message beside the field
//!   (status 422) and nothing written.
//! - Each change goes through the [`MaintenanceStore`], which writes the audit event; the actor
//!   is `admin@<client address>`.

mod auth;
mod hosts;
mod page;
mod session;
mod throttle;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use maintenance_core::{
    MaintenanceStore, Mode, SiteRef, SiteState, StateChange, StoreError, ValidationError,
    find_site, validate,
};

use crate::parse;

pub use auth::{AdminAuth, AdminSetupError, AdminToken, MIN_TOKEN_LEN};
pub use hosts::{AllowedHosts, HostRefusal, OriginError, PublicOrigin};
pub use page::{FormData, FormKind, Invalid};
pub use session::{COOKIE_NAME, SESSION_TTL, Sessions, secrets_match};
pub use throttle::{BackoffPolicy, Clock, Failure, LoginThrottle};

/// The largest form body accepted.
const MAX_BODY: usize = 64 * 1024;

/// How many audit events the page shows.
const LOG_LIMIT: u32 = 100;

/// Everything the admin page needs besides its store.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Who may use the page.
    pub auth: AdminAuth,
    /// The hosts and origins that are the page's.
    pub hosts: AllowedHosts,
    /// How failed logins slow down the next attempt from the same address.
    pub backoff: BackoffPolicy,
    /// The time for the backoff (replaced in tests, so that they need not sleep).
    pub clock: Clock,
}

impl AdminConfig {
    /// A page with `auth`, listening on `listen` (the bound address, with its real port: the
    /// allowed hosts are derived from it) and reached at `public_origins` too.
    pub fn new(
        auth: AdminAuth,
        listen: SocketAddr,
        public_origins: Vec<PublicOrigin>,
    ) -> AdminConfig {
        AdminConfig {
            auth,
            hosts: AllowedHosts::new(listen, public_origins),
            backoff: BackoffPolicy::default(),
            clock: Clock::system(),
        }
    }
}

struct AdminState {
    store: Arc<dyn MaintenanceStore>,
    auth: AdminAuth,
    hosts: AllowedHosts,
    sessions: Sessions,
    throttle: LoginThrottle,
    clock: Clock,
}

/// Who is making a request.
enum Access {
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

/// The admin page's routes on `store`.
pub fn router(store: Arc<dyn MaintenanceStore>, config: AdminConfig) -> Router {
    let state = Arc::new(AdminState {
        store,
        auth: config.auth,
        hosts: config.hosts,
        sessions: Sessions::default(),
        throttle: LoginThrottle::new(config.backoff),
        clock: config.clock,
    });
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/state", post(save_state))
        .route("/ignored/add", post(add_ignored))
        .route("/ignored/remove", post(remove_ignored))
        .route("/networks/add", post(add_network))
        .route("/networks/remove", post(remove_network))
        .fallback(not_found)
        // Outermost, so that it also covers the fallback: no handler sees a foreign host.
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
}

/// Refuses a request whose host is not the page's, before any handler runs.
async fn check_host(State(app): State<Arc<AdminState>>, req: Request, next: Next) -> Response {
    match app.hosts.check(req.headers(), req.uri()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            let host = match &refusal {
                HostRefusal::Other(h) => h.as_str(),
                HostRefusal::Missing => "(none)",
                HostRefusal::Several => "(several)",
                HostRefusal::Unreadable => "(not visible ASCII)",
            };
            tracing::warn!(
                client = %client_text(client_ip(&req)),
                host,
                "admin request refused: its Host is not this page's (add it with --public-origin \
                 if it is)"
            );
            plain(refusal.status(), refusal.message())
        }
    }
}

/// Serves the admin page on `listener` (with client addresses for the audit log) until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    res
}

fn plain(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    secure_headers(h);
    res
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

fn redirect(location: &str, cookie: Option<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    secure_headers(h);
    res
}

fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, page::problem(title, message))
}

async fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page here.",
    )
}

impl AdminState {
    /// Who sent `headers` from `client`: a bearer token is checked (through the backoff), else
    /// the session cookie.
    fn access(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Access {
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
    fn session(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let id = session::cookie(headers, COOKIE_NAME)?;
        let csrf = self.sessions.csrf(id)?;
        Some((id.to_owned(), csrf))
    }

    /// Compares `given` with the token, unless `client` must still wait after a wrong one:
    /// `Err(Some(wait))` then, without comparing. A wrong token is recorded and logged with
    /// the client address (`Err(None)`); a right one clears the address's failures.
    fn check_token(
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

/// `Retry-After` seconds for a wait: rounded up, at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn too_many_message(wait: Duration) -> String {
    format!(
        "Too many wrong tokens from your address: wait {} s before trying again.",
        retry_after_secs(wait)
    )
}

/// 429 with `Retry-After`, for a token that was not compared because of the backoff.
fn too_many(mut res: Response, wait: Duration) -> Response {
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs(wait).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

fn throttled(wait: Duration) -> Response {
    too_many(
        problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong tokens",
            &too_many_message(wait),
        ),
        wait,
    )
}

/// Whether a POST comes from this page: its `Origin`, when sent, is one of the page's origins
/// (listen address, loopback names, public origins), and `Sec-Fetch-Site`, when sent, does not
/// name another site.
///
/// `X-Forwarded-Host` is not consulted: a page that rebound its name to this address may send
/// any such header with `fetch`; the public origin behind a proxy is configured instead.
fn same_origin(headers: &HeaderMap, hosts: &AllowedHosts) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        match site.to_str() {
            Ok("same-origin" | "none") => {}
            _ => return false,
        }
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|o| hosts.allows_origin(o)),
    }
}

/// Whether the request came over HTTPS through a proxy (the session cookie is then `Secure`).
fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip())
}

/// A client address for logs.
fn client_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

async fn login_form(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    match (&app.auth, app.session(req.headers())) {
        (AdminAuth::Open, _) | (_, Some(_)) => redirect("/", None),
        _ => html(StatusCode::OK, page::login(None)),
    }
}

async fn login(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    if !same_origin(req.headers(), &app.hosts) {
        return cross_origin();
    }
    let AdminAuth::Token(token) = &app.auth else {
        return redirect("/", None);
    };
    let secure = behind_https(req.headers());
    let client = client_ip(&req);
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
    match app.check_token(token, given, client, "login form") {
        Ok(()) => {}
        Err(Some(wait)) => {
            let page = page::login(Some(&too_many_message(wait)));
            return too_many(html(StatusCode::TOO_MANY_REQUESTS, page), wait);
        }
        Err(None) => {
            return html(
                StatusCode::UNAUTHORIZED,
                page::login(Some(
                    "Wrong token: expected the token the server was started with. Each wrong \
                     token makes the next attempt from your address wait longer.",
                )),
            );
        }
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

fn cross_origin() -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form was sent from another site (Origin or Sec-Fetch-Site header); nothing was \
         changed. If the page is reached under another name, start it with --public-origin.",
    )
}

async fn read_form(req: Request) -> Result<FormData, Response> {
    match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(bytes) => Ok(FormData::parse(&bytes)),
        Err(_) => Err(problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Form too large",
            &format!("The form is larger than {MAX_BODY} bytes; nothing was changed."),
        )),
    }
}

async fn index(State(app): State<Arc<AdminState>>, req: Request) -> Response {
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

fn unauthorized() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Not logged in",
        "Log in with the admin token at /login, or send it as `Authorization: Bearer <token>`.",
    )
}

fn no_bearer() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "No token configured",
        "This admin page was started without a token (--insecure-no-auth), so it accepts no \
         `Authorization` header: send the request without it, or start the page with a token \
         (MAINTENANCE_ADMIN_TOKEN) to use bearer tokens.",
    )
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

async fn render(
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
            tracing::error!(error = %e, "admin page could not read the store");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Database unavailable",
                &format!("Could not read the maintenance tables: {e}"),
            )
        }
    }
}

/// A POST that passed the checks: the form, the actor and the CSRF token to render with.
struct Post {
    form: FormData,
    actor: String,
    csrf: String,
    /// The session's id, when the POST came with one (not with a bearer token).
    session: Option<String>,
}

/// Checks origin, login and CSRF token, then reads the form.
async fn begin_post(app: &AdminState, req: Request) -> Result<Post, Response> {
    if !same_origin(req.headers(), &app.hosts) {
        return Err(cross_origin());
    }
    let client = client_ip(&req);
    let actor = format!("admin@{}", client_text(client));
    let (session, session_csrf) = match app.access(req.headers(), client) {
        Access::Session { id, csrf } => (Some(id), Some(csrf)),
        Access::Bearer => (None, None),
        Access::Denied | Access::Anonymous => return Err(unauthorized()),
        Access::NoBearer => return Err(no_bearer()),
        Access::Throttled(wait) => return Err(throttled(wait)),
    };
    let form = read_form(req).await?;
    if let Some(expected) = &session_csrf
        && !form
            .get("csrf")
            .is_some_and(|got| secrets_match(got, expected))
    {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's CSRF token is missing or out of date: reload the page and try again. Nothing was changed.",
        ));
    }
    Ok(Post {
        form,
        actor,
        csrf: session_csrf.unwrap_or_default(),
        session,
    })
}

async fn logout(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let post = match begin_post(&app, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    if let Some(id) = &post.session {
        app.sessions.remove(id);
    }
    redirect("/login", Some(session::clear_cookie()))
}

/// Finds the form's site, or the response that says it is unknown.
async fn form_site(app: &AdminState, post: &Post, kind: FormKind) -> Result<SiteState, Response> {
    let domain = post.form.text("site");
    let sites = match app.store.load().await {
        Ok(c) => c.sites,
        Err(e) => return Err(store_failure(app, post, None, kind, e).await),
    };
    match find_site(&sites, &SiteRef::Domain(domain.to_owned())) {
        Some(s) => Ok(s.clone()),
        None => Err(refuse(
            app,
            post,
            None,
            kind,
            vec![(
                "general",
                format!("unknown site `{domain}`: it may have been removed meanwhile; nothing was changed"),
            )],
            StatusCode::NOT_FOUND,
        )
        .await),
    }
}

async fn refuse(
    app: &AdminState,
    post: &Post,
    site_id: Option<i64>,
    kind: FormKind,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let invalid = Invalid {
        site_id,
        kind,
        values: post.form.clone(),
        errors,
    };
    render(app, &post.csrf, None, Some(&invalid), status).await
}

async fn store_failure(
    app: &AdminState,
    post: &Post,
    site_id: Option<i64>,
    kind: FormKind,
    err: StoreError,
) -> Response {
    let status = match &err {
        StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StoreError::NotFound { .. } | StoreError::UnknownSite(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %err, "admin change failed");
    }
    let kind = if status == StatusCode::UNPROCESSABLE_ENTITY {
        kind
    } else {
        FormKind::Remove
    };
    refuse(
        app,
        post,
        site_id,
        kind,
        vec![("general", format!("{err}; nothing was changed"))],
        status,
    )
    .await
}

fn done(code: &str, site: &SiteState) -> Response {
    redirect(&format!("/?done={code}#site-{}", site.id), None)
}

/// Reads the state form into a change, or the errors beside each field.
fn state_change(
    form: &FormData,
    site: &SiteState,
) -> Result<StateChange, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let mode_text = form.get("mode").unwrap_or("full");
    let mode = match mode_text.parse::<Mode>() {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(("mode", e.to_string()));
            None
        }
    };
    let message_text = form.text("message").replace("\r\n", "\n");
    let message = if message_text.trim().is_empty() {
        None
    } else {
        if let Err(e) = parse::message(&message_text) {
            errors.push(("message", e));
        }
        Some(message_text)
    };
    let mut time_field = |field: &'static str| {
        let text = form.text(field).trim();
        if text.is_empty() {
            return None;
        }
        parse::form_time(text)
            .map_err(|e| errors.push((field, e)))
            .ok()
    };
    let starts_at = time_field("starts_at");
    let ends_at = time_field("ends_at");
    let retry_text = form.text("retry_after").trim();
    let retry_after = if retry_text.is_empty() {
        None
    } else {
        match retry_text.parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push((
                    "retry_after",
                    format!(
                        "invalid Retry-After `{retry_text}`: expected a whole number of seconds from 0 to {}, or nothing to derive it from the end",
                        u32::MAX
                    ),
                ));
                None
            }
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let change = StateChange {
        enabled: Some(form.get("enabled").is_some()),
        mode,
        message: Some(message),
        starts_at: Some(starts_at),
        ends_at: Some(ends_at),
        retry_after_secs: Some(retry_after),
    };
    let mut next = site.clone();
    match change.apply_to(&mut next) {
        Ok(()) => Ok(change),
        Err(e @ ValidationError::Window { .. }) => Err(vec![(
            "ends_at",
            format!("{e}; expected an end after the start"),
        )]),
        Err(e) => Err(vec![("general", e.to_string())]),
    }
}

async fn save_state(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let post = match begin_post(&app, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let site = match form_site(&app, &post, FormKind::State).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let change = match state_change(&post.form, &site) {
        Ok(c) => c,
        Err(errors) => {
            return refuse(
                &app,
                &post,
                Some(site.id),
                FormKind::State,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut next = site.clone();
    if change.apply_to(&mut next).is_ok() && next == site {
        return done("unchanged", &site);
    }
    match app
        .store
        .set_state(&SiteRef::Domain(site.domain.clone()), &change, &post.actor)
        .await
    {
        Ok(_) => {
            tracing::info!(site = %site.domain, actor = %post.actor, change = %change.describe(), "admin changed state");
            done("saved", &site)
        }
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::State, e).await,
    }
}

/// Checks a value and its description for an add form.
fn check_add(
    form: &FormData,
    field: &'static str,
    check: impl Fn(&str) -> Result<String, String>,
    empty: &str,
) -> Result<(String, String), Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let value = form.text(field).trim();
    let checked = if value.is_empty() {
        errors.push((field, empty.to_owned()));
        None
    } else {
        check(value).map_err(|e| errors.push((field, e))).ok()
    };
    let description = form.text("description").trim().to_owned();
    if let Err(e) = validate::text("description", &description, validate::MAX_DESCRIPTION_LEN) {
        errors.push(("description", e.to_string()));
    }
    match checked {
        Some(v) if errors.is_empty() => Ok((v, description)),
        _ => Err(errors),
    }
}

async fn add_ignored(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let post = match begin_post(&app, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let site = match form_site(&app, &post, FormKind::IgnoredAdd).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let (pattern, description) = match check_add(
        &post.form,
        "pattern",
        parse::pattern,
        "expected a regular expression such as ^health/$",
    ) {
        Ok(v) => v,
        Err(errors) => {
            return refuse(
                &app,
                &post,
                Some(site.id),
                FormKind::IgnoredAdd,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match app
        .store
        .add_ignored_path(
            &SiteRef::Domain(site.domain.clone()),
            &pattern,
            &description,
            &post.actor,
        )
        .await
    {
        Ok(()) => done("ignored-added", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::IgnoredAdd, e).await,
    }
}

async fn remove_ignored(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let post = match begin_post(&app, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let site = match form_site(&app, &post, FormKind::Remove).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let pattern = post.form.text("pattern");
    match app
        .store
        .remove_ignored_path(&SiteRef::Domain(site.domain.clone()), pattern, &post.actor)
        .await
    {
        Ok(()) => done("ignored-removed", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::Remove, e).await,
    }
}

async fn add_network(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let post = match begin_post(&app, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let site = match form_site(&app, &post, FormKind::NetworkAdd).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let (network, description) = match check_add(
        &post.form,
        "network",
        parse::network,
        "expected a network such as 10.0.0.0/8 or 2001:db8::/32, or a single address",
    ) {
        Ok(v) => v,
        Err(errors) => {
            return refuse(
                &app,
                &post,
                Some(site.id),
                FormKind::NetworkAdd,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match app
        .store
        .add_allowed_network(
            &SiteRef::Domain(site.domain.clone()),
            &network,
            &description,
            &post.actor,
        )
        .await
    {
        Ok(()) => done("network-added", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::NetworkAdd, e).await,
    }
}

async fn remove_network(State(app): State<Arc<AdminState>>, req: Request) -> Response {
    let post = match begin_post(&app, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let site = match form_site(&app, &post, FormKind::Remove).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let network = post.form.text("network");
    match app
        .store
        .remove_allowed_network(&SiteRef::Domain(site.domain.clone()), network, &post.actor)
        .await
    {
        Ok(()) => done("network-removed", &site),
        Err(e) => store_failure(&app, &post, Some(site.id), FormKind::Remove, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origin_must_be_one_of_the_pages_when_sent() {
        let hosts = AllowedHosts::new(
            "127.0.0.1:8085".parse().unwrap(),
            vec!["https://admin.example.com".parse().unwrap()],
        );
        let ok = |pairs: &[(&'static str, &str)]| same_origin(&headers(pairs), &hosts);
        assert!(ok(&[("host", "127.0.0.1:8085")]));
        assert!(ok(&[
            ("host", "127.0.0.1:8085"),
            ("origin", "http://127.0.0.1:8085")
        ]));
        assert!(ok(&[
            ("host", "localhost:8085"),
            ("origin", "http://localhost:8085")
        ]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8085"),
            ("origin", "http://evil.example")
        ]));
        assert!(!ok(&[("host", "127.0.0.1:8085"), ("origin", "null")]));
        assert!(!ok(&[
            ("host", "127.0.0.1:8085"),
            ("sec-fetch-site", "cross-site")
        ]));
        // Behind a proxy: the configured public origin, whatever Host the proxy sends.
        assert!(ok(&[
            ("host", "127.0.0.1:8085"),
            ("origin", "https://admin.example.com")
        ]));
        // A forwarded host proves nothing: a rebinding page can send it.
        assert!(!ok(&[
            ("host", "127.0.0.1:8085"),
            ("x-forwarded-host", "evil.example"),
            ("origin", "https://evil.example")
        ]));
    }

    #[test]
    fn state_form_errors_name_their_field() {
        let site = SiteState::new(1, "a.example");
        let form = FormData::parse(
            b"enabled=on&mode=sideways&starts_at=soon&ends_at=&retry_after=-1&message=",
        );
        let errors = state_change(&form, &site).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["mode", "starts_at", "retry_after"]);
        let form = FormData::parse(
            b"mode=full&starts_at=2030-01-02T00:00:00Z&ends_at=2030-01-01T00:00&retry_after=",
        );
        let errors = state_change(&form, &site).unwrap_err();
        assert_eq!(errors[0].0, "ends_at");
        let form = FormData::parse(b"enabled=on&mode=read-only&retry_after=30&message=Hi");
        let change = state_change(&form, &site).unwrap();
        assert_eq!(change.enabled, Some(true));
        assert_eq!(change.mode, Some(Mode::ReadOnly));
        assert_eq!(change.retry_after_secs, Some(Some(30)));
    }
}
