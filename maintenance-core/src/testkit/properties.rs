//! Properties of the decision and of the client address that hold for every request, checked
//! the same way by the property tests and the fuzz targets.
//!
//! Each check runs the code under test on a [`RawRequest`] and returns what it answered, or a
//! description of the property it broke. When `http` can carry the request unchanged
//! ([`RawRequest::to_http`]), the check also runs on the `http` request and requires the same
//! answer, so the raw type stays a faithful stand-in for real requests.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use super::RawRequest;
use crate::client_ip::{ClientIpHeader, client_ip, in_networks};
use crate::decision::{AllowReason, Decision, decide};
use crate::policy::Policy;
use crate::request::{Identity, RequestView};
use crate::response::blocked_response;
use crate::snapshot::Snapshot;

/// The bypass secret of the sites in property inputs.
pub const PROPERTY_SECRET: &str = "open-sesame";

/// The peer address property inputs use as a trusted proxy.
pub const PROPERTY_PEER: &str = "10.0.0.2";

/// Pieces of request paths: segments, dot segments, escapes (well-formed, malformed and
/// encoding separators), the bypass path and its secret.
pub const PATH_PIECES: &[&str] = &[
    "/",
    "/",
    "admin",
    "static",
    "api",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2f",
    "%5c",
    "%25",
    "%",
    ";",
    "%3b",
    "\\",
    "%00",
    "\0",
    "é",
    "%C3%A9",
    "%c3",
    "%zz",
    "_maintenance",
    "bypass",
    PROPERTY_SECRET,
];

/// Pieces of forwarding header lines: addresses in every form the parser reads (the first
/// ten, [`PROPERTY_PEER`] first), `Forwarded` syntax and separators.
pub const ADDRESS_PIECES: &[&str] = &[
    PROPERTY_PEER,
    "::ffff:10.0.0.2",
    "[::ffff:10.0.0.2]:443",
    "10.0.0.3",
    "203.0.113.9",
    "203.0.113.9:5555",
    "198.51.100.7",
    "2001:db8::1",
    "[2001:db8::1]:80",
    "\"[2001:db8::1]\"",
    "for=",
    "For=",
    "proto=https",
    "by=10.0.0.3",
    "unknown",
    "_hidden",
    ",",
    ", ",
    ";",
    " ",
    "\t",
    "\"",
];

/// Header names the decision reads, in several cases.
pub const HEADER_NAMES: &[&str] = &[
    "host",
    "Host",
    "x-forwarded-for",
    "X-Forwarded-For",
    "forwarded",
    "x-real-ip",
    "X-Real-IP",
    "cookie",
    "accept",
    "content-type",
    "x-maintenance-bypass",
];

/// Runs [`decide`] (and [`blocked_response`] on a block, the grant's response on a bypass)
/// and checks that:
///
/// - a block carries the policy's status, and its response has that status,
///   `Cache-Control: no-store` and the block's `Retry-After`;
/// - an [`AllowReason::IgnoredPath`] is never given to a path that [`path_is_ambiguous`];
/// - a bypass link is only honoured for `GET`;
/// - the `http` copy of the request, when there is one, gets the same decision.
///
/// # Errors
/// A description of the first property broken.
pub fn check_decision(
    snapshot: Option<&Snapshot>,
    policy: &Policy,
    req: &RawRequest,
    identity: Identity,
    now: DateTime<Utc>,
) -> Result<Decision, String> {
    let status = |d: &Decision| match d {
        Decision::Block(b) => Some(b.status),
        _ => None,
    };
    let inputs = DecisionInputs {
        snapshot,
        policy,
        identity,
        now,
    };
    let decision = decision_properties(&inputs, req)?;
    let other = req
        .to_http()
        .map(|http| decision_properties(&inputs, &http));
    same_on_http(req, decision, other, |a, b| {
        a.reason_str() == b.reason_str() && status(a) == status(b)
    })
}

