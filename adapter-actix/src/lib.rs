#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use maintenance_core::status::WINDOW_HEADER;
use maintenance_core::{
    Block, Decision, Identity, Maintenance, RequestView, adapter::Settings, response::BlockedAnswer,
};

pub use maintenance_core;

type IdentityHook = dyn Fn(&ServiceRequest) -> Identity + Send + Sync;
type BlockedHook = dyn Fn(&Block, &HttpRequest) -> HttpResponse + Send + Sync;

/// The middleware factory. Cheap to clone; build it once with the live [`Maintenance`] handle
/// and `.wrap(middleware.clone())` in each worker's `App`.
#[derive(Clone, Debug)]
#[must_use = "the middleware does nothing until the App wraps it"]
pub struct MaintenanceMode {
    settings: Settings<IdentityHook, BlockedHook>,
}

impl MaintenanceMode {
    /// A middleware deciding with `maintenance`; every request is anonymous until
    /// [`MaintenanceMode::with_identity`] says otherwise.
    ///
    /// ```
    /// # use maintenance_actix::MaintenanceMode;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// let middleware = MaintenanceMode::new(maintenance);
    /// let app = actix_web::App::new().wrap(middleware);
    /// ```
    pub fn new(maintenance: Maintenance) -> Self {
        MaintenanceMode {
            settings: Settings::new(maintenance),
        }
    }

    /// Tells who makes a request (staff and superusers pass), e.g. from a session cookie or
    /// from claims an outer authentication middleware put in the extensions.
    ///
    /// The hook runs only when the decision reaches its identity step: never while the site
    /// is not in maintenance, never for a client in an internal or allowed network, and at
    /// most once per request.
    ///
    /// ```
    /// # use maintenance_actix::MaintenanceMode;
    /// # use maintenance_core::{Identity, Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// use actix_web::HttpMessage;
    /// #[derive(Clone)]
    /// struct Claims { staff: bool }
    /// let middleware = MaintenanceMode::new(maintenance).with_identity(|req| {
    ///     match req.extensions().get::<Claims>() {
    ///         Some(c) if c.staff => Identity::Staff,
    ///         _ => Identity::Anonymous,
    ///     }
    /// });
    /// ```
    pub fn with_identity<F>(mut self, hook: F) -> Self
    where
        F: Fn(&ServiceRequest) -> Identity + Send + Sync + 'static,
    {
        self.settings.set_identity(Arc::new(hook));
        self
    }

    /// Replaces the blocked response (the default is the policy's JSON or HTML page).
    ///
    /// ```
    /// # use maintenance_actix::MaintenanceMode;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// use actix_web::HttpResponse;
    /// use actix_web::http::StatusCode;
    /// let middleware = MaintenanceMode::new(maintenance).with_blocked_response(|block, _req| {
    ///     let status = StatusCode::from_u16(block.status.as_u16())
    ///         .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    ///     HttpResponse::build(status).body("Down for maintenance, back soon.")
    /// });
    /// ```
    pub fn with_blocked_response<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Block, &HttpRequest) -> HttpResponse + Send + Sync + 'static,
    {
        self.settings.set_blocked(Arc::new(hook));
        self
    }

    /// Puts the [`AllowReason`](maintenance_core::AllowReason) of each request that passes in
    /// its extensions, for handlers (`web::ReqData<AllowReason>`): to show a banner before a
    /// window (`AllowReason::Scheduled { starts_at }`), say. Off by default: the extension
    /// costs an allocation per request, and without it the middleware allocates nothing for
    /// requests that pass.
    ///
    /// ```
    /// # use maintenance_actix::MaintenanceMode;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// use actix_web::web;
    /// use maintenance_core::AllowReason;
    /// async fn home(reason: Option<web::ReqData<AllowReason>>) -> String {
    ///     match reason.as_deref() {
    ///         Some(AllowReason::Scheduled { starts_at }) => format!("Down from {starts_at}."),
    ///         _ => "Welcome.".to_owned(),
    ///     }
    /// }
    /// let app = actix_web::App::new()
    ///     .wrap(MaintenanceMode::new(maintenance).with_allow_reason())
    ///     .route("/", web::get().to(home));
    /// ```
    pub fn with_allow_reason(mut self) -> Self {
        self.settings.set_allow_reason();
        self
    }

    /// The handle the middleware decides with.
    pub fn maintenance(&self) -> &Maintenance {
        self.settings.maintenance()
    }
}

