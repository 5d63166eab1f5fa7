//! The admin web page: every site with its maintenance state, ignored patterns and allowed
//! networks, edited through plain HTML forms, and the audit log.
//!
//! - Login with the admin token (at least 32 characters, compared in constant time) sets an
//!   `HttpOnly`, `SameSite=Strict` session cookie; scripts may send
//!   `Authorization: Bearer <token>` instead, which is refused when no token is configured.
//! - After a wrong token, the client's next token is held before it is compared, and after
//!   many wrong tokens from all clients, every attempt is paced (see [`BackoffPolicy`]); a
//!   token is never refused without being compared, so the right one always gets in. Each
//!   failure is logged as a warning with the client address, read behind trusted proxies
//!   ([`AdminConfig::trusted_proxies`]) as the servers read it.
//! - Without a token (`--insecure-no-auth`), nothing is stored per visitor: every form
//!   carries one CSRF token made at start-up, so no request can create or evict a session.
//! - A request whose `Host` is not the listen address, a loopback name with the listen port or a
//!   configured public origin is refused with 421 (see [`AllowedHosts`]): a page whose name was
//!   made to resolve to this address (DNS rebinding) gets nothing.
//! - Every form carries the session's CSRF token, checked on each POST; a POST whose `Origin`
//!   is not one of the page's origins (or whose `Sec-Fetch-Site` shows another site) is
//!   refused.
//! - POST-redirect-GET; a refused value re-renders the page the form was on (the site's page,
//!   or the list) with the message beside the field (status 422) and nothing written.
//! - Pages read through `list_sites` (one page of sites), never the whole store.
//! - Each change goes through the [`MaintenanceStore`], which writes the audit event; the actor
//!   is `admin@<client address>`.

mod form;
mod guard;
mod handlers;
mod lookup;
mod params;
mod respond;
mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use maintenance_core::MaintenanceStore;
use maintenance_core::ipnet::IpNet;

use guard::session::Sessions;
use guard::throttle::LoginThrottle;
use handlers::lists::{
    add_ignored, add_network, add_tag, remove_ignored, remove_network, remove_tag,
};
use handlers::login::{login, login_form, logout};
use handlers::pages::{index, site_page};
use handlers::sites::{add_site, bulk, bypass_clear, bypass_new, remove_site};
use handlers::state::save_state;
use respond::{not_found, with_security_headers};

pub use guard::auth::{AdminAuth, AdminSetupError, AdminToken, MIN_TOKEN_LEN};
pub use guard::host::{AllowedHosts, OriginError, PublicOrigin};
pub use guard::throttle::{BackoffPolicy, Clock};

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
    /// The proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`): behind them,
    /// the backoff and the audit log's actor use the client's address, not the proxy's.
    pub trusted_proxies: Vec<IpNet>,
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
            trusted_proxies: Vec::new(),
        }
    }

    /// Reads the client address from `X-Forwarded-For` when the peer is in one of
    /// `networks` (as the servers' `trusted_proxies` do).
    ///
    /// ```
    /// use maintenance_cli::admin::{AdminAuth, AdminConfig};
    /// let auth = AdminAuth::token(&"t".repeat(32)).unwrap();
    /// let config = AdminConfig::new(auth, "127.0.0.1:8085".parse().unwrap(), Vec::new())
    ///     .with_trusted_proxies(vec!["127.0.0.1/32".parse().unwrap()]);
    /// assert_eq!(config.trusted_proxies.len(), 1);
    /// ```
    pub fn with_trusted_proxies(mut self, networks: Vec<IpNet>) -> AdminConfig {
        self.trusted_proxies = networks;
        self
    }
}

struct AdminState {
    store: Arc<dyn MaintenanceStore>,
    auth: AdminAuth,
    hosts: AllowedHosts,
    sessions: Sessions,
    throttle: LoginThrottle,
    clock: Clock,
    trusted_proxies: Vec<IpNet>,
    /// Without a token: the CSRF token of every form, made once at start-up (`None` when the
    /// system had no randomness, which refuses every change).
    open_csrf: Option<String>,
}

/// The admin page's routes on `store`.
pub fn router(store: Arc<dyn MaintenanceStore>, config: AdminConfig) -> Router {
    let open_csrf = match config.auth {
        AdminAuth::Open => maintenance_core::bypass::generate_secret().ok(),
        AdminAuth::Token(_) => None,
    };
    let state = Arc::new(AdminState {
        store,
        auth: config.auth,
        hosts: config.hosts,
        sessions: Sessions::default(),
        throttle: LoginThrottle::new(config.backoff),
        clock: config.clock,
        trusted_proxies: config.trusted_proxies,
        open_csrf,
    });
    Router::new()
        .route("/", get(index))
        .route("/sites/{domain}", get(site_page))
        .route("/add-site", post(add_site))
        .route("/remove-site", post(remove_site))
        .route("/bulk", post(bulk))
        .route("/bypass/new", post(bypass_new))
        .route("/bypass/clear", post(bypass_clear))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/state", post(save_state))
        .route("/ignored/add", post(add_ignored))
        .route("/ignored/remove", post(remove_ignored))
        .route("/networks/add", post(add_network))
        .route("/networks/remove", post(remove_network))
        .route("/tags/add", post(add_tag))
        .route("/tags/remove", post(remove_tag))
        .fallback(not_found)
        // Outside the routes, so that it also covers the fallback: no handler sees a foreign
        // host.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::host::check_host,
        ))
        // Outermost: every answer, the host check's and axum's own too.
        .layer(middleware::map_response(with_security_headers))
        .with_state(state)
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
