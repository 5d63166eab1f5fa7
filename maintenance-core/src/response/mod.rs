//! The blocked response, for adapters and custom servers: its status, headers and a JSON or
//! HTML body, the format a request asks for, and the `Retry-After` of a block.
//!
//! [`blocked_response`] renders the answer from scratch. The live handle does it once per site
//! state instead ([`crate::Maintenance::blocked_answer`]): a site's JSON and HTML bodies are
//! kept beside it in the snapshot and shared by every blocked request, and only a
//! `Retry-After` that counts down to a window's end makes a new body, once per second.

mod answer;
mod negotiation;
mod render;

pub use answer::{BlockedAnswer, blocked_response};
pub use negotiation::{AnswerFormat, answer_format, wants_json};
pub use render::{escape_html, grpc_message, html_body, json_body, problem_body};

pub use crate::decision::retry_after;

#[cfg(test)]
mod tests {
    use super::answer::*;
    use super::negotiation::*;
    use crate::decision::{Block, BlockReason};
    use crate::model::SiteState;
    use crate::policy::Policy;
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
}
