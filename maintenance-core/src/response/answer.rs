//! [`BlockedAnswer`]: a blocked request's answer, ready to send, its body shared.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

use super::negotiation::{AnswerFormat, answer_format};
use super::render::render_body;
use crate::answer_cache::AnswerCache;
use crate::decision::Block;
use crate::policy::Policy;
use crate::request::RequestView;

/// The full blocked response for `req`: status, `Retry-After`, `Cache-Control: no-store`,
/// and the body the client asks for ([`answer_format`]), rendered now; redirects and
/// `Refresh` as the policy says. A server should use
/// [`crate::Maintenance::blocked_response`], which renders each site's answer once.
///
/// ```
/// use maintenance_core::{response::blocked_response, Block, BlockReason, Policy};
/// let mut block = Block::new(http::StatusCode::SERVICE_UNAVAILABLE, BlockReason::Maintenance);
/// block.retry_after = Some(60);
/// let req = http::Request::builder().header("accept", "application/json").body(()).unwrap();
/// let res = blocked_response(&block, &Policy::default(), &req);
/// assert_eq!(res.status(), 503);
/// assert_eq!(res.headers()["retry-after"], "60");
/// assert!(res.body().contains("\"temporarily_unavailable\""));
/// ```
pub fn blocked_response<R: RequestView + ?Sized>(
    block: &Block,
    policy: &Policy,
    req: &R,
) -> Response<String> {
    let format = answer_format(req);
    let answer = BlockedAnswer::new(block, policy, req, format, |_| {
        Bytes::from(render_body(block, policy, format))
    });
    let mut res = Response::new(String::from_utf8_lossy(answer.body()).into_owned());
    *res.status_mut() = answer.status;
    answer.insert_headers(res.headers_mut());
    res
}

/// What a blocked answer is besides its body.
#[derive(Debug, Clone)]
enum Kind {
    /// A page or a JSON document in the body.
    Body,
    /// A redirect of a browser to the policy's status page.
    Redirect(HeaderValue),
    /// A gRPC trailers-only answer; the body holds the encoded message and is not sent.
    Grpc,
}

/// A blocked request's answer, ready to send: the status, the headers and a body shared by
/// every request that gets the same answer (cloning it copies no bytes).
///
/// Adapters turn it into their framework's response from [`BlockedAnswer::status`],
/// [`BlockedAnswer::headers`] and [`BlockedAnswer::body`]; [`BlockedAnswer::into_response`]
/// makes an `http` one.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use maintenance_core::{Decision, Identity, Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
/// let store = Arc::new(MemoryStore::new());
/// store.set_state(&SiteRef::Default, &StateChange::turn_on().retry_after_secs(60), "ops").await.unwrap();
/// let maintenance = Maintenance::start(store, Policy::default()).await;
/// let req = http::Request::builder().header("accept", "application/json").body(()).unwrap();
/// let Decision::Block(block) = maintenance.check(&req, Identity::Anonymous) else { unreachable!() };
/// let answer = maintenance.blocked_answer(&block, &req);
/// assert_eq!(answer.status(), 503);
/// assert_eq!(answer.content_type(), Some("application/json"));
/// assert_eq!(answer.retry_after(), Some(60));
/// let again = maintenance.blocked_answer(&block, &req);
/// assert_eq!(again.body().as_ptr(), answer.body().as_ptr()); // rendered once, shared
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct BlockedAnswer {
    status: StatusCode,
    format: AnswerFormat,
    retry_after: Option<u64>,
    refresh: Option<u64>,
    kind: Kind,
    body: Bytes,
}

/// The shortest `Refresh` sent: a page never reloads itself faster than this.
const MIN_REFRESH_SECS: u64 = 5;

impl BlockedAnswer {
    /// The answer to `block` in `format` for `req`, its body (for the formats that send one)
    /// from `body`, given the format.
    fn new<R: RequestView + ?Sized>(
        block: &Block,
        policy: &Policy,
        req: &R,
        format: AnswerFormat,
        body: impl FnOnce(AnswerFormat) -> Bytes,
    ) -> Self {
        let retry_after = block.retry_after;
        if format.is_grpc() {
            return BlockedAnswer {
                status: StatusCode::OK,
                format,
                retry_after,
                refresh: None,
                kind: Kind::Grpc,
                body: body(format),
            };
        }
        if format == AnswerFormat::Html
            && let Some(redirect) = policy.redirect()
            && !redirect.is_target_of(req)
        {
            return BlockedAnswer {
                status: redirect.status(),
                format,
                retry_after,
                refresh: None,
                kind: Kind::Redirect(redirect.location().clone()),
                body: Bytes::new(),
            };
        }
        let refresh = match (format, policy.refresh()) {
            (AnswerFormat::Html, Some(fallback)) => retry_after
                .or(fallback.map(|d| d.as_secs()))
                .map(|secs| secs.max(MIN_REFRESH_SECS)),
            _ => None,
        };
        BlockedAnswer {
            status: block.status,
            format,
            retry_after,
            refresh,
            kind: Kind::Body,
            body: body(format),
        }
    }

