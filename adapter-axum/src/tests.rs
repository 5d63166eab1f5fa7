use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::BodyExt;
use maintenance_core::Policy;
use tower::ServiceExt;

use super::*;

use maintenance_core::testkit::{
    internal_test_net_policy, memory_handle as handle, memory_handle_with_bypass,
};

fn counting_app(layer: MaintenanceLayer, hits: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/",
            get(move |Extension(decision): Extension<Decision>| {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    format!("home {}", decision.reason_str())
                }
            }),
        )
        .layer(layer)
}

fn get_req(path: &str) -> Request<Body> {
    Request::builder().uri(path).body(Body::empty()).unwrap()
}

async fn text(res: Response<Body>) -> String {
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn blocked_requests_never_reach_the_inner_service() {
    let (m, _) = handle(true, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let app = counting_app(MaintenanceLayer::new(m), hits.clone());
    for _ in 0..5 {
        let res = app.clone().oneshot(get_req("/")).await.unwrap();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(text(res).await.contains("Temporarily unavailable"));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn allowed_requests_carry_the_decision() {
    let (m, _) = handle(false, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let app = counting_app(MaintenanceLayer::new(m), hits.clone());
    let res = app.oneshot(get_req("/")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(text(res).await, "home not_in_maintenance");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn identity_hook_lets_staff_through() {
    let (m, _) = handle(true, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let layer = MaintenanceLayer::new(m).with_identity(|parts| {
        if parts.headers.contains_key("x-staff") {
            Identity::Staff
        } else {
            Identity::Anonymous
        }
    });
    let app = counting_app(layer, hits.clone());
    let req = Request::builder()
        .uri("/")
        .header("x-staff", "1")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(text(res).await, "home staff");
    let res = app.oneshot(get_req("/")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connect_info_is_the_peer_address() {
    let (m, _) = handle(true, internal_test_net_policy()).await;
    let app = counting_app(MaintenanceLayer::new(m), Arc::default());
    let mut req = get_req("/");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 5555))));
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(text(res).await, "home internal_network");
    let mut req = get_req("/");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 7], 5555))));
    assert_eq!(app.oneshot(req).await.unwrap().status(), 503);
}

#[tokio::test]
async fn bypass_link_sets_a_cookie_that_passes() {
    let (m, _) = memory_handle_with_bypass().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let app = counting_app(MaintenanceLayer::new(m), hits.clone());
    let res = app
        .clone()
        .oneshot(get_req("/_maintenance/bypass/s3cret"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let req = Request::builder()
        .uri("/")
        .header("cookie", pair)
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(text(res).await, "home bypass_cookie");
}

#[tokio::test]
async fn custom_blocked_response_is_used() {
    let (m, _) = handle(true, Policy::default()).await;
    let layer = MaintenanceLayer::new(m).with_blocked_response(|block, parts| {
        let mut res = Response::new(format!(
            "custom {} {}",
            block.status.as_u16(),
            parts.uri.path()
        ));
        *res.status_mut() = block.status;
        res
    });
    let app = counting_app(layer, Arc::default());
    let res = app.oneshot(get_req("/")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(text(res).await, "custom 503 /");
}

#[tokio::test]
async fn json_for_api_clients() {
    let (m, _) = handle(true, Policy::default()).await;
    let app = counting_app(MaintenanceLayer::new(m), Arc::default());
    let req = Request::builder()
        .uri("/")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    assert!(text(res).await.contains("\"reason\":\"maintenance\""));
}

#[tokio::test]
async fn works_on_a_plain_tower_service() {
    let (m, _) = handle(false, Policy::default()).await;
    let svc = tower::service_fn(|req: Request<String>| async move {
        let reason = req.extensions().get::<Decision>().map(Decision::reason_str);
        Ok::<_, Infallible>(Response::new(format!("{reason:?}")))
    });
    let svc = MaintenanceLayer::new(m).layer(svc);
    let res = svc
        .oneshot(Request::builder().uri("/").body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.into_body(), "Some(\"not_in_maintenance\")");
}

/// The README's shape: the layer on the outermost router, with nested routers inside it.
fn readme_router(layer: MaintenanceLayer) -> Router {
    let shop = Router::new()
        .route("/", get(|| async { "shop" }))
        .route("/admin", get(|| async { "shop admin" }));
    Router::new()
        .route("/", get(|| async { "Hello" }))
        .route("/admin/login/", get(|| async { "login" }))
        .nest("/shop", shop)
        .layer(layer)
}

#[tokio::test]
async fn layer_on_the_outermost_router_sees_whole_paths() {
    // The policy ignores `^admin`: `/shop/admin` is not `/admin`, so it must be blocked.
    let (m, _) = handle(true, Policy::default()).await;
    let app = readme_router(MaintenanceLayer::new(m));
    for (path, status) in [
        ("/", 503),
        ("/shop/", 503),
        ("/shop/admin", 503),
        ("/admin/login/", 200),
    ] {
        let res = app.clone().oneshot(get_req(path)).await.unwrap();
        assert_eq!(res.status(), status, "{path}");
    }
}

#[tokio::test]
async fn layer_inside_a_nested_router_still_matches_the_whole_path() {
    // A layer on a nested router sees the URI with the prefix stripped (`/admin` for
    // `/shop/admin`); the layer reads axum's `OriginalUri` so that `^admin` cannot exempt it.
    let (m, _) = handle(true, Policy::default()).await;
    let shop = Router::new()
        .route("/admin", get(|| async { "shop admin" }))
        .layer(MaintenanceLayer::new(m));
    let app = Router::new().nest("/shop", shop);
    let res = app.oneshot(get_req("/shop/admin")).await.unwrap();
    assert_eq!(res.status(), 503);
}
