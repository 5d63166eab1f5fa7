//! The blocked response: status, headers, and a JSON or HTML body.
//!
//! [`blocked_response`] renders the answer from scratch. The live handle does it once per site
//! state instead ([`crate::Maintenance::blocked_answer`]): a site's JSON and HTML bodies are
//! kept beside it in the snapshot and shared by every blocked request, and only a
//! `Retry-After` that counts down to a window's end makes a new body, once per second.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use serde_json::json;

use crate::decision::{Block, BlockReason};
use crate::policy::Policy;
use crate::request::RequestView;

/// The form of a blocked answer, chosen from the request's headers by [`answer_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnswerFormat {
    /// An HTML page (or, when the policy says so, a redirect to a status page).
    Html,
    /// django-maintenancemode-2's JSON.
    Json,
    /// RFC 9457 `application/problem+json`.
    Problem,
    /// A gRPC trailers-only answer: HTTP 200, `grpc-status: 14` (UNAVAILABLE) and the message
    /// in `grpc-message`.
    Grpc,
    /// The same for gRPC-Web clients (`application/grpc-web...`).
    GrpcWeb,
}

impl AnswerFormat {
    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            AnswerFormat::Html => "text/html; charset=utf-8",
            AnswerFormat::Json => "application/json",
            AnswerFormat::Problem => "application/problem+json",
            AnswerFormat::Grpc => "application/grpc",
            AnswerFormat::GrpcWeb => "application/grpc-web",
        }
    }

    /// Whether the client is a gRPC one.
    pub fn is_grpc(self) -> bool {
        matches!(self, AnswerFormat::Grpc | AnswerFormat::GrpcWeb)
    }

    /// Which cached body the format uses (gRPC and gRPC-Web share the encoded message).
    fn slot(self) -> usize {
        match self {
            AnswerFormat::Html => 0,
            AnswerFormat::Json => 1,
            AnswerFormat::Problem => 2,
            AnswerFormat::Grpc | AnswerFormat::GrpcWeb => 3,
        }
    }
}

/// How the client wants to be answered:
/// - a gRPC request (`Content-Type: application/grpc...`) gets a gRPC answer;
/// - a JSON `Content-Type` (django-maintenancemode-2's rule, parameters allowed) gets django-maintenancemode-2's JSON;
/// - an `Accept` that prefers `application/problem+json` to JSON and HTML gets RFC 9457;
/// - an `Accept` that prefers JSON to HTML gets django-maintenancemode-2's JSON;
/// - everything else gets HTML.
///
/// ```
/// use maintenance_core::{answer_format, AnswerFormat};
/// let req = |k: &str, v: &str| http::Request::builder().header(k, v).body(()).unwrap();
/// assert_eq!(answer_format(&req("accept", "application/problem+json")), AnswerFormat::Problem);
/// assert_eq!(answer_format(&req("accept", "application/json")), AnswerFormat::Json);
/// assert_eq!(answer_format(&req("content-type", "application/grpc")), AnswerFormat::Grpc);
/// assert_eq!(answer_format(&req("accept", "text/html,*/*;q=0.8")), AnswerFormat::Html);
/// ```
pub fn answer_format<R: RequestView + ?Sized>(req: &R) -> AnswerFormat {
    if let Some(ct) = req.header("content-type") {
        let ty = media_type(ct);
        if let Some(grpc) = grpc_format(ty) {
            return grpc;
        }
        if is_json_type(ty) {
            return AnswerFormat::Json;
        }
    }
    // An `Accept` that never says `json` cannot prefer it: a browser's, on most blocked
    // requests. Only the others are parsed.
    if !req.header_bytes("accept").any(mentions_json) {
        return AnswerFormat::Html;
    }
    let mut problem_q: Option<f32> = None;
    let mut json_q: Option<f32> = None;
    let mut html_q: Option<f32> = None;
    let best = |slot: &mut Option<f32>, q: f32| *slot = Some(slot.map_or(q, |old| old.max(q)));
    for range in req.header_values("accept").flat_map(|line| line.split(',')) {
        let mut parts = range.split(';');
        let ty = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if ty.eq_ignore_ascii_case("application/problem+json") {
            best(&mut problem_q, q);
        } else if is_json_type(ty) {
            best(&mut json_q, q);
        } else if ty.eq_ignore_ascii_case("text/html")
            || ty.eq_ignore_ascii_case("application/xhtml+xml")
        {
            best(&mut html_q, q);
        }
    }
    let html = html_q.unwrap_or(0.0);
    let json = json_q.unwrap_or(0.0);
    match problem_q {
        Some(p) if p > 0.0 && p >= json && p >= html => AnswerFormat::Problem,
        _ if json > 0.0 && json >= html => AnswerFormat::Json,
        _ => AnswerFormat::Html,
    }
}

