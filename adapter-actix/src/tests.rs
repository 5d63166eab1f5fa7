use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::dev::ServiceResponse;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, HttpResponse, web};
use maintenance_core::{AllowReason, Policy};

use super::*;

use maintenance_core::testkit::{
    internal_test_net_policy, memory_handle as handle, memory_handle_retrying_after,
    memory_handle_with_bypass, memory_handle_with_shop_down, response_to_convert,
};

/// An app whose only handler counts its calls and answers with the reason the middleware
/// left (`with_allow_reason` is added), or `-`.
macro_rules! counting_app {
    ($middleware:expr, $hits:expr) => {
        counting_app!(raw $middleware.with_allow_reason(), $hits)
    };
    (raw $middleware:expr, $hits:expr) => {{
        let hits: Arc<AtomicUsize> = $hits;
        init_service(App::new().wrap($middleware).route(
            "/",
            web::route().to(move |reason: Option<web::ReqData<AllowReason>>| {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let reason = reason.map_or("-", |r| r.as_str());
                    HttpResponse::Ok().body(format!("home {reason}"))
                }
            }),
        ))
        .await
    }};
}

fn header<'a>(headers: &'a actix_web::http::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("header {name} missing or not text"))
}

async fn text<B: MessageBody>(res: ServiceResponse<B>) -> String {
    String::from_utf8(read_body(res).await.to_vec()).unwrap()
}

#[actix_web::test]
async fn blocked_requests_never_reach_the_inner_service() {
    let (m, _) = handle(true, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let app = counting_app!(MaintenanceMode::new(m), hits.clone());
    for method in ["GET", "POST", "HEAD", "OPTIONS"] {
        let req = TestRequest::default()
            .method(method.parse().unwrap())
            .uri("/")
            .to_request();
        let res = call_service(&app, req).await;
        assert_eq!(res.status(), 503, "{method}");
        assert_eq!(header(res.headers(), "cache-control"), "no-store");
        assert!(text(res).await.contains("Temporarily unavailable"));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn allowed_requests_carry_the_decision() {
    // Only when asked: without `with_allow_reason` the extensions are left alone.
    for (asked, body) in [(true, "home not_in_maintenance"), (false, "home -")] {
        let (m, _) = handle(false, Policy::default()).await;
        let middleware = if asked {
            MaintenanceMode::new(m).with_allow_reason()
        } else {
            MaintenanceMode::new(m)
        };
        let hits = Arc::new(AtomicUsize::new(0));
        let app = counting_app!(raw middleware, hits.clone());
        let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
        assert_eq!(res.status(), 200, "{body}");
        assert_eq!(text(res).await, body);
        assert_eq!(hits.load(Ordering::SeqCst), 1, "{body}");
    }
}

#[actix_web::test]
async fn identity_hook_runs_only_when_the_decision_needs_it() {
    let counted = |m: Maintenance, calls: Arc<AtomicUsize>| {
        MaintenanceMode::new(m).with_identity(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            Identity::Anonymous
        })
    };
    let calls = Arc::new(AtomicUsize::new(0));
    let (m, _) = handle(false, internal_test_net_policy()).await;
    let app = counting_app!(counted(m, calls.clone()), Arc::default());
    for _ in 0..3 {
        let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "not in maintenance");

    let (m, _) = handle(true, internal_test_net_policy()).await;
    let app = counting_app!(counted(m, calls.clone()), Arc::default());
    let from = |peer: &str| {
        TestRequest::get()
            .uri("/")
            .peer_addr(peer.parse().unwrap())
            .to_request()
    };
    assert_eq!(
        call_service(&app, from("192.0.2.7:5000")).await.status(),
        200
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "an internal client");
    assert_eq!(
        call_service(&app, from("198.51.100.1:5000")).await.status(),
        503
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "asked once");
}

#[actix_web::test]
async fn identity_hook_lets_staff_through() {
    let (m, _) = handle(true, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let middleware = MaintenanceMode::new(m).with_identity(|req| {
        if req.headers().contains_key("x-staff") {
            Identity::Staff
        } else {
            Identity::Anonymous
        }
    });
    let app = counting_app!(middleware, hits.clone());
    let req = TestRequest::get()
        .uri("/")
        .insert_header(("x-staff", "1"))
        .to_request();
    assert_eq!(text(call_service(&app, req).await).await, "home staff");
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), 503);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn peer_address_is_the_connection_not_a_header() {
    let (m, _) = handle(true, internal_test_net_policy()).await;
    let app = counting_app!(MaintenanceMode::new(m), Arc::default());
    let cases = [
        ("192.0.2.7:5555", None, 200, "an internal peer"),
        (
            "198.51.100.7:5555",
            Some("192.0.2.7"),
            503,
            "an outside peer naming an internal client in a header",
        ),
        (
            "[::ffff:192.0.2.7]:5555",
            None,
            200,
            "a v4-mapped peer on a dual-stack socket counts as its v4 address",
        ),
    ];
    for (peer, forwarded_for, status, why) in cases {
        let mut req = TestRequest::get().uri("/").peer_addr(peer.parse().unwrap());
        if let Some(client) = forwarded_for {
            req = req.insert_header(("x-forwarded-for", client));
        }
        let res = call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), status, "{why}");
        if status == 200 {
            assert_eq!(text(res).await, "home internal_network", "{why}");
        }
    }
}

