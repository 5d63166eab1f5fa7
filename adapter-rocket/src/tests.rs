use std::sync::atomic::{AtomicUsize, Ordering};

use maintenance_core::Policy;
use rocket::State;
use rocket::config::LogLevel;
use rocket::http::{Header, Method};
use rocket::local::asynchronous::{Client, LocalResponse};

use super::*;

use maintenance_core::testkit::{
    internal_test_net_policy, memory_handle as handle, memory_handle_retrying_after,
    memory_handle_with_bypass, memory_handle_with_shop_down, response_to_convert,
};

#[derive(Default)]
struct Hits(AtomicUsize);

impl Hits {
    fn hit(&self, decision: Option<MaintenanceReason>) -> String {
        self.0.fetch_add(1, Ordering::SeqCst);
        format!("home {}", decision.map_or("no reason", |d| d.as_str()))
    }
}

#[rocket::get("/")]
fn home(hits: &State<Hits>, decision: Option<MaintenanceReason>) -> String {
    hits.hit(decision)
}

#[rocket::post("/")]
fn post_home(hits: &State<Hits>, decision: Option<MaintenanceReason>) -> String {
    hits.hit(decision)
}

#[rocket::options("/")]
fn options_home(hits: &State<Hits>, decision: Option<MaintenanceReason>) -> String {
    hits.hit(decision)
}

#[rocket::get("/<_..>")]
fn catch_all(hits: &State<Hits>) -> String {
    hits.hit(None)
}

#[rocket::get("/strict")]
fn strict(decision: MaintenanceReason) -> String {
    decision.as_str().to_owned()
}

fn quiet() -> rocket::Config {
    rocket::Config {
        log_level: LogLevel::Off,
        ..rocket::Config::debug_default()
    }
}

/// The test rocket with `fairing`, asked for the allow reason.
async fn client(fairing: Option<MaintenanceFairing>) -> Client {
    raw_client(fairing.map(MaintenanceFairing::with_allow_reason)).await
}

/// The test rocket with `fairing` as it is.
async fn raw_client(fairing: Option<MaintenanceFairing>) -> Client {
    let mut rocket = rocket::custom(quiet())
        .manage(Hits::default())
        .mount("/", rocket::routes![home, post_home, options_home, strict]);
    if let Some(f) = fairing {
        rocket = rocket.attach(f);
    }
    Client::untracked(rocket).await.unwrap()
}

fn hits(client: &Client) -> usize {
    client
        .rocket()
        .state::<Hits>()
        .map_or(usize::MAX, |h| h.0.load(Ordering::SeqCst))
}

/// The response's body as text (empty when there is none).
async fn body(res: LocalResponse<'_>) -> String {
    res.into_string().await.unwrap_or_default()
}

fn header<'a>(res: &'a LocalResponse<'_>, name: &str) -> &'a str {
    res.headers()
        .get_one(name)
        .unwrap_or_else(|| panic!("header {name} missing"))
}

#[tokio::test]
async fn blocked_requests_never_reach_the_handler() {
    let (m, _) = handle(true, Policy::default()).await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    for method in [Method::Get, Method::Post, Method::Options] {
        let res = c.req(method, "/").dispatch().await;
        assert_eq!(res.status().code, 503, "{method}");
        assert_eq!(header(&res, "cache-control"), "no-store");
        assert!(header(&res, "content-type").starts_with("text/html"));
        let body = body(res).await;
        assert!(body.contains("Temporarily unavailable"), "{method}: {body}");
    }
    let head = c.head("/").dispatch().await;
    assert_eq!(head.status().code, 503);
    assert_eq!(header(&head, "cache-control"), "no-store");
    assert_eq!(body(head).await, "", "HEAD has no body");
    assert_eq!(hits(&c), 0);
}

#[tokio::test]
async fn allowed_requests_carry_the_decision() {
    let (m, _) = handle(false, Policy::default()).await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    let res = c.get("/").dispatch().await;
    assert_eq!(res.status().code, 200);
    assert_eq!(body(res).await, "home not_in_maintenance");
    let res = c.post("/").dispatch().await;
    assert_eq!(res.status().code, 200);
    assert_eq!(hits(&c), 2);
}

