//! # maintenance-rocket
//!
//! A rocket 0.5 [`Fairing`] that puts an application into maintenance mode: while the
//! request's site is in maintenance, requests get `503 Service Unavailable` (JSON or HTML,
//! `Retry-After`, `Cache-Control: no-store`) unless an exemption applies, and the application's
//! handlers never run.
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use maintenance_core::{Identity, Maintenance, MemoryStore, Policy};
//! use maintenance_rocket::{MaintenanceDecision, MaintenanceFairing};
//!
//! /// Your sessions, filled at login: session id (a random cookie value the server set) to who.
//! #[derive(Default)]
//! struct Sessions(Mutex<HashMap<String, Identity>>);
//!
//! #[rocket::get("/")]
//! fn home(decision: Option<MaintenanceDecision<'_>>) -> String {
//!     format!("Hello ({})", decision.map_or("no fairing", |d| d.reason_str()))
//! }
//!
//! # async fn run() -> Result<(), rocket::Error> {
//! let maintenance = Maintenance::start(MemoryStore::new(), Policy::default()).await;
//! let fairing = MaintenanceFairing::new(maintenance).with_identity(|req| {
//!     // The session the server set, looked up in the server's own store: never a header a
//!     // client can send.
//!     let (Some(sessions), Some(cookie)) = (req.rocket().state::<Sessions>(), req.cookies().get("session")) else {
//!         return Identity::Anonymous;
//!     };
//!     let found = sessions.0.lock().ok().and_then(|s| s.get(cookie.value()).copied());
//!     found.unwrap_or(Identity::Anonymous)
//! });
//! rocket::build()
//!     .manage(Sessions::default())
//!     .attach(fairing)
//!     .mount("/", rocket::routes![home])
//!     .launch()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## How it answers
//! A fairing cannot answer a request itself. On ignite the fairing mounts one hidden route,
//! [`ANSWER_PATH`]. On each request it decides; a blocked request (or a bypass link) gets its
//! answer made there and then, kept in the request's local cache, and the request is rewritten
//! to the hidden route (`GET`, or `HEAD` so that rocket still strips the body), which sends that
//! answer with the exact status, headers and body the core made. The application's routes are
//! never tried. Requests for [`ANSWER_PATH`] that were not rewritten are forwarded (404 unless
//! the application has a route there).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::io::Cursor;
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;

use maintenance_core::{Block, Decision, Identity, Maintenance, RequestView};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Method, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::route::{self, Handler, Route};
use rocket::{Build, Data, Request, Response, Rocket};

pub use maintenance_core;

/// Where the hidden route that sends blocked responses and bypass redirects is mounted.
pub const ANSWER_PATH: &str = "/__maintenance/answer";
// `ANSWER_PATH` as rocket mounts it: a base and a route path.
const ANSWER_BASE: &str = "/__maintenance";
const ANSWER_ROUTE: &str = "/answer";

type IdentityHook = Arc<dyn Fn(&Request<'_>) -> Identity + Send + Sync>;
type BlockedHook = Arc<dyn Fn(&Block, &Request<'_>) -> http::Response<String> + Send + Sync>;

/// The fairing. Build it with the live [`Maintenance`] handle and attach it once.
#[derive(Clone)]
pub struct MaintenanceFairing {
    maintenance: Maintenance,
    identity: Option<IdentityHook>,
    blocked: Option<BlockedHook>,
}

impl fmt::Debug for MaintenanceFairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaintenanceFairing")
            .field("maintenance", &self.maintenance)
            .field("identity_hook", &self.identity.is_some())
            .field("blocked_hook", &self.blocked.is_some())
            .finish()
    }
}

impl MaintenanceFairing {
    /// A fairing deciding with `maintenance`; every request is anonymous until
    /// [`MaintenanceFairing::with_identity`] says otherwise.
    ///
    /// ```
    /// # use maintenance_rocket::MaintenanceFairing;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// let rocket = rocket::build().attach(MaintenanceFairing::new(maintenance));
    /// ```
    pub fn new(maintenance: Maintenance) -> Self {
        MaintenanceFairing {
            maintenance,
            identity: None,
            blocked: None,
        }
    }