#[actix_web::test]
async fn bypass_link_sets_a_cookie_that_passes() {
    let (m, _) = memory_handle_with_bypass().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let app = counting_app!(MaintenanceMode::new(m), hits.clone());
    let req = TestRequest::get()
        .uri("/_maintenance/bypass/s3cret")
        .to_request();
    let res = call_service(&app, req).await;
    assert_eq!(res.status(), 303);
    assert_eq!(header(res.headers(), "location"), "/");
    assert_eq!(header(res.headers(), "cache-control"), "no-store");
    let cookie = header(res.headers(), "set-cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let req = TestRequest::get()
        .uri("/")
        .insert_header(("cookie", pair))
        .to_request();
    assert_eq!(
        text(call_service(&app, req).await).await,
        "home bypass_cookie"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn custom_blocked_response_is_used() {
    let (m, _) = handle(true, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let middleware = MaintenanceMode::new(m).with_blocked_response(|block, req| {
        HttpResponse::build(StatusCode::from_u16(block.status.as_u16()).unwrap()).body(format!(
            "custom {} {}",
            block.status.as_u16(),
            req.path()
        ))
    });
    let app = counting_app!(middleware, hits.clone());
    let res = call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), 503);
    assert_eq!(text(res).await, "custom 503 /");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn json_with_retry_after_for_api_clients() {
    let (m, _) = memory_handle_retrying_after(120).await;
    let app = counting_app!(MaintenanceMode::new(m), Arc::default());
    let req = TestRequest::get()
        .uri("/")
        .insert_header(("accept", "application/json"))
        .to_request();
    let res = call_service(&app, req).await;
    assert_eq!(header(res.headers(), "content-type"), "application/json");
    assert_eq!(header(res.headers(), "retry-after"), "120");
    let body = text(res).await;
    assert!(body.contains("\"reason\":\"maintenance\""), "{body}");
    assert!(body.contains("\"retry_after\":120"), "{body}");
}

#[actix_web::test]
async fn sites_are_chosen_by_host_header() {
    let (m, _) = memory_handle_with_shop_down().await;
    let app = counting_app!(MaintenanceMode::new(m), Arc::default());
    let for_host = |host: &str| {
        TestRequest::get()
            .uri("/")
            .insert_header(("host", host))
            .to_request()
    };
    assert_eq!(
        call_service(&app, for_host("SHOP.test:8080"))
            .await
            .status(),
        503
    );
    assert_eq!(
        call_service(&app, for_host("blog.test")).await.status(),
        200
    );
}

#[test]
fn request_view_reads_actix_requests() {
    let req = TestRequest::post()
        .uri("http://api.example.com/items/%41?x=1")
        .insert_header(("x-forwarded-for", "1.1.1.1"))
        .append_header(("x-forwarded-for", "2.2.2.2"))
        .insert_header(("x-bad", &b"\xff"[..]))
        .to_http_request();
    let view = ActixRequest::new(&req);
    assert_eq!(view.method(), "POST");
    assert_eq!(view.host(), Some("api.example.com"), "the URI's authority");
    assert_eq!(view.path(), "/items/%41");
    assert_eq!(
        view.header_values("X-Forwarded-For").collect::<Vec<_>>(),
        ["1.1.1.1", "2.2.2.2"]
    );
    assert_eq!(view.header("x-bad"), None, "values that are not text");
    assert_eq!(
        view.header_bytes("x-bad").collect::<Vec<_>>(),
        [&b"\xff"[..]],
        "but kept as bytes"
    );
    assert_eq!(view.header("not a header name"), None);
    assert_eq!(view.peer_addr(), None);

    let req = TestRequest::get()
        .uri("http://a.example/")
        .insert_header(("host", "b.example"))
        .to_http_request();
    assert_eq!(
        ActixRequest::new(&req).host(),
        Some("a.example"),
        "an absolute-form target wins over Host (RFC 9112 §3.2.2)"
    );
    let req = TestRequest::get()
        .uri("/")
        .insert_header(("host", "b.example"))
        .to_http_request();
    assert_eq!(ActixRequest::new(&req).host(), Some("b.example"));
}

#[actix_web::test]
async fn conversion_keeps_status_headers_and_body() {
    let res = response_to_convert();
    let res = to_http_response(res);
    assert_eq!(res.status().as_u16(), 599);
    assert_eq!(res.headers().get_all("set-cookie").count(), 2);
    assert_eq!(
        header(res.headers(), "content-type"),
        "text/html; charset=utf-8",
        "the core's content type, not a default"
    );
    let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
    assert_eq!(&body[..], b"<p>down</p>");
}

#[actix_web::test]
async fn middleware_on_a_scope_matches_the_whole_path() {
    // The policy ignores `^admin`; under `web::scope("/shop")` the middleware must still see
    // `/shop/admin`, not `/admin`, so that it is blocked.
    let (m, _) = handle(true, Policy::default()).await;
    let app = init_service(App::new().service(
        web::scope("/shop").wrap(MaintenanceMode::new(m)).route(
            "/admin",
            web::get().to(|| async { HttpResponse::Ok().body("shop admin") }),
        ),
    ))
    .await;
    let res = call_service(&app, TestRequest::get().uri("/shop/admin").to_request()).await;
    assert_eq!(res.status(), 503);
}

#[actix_web::test]
async fn answers_carry_the_cores_headers() {
    for (name, answer) in maintenance_core::testkit::blocked_answers_of_every_kind().await {
        let res = answer_response(&answer);
        assert_eq!(res.status().as_u16(), answer.status().as_u16(), "{name}");
        maintenance_core::testkit::assert_answer_headers(name, &answer, res.headers());
    }
}

/// 0.1's names still build the same middleware, with a deprecation warning.
#[actix_web::test]
#[allow(deprecated)]
async fn the_names_of_0_1_still_block() {
    let (m, _) = handle(true, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let old: MaintenanceMiddleware = MaintenanceMiddleware::new(m);
    let app = counting_app!(old, hits.clone());
    let res = call_service(&app, TestRequest::default().uri("/").to_request()).await;
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let _service_name: Option<MaintenanceMiddlewareService<()>> = None;
}