impl<S, B> Transform<S, ServiceRequest> for MaintenanceMode
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = MaintenanceModeMiddleware<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(MaintenanceModeMiddleware {
            service: Rc::new(service),
            config: self.clone(),
        }))
    }
}

/// The middleware's name in 0.1.
#[deprecated(
    since = "0.2.0",
    note = "renamed `MaintenanceMode`: after actix-web's convention, the `Transform` carries the feature's name and `*Middleware` is its service"
)]
pub type MaintenanceMiddleware = MaintenanceMode;

/// The middleware service's name in 0.1.
#[deprecated(since = "0.2.0", note = "renamed `MaintenanceModeMiddleware`")]
pub type MaintenanceMiddlewareService<S> = MaintenanceModeMiddleware<S>;

/// The service the middleware wraps around the application.
pub struct MaintenanceModeMiddleware<S> {
    service: Rc<S>,
    config: MaintenanceMode,
}

impl<S> fmt::Debug for MaintenanceModeMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaintenanceModeMiddleware")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// The response future: the application's response with its body on the left (with the
    /// upcoming window announced on it, when the policy asks), or an answer ready at once on
    /// the right. Not boxed; it panics if polled again after it completed.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner {
            #[pin]
            future: F,
            // The window to announce on the response, if any.
            announce: Option<HeaderValue>,
        },
        Ready {
            response: Option<ServiceResponse<EitherBody<B>>>,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    fn inner(future: F, announce: Option<HeaderValue>) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future, announce },
        }
    }

    fn ready(response: ServiceResponse<EitherBody<B>>) -> Self {
        ResponseFuture {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, announce } => {
                let mut res = std::task::ready!(future.poll(cx))?;
                if let Some(window) = announce.take() {
                    res.headers_mut()
                        .insert(HeaderName::from_static(WINDOW_HEADER), window);
                }
                Poll::Ready(Ok(res.map_into_left_body()))
            }
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("maintenance_actix::ResponseFuture polled after completion"))),
        }
    }
}

impl<S, B> Service<ServiceRequest> for MaintenanceModeMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let identity = self.config.settings.identity();
        // Asked only when the decision reaches the identity step.
        let decision = self
            .config
            .maintenance()
            .check(&ActixRequest::new(req.request()), || {
                identity.map_or(Identity::Anonymous, |hook| hook(&req))
            });
        let res = match decision {
            Decision::Allow(reason) => {
                let announce = self
                    .config
                    .maintenance()
                    .announcement(&reason, &ActixRequest::new(req.request()))
                    .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
                if self.config.settings.allow_reason() {
                    req.extensions_mut().insert(reason);
                }
                return ResponseFuture::inner(self.service.call(req), announce);
            }
            Decision::Block(block) => match self.config.settings.blocked() {
                Some(hook) => hook(&block, req.request()),
                None => answer_response(
                    &self
                        .config
                        .maintenance()
                        .blocked_answer(&block, &ActixRequest::new(req.request())),
                ),
            },
            Decision::Bypass(grant) => to_http_response(grant.to_response()),
            Decision::Status(status) => to_http_response(status.to_response()),
            // Decisions added later come with the adapters of the same release.
            _ => return ResponseFuture::inner(self.service.call(req), None),
        };
        ResponseFuture::ready(req.into_response(res).map_into_right_body())
    }
}

/// A blocked answer as an actix-web response: its status, headers and shared body (no copy).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use maintenance_actix::answer_response;
/// use maintenance_core::{Decision, Identity, Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
/// let store = std::sync::Arc::new(MemoryStore::new());
/// store.set_state(&SiteRef::Default, &StateChange::turn_on(), "ops").await.unwrap();
/// let maintenance = Maintenance::start(store, Policy::default()).await;
/// let req = http::Request::builder().body(()).unwrap();
/// let Decision::Block(block) = maintenance.check(&req, Identity::Anonymous) else { unreachable!() };
/// let res = answer_response(&maintenance.blocked_answer(&block, &req));
/// assert_eq!(res.status().as_u16(), 503);
/// assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
/// # });
/// ```
pub fn answer_response(answer: &BlockedAnswer) -> HttpResponse {
    // Both `http` versions accept the same codes (100 to 999).
    let status =
        StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut res = HttpResponse::with_body(status, answer.body().clone());
    let headers = res.headers_mut();
    // The core's list (`BlockedAnswer::headers`), with actix-web's own constants: no name
    // is parsed on the blocked path.
    if let Some(ct) = answer.content_type() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(secs) = answer.retry_after() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(secs) = answer.refresh() {
        headers.insert(HeaderName::from_static("refresh"), HeaderValue::from(secs));
    }
    if let Some(location) = answer.location()
        && let Ok(value) = HeaderValue::from_bytes(location.as_bytes())
    {
        headers.insert(header::LOCATION, value);
    }
    if let Some(message) = answer.grpc_message() {
        headers.insert(
            HeaderName::from_static("grpc-status"),
            HeaderValue::from_static("14"),
        );
        if let Ok(value) = HeaderValue::from_bytes(message) {
            headers.insert(HeaderName::from_static("grpc-message"), value);
        }
        if let Some(secs) = answer.retry_after() {
            headers.insert(
                HeaderName::from_static("grpc-retry-pushback-ms"),
                HeaderValue::from(secs.saturating_mul(1000)),
            );
        }
    }
    res.map_into_boxed_body()
}