    /// Tells who makes a request (staff and superusers pass), e.g. from a server-side session.
    /// It runs before routing, so it reads the request itself (cookies, managed state); read
    /// only what the server set and can verify, never a header or cookie value a client could
    /// simply write.
    ///
    /// ```
    /// # use maintenance_rocket::MaintenanceFairing;
    /// # use maintenance_core::{Identity, Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// use std::collections::HashMap;
    /// /// Session id (a random value the server set at login) to who, in managed state.
    /// struct Sessions(std::sync::Mutex<HashMap<String, Identity>>);
    /// let fairing = MaintenanceFairing::new(maintenance).with_identity(|req| {
    ///     let sessions = req.rocket().state::<Sessions>();
    ///     match (sessions, req.cookies().get("session")) {
    ///         (Some(s), Some(c)) => s.0.lock().ok().and_then(|m| m.get(c.value()).copied()),
    ///         _ => None,
    ///     }
    ///     .unwrap_or(Identity::Anonymous)
    /// });
    /// ```
    pub fn with_identity<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Request<'_>) -> Identity + Send + Sync + 'static,
    {
        self.identity = Some(Arc::new(hook));
        self
    }

    /// Replaces the blocked response (the default is the policy's JSON or HTML page). The hook
    /// sees the request as received, before it is rewritten to the hidden route; its answer is
    /// an `http` response (status, headers, text body), sent as it is.
    ///
    /// ```
    /// # use maintenance_rocket::MaintenanceFairing;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// let fairing = MaintenanceFairing::new(maintenance).with_blocked_response(|block, _req| {
    ///     let mut res = http::Response::new("Down for maintenance, back soon.".to_owned());
    ///     *res.status_mut() = block.status;
    ///     res
    /// });
    /// ```
    pub fn with_blocked_response<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Block, &Request<'_>) -> http::Response<String> + Send + Sync + 'static,
    {
        self.blocked = Some(Arc::new(hook));
        self
    }

    /// The handle the fairing decides with.
    pub fn maintenance(&self) -> &Maintenance {
        &self.maintenance
    }
}

/// What the fairing left in a request's local cache.
struct Checked {
    /// `None` when the fairing did not see the request (it is not attached).
    decision: Option<Decision>,
    /// The answer the hidden route sends, for a blocked request or a bypass link.
    answer: Option<http::Response<String>>,
}

fn checked<'r>(req: &'r Request<'_>) -> &'r Checked {
    req.local_cache(|| Checked {
        decision: None,
        answer: None,
    })
}

#[rocket::async_trait]
impl Fairing for MaintenanceFairing {
    fn info(&self) -> Info {
        Info {
            name: "Maintenance",
            kind: Kind::Ignite | Kind::Request | Kind::Singleton,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        let route = Route::ranked(
            // Before any route of the application that might match the same path.
            isize::MIN,
            Method::Get,
            ANSWER_ROUTE,
            AnswerRoute,
        );
        Ok(rocket.mount(ANSWER_BASE, vec![route]))
    }

    async fn on_request(&self, req: &mut Request<'_>, _data: &mut Data<'_>) {
        let identity = self
            .identity
            .as_ref()
            .map_or(Identity::Anonymous, |hook| hook(req));
        let view = RocketRequest::new(req);
        let decision = self.maintenance.check(&view, identity);
        let answer = match &decision {
            Decision::Allow(_) => None,
            Decision::Block(block) => Some(match &self.blocked {
                Some(hook) => hook(block, req),
                None => self.maintenance.blocked_response(block, &view),
            }),
            Decision::Bypass(grant) => Some(grant.to_response()),
        };
        let stored = req.local_cache(|| Checked {
            decision: Some(decision),
            answer,
        });
        if stored.answer.is_some() {
            match Origin::parse(ANSWER_PATH) {
                Ok(uri) => req.set_uri(uri),
                Err(e) => {
                    tracing::error!(error = %e, "maintenance answer path is not a valid URI");
                    return;
                }
            }
            // Rocket answers HEAD from GET routes and strips the body, as long as the method
            // it sees after the fairings is still HEAD.
            if req.method() != Method::Head {
                req.set_method(Method::Get);
            }
        }
    }
}

/// The hidden route: sends the answer the fairing made, or forwards requests it did not
/// rewrite.
#[derive(Clone, Copy, Debug)]
struct AnswerRoute;

#[rocket::async_trait]
impl Handler for AnswerRoute {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> route::Outcome<'r> {
        match &checked(req).answer {
            Some(answer) => route::Outcome::Success(to_rocket_response(answer)),
            None => route::Outcome::forward(data, Status::NotFound),
        }
    }
}

