#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::future::Future;
use std::io::Cursor;
use std::net::IpAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use maintenance_core::status::WINDOW_HEADER;
use maintenance_core::{
    AllowReason, Block, Decision, Identity, Maintenance, RequestView, adapter::Settings,
    response::BlockedAnswer,
};
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

type IdentityHook = dyn Fn(&Request<'_>) -> Identity + Send + Sync;
type BlockedHook = dyn Fn(&Block, &Request<'_>) -> http::Response<String> + Send + Sync;

/// The fairing. Build it with the live [`Maintenance`] handle and attach it once.
#[derive(Clone, Debug)]
#[must_use = "the fairing does nothing until it is attached"]
pub struct MaintenanceFairing {
    settings: Settings<IdentityHook, BlockedHook>,
    /// [`ANSWER_PATH`], parsed once.
    answer_uri: Option<Origin<'static>>,
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
            settings: Settings::new(maintenance),
            answer_uri: match Origin::parse(ANSWER_PATH) {
                Ok(uri) => Some(uri),
                Err(e) => {
                    tracing::error!(error = %e, "maintenance answer path is not a valid URI");
                    None
                }
            },
        }
    }

    /// Tells who makes a request (staff and superusers pass), e.g. from a server-side session.
    /// It runs before routing, so it reads the request itself (cookies, managed state); read
    /// only what the server set and can verify, never a header or cookie value a client could
    /// simply write.
    ///
    /// The hook runs only when the decision reaches its identity step: never while the site
    /// is not in maintenance, never for a client in an internal or allowed network, and at
    /// most once per request.
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
        self.settings.set_identity(Arc::new(hook));
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
        self.settings.set_blocked(Arc::new(hook));
        self
    }

    /// Keeps the [`AllowReason`] of each request that passes in its local cache, for handlers
    /// (the [`MaintenanceReason`] guard): to show a banner before a window
    /// (`AllowReason::Scheduled { starts_at }`), say. Off by default: it costs an allocation
    /// per request, and without it the fairing allocates nothing for requests that pass.
    ///
    /// ```
    /// # use maintenance_rocket::MaintenanceFairing;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// let rocket = rocket::build().attach(MaintenanceFairing::new(maintenance).with_allow_reason());
    /// ```
    pub fn with_allow_reason(mut self) -> Self {
        self.settings.set_allow_reason();
        self
    }

    /// The handle the fairing decides with.
    pub fn maintenance(&self) -> &Maintenance {
        self.settings.maintenance()
    }
}

/// What the fairing left in a request's local cache: only for a request it answers itself, or
/// one that passed when [`MaintenanceFairing::with_allow_reason`] asks for the reason.
struct Checked {
    /// Why the request passed (with `with_allow_reason`).
    reason: Option<AllowReason>,
    /// The answer the hidden route sends, for a blocked request or a bypass link.
    answer: Option<Answer>,
    /// The upcoming window to announce on the response of a request that passed.
    announce: Option<String>,
}

/// An answer the hidden route sends.
enum Answer {
    /// The site's blocked answer, rendered once and shared.
    Blocked(BlockedAnswer),
    /// The application's blocked response, or a bypass link's redirect.
    Http(http::Response<Bytes>),
}

fn checked<'r>(req: &'r Request<'_>) -> &'r Checked {
    req.local_cache(|| Checked {
        reason: None,
        answer: None,
        announce: None,
    })
}

/// The future of a fairing callback that did all its work before returning: done at once, and
/// with no size, so boxing it allocates nothing.
struct Done;