/// An actix-web request as the decision reads it: method, host (the `Host` header, else the
/// URI's authority), path (still percent-encoded), headers, and the connection's peer address
/// (`HttpRequest::peer_addr`, never a header).
///
/// ```
/// use actix_web::test::TestRequest;
/// use maintenance_actix::ActixRequest;
/// use maintenance_core::RequestView;
///
/// let req = TestRequest::get()
///     .uri("/shop/%41?page=2")
///     .insert_header(("host", "example.com"))
///     .peer_addr("192.0.2.1:4000".parse().unwrap())
///     .to_http_request();
/// let view = ActixRequest::new(&req);
/// assert_eq!(view.path(), "/shop/%41");
/// assert_eq!(view.host(), Some("example.com"));
/// assert_eq!(view.peer_addr(), Some("192.0.2.1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ActixRequest<'a> {
    req: &'a HttpRequest,
}

impl<'a> ActixRequest<'a> {
    /// Wraps `req`.
    pub fn new(req: &'a HttpRequest) -> Self {
        ActixRequest { req }
    }
}

impl RequestView for ActixRequest<'_> {
    fn method(&self) -> &str {
        self.req.method().as_str()
    }

    fn host(&self) -> Option<&str> {
        // RFC 9112 §3.2.2: an absolute-form target's authority (or HTTP/2's `:authority`,
        // which actix puts in the URI) before `Host`. actix's own `guard::Host` reads `Host`
        // first on HTTP/1; the core's decision also checks the site `Host` names, so a request
        // passes only when both let it.
        self.req.uri().authority().map(|a| a.as_str()).or_else(|| {
            self.req
                .headers()
                .get(actix_web::http::header::HOST)
                .and_then(|v| v.to_str().ok())
        })
    }

    fn path(&self) -> &str {
        self.req.uri().path()
    }

    fn header_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        // The headers the decision reads, by actix's constants: no parse of the name.
        let known = match name {
            "host" => Some(header::HOST),
            "accept" => Some(header::ACCEPT),
            "content-type" => Some(header::CONTENT_TYPE),
            "cookie" => Some(header::COOKIE),
            "forwarded" => Some(header::FORWARDED),
            _ => None,
        };
        let lines = match known {
            Some(name) => self.req.headers().get_all(name),
            None => self.req.headers().get_all(name),
        };
        lines.map(|v| v.as_bytes())
    }

    fn peer_addr(&self) -> Option<IpAddr> {
        self.req.peer_addr().map(|a| a.ip())
    }
}

/// Turns one of the core's responses (`http` 1.x: the blocked page, the bypass redirect) into
/// an actix-web response with the same status, headers and body.
///
/// ```
/// use maintenance_actix::to_http_response;
/// let res = http::Response::builder()
///     .status(503)
///     .header("retry-after", "120")
///     .body("Back soon".to_owned())
///     .unwrap();
/// let res = to_http_response(res);
/// assert_eq!(res.status().as_u16(), 503);
/// assert_eq!(res.headers().get("retry-after").unwrap(), "120");
/// ```
pub fn to_http_response<B: MessageBody + 'static>(res: http::Response<B>) -> HttpResponse {
    let (parts, body) = res.into_parts();
    // Both `http` versions accept the same codes (100 to 999).
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut out = HttpResponse::build(status).body(body);
    let headers = out.headers_mut();
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    out
}

#[cfg(test)]
mod tests;
