use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::{BodyExt, Full};
use maintenance_core::{AllowReason, Policy};
use tower::ServiceExt;

use super::*;

use maintenance_core::testkit::{
    internal_test_net_policy, memory_handle as handle, memory_handle_with_bypass,
};

fn counting_app(layer: MaintenanceLayer, hits: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route(
            "/",
            get(move |reason: Option<Extension<AllowReason>>| {
                let hits = hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    format!("home {}", reason.map_or("-", |r| r.as_str()))
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
async fn allowed_requests_carry_the_reason_when_asked() {
    let (m, _) = handle(false, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let app = counting_app(
        MaintenanceLayer::new(m.clone()).with_allow_reason(),
        hits.clone(),
    );
    let res = app.oneshot(get_req("/")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(text(res).await, "home not_in_maintenance");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // Without `with_allow_reason` the layer leaves the extensions alone.
    let app = counting_app(MaintenanceLayer::new(m), hits.clone());
    let res = app.oneshot(get_req("/")).await.unwrap();
    assert_eq!(text(res).await, "home -");
}

/// A layer whose identity hook counts its calls and says "anonymous".
fn counted_identity(m: Maintenance, calls: Arc<AtomicUsize>) -> MaintenanceLayer {
    MaintenanceLayer::new(m).with_identity(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        Identity::Anonymous
    })
}

#[tokio::test]
async fn identity_hook_runs_only_when_the_decision_needs_it() {
    let peer = |ip: [u8; 4]| ConnectInfo(std::net::SocketAddr::from((ip, 5000)));
    // Not in maintenance: nobody needs to know who is asking.
    let (m, _) = handle(false, internal_test_net_policy()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let app = counting_app(counted_identity(m, calls.clone()), Arc::default());
    for _ in 0..3 {
        let res = app.clone().oneshot(get_req("/")).await.unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // In maintenance: an internal client passes before the identity step; anyone else is
    // asked about exactly once.
    let (m, _) = handle(true, internal_test_net_policy()).await;
    let app = counting_app(counted_identity(m, calls.clone()), Arc::default());
    let mut internal = get_req("/");
    internal.extensions_mut().insert(peer([192, 0, 2, 7]));
    assert_eq!(app.clone().oneshot(internal).await.unwrap().status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let mut outside = get_req("/");
    outside.extensions_mut().insert(peer([198, 51, 100, 1]));
    assert_eq!(app.oneshot(outside).await.unwrap().status(), 503);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn blocked_answers_are_rendered_once_per_site_state() {
    let (m, _) = handle(true, Policy::default()).await;
    let app = counting_app(MaintenanceLayer::new(m), Arc::default());
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let res = app.clone().oneshot(get_req("/")).await.unwrap();
        assert_eq!(res.status(), 503);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        bodies.push(body);
    }
    assert!(bodies[0].starts_with(b"<!DOCTYPE html>"));
    assert!(
        bodies.iter().all(|b| b.as_ptr() == bodies[0].as_ptr()),
        "one shared body"
    );
}

#[test]
#[should_panic(expected = "polled after completion")]
fn a_ready_future_polled_again_panics() {
    let mut future = std::pin::pin!(ResponseFuture::<
        std::future::Ready<Result<Response<Body>, Infallible>>,
        Body,
    >::ready(Response::new(Body::empty())));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_ready());
    let _ = future.as_mut().poll(&mut cx);
}

#[tokio::test]
async fn identity_hook_lets_staff_through() {
    let (m, _) = handle(true, Policy::default()).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let layer = MaintenanceLayer::new(m)
        .with_allow_reason()
        .with_identity(|parts| {
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
    let app = counting_app(MaintenanceLayer::new(m).with_allow_reason(), Arc::default());
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
    let app = counting_app(MaintenanceLayer::new(m).with_allow_reason(), hits.clone());
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
        let reason = req
            .extensions()
            .get::<AllowReason>()
            .map(AllowReason::as_str);
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!("{reason:?}")))))
    });
    let svc = MaintenanceLayer::new(m).with_allow_reason().layer(svc);
    let res = svc
        .oneshot(Request::builder().uri("/").body(String::new()).unwrap())
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "Some(\"not_in_maintenance\")");
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
