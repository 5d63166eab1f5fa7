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

/// Whether the client should get JSON: its `Content-Type` is JSON (the seed's rule, with
/// parameters allowed), or its `Accept` header prefers JSON to HTML.
///
/// ```
/// use maintenance_core::wants_json;
/// let req = |k: &str, v: &str| http::Request::builder().header(k, v).body(()).unwrap();
/// assert!(wants_json(&req("accept", "application/json")));
/// assert!(wants_json(&req("content-type", "application/json; charset=utf-8")));
/// assert!(!wants_json(&req("accept", "text/html,application/xhtml+xml,*/*;q=0.8")));
/// ```
pub fn wants_json<R: RequestView + ?Sized>(req: &R) -> bool {
    if req
        .header("content-type")
        .is_some_and(|ct| is_json_type(media_type(ct)))
    {
        return true;
    }
    // An `Accept` that never says `json` cannot prefer it: a browser's, on most blocked
    // requests. Only the others are parsed.
    if !req.header_bytes("accept").any(mentions_json) {
        return false;
    }
    let mut json_q: Option<f32> = None;
    let mut html_q: Option<f32> = None;
    for range in req.header_values("accept").flat_map(|line| line.split(',')) {
        let mut parts = range.split(';');
        let ty = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if is_json_type(ty) {
            json_q = Some(json_q.map_or(q, |old| old.max(q)));
        } else if ty.eq_ignore_ascii_case("text/html")
            || ty.eq_ignore_ascii_case("application/xhtml+xml")
        {
            html_q = Some(html_q.map_or(q, |old| old.max(q)));
        }
    }
    match (json_q, html_q) {
        (Some(j), Some(h)) => j > 0.0 && j >= h,
        (Some(j), None) => j > 0.0,
        _ => false,
    }
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

/// The JSON body: the seed's fields plus `message`, `retry_after` and `mode`.
pub fn json_body(block: &Block, policy: &Policy) -> String {
    json!({
        "code": block.status.as_u16(),
        "error": "temporarily_unavailable",
        "reason": "maintenance",
        "error_description": policy.default_message(),
        "message": block.message(policy),
        "retry_after": block.retry_after,
        "mode": match block.reason {
            BlockReason::ReadOnly => "read-only",
            _ => "full",
        },
    })
    .to_string()
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
/// and JSON or HTML as the client asks, rendered now. A server should use
/// [`crate::Maintenance::blocked_response`], which renders each site's answer once.
///
/// ```
/// use maintenance_core::{blocked_response, Block, BlockReason, Policy};
/// let block = Block { status: http::StatusCode::SERVICE_UNAVAILABLE, retry_after: Some(60),
///     reason: BlockReason::Maintenance, site: None };
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
    let json = wants_json(req);
    let mut res = Response::new(render_body(block, policy, json));
    *res.status_mut() = block.status;
    insert_headers(res.headers_mut(), json, block.retry_after);
    res
}

fn content_type(json: bool) -> &'static str {
    if json {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    }
}

fn render_body(block: &Block, policy: &Policy, json: bool) -> String {
    if json {
        json_body(block, policy)
    } else {
        html_body(block, policy)
    }
}

/// The headers of a blocked answer: `Content-Type`, `Cache-Control: no-store` and, when
/// known, `Retry-After`.
fn header_list(
    json: bool,
    retry_after: Option<u64>,
) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
    [
        Some((
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(json)),
        )),
        Some((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))),
        retry_after.map(|secs| (header::RETRY_AFTER, HeaderValue::from(secs))),
    ]
    .into_iter()
    .flatten()
}

fn insert_headers(headers: &mut HeaderMap, json: bool, retry_after: Option<u64>) {
    headers.reserve(3);
    for (name, value) in header_list(json, retry_after) {
        headers.insert(name, value);
    }
}

/// A blocked request's answer, ready to send: the status, the headers and a body shared by
/// every request that gets the same answer (cloning it copies no bytes).
///
/// Adapters turn it into their framework's response; [`BlockedAnswer::into_response`] makes
/// an `http` one.
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
/// assert_eq!(answer.content_type(), "application/json");
/// assert_eq!(answer.retry_after(), Some(60));
/// let again = maintenance.blocked_answer(&block, &req);
/// assert_eq!(again.body().as_ptr(), answer.body().as_ptr()); // rendered once, shared
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct BlockedAnswer {
    status: StatusCode,
    json: bool,
    retry_after: Option<u64>,
    body: Bytes,
}

impl BlockedAnswer {
    /// The status (the policy's, 503 by default).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `application/json` or `text/html; charset=utf-8`.
    pub fn content_type(&self) -> &'static str {
        content_type(self.json)
    }

    /// Whether the body is JSON (else HTML).
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The `Retry-After` seconds, when known.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The headers to send: `Content-Type`, `Cache-Control: no-store` and, when known,
    /// `Retry-After`.
    pub fn headers(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> + use<> {
        header_list(self.json, self.retry_after)
    }

    /// The answer as an `http` response, for any body made from [`Bytes`] (axum's `Body`,
    /// hyper's `Full<Bytes>`, ...).
    pub fn into_response<B: From<Bytes>>(self) -> Response<B> {
        let mut res = Response::new(B::from(self.body));
        *res.status_mut() = self.status;
        insert_headers(res.headers_mut(), self.json, self.retry_after);
        res
    }

    /// The answer to `block` for a client that wants JSON (`json`) or HTML, its body taken
    /// from `cache` when it holds one rendered by `owner` for the same `Retry-After`, else
    /// rendered now and kept there.
    pub(crate) fn cached(
        cache: &AnswerCache,
        owner: u64,
        block: &Block,
        policy: &Policy,
        json: bool,
    ) -> Self {
        let slot = if json { &cache.json } else { &cache.html };
        let retry_after = block.retry_after;
        let kept = slot.load();
        let body = match kept.as_deref() {
            Some(r) if r.owner == owner && r.retry_after == retry_after => r.body.clone(),
            _ => {
                let body = Bytes::from(render_body(block, policy, json));
                slot.store(Some(Arc::new(Rendered {
                    owner,
                    retry_after,
                    body: body.clone(),
                })));
                body
            }
        };
        BlockedAnswer {
            status: block.status,
            json,
            retry_after,
            body,
        }
    }
}

/// A site's rendered blocked bodies, one for JSON and one for HTML, kept beside it in the
/// snapshot. A site whose state changes is a new site with an empty cache.
#[derive(Default)]
pub(crate) struct AnswerCache {
    json: ArcSwapOption<Rendered>,
    html: ArcSwapOption<Rendered>,
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
        f.debug_struct("AnswerCache")
            .field("json", &self.json.load().is_some())
            .field("html", &self.html.load().is_some())
            .finish()
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
    fn json_body_has_the_seeds_fields() {
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
}
