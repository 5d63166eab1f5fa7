//! Which form of answer a client asks for: [`answer_format`] reads `Accept`, `Content-Type`
//! and gRPC's content types.

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
    pub(crate) fn slot(self) -> usize {
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
/// use maintenance_core::{response::answer_format, response::AnswerFormat};
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
/// use maintenance_core::response::wants_json;
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