impl Future for Done {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl MaintenanceFairing {
    /// Decides for `req`; answers a blocked request or a bypass link by rewriting it to the
    /// hidden route, with its answer in the request's local cache.
    fn decide(&self, req: &mut Request<'_>) {
        let decision = {
            let seen: &Request<'_> = req;
            let identity = self.settings.identity();
            // Asked only when the decision reaches the identity step.
            self.maintenance().check(&RocketRequest::new(seen), || {
                identity.map_or(Identity::Anonymous, |hook| hook(seen))
            })
        };
        let answer = match decision {
            Decision::Allow(reason) => {
                let announce = self
                    .maintenance()
                    .announcement(&reason, &RocketRequest::new(req))
                    .and_then(|v| v.to_str().ok().map(str::to_owned));
                let reason = self.settings.allow_reason().then_some(reason);
                if reason.is_some() || announce.is_some() {
                    req.local_cache(|| Checked {
                        reason,
                        answer: None,
                        announce,
                    });
                }
                return;
            }
            Decision::Block(block) => match self.settings.blocked() {
                Some(hook) => Answer::Http(hook(&block, req).map(Bytes::from)),
                None => Answer::Blocked(
                    self.maintenance()
                        .blocked_answer(&block, &RocketRequest::new(req)),
                ),
            },
            Decision::Bypass(grant) => Answer::Http(grant.to_response().map(Bytes::from)),
            Decision::Status(status) => Answer::Http(status.to_response().map(Bytes::from)),
            // Decisions added later come with the adapters of the same release.
            _ => return,
        };
        req.local_cache(|| Checked {
            reason: None,
            answer: Some(answer),
            announce: None,
        });
        // A constant that parses (a test checks it); were it not, `new` logged why.
        let Some(uri) = self.answer_uri.clone() else {
            return;
        };
        req.set_uri(uri);
        // Rocket answers HEAD from GET routes and strips the body, as long as the method it
        // sees after the fairings is still HEAD.
        if req.method() != Method::Head {
            req.set_method(Method::Get);
        }
    }
}

// Written out rather than with `#[rocket::async_trait]`, which boxes a future for every
// request: `on_request` decides synchronously and returns `Done`, whose box allocates nothing.
impl Fairing for MaintenanceFairing {
    fn info(&self) -> Info {
        Info {
            name: "Maintenance",
            kind: if self.maintenance().policy().announce_within().is_some() {
                // Only then: the response callback looks at every response.
                Kind::Ignite | Kind::Request | Kind::Response | Kind::Singleton
            } else {
                Kind::Ignite | Kind::Request | Kind::Singleton
            },
        }
    }

    fn on_response<'r, 'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: &'r Request<'life1>,
        res: &'life2 mut Response<'r>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'async_trait>>
    where
        'r: 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        if let Some(window) = &checked(req).announce {
            res.set_raw_header(WINDOW_HEADER, window.as_str());
        }
        Box::pin(Done)
    }

    fn on_ignite<'life0, 'async_trait>(
        &'life0 self,
        rocket: Rocket<Build>,
    ) -> Pin<Box<dyn Future<Output = rocket::fairing::Result> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let route = Route::ranked(
            // Before any route of the application that might match the same path.
            isize::MIN,
            Method::Get,
            ANSWER_ROUTE,
            AnswerRoute,
        );
        Box::pin(std::future::ready(Ok(
            rocket.mount(ANSWER_BASE, vec![route])
        )))
    }

    fn on_request<'life0, 'life1, 'life2, 'life3, 'life4, 'async_trait>(
        &'life0 self,
        req: &'life1 mut Request<'life2>,
        _data: &'life3 mut Data<'life4>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        'life4: 'async_trait,
        Self: 'async_trait,
    {
        self.decide(req);
        Box::pin(Done)
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
            Some(Answer::Blocked(answer)) => route::Outcome::Success(answer_response(answer)),
            Some(Answer::Http(res)) => route::Outcome::Success(to_rocket_response(res)),
            None => route::Outcome::forward(data, Status::NotFound),
        }
    }
}