#[tokio::test]
async fn identity_hook_runs_only_when_the_decision_needs_it() {
    let counted = |m: Maintenance, calls: std::sync::Arc<AtomicUsize>| {
        MaintenanceFairing::new(m).with_identity(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            Identity::Anonymous
        })
    };
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let (m, _) = handle(false, internal_test_net_policy()).await;
    let c = client(Some(counted(m, calls.clone()))).await;
    for _ in 0..3 {
        assert_eq!(c.get("/").dispatch().await.status().code, 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "not in maintenance");

    let (m, _) = handle(true, internal_test_net_policy()).await;
    let c = client(Some(counted(m, calls.clone()))).await;
    let from = |peer: &str| c.get("/").remote(peer.parse().unwrap());
    assert_eq!(from("192.0.2.7:5000").dispatch().await.status().code, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "an internal client");
    assert_eq!(
        from("198.51.100.1:5000").dispatch().await.status().code,
        503
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "asked once");
}

#[tokio::test]
async fn identity_hook_lets_staff_through() {
    let (m, _) = handle(true, Policy::default()).await;
    let fairing = MaintenanceFairing::new(m).with_identity(|req| {
        if req.headers().contains("x-staff") {
            Identity::Staff
        } else {
            Identity::Anonymous
        }
    });
    let c = client(Some(fairing)).await;
    let res = c
        .get("/")
        .header(Header::new("x-staff", "1"))
        .dispatch()
        .await;
    assert_eq!(body(res).await, "home staff");
    assert_eq!(c.get("/").dispatch().await.status().code, 503);
    assert_eq!(hits(&c), 1);
}

#[tokio::test]
async fn peer_address_is_the_connection_not_a_header() {
    let (m, _) = handle(true, internal_test_net_policy()).await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    let res = c
        .get("/")
        .remote("192.0.2.7:5555".parse().unwrap())
        .dispatch()
        .await;
    assert_eq!(body(res).await, "home internal_network");
    let res = c
        .get("/")
        .remote("198.51.100.7:5555".parse().unwrap())
        .header(Header::new("x-forwarded-for", "192.0.2.7"))
        .header(Header::new("x-real-ip", "192.0.2.7"))
        .dispatch()
        .await;
    assert_eq!(res.status().code, 503);
    let res = c
        .get("/")
        .remote("[::ffff:192.0.2.7]:5555".parse().unwrap())
        .dispatch()
        .await;
    assert_eq!(
        body(res).await,
        "home internal_network",
        "a v4-mapped peer on a dual-stack socket counts as its v4 address"
    );
}

#[tokio::test]
async fn bypass_link_sets_a_cookie_that_passes() {
    let (m, _) = memory_handle_with_bypass().await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    let res = c.get("/_maintenance/bypass/s3cret").dispatch().await;
    assert_eq!(res.status().code, 303);
    assert_eq!(header(&res, "location"), "/");
    assert_eq!(header(&res, "cache-control"), "no-store");
    let cookie = header(&res, "set-cookie").to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert_eq!(body(res).await, "");
    assert_eq!(hits(&c), 0);
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    let res = c
        .get("/")
        .header(Header::new("cookie", pair))
        .dispatch()
        .await;
    assert_eq!(body(res).await, "home bypass_cookie");
    assert_eq!(hits(&c), 1);
}

#[tokio::test]
async fn custom_blocked_response_sees_the_original_request() {
    let (m, _) = handle(true, Policy::default()).await;
    let fairing = MaintenanceFairing::new(m).with_blocked_response(|block, req| {
        let mut res = http::Response::new(format!(
            "custom {} {} {}",
            block.status.as_u16(),
            req.method(),
            req.uri()
        ));
        *res.status_mut() = block.status;
        res.headers_mut()
            .insert("x-custom", http::HeaderValue::from_static("yes"));
        res
    });
    let c = client(Some(fairing)).await;
    let res = c.post("/?a=1").dispatch().await;
    assert_eq!(res.status().code, 503);
    assert_eq!(header(&res, "x-custom"), "yes");
    assert_eq!(body(res).await, "custom 503 POST /?a=1");
    assert_eq!(hits(&c), 0);
}