/// Turns one of the core's responses (the blocked page, the bypass redirect) into a rocket
/// response with the same status, headers and body, borrowing them.
///
/// ```
/// use maintenance_rocket::to_rocket_response;
/// let res = http::Response::builder()
///     .status(503)
///     .header("retry-after", "120")
///     .body("Back soon".to_owned())
///     .unwrap();
/// let res = to_rocket_response(&res);
/// assert_eq!(res.status().code, 503);
/// assert_eq!(res.headers().get_one("Retry-After"), Some("120"));
/// ```
pub fn to_rocket_response(res: &http::Response<String>) -> Response<'_> {
    let mut out = Response::build();
    out.status(Status::new(res.status().as_u16()));
    for (name, value) in res.headers() {
        if let Ok(value) = value.to_str() {
            out.raw_header_adjoin(name.as_str(), value);
        }
    }
    let body = res.body().as_str();
    out.sized_body(body.len(), Cursor::new(body));
    out.finalize()
}

/// A request guard that hands handlers the [`Decision`] the fairing made (to show a banner
/// for an upcoming window, say). It fails with 500 when the fairing is not attached; take an
/// `Option<MaintenanceDecision>` to run without it.
///
/// ```
/// use maintenance_core::{AllowReason, Decision};
/// use maintenance_rocket::MaintenanceDecision;
///
/// #[rocket::get("/")]
/// fn home(decision: MaintenanceDecision<'_>) -> String {
///     match &*decision {
///         Decision::Allow(AllowReason::Scheduled { starts_at }) => {
///             format!("Maintenance is scheduled for {starts_at}.")
///         }
///         _ => "Welcome.".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MaintenanceDecision<'r>(&'r Decision);

impl<'r> MaintenanceDecision<'r> {
    /// The decision.
    pub fn decision(&self) -> &'r Decision {
        self.0
    }
}

impl Deref for MaintenanceDecision<'_> {
    type Target = Decision;

    fn deref(&self) -> &Decision {
        self.0
    }
}

/// The [`MaintenanceDecision`] guard's error: the fairing did not see the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairingMissing;

impl fmt::Display for FairingMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no maintenance decision: attach MaintenanceFairing to the rocket")
    }
}

impl std::error::Error for FairingMissing {}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MaintenanceDecision<'r> {
    type Error = FairingMissing;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match &checked(req).decision {
            Some(decision) => Outcome::Success(MaintenanceDecision(decision)),
            None => Outcome::Error((Status::InternalServerError, FairingMissing)),
        }
    }
}

/// A rocket request as the decision reads it: method, host (what rocket routes on: the `Host`
/// header on HTTP/1, the `:authority` on HTTP/2), path (still percent-encoded), headers, and the connection's peer address
/// (`Request::remote`, never a header).
///
/// ```
/// use maintenance_core::RequestView;
/// use maintenance_rocket::RocketRequest;
/// use rocket::http::Header;
///
/// let client = rocket::local::blocking::Client::untracked(rocket::build()).unwrap();
/// let req = client
///     .get("/shop/%41?page=2")
///     .header(Header::new("Host", "example.com"))
///     .remote("192.0.2.1:4000".parse().unwrap());
/// let view = RocketRequest::new(req.inner());
/// assert_eq!(view.path(), "/shop/%41");
/// assert_eq!(view.host(), Some("example.com"));
/// assert_eq!(view.peer_addr(), Some("192.0.2.1".parse().unwrap()));
/// ```
#[derive(Clone, Copy)]
pub struct RocketRequest<'a, 'r> {
    req: &'a Request<'r>,
}

impl fmt::Debug for RocketRequest<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RocketRequest").field(self.req).finish()
    }
}

impl<'a, 'r> RocketRequest<'a, 'r> {
    /// Wraps `req`.
    pub fn new(req: &'a Request<'r>) -> Self {
        RocketRequest { req }
    }
}

impl RequestView for RocketRequest<'_, '_> {
    fn method(&self) -> &str {
        self.req.method().as_str()
    }

    fn host(&self) -> Option<&str> {
        // What rocket itself routes on: `Host` on HTTP/1, `:authority` on HTTP/2. Rocket
        // drops an absolute-form target's authority before any fairing or handler sees it.
        self.req
            .host()
            .map(|h| h.domain().as_str())
            .or_else(|| self.req.headers().get_one("Host"))
    }

    fn path(&self) -> &str {
        self.req.uri().path().as_str()
    }

    fn header_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        // Rocket drops header lines that are not UTF-8 before this point; the core treats a
        // forwarding header missing from a trusted proxy as no client address, so a dropped
        // line cannot turn into the proxy's own address.
        self.req.headers().get(name).map(str::as_bytes)
    }

    fn peer_addr(&self) -> Option<IpAddr> {
        self.req.remote().map(|a| a.ip())
    }
}

#[cfg(test)]
mod tests;