/// A blocked answer as a rocket response: its status, headers and shared body (no copy).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use maintenance_rocket::answer_response;
/// use maintenance_core::{Decision, Identity, Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
/// let store = std::sync::Arc::new(MemoryStore::new());
/// store.set_state(&SiteRef::Default, &StateChange::turn_on(), "ops").await.unwrap();
/// let maintenance = Maintenance::start(store, Policy::default()).await;
/// let req = http::Request::builder().body(()).unwrap();
/// let Decision::Block(block) = maintenance.check(&req, Identity::Anonymous) else { unreachable!() };
/// let answer = maintenance.blocked_answer(&block, &req);
/// let res = answer_response(&answer);
/// assert_eq!(res.status().code, 503);
/// assert_eq!(res.headers().get_one("Cache-Control"), Some("no-store"));
/// # });
/// ```
pub fn answer_response(answer: &BlockedAnswer) -> Response<'_> {
    let mut out = Response::build();
    out.status(Status::new(answer.status().as_u16()));
    // The core's list (`BlockedAnswer::headers`), with names rocket borrows for good: no
    // copy of a name, and of a value only where it is a number or the site's text.
    if let Some(ct) = answer.content_type() {
        out.raw_header("Content-Type", ct);
    }
    out.raw_header("Cache-Control", "no-store");
    if let Some(secs) = answer.retry_after() {
        out.raw_header("Retry-After", secs.to_string());
    }
    if let Some(secs) = answer.refresh() {
        out.raw_header("Refresh", secs.to_string());
    }
    if let Some(location) = answer.location().and_then(|l| l.to_str().ok()) {
        out.raw_header("Location", location.to_owned());
    }
    if let Some(message) = answer.grpc_message() {
        out.raw_header("grpc-status", "14");
        out.raw_header(
            "grpc-message",
            String::from_utf8_lossy(message).into_owned(),
        );
        if let Some(secs) = answer.retry_after() {
            out.raw_header(
                "grpc-retry-pushback-ms",
                secs.saturating_mul(1000).to_string(),
            );
        }
    }
    let body: &[u8] = answer.body();
    out.sized_body(body.len(), Cursor::new(body));
    out.finalize()
}

/// Turns one of the core's responses (the bypass redirect, an application's blocked
/// response) into a rocket response with the same status, headers and body, borrowing them.
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
pub fn to_rocket_response<B: AsRef<[u8]>>(res: &http::Response<B>) -> Response<'_> {
    let mut out = Response::build();
    out.status(Status::new(res.status().as_u16()));
    for (name, value) in res.headers() {
        if let Ok(value) = value.to_str() {
            out.raw_header_adjoin(name.as_str(), value);
        }
    }
    let body = res.body().as_ref();
    out.sized_body(body.len(), Cursor::new(body));
    out.finalize()
}

/// A request guard that hands handlers the [`AllowReason`] of a request that passed (to show
/// a banner for an upcoming window, say), when the fairing was built with
/// [`MaintenanceFairing::with_allow_reason`]. It fails with 500 otherwise; take an
/// `Option<MaintenanceReason>` to run without it.
///
/// ```
/// use maintenance_core::AllowReason;
/// use maintenance_rocket::MaintenanceReason;
///
/// #[rocket::get("/")]
/// fn home(reason: MaintenanceReason) -> String {
///     match *reason {
///         AllowReason::Scheduled { starts_at } => {
///             format!("Maintenance is scheduled for {starts_at}.")
///         }
///         _ => "Welcome.".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceReason(pub AllowReason);

impl Deref for MaintenanceReason {
    type Target = AllowReason;

    fn deref(&self) -> &AllowReason {
        &self.0
    }
}

/// The [`MaintenanceReason`] guard's error: no reason was left for the request (the fairing
/// is not attached, or was built without [`MaintenanceFairing::with_allow_reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonMissing;

impl fmt::Display for ReasonMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no maintenance reason: attach MaintenanceFairing::new(..).with_allow_reason() to the rocket",
        )
    }
}

impl std::error::Error for ReasonMissing {}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MaintenanceReason {
    type Error = ReasonMissing;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match checked(req).reason {
            Some(reason) => Outcome::Success(MaintenanceReason(reason)),
            None => Outcome::Error((Status::InternalServerError, ReasonMissing)),
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