/// The gRPC format a request's media type asks for, if it is a gRPC one.
fn grpc_format(ty: &str) -> Option<AnswerFormat> {
    const GRPC: &str = "application/grpc";
    let head = ty.get(..GRPC.len())?;
    if !head.eq_ignore_ascii_case(GRPC) {
        return None;
    }
    let rest = &ty[GRPC.len()..];
    if rest.is_empty() || rest.starts_with('+') {
        Some(AnswerFormat::Grpc)
    } else if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case("-web") {
        Some(AnswerFormat::GrpcWeb)
    } else {
        None
    }
}

/// Whether the client should get JSON (django-maintenancemode-2's or RFC 9457's): see [`answer_format`].
///
/// ```
/// use maintenance_core::wants_json;
/// let req = |k: &str, v: &str| http::Request::builder().header(k, v).body(()).unwrap();
/// assert!(wants_json(&req("accept", "application/json")));
/// assert!(wants_json(&req("content-type", "application/json; charset=utf-8")));
/// assert!(!wants_json(&req("accept", "text/html,application/xhtml+xml,*/*;q=0.8")));
/// ```
pub fn wants_json<R: RequestView + ?Sized>(req: &R) -> bool {
    matches!(
        answer_format(req),
        AnswerFormat::Json | AnswerFormat::Problem
    )
}

/// Whether `line` holds `json` in any case.
fn mentions_json(line: &[u8]) -> bool {
    memchr::memchr2_iter(b'j', b'J', line).any(|at| {
        line.get(at..at + 4)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"json"))
    })
}

fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

fn is_json_type(ty: &str) -> bool {
    ty.eq_ignore_ascii_case("application/json")
        || ty.len() > 5
            && ty.is_char_boundary(ty.len() - 5)
            && ty[ty.len() - 5..].eq_ignore_ascii_case("+json")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// The JSON body: django-maintenancemode-2's fields plus `message`, `retry_after` and `mode`.
pub fn json_body(block: &Block, policy: &Policy) -> String {
    json!({
        "code": block.status.as_u16(),
        "error": "temporarily_unavailable",
        "reason": "maintenance",
        "error_description": policy.default_message(),
        "message": block.message(policy),
        "retry_after": block.retry_after,
        "mode": mode_name(block),
    })
    .to_string()
}

/// The RFC 9457 problem body: `type` and `title` (the policy's, `about:blank` and the
/// status's reason phrase by default), `status`, `detail` (the message), `retry_after` and
/// `mode`.
pub fn problem_body(block: &Block, policy: &Policy) -> String {
    let title = policy
        .problem_title()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            block
                .status
                .canonical_reason()
                .unwrap_or("Unavailable")
                .to_owned()
        });
    json!({
        "type": policy.problem_type(),
        "title": title,
        "status": block.status.as_u16(),
        "detail": block.message(policy),
        "retry_after": block.retry_after,
        "mode": mode_name(block),
    })
    .to_string()
}

