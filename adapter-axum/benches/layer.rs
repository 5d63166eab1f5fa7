//! The layer's cost in-process: the same axum router with and without `MaintenanceLayer`
//! around it, requests driven through the service on one thread, no sockets. The cases are
//! the core testkit's `ServingCase`s: `bare` (no layer) against `off` (the layer, the site not
//! in maintenance), and the answers while in maintenance (blocked, ignored path, 50 patterns
//! and 20 networks, bypass cookie). Requests are built outside the timed part.
#![allow(missing_docs)]

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use maintenance_axum::MaintenanceLayer;
use maintenance_core::Identity;
use maintenance_core::testkit::{
    SERVING_ACCEPT, SERVING_HOST, SERVING_PEER, ServingCase, serving_case,
};
use tower::util::Either;
use tower::{Layer, ServiceExt};

type App = Either<maintenance_axum::MaintenanceService<Router>, Router>;

fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { "This is the home view." }))
        .route("/admin/login/", get(|| async { "Log in" }))
}

fn request(case: ServingCase, cookie: &str) -> http::Request<Body> {
    let mut req = http::Request::builder()
        .uri(case.path())
        .header("host", SERVING_HOST)
        .header("accept", SERVING_ACCEPT)
        .header("cookie", cookie)
        .body(Body::empty())
        .expect("a request");
    let peer: SocketAddr = SERVING_PEER.parse().expect("an address");
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("axum");
    for case in ServingCase::ALL {
        let (maintenance, cookie) = rt.block_on(serving_case(case));
        let app: App = match maintenance {
            // The identity hook of an app with sessions: read the cookie line.
            Some(m) => Either::Left(
                MaintenanceLayer::new(m)
                    .with_identity(|parts| {
                        match parts.headers.get("cookie").map(|v| v.as_bytes()) {
                            Some(b"session=staff") => Identity::Staff,
                            _ => Identity::Anonymous,
                        }
                    })
                    .layer(routes()),
            ),
            None => Either::Right(routes()),
        };
        let status = case.status();
        let check = rt.block_on(app.clone().oneshot(request(case, &cookie)));
        assert_eq!(check.expect("infallible").status(), status, "{case:?}");
        group.bench_function(case.name(), |b| {
            b.iter_batched(
                || request(case, &cookie),
                |req| {
                    rt.block_on(async {
                        let res = app.clone().oneshot(req).await.expect("infallible");
                        res.into_body().collect().await.expect("a body")
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
