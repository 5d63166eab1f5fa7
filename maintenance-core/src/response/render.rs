//! The bodies of a blocked answer: django-maintenancemode-2's JSON, RFC 9457, the HTML page,
//! gRPC's message, each rendered from the block and the policy.

use serde_json::json;

use super::negotiation::AnswerFormat;
use crate::decision::{Block, BlockReason};
use crate::policy::Policy;

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
/// assert_eq!(maintenance_core::response::grpc_message("Back at 5 — 100%"), "Back at 5 %E2%80%94 100%25");
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

/// The body of `format`: a page, a JSON document, or a gRPC answer's encoded message.
pub(super) fn render_body(block: &Block, policy: &Policy, format: AnswerFormat) -> String {
    match format {
        AnswerFormat::Html => html_body(block, policy),
        AnswerFormat::Json => json_body(block, policy),
        AnswerFormat::Problem => problem_body(block, policy),
        AnswerFormat::Grpc | AnswerFormat::GrpcWeb => grpc_message(block.message(policy)),
    }
}
