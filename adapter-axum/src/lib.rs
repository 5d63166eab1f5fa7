#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, Response};
use maintenance_core::status::WINDOW_HEADER;
use maintenance_core::{
    Block, Decision, Identity, Maintenance, RequestView,
    adapter::{PeerAddr, Settings},
};
use tower_layer::Layer;
use tower_service::Service;

pub use maintenance_core;

type IdentityHook = dyn Fn(&Parts) -> Identity + Send + Sync;
type BlockedHook = dyn Fn(&Block, &Parts) -> Response<String> + Send + Sync;

/// The layer. Cheap to clone; build it once with the live [`Maintenance`] handle.
#[derive(Clone, Debug)]
#[must_use = "the layer does nothing until it wraps a service"]
pub struct MaintenanceLayer {
    settings: Settings<IdentityHook, BlockedHook>,
}

impl MaintenanceLayer {
    /// A layer deciding with `maintenance`; every request is anonymous until
    /// [`MaintenanceLayer::with_identity`] says otherwise.
    pub fn new(maintenance: Maintenance) -> Self {
        MaintenanceLayer {
            settings: Settings::new(maintenance),
        }
    }

    /// Tells who makes a request (staff and superusers pass), e.g. from a session or from
    /// claims an authentication layer put in the extensions.
    ///
    /// The hook runs only when the decision reaches its identity step: never while the site
    /// is not in maintenance, never for a client in an internal or allowed network, and at
    /// most once per request.
    ///
    /// ```
    /// # use maintenance_axum::MaintenanceLayer;
    /// # use maintenance_core::{Identity, Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// #[derive(Clone)]
    /// struct Claims { staff: bool }
    /// let layer = MaintenanceLayer::new(maintenance).with_identity(|parts: &http::request::Parts| {
    ///     match parts.extensions.get::<Claims>() {
    ///         Some(c) if c.staff => Identity::Staff,
    ///         _ => Identity::Anonymous,
    ///     }
    /// });
    /// ```
    pub fn with_identity<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Parts) -> Identity + Send + Sync + 'static,
    {
        self.settings.set_identity(Arc::new(hook));
        self
    }

    /// Replaces the blocked response (the default is the policy's JSON or HTML page).
    ///
    /// ```
    /// # use maintenance_axum::MaintenanceLayer;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// let layer = MaintenanceLayer::new(maintenance).with_blocked_response(|block, _parts| {
    ///     let mut res = http::Response::new("Down for maintenance, back soon.".to_owned());
    ///     *res.status_mut() = block.status;
    ///     res
    /// });
    /// ```
    pub fn with_blocked_response<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Block, &Parts) -> Response<String> + Send + Sync + 'static,
    {
        self.settings.set_blocked(Arc::new(hook));
        self
    }

    /// Puts the [`AllowReason`](maintenance_core::AllowReason) of each request that passes in its extensions, for handlers
    /// (`Extension<AllowReason>` in axum): to show a banner before a window
    /// (`AllowReason::Scheduled { starts_at }`), say. Off by default: the extension costs an
    /// allocation per request, and without it the layer allocates nothing for requests that
    /// pass.
    ///
    /// ```
    /// # use maintenance_axum::MaintenanceLayer;
    /// # use maintenance_core::{Maintenance, MemoryStore, Policy};
    /// # let maintenance = Maintenance::new(MemoryStore::new(), Policy::default());
    /// use axum::{Extension, Router, routing::get};
    /// use maintenance_core::AllowReason;
    /// let app: Router = Router::new()
    ///     .route("/", get(|reason: Option<Extension<AllowReason>>| async move {
    ///         match reason.as_deref() {
    ///             Some(AllowReason::Scheduled { starts_at }) => format!("Down from {starts_at}."),
    ///             _ => "Welcome.".to_owned(),
    ///         }
    ///     }))
    ///     .layer(MaintenanceLayer::new(maintenance).with_allow_reason());
    /// ```
    pub fn with_allow_reason(mut self) -> Self {
        self.settings.set_allow_reason();
        self
    }

    /// The handle the layer decides with.
    pub fn maintenance(&self) -> &Maintenance {
        self.settings.maintenance()
    }
}