    /// The status: the policy's (503 by default); a redirect's; 200 for gRPC, whose status is
    /// in `grpc-status`.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The form of the answer.
    pub fn format(&self) -> AnswerFormat {
        self.format
    }

    /// The `Content-Type` of the body; `None` for a redirect, which has none.
    pub fn content_type(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Redirect(_) => None,
            _ => Some(self.format.content_type()),
        }
    }

    /// Whether the body is JSON (django-maintenancemode-2's or RFC 9457's).
    pub fn is_json(&self) -> bool {
        matches!(self.format, AnswerFormat::Json | AnswerFormat::Problem)
    }

    /// Where a redirect sends the browser, when the answer is one.
    pub fn location(&self) -> Option<&HeaderValue> {
        match &self.kind {
            Kind::Redirect(location) => Some(location),
            _ => None,
        }
    }

    /// The `Retry-After` seconds, when known.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The `Refresh` seconds of a page, when the policy asks for it.
    pub fn refresh(&self) -> Option<u64> {
        self.refresh
    }

    /// The `grpc-message` of a gRPC answer (percent-encoded), when the answer is one.
    pub fn grpc_message(&self) -> Option<&Bytes> {
        matches!(self.kind, Kind::Grpc).then_some(&self.body)
    }

    /// The body to send: a page or a JSON document, empty for a redirect or a gRPC answer.
    pub fn body(&self) -> &Bytes {
        static EMPTY: Bytes = Bytes::new();
        match self.kind {
            Kind::Body => &self.body,
            _ => &EMPTY,
        }
    }

    /// The headers to send: `Content-Type`, `Cache-Control: no-store` and, when known,
    /// `Retry-After`; `Refresh` on pages when the policy asks for it; `Location` on a
    /// redirect; `grpc-status`, `grpc-message` and `grpc-retry-pushback-ms` on a gRPC answer.
    ///
    /// An adapter whose framework has header types of its own may build the same list from
    /// [`BlockedAnswer::content_type`], [`BlockedAnswer::retry_after`],
    /// [`BlockedAnswer::refresh`], [`BlockedAnswer::location`] and
    /// [`BlockedAnswer::grpc_message`] with its own constants, which costs no parse of a
    /// name.
    pub fn headers(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> + use<> {
        let grpc = matches!(self.kind, Kind::Grpc);
        let message = grpc
            .then(|| HeaderValue::from_maybe_shared(self.body.clone()).ok())
            .flatten();
        [
            self.content_type()
                .map(|ct| (header::CONTENT_TYPE, HeaderValue::from_static(ct))),
            Some((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))),
            self.retry_after
                .map(|secs| (header::RETRY_AFTER, HeaderValue::from(secs))),
            self.refresh
                .map(|secs| (header::REFRESH, HeaderValue::from(secs))),
            self.location().map(|l| (header::LOCATION, l.clone())),
            grpc.then(|| {
                (
                    HeaderName::from_static("grpc-status"),
                    HeaderValue::from_static("14"),
                )
            }),
            message.map(|m| (HeaderName::from_static("grpc-message"), m)),
            grpc.then_some(self.retry_after).flatten().map(|secs| {
                (
                    HeaderName::from_static("grpc-retry-pushback-ms"),
                    HeaderValue::from(secs.saturating_mul(1000)),
                )
            }),
        ]
        .into_iter()
        .flatten()
    }

    fn insert_headers(&self, headers: &mut HeaderMap) {
        headers.reserve(4);
        for (name, value) in self.headers() {
            headers.insert(name, value);
        }
    }

    /// The answer as an `http` response, for any body made from [`Bytes`] (axum's `Body`,
    /// hyper's `Full<Bytes>`, ...).
    pub fn into_response<B: From<Bytes>>(self) -> Response<B> {
        let mut res = Response::new(B::from(self.body().clone()));
        *res.status_mut() = self.status;
        self.insert_headers(res.headers_mut());
        res
    }

    /// The answer to `block` for `req` in `format`, its body taken from `cache` when it holds
    /// one rendered by `owner` for the same `Retry-After`, else rendered now and kept there.
    pub(crate) fn cached<R: RequestView + ?Sized>(
        cache: &AnswerCache,
        owner: u64,
        block: &Block,
        policy: &Policy,
        req: &R,
        format: AnswerFormat,
    ) -> Self {
        BlockedAnswer::new(block, policy, req, format, |format| {
            let retry_after = block.retry_after;
            cache
                .kept(format.slot(), owner, retry_after)
                .unwrap_or_else(|| {
                    let body = Bytes::from(render_body(block, policy, format));
                    cache.keep(format.slot(), owner, retry_after, body.clone());
                    body
                })
        })
    }
}