/// Requires the answer for the `http` copy of `req`, when there is one, to be `same` as the
/// raw request's `answer`.
fn same_on_http<T: std::fmt::Debug>(
    req: &RawRequest,
    answer: T,
    other: Option<Result<T, String>>,
    same: impl Fn(&T, &T) -> bool,
) -> Result<T, String> {
    if let Some(other) = other {
        let other = other?;
        if !same(&answer, &other) {
            return Err(format!(
                "the raw request got {answer:?} but its http copy {other:?}: {req:?}"
            ));
        }
    }
    Ok(answer)
}

/// Everything [`decide`] takes but the request: the raw request and its `http` copy are
/// decided under the same inputs.
struct DecisionInputs<'a> {
    snapshot: Option<&'a Snapshot>,
    policy: &'a Policy,
    identity: Identity,
    now: DateTime<Utc>,
}

fn decision_properties<R: RequestView + ?Sized>(
    inputs: &DecisionInputs<'_>,
    req: &R,
) -> Result<Decision, String> {
    let &DecisionInputs {
        snapshot,
        policy,
        identity,
        now,
    } = inputs;
    let decision = decide(snapshot, policy, req, identity, now);
    match &decision {
        Decision::Block(block) => {
            if block.status != policy.status() {
                return Err(format!(
                    "block status {} is not the policy's {}",
                    block.status,
                    policy.status()
                ));
            }
            let res = blocked_response(block, policy, req);
            if res.status() != block.status {
                return Err(format!(
                    "response status {} is not the block's {}",
                    res.status(),
                    block.status
                ));
            }
            if res.headers().get(http::header::CACHE_CONTROL)
                != Some(&http::HeaderValue::from_static("no-store"))
            {
                return Err("blocked response may be cached".to_owned());
            }
            let retry = res
                .headers()
                .get(http::header::RETRY_AFTER)
                .map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
            if retry != block.retry_after.map(Some) {
                return Err(format!(
                    "Retry-After {retry:?} is not the block's {:?}",
                    block.retry_after
                ));
            }
        }
        Decision::Allow(AllowReason::IgnoredPath) if path_is_ambiguous(req.path()) => {
            return Err(format!("ambiguous path {:?} was ignored", req.path()));
        }
        Decision::Bypass(grant) => {
            if req.method() != "GET" {
                return Err(format!("bypass link honoured for {:?}", req.method()));
            }
            let _ = grant.to_response();
        }
        Decision::Status(_) => {
            return Err("`decide` answered the status path, which only the handle answers".into());
        }
        Decision::Allow(_) => {}
    }
    Ok(decision)
}

/// Runs [`client_ip`] and checks that the address fails closed:
///
/// - without a peer address there is none;
/// - a peer that is not a trusted proxy is the client, whatever it sends;
/// - behind a trusted proxy there is none when the configured header is missing or one of its
///   lines holds a byte other than visible ASCII, space or tab;
/// - an address found behind a trusted proxy is written in the header ([`names_address`]),
///   so in particular it is never the proxy itself unless the header says so;
/// - the `http` copy of the request, when there is one, gets the same address.
///
/// # Errors
/// A description of the first property broken.
pub fn check_client_ip(
    req: &RawRequest,
    trusted: &[IpNet],
    header: &ClientIpHeader,
) -> Result<Option<IpAddr>, String> {
    let ip = client_ip_properties(req, trusted, header)?;
    let other = req
        .to_http()
        .map(|http| client_ip_properties(&http, trusted, header));
    same_on_http(req, ip, other, |a, b| a == b)
}