fn mode_name(block: &Block) -> &'static str {
    match block.reason {
        BlockReason::ReadOnly => "read-only",
        _ => "full",
    }
}

/// The `grpc-message` of a blocked gRPC call: the message, percent-encoded as the gRPC
/// protocol asks (every byte outside printable ASCII, and `%`).
///
/// ```
/// assert_eq!(maintenance_core::grpc_message("Back at 5 — 100%"), "Back at 5 %E2%80%94 100%25");
/// ```
pub fn grpc_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const DEFAULT_TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Temporarily unavailable</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f6f7f9;color:#1f2933}
main{max-width:36rem;padding:2rem;text-align:center}
h1{font-size:1.6rem;margin-bottom:.5rem}
p{line-height:1.5}
.retry{color:#52606d;font-size:.9rem}
</style>
</head>
<body>
<main>
<h1>Temporarily unavailable</h1>
<p>{{message}}</p>
{{retry_line}}
</main>
</body>
</html>
"#;

/// The HTML body: the policy's template or the default page, values escaped.
pub fn html_body(block: &Block, policy: &Policy) -> String {
    let message = escape_html(block.message(policy));
    let retry = block.retry_after.map(|s| s.to_string()).unwrap_or_default();
    let site = escape_html(block.site_state().map_or("", |s| s.name.as_str()));
    match policy.html_template() {
        Some(t) => t
            .replace("{{message}}", &message)
            .replace("{{retry_after}}", &retry)
            .replace("{{site}}", &site),
        None => {
            let retry_line = block
                .retry_after
                .map(|s| {
                    format!(
                        "<p class=\"retry\">Please try again in {}.</p>",
                        human_secs(s)
                    )
                })
                .unwrap_or_default();
            DEFAULT_TEMPLATE
                .replace("{{message}}", &message)
                .replace("{{retry_line}}", &retry_line)
        }
    }
}

fn human_secs(secs: u64) -> String {
    match secs {
        0..=90 => format!("{secs} seconds"),
        91..=5400 => format!("{} minutes", secs.div_ceil(60)),
        _ => format!("{} hours", secs.div_ceil(3600)),
    }
}

/// The full blocked response for `req`: status, `Retry-After`, `Cache-Control: no-store`,
/// and the body the client asks for ([`answer_format`]), rendered now; redirects and
/// `Refresh` as the policy says. A server should use
/// [`crate::Maintenance::blocked_response`], which renders each site's answer once.
///
/// ```
/// use maintenance_core::{blocked_response, Block, BlockReason, Policy};
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

/// The body of `format`: a page, a JSON document, or a gRPC answer's encoded message.
fn render_body(block: &Block, policy: &Policy, format: AnswerFormat) -> String {
    match format {
        AnswerFormat::Html => html_body(block, policy),
        AnswerFormat::Json => json_body(block, policy),
        AnswerFormat::Problem => problem_body(block, policy),
        AnswerFormat::Grpc | AnswerFormat::GrpcWeb => grpc_message(block.message(policy)),
    }
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
            let slot = &cache.slots[format.slot()];
            let retry_after = block.retry_after;
            let kept = slot.load();
            match kept.as_deref() {
                Some(r) if r.owner == owner && r.retry_after == retry_after => r.body.clone(),
                _ => {
                    let body = Bytes::from(render_body(block, policy, format));
                    slot.store(Some(Arc::new(Rendered {
                        owner,
                        retry_after,
                        body: body.clone(),
                    })));
                    body
                }
            }
        })
    }
}

/// A site's rendered blocked bodies, one per [`AnswerFormat::slot`], kept beside it in the
/// snapshot. A site whose state changes is a new site with an empty cache.
#[derive(Default)]
pub(crate) struct AnswerCache {
    slots: [ArcSwapOption<Rendered>; 4],
}

/// A body and what it was rendered for: the handle whose policy rendered it (a snapshot could
/// be handed to another policy) and the `Retry-After` it shows.
struct Rendered {
    owner: u64,
    retry_after: Option<u64>,
    body: Bytes,
}