#[tokio::test]
async fn json_with_retry_after_for_api_clients() {
    let (m, _) = memory_handle_retrying_after(120).await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    let res = c
        .get("/")
        .header(Header::new("accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(header(&res, "content-type"), "application/json");
    assert_eq!(header(&res, "retry-after"), "120");
    let body = body(res).await;
    assert!(body.contains("\"reason\":\"maintenance\""), "{body}");
    assert!(body.contains("\"retry_after\":120"), "{body}");
}

#[tokio::test]
async fn sites_are_chosen_by_host_header() {
    let (m, _) = memory_handle_with_shop_down().await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    let status = |host: &'static str| {
        let req = c.get("/").header(Header::new("Host", host));
        async move { req.dispatch().await.status().code }
    };
    assert_eq!(status("SHOP.test:8080").await, 503);
    assert_eq!(status("blog.test").await, 200);
}

#[tokio::test]
async fn a_greedy_catch_all_route_does_not_run_either() {
    let (m, _) = handle(true, Policy::default()).await;
    let rocket = rocket::custom(quiet())
        .manage(Hits::default())
        .mount("/", rocket::routes![catch_all])
        .attach(MaintenanceFairing::new(m));
    let c = Client::untracked(rocket).await.unwrap();
    for path in ["/", "/anything/at/all", ANSWER_PATH] {
        assert_eq!(c.get(path).dispatch().await.status().code, 503, "{path}");
    }
    assert_eq!(hits(&c), 0);
}

#[test]
fn the_answer_path_is_where_the_route_is_mounted() {
    assert_eq!(format!("{ANSWER_BASE}{ANSWER_ROUTE}"), ANSWER_PATH);
    assert!(Origin::parse(ANSWER_PATH).is_ok());
}

#[tokio::test]
async fn the_hidden_route_answers_only_rewritten_requests() {
    let (m, _) = handle(false, Policy::default()).await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    assert_eq!(c.get(ANSWER_PATH).dispatch().await.status().code, 404);
}

#[tokio::test]
async fn the_guard_needs_the_fairing_with_allow_reason() {
    let c = client(None).await;
    assert_eq!(c.get("/strict").dispatch().await.status().code, 500);
    let res = c.get("/").dispatch().await;
    assert_eq!(body(res).await, "home no reason");

    let (m, _) = handle(false, Policy::default()).await;
    let c = raw_client(Some(MaintenanceFairing::new(m))).await;
    assert_eq!(c.get("/strict").dispatch().await.status().code, 500);
    let res = c.get("/").dispatch().await;
    assert_eq!(body(res).await, "home no reason");

    let (m, _) = handle(false, Policy::default()).await;
    let c = client(Some(MaintenanceFairing::new(m))).await;
    let res = c.get("/strict").dispatch().await;
    assert_eq!(body(res).await, "not_in_maintenance");
}

#[tokio::test]
async fn request_view_reads_rocket_requests() {
    let c = client(None).await;
    let req = c
        .post("/items/%41?x=1")
        .header(Header::new("Host", "api.example.com"))
        .header(Header::new("x-forwarded-for", "1.1.1.1"))
        .header(Header::new("X-Forwarded-For", "2.2.2.2"));
    let view = RocketRequest::new(req.inner());
    assert_eq!(view.method(), "POST");
    assert_eq!(view.host(), Some("api.example.com"));
    assert_eq!(view.path(), "/items/%41");
    assert_eq!(
        view.header_values("x-forwarded-for").collect::<Vec<_>>(),
        ["1.1.1.1", "2.2.2.2"]
    );
    assert_eq!(view.header("not a header name"), None);
    assert_eq!(view.peer_addr(), None);
}

#[test]
fn conversion_keeps_status_headers_and_body() {
    let res = response_to_convert();
    let out = to_rocket_response(&res);
    assert_eq!(out.status().code, 599);
    assert_eq!(out.headers().get("set-cookie").count(), 2);
    assert_eq!(
        out.headers().get_one("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(out.body().preset_size(), Some("<p>down</p>".len()));
}

#[rocket::async_test]
async fn answers_carry_the_cores_headers() {
    for (name, answer) in maintenance_core::testkit::blocked_answers_of_every_kind().await {
        let res = answer_response(&answer);
        assert_eq!(res.status().code, answer.status().as_u16(), "{name}");
        let got = res
            .headers()
            .iter()
            .map(|h| (h.name().as_str().to_owned(), h.value().to_owned()));
        maintenance_core::testkit::assert_answer_headers(name, &answer, got);
    }
}