impl<S> Layer<S> for MaintenanceLayer {
    type Service = MaintenanceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MaintenanceService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service the layer wraps around an inner one.
#[derive(Clone)]
pub struct MaintenanceService<S> {
    inner: S,
    layer: MaintenanceLayer,
}

impl<S: fmt::Debug> fmt::Debug for MaintenanceService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaintenanceService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

/// The peer address from the extensions: axum's `ConnectInfo`, a [`PeerAddr`] or a
/// [`SocketAddr`].
pub fn peer_addr(parts: &Parts) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0.ip());
    }
    parts
        .extensions
        .get::<PeerAddr>()
        .map(|p| p.0)
        .or_else(|| parts.extensions.get::<SocketAddr>().map(SocketAddr::ip))
}

/// The path the client asked for. Under `Router::nest` axum strips the prefix from the URI a
/// nested router's layers see, and keeps the original in `OriginalUri`: ignored patterns and
/// the bypass link must be matched against the whole path, wherever the layer sits.
fn request_path(parts: &Parts) -> &str {
    #[cfg(feature = "axum")]
    if let Some(original) = parts.extensions.get::<axum::extract::OriginalUri>() {
        return original.0.path();
    }
    parts.uri.path()
}

/// A request as the layer decides on it: [`peer_addr`] and the whole path (see above), each
/// looked up only when the decision asks.
struct View<'a> {
    parts: &'a Parts,
}

impl<'a> View<'a> {
    fn new(parts: &'a Parts) -> Self {
        View { parts }
    }
}

impl RequestView for View<'_> {
    fn method(&self) -> &str {
        self.parts.method.as_str()
    }
    fn host(&self) -> Option<&str> {
        RequestView::host(self.parts)
    }
    fn path(&self) -> &str {
        request_path(self.parts)
    }
    fn header_bytes<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'b [u8]> + 'b {
        self.parts.header_bytes(name)
    }
    fn other_hosts<'b>(&'b self) -> impl Iterator<Item = &'b str> + 'b {
        self.parts.other_hosts()
    }
    fn peer_addr(&self) -> Option<IpAddr> {
        peer_addr(self.parts)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MaintenanceService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let view = View::new(&parts);
        let identity = self.layer.settings.identity();
        // Asked only when the decision reaches the identity step.
        let decision = self.layer.maintenance().check(&view, || {
            identity.map_or(Identity::Anonymous, |hook| hook(&parts))
        });
        match decision {
            Decision::Allow(reason) => {
                let announce = self.layer.maintenance().announcement(&reason, &view);
                if self.layer.settings.allow_reason() {
                    parts.extensions.insert(reason);
                }
                // The inner service `poll_ready` readied serves this call: the decision was
                // made here, synchronously, so nothing needs a clone of it.
                let future = self.inner.call(Request::from_parts(parts, body));
                match announce {
                    None => ResponseFuture::inner(future),
                    Some(window) => ResponseFuture::announcing(future, window),
                }
            }
            Decision::Block(block) => ResponseFuture::ready(match self.layer.settings.blocked() {
                Some(hook) => hook(&block, &parts).map(|b| ResBody::from(Bytes::from(b))),
                None => self
                    .layer
                    .maintenance()
                    .blocked_answer(&block, &view)
                    .into_response(),
            }),
            Decision::Bypass(grant) => {
                ResponseFuture::ready(grant.to_response().map(|b| ResBody::from(Bytes::from(b))))
            }
            Decision::Status(status) => {
                ResponseFuture::ready(status.to_response().map(|b| ResBody::from(Bytes::from(b))))
            }
            // Decisions added later come with the adapters of the same release.
            _ => ResponseFuture::inner(self.inner.call(Request::from_parts(parts, body))),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future: the inner service's, or an answer ready at once. It is not boxed.
    ///
    /// Like tower's futures, it panics if polled again after it completed.
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
            response: Option<Response<B>>,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    fn inner(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Inner {
                future,
                announce: None,
            },
        }
    }

    fn announcing(future: F, window: HeaderValue) -> Self {
        ResponseFuture {
            kind: Kind::Inner {
                future,
                announce: Some(window),
            },
        }
    }

    fn ready(response: Response<B>) -> Self {
        ResponseFuture {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, announce } => {
                let mut res = std::task::ready!(future.poll(cx));
                if let (Ok(res), Some(window)) = (&mut res, announce.take()) {
                    res.headers_mut()
                        .insert(HeaderName::from_static(WINDOW_HEADER), window);
                }
                Poll::Ready(res)
            }
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("maintenance_axum::ResponseFuture polled after completion"))),
        }
    }
}

#[cfg(test)]
mod tests;