impl Clone for AnswerCache {
    /// An empty cache: a copied site renders its own answers.
    fn clone(&self) -> Self {
        AnswerCache::default()
    }
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept: Vec<bool> = self.slots.iter().map(|s| s.load().is_some()).collect();
        f.debug_struct("AnswerCache").field("kept", &kept).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SiteState;
    use crate::snapshot::LiveSite;
    use http::StatusCode;
    use std::sync::Arc;

    fn block(message: Option<&str>, retry: Option<u64>) -> Block {
        let mut s = SiteState::new(1, "example.com");
        s.name = "Shop <1>".into();
        s.message = message.map(str::to_owned);
        Block {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: retry,
            reason: BlockReason::Maintenance,
            site: Some(Arc::new(LiveSite::compile(s, |_| {}))),
        }
    }

    fn req(headers: &[(&str, &str)]) -> http::Request<()> {
        let mut b = http::Request::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn json_or_html_by_headers() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("accept", "*/*")], false),
            (&[("accept", "application/json")], true),
            (&[("accept", "application/problem+json")], true),
            (&[("accept", "Application/JSON")], true),
            (
                &[("accept", "text/html"), ("accept", "application/json")],
                true,
            ),
            (
                &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
                false,
            ),
            (&[("accept", "application/json;q=0")], false),
            (&[("accept", "text/html;q=0.9, application/json")], true),
            (&[("accept", "text/html, application/json;q=0.5")], false),
            (&[("content-type", "application/json")], true),
            (&[("content-type", "Application/JSON; charset=utf-8")], true),
            (&[("content-type", "text/plain")], false),
            (
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("accept", "text/html"),
                ],
                false,
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(wants_json(&req(headers)), *want, "{headers:?}");
        }
    }

    #[test]
    fn json_body_has_django_maintenancemode_fields() {
        let res = blocked_response(
            &block(Some("Back at 5"), Some(120)),
            &Policy::default(),
            &req(&[("accept", "application/json")]),
        );
        assert_eq!(res.headers()["content-type"], "application/json");
        let v: serde_json::Value = serde_json::from_str(res.body()).unwrap();
        assert_eq!(v["code"], 503);
        assert_eq!(v["error"], "temporarily_unavailable");
        assert_eq!(v["reason"], "maintenance");
        assert_eq!(
            v["error_description"],
            "Sorry, the service is temporarily down for maintenance"
        );
        assert_eq!(v["message"], "Back at 5");
        assert_eq!(v["retry_after"], 120);
    }

    #[test]
    fn html_escapes_the_message() {
        let res = blocked_response(
            &block(Some("<script>x</script> & co"), None),
            &Policy::default(),
            &req(&[]),
        );
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.headers().get("retry-after").is_none());
        let body = res.body();
        assert!(body.contains("Temporarily unavailable"));
        assert!(body.contains("&lt;script&gt;x&lt;/script&gt; &amp; co"));
        assert!(!body.contains("<script>"));
    }

    #[test]
    fn default_message_when_site_has_none() {
        let res = blocked_response(&block(None, Some(30)), &Policy::default(), &req(&[]));
        assert!(
            res.body()
                .contains("Sorry, the service is temporarily down for maintenance")
        );
        assert!(res.body().contains("30 seconds"));
        assert_eq!(res.headers()["retry-after"], "30");
    }

    #[test]
    fn custom_template_is_filled_and_escaped() {
        let policy = Policy::builder()
            .html_template("<h1>{{site}}</h1><p>{{message}}</p><i>{{retry_after}}</i>")
            .build()
            .unwrap();
        let res = blocked_response(&block(Some("a<b"), Some(9)), &policy, &req(&[]));
        assert_eq!(res.body(), "<h1>Shop &lt;1&gt;</h1><p>a&lt;b</p><i>9</i>");
    }

    #[test]
    fn formats_by_headers() {
        use AnswerFormat::*;
        let cases: &[(&[(&str, &str)], AnswerFormat)] = &[
            (&[("accept", "application/problem+json")], Problem),
            (
                &[("accept", "application/problem+json, application/json")],
                Problem,
            ),
            (
                &[("accept", "application/problem+json;q=0.5, application/json")],
                Json,
            ),
            (
                &[("accept", "application/json;q=0.5, application/problem+json")],
                Problem,
            ),
            (
                &[("accept", "text/html, application/problem+json;q=0.9")],
                Html,
            ),
            (&[("accept", "application/problem+json;q=0")], Html),
            (&[("content-type", "application/grpc")], Grpc),
            (&[("content-type", "application/grpc+proto")], Grpc),
            (&[("content-type", "Application/GRPC+json")], Grpc),
            (&[("content-type", "application/grpc-web+proto")], GrpcWeb),
            (&[("content-type", "application/grpc-web-text")], GrpcWeb),
            (&[("content-type", "application/grpcx")], Html),
            (
                &[
                    ("content-type", "application/grpc"),
                    ("accept", "application/json"),
                ],
                Grpc,
            ),
            (&[("content-type", "application/json")], Json),
        ];
        for (headers, want) in cases {
            assert_eq!(answer_format(&req(headers)), *want, "{headers:?}");
        }
    }

    #[test]
    fn problem_json_has_rfc_9457_members() {
        let res = blocked_response(
            &block(Some("Back at 5"), Some(120)),
            &Policy::default(),
            &req(&[("accept", "application/problem+json")]),
        );
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let v: serde_json::Value = serde_json::from_str(res.body()).unwrap();
        assert_eq!(v["type"], "about:blank");
        assert_eq!(v["title"], "Service Unavailable");
        assert_eq!(v["status"], 503);
        assert_eq!(v["detail"], "Back at 5");
        assert_eq!(v["retry_after"], 120);

        let policy = Policy::builder()
            .problem_type(
                "https://example.com/problems/maintenance",
                "Down for maintenance",
            )
            .build()
            .unwrap();
        let res = blocked_response(
            &block(None, None),
            &policy,
            &req(&[("accept", "application/problem+json")]),
        );
        let v: serde_json::Value = serde_json::from_str(res.body()).unwrap();
        assert_eq!(v["type"], "https://example.com/problems/maintenance");
        assert_eq!(v["title"], "Down for maintenance");
        assert_eq!(v["status"], 503);
        assert_eq!(v["detail"], crate::DEFAULT_MESSAGE);
        assert!(v["retry_after"].is_null());
    }

    #[test]
    fn grpc_gets_a_trailers_only_unavailable() {
        let res = blocked_response(
            &block(Some("Back at 5 — 100%"), Some(30)),
            &Policy::default(),
            &req(&[("content-type", "application/grpc")]),
        );
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/grpc");
        assert_eq!(res.headers()["grpc-status"], "14");
        assert_eq!(res.headers()["grpc-message"], "Back at 5 %E2%80%94 100%25");
        assert_eq!(res.headers()["grpc-retry-pushback-ms"], "30000");
        assert!(res.body().is_empty());
        let res = blocked_response(
            &block(None, None),
            &Policy::default(),
            &req(&[("content-type", "application/grpc-web+proto")]),
        );
        assert_eq!(res.headers()["content-type"], "application/grpc-web");
        assert_eq!(
            res.headers()["grpc-message"],
            "Sorry, the service is temporarily down for maintenance"
        );
        assert!(res.headers().get("grpc-retry-pushback-ms").is_none());
    }

    #[test]
    fn browsers_are_redirected_api_clients_are_not() {
        let policy = Policy::builder()
            .redirect_to("https://status.example.com/now")
            .build()
            .unwrap();
        let res = blocked_response(
            &block(None, Some(60)),
            &policy,
            &req(&[("accept", "text/html")]),
        );
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["location"], "https://status.example.com/now");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.headers().get("content-type").is_none());
        assert!(res.body().is_empty());
        for api in [
            ("accept", "application/json"),
            ("accept", "application/problem+json"),
            ("content-type", "application/grpc"),
        ] {
            let res = blocked_response(&block(None, Some(60)), &policy, &req(&[api]));
            assert!(res.headers().get("location").is_none(), "{api:?}");
            assert_ne!(res.status(), 302, "{api:?}");
        }
    }

    #[test]
    fn the_status_page_itself_is_not_redirected() {
        let policy = Policy::builder()
            .redirect_to("/status")
            .redirect_status(307)
            .build()
            .unwrap();
        let at = |path: &str| {
            let r = http::Request::builder().uri(path).body(()).unwrap();
            blocked_response(&block(None, None), &policy, &r)
        };
        let res = at("/shop");
        assert_eq!(res.status(), 307);
        assert_eq!(res.headers()["location"], "/status");
        let res = at("/status?x=1");
        assert_eq!(res.status(), 503);
        assert!(res.body().contains("Temporarily unavailable"));

        let policy = Policy::builder()
            .redirect_to("https://Status.Example.com/")
            .build()
            .unwrap();
        let on_host = |host: &str| {
            let r = http::Request::builder()
                .uri("/")
                .header("host", host)
                .body(())
                .unwrap();
            blocked_response(&block(None, None), &policy, &r).status()
        };
        assert_eq!(on_host("status.example.com:443"), 503);
        assert_eq!(on_host("shop.example.com"), 302);
    }

    #[test]
    fn pages_refresh_when_asked() {
        let html = [("accept", "text/html")];
        let plain = blocked_response(&block(None, Some(120)), &Policy::default(), &req(&html));
        assert!(plain.headers().get("refresh").is_none());

        let policy = Policy::builder().refresh(None).build().unwrap();
        let res = blocked_response(&block(None, Some(120)), &policy, &req(&html));
        assert_eq!(res.headers()["refresh"], "120");
        let res = blocked_response(&block(None, Some(1)), &policy, &req(&html));
        assert_eq!(res.headers()["refresh"], "5");
        let res = blocked_response(&block(None, None), &policy, &req(&html));
        assert!(res.headers().get("refresh").is_none());
        let json = [("accept", "application/json")];
        let res = blocked_response(&block(None, Some(120)), &policy, &req(&json));
        assert!(res.headers().get("refresh").is_none());

        let policy = Policy::builder()
            .refresh(Some(std::time::Duration::from_secs(45)))
            .build()
            .unwrap();
        let res = blocked_response(&block(None, None), &policy, &req(&html));
        assert_eq!(res.headers()["refresh"], "45");
    }

    #[test]
    fn bad_answer_settings_are_named() {
        let cases: Vec<(crate::PolicyBuilder, &[&str])> = vec![
            (
                Policy::builder().redirect_to("ftp://x/"),
                &["redirect_to", "ftp://x/"],
            ),
            (
                Policy::builder().redirect_to("status"),
                &["redirect_to", "status"],
            ),
            (
                Policy::builder().redirect_to("//evil.example"),
                &["redirect_to"],
            ),
            (
                Policy::builder().redirect_to("/s").redirect_status(200),
                &["redirect_status", "200"],
            ),
            (
                Policy::builder().refresh(Some(std::time::Duration::ZERO)),
                &["refresh"],
            ),
            (
                Policy::builder().problem_type("not a uri", "x"),
                &["problem_type", "not a uri"],
            ),
            (
                Policy::builder().problem_type("urn:x:y", " "),
                &["problem_title"],
            ),
        ];
        for (builder, words) in cases {
            let err = crate::ErrorChain(&builder.build().unwrap_err()).to_string();
            for w in words {
                assert!(err.contains(w), "`{err}` should name `{w}`");
            }
        }
    }
}