fn client_ip_properties<R: RequestView + ?Sized>(
    req: &R,
    trusted: &[IpNet],
    header: &ClientIpHeader,
) -> Result<Option<IpAddr>, String> {
    let ip = client_ip(req, trusted, header);
    let Some(peer) = req.peer_addr() else {
        return match ip {
            None => Ok(None),
            Some(ip) => Err(format!("{ip} found without a peer address")),
        };
    };
    let peer = peer.to_canonical();
    if !in_networks(trusted, peer) {
        return if ip == Some(peer) {
            Ok(ip)
        } else {
            Err(format!("untrusted peer {peer} gave {ip:?}"))
        };
    }
    let name = match header {
        ClientIpHeader::XForwardedFor => "x-forwarded-for",
        ClientIpHeader::Forwarded => "forwarded",
        ClientIpHeader::Named(name) => name.as_str(),
    };
    let lines: Vec<&[u8]> = req.header_bytes(name).collect();
    let Some(ip) = ip else {
        return Ok(None);
    };
    if lines.is_empty() {
        return Err(format!(
            "{ip} found behind trusted {peer} without a {name} header"
        ));
    }
    if let Some(line) = lines.iter().find(|line| !is_text(line)) {
        return Err(format!(
            "{ip} found behind trusted {peer} though a {name} line is not text: {line:?}"
        ));
    }
    if !names_address(&lines, ip) {
        let what = if ip == peer {
            "the trusted peer"
        } else {
            "an address"
        };
        return Err(format!(
            "{what} {ip} was found that the {name} header does not name: {lines:?}"
        ));
    }
    Ok(Some(ip))
}

/// Whether a header line is text: visible ASCII, spaces and tabs only. Written apart from
/// [`crate::adapter::header_text`] so the check does not trust the code it checks.
fn is_text(line: &[u8]) -> bool {
    line.iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// The longest textual form of an address (an IPv6 address with an embedded IPv4 one).
const LONGEST_ADDRESS: usize = 45;

/// Whether the lines write `ip` (IPv4-mapped IPv6 counting as IPv4): some run of bytes that
/// can make up an address (hex digits, `.`, `:`) starts with it. A deliberately loose reading
/// written apart from the parser: an address in `1.2.3.4:80`, `"[::1]"` or `for=...` always
/// starts such a run, since what comes before it (`,`, space, `"`, `[`, `=`) cannot be part
/// of one, and may be followed by a port.
///
/// ```
/// use maintenance_core::testkit::names_address;
/// let ip = "2001:db8::1".parse().unwrap();
/// assert!(names_address(&[b"for=\"[2001:db8::1]:80\";proto=https"], ip));
/// assert!(names_address(&[b"10.0.0.1", b" 10.0.0.9:5555"], "10.0.0.9".parse().unwrap()));
/// assert!(!names_address(&[b"110.0.0.9"], "10.0.0.9".parse().unwrap()));
/// ```
pub fn names_address(lines: &[&[u8]], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let address_byte = |b: &u8| b.is_ascii_hexdigit() || matches!(b, b'.' | b':');
    lines.iter().any(|line| {
        line.split(|b| !address_byte(b)).any(|run| {
            (2..=run.len().min(LONGEST_ADDRESS)).any(|end| {
                std::str::from_utf8(&run[..end])
                    .ok()
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .is_some_and(|found| found.to_canonical() == ip)
            })
        })
    })
}

/// Whether a path, once percent-decoded (only well-formed `%XX` escapes, like a lenient
/// server), could be read as another path: it holds a `%`, `;`, `\` or NUL, an empty segment
/// (`//`, or a leading `/` after the first), or a `.` or `..` segment.
///
/// ```
/// use maintenance_core::testkit::path_is_ambiguous;
/// assert!(path_is_ambiguous("/admin/%2e%2e/shop"));
/// assert!(path_is_ambiguous("/admin%3b"));
/// assert!(path_is_ambiguous("/a/%2f/b"));
/// assert!(!path_is_ambiguous("/admin/caf%C3%A9"));
/// ```
pub fn path_is_ambiguous(path: &str) -> bool {
    let relative = path.strip_prefix('/').unwrap_or(path);
    let decoded = lenient_percent_decode(relative.as_bytes());
    let decoded = String::from_utf8_lossy(&decoded);
    decoded.contains(['%', ';', '\\', '\0'])
        || decoded.starts_with('/')
        || decoded.contains("//")
        || decoded.split('/').any(|seg| seg == "." || seg == "..")
}

fn lenient_percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 3)
            .filter(|hex| bytes[i] == b'%' && hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}
