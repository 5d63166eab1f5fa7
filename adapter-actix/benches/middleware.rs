//! The middleware's cost in-process: the same actix-web app with and without
//! `MaintenanceMode`, requests driven through the service on one thread (actix's test
//! service, no sockets). The cases are the core testkit's `ServingCase`s: `bare` (no
//! middleware) against `off` (the middleware, the site not in maintenance), and the answers
//! while in maintenance (blocked, ignored path, 50 patterns and 20 networks, bypass cookie).
//! Requests are built outside the timed part.
#![allow(missing_docs)]

use std::net::SocketAddr;

use actix_web::dev::Service;
use actix_web::middleware::Condition;
use actix_web::test::{TestRequest, init_service, read_body};
use actix_web::{App, HttpResponse, web};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use maintenance_actix::MaintenanceMode;
use maintenance_core::testkit::{
    SERVING_ACCEPT, SERVING_HOST, SERVING_PEER, ServingCase, serving_case,
};
use maintenance_core::{Identity, Maintenance, MemoryStore, Policy};

async fn home() -> HttpResponse {
    HttpResponse::Ok().body("This is the home view.")
}

async fn login() -> HttpResponse {
    HttpResponse::Ok().body("Log in")
}

fn request(case: ServingCase, cookie: &str) -> actix_http::Request {
    let peer: SocketAddr = SERVING_PEER.parse().expect("an address");
    TestRequest::get()
        .uri(case.path())
        .insert_header(("host", SERVING_HOST))
        .insert_header(("accept", SERVING_ACCEPT))
        .insert_header(("cookie", cookie))
        .peer_addr(peer)
        .to_request()
}

fn bench(c: &mut Criterion) {
    let system = actix_web::rt::System::new();
    let mut group = c.benchmark_group("actix");
    for case in ServingCase::ALL {
        let (maintenance, cookie) = system.block_on(serving_case(case));
        let enabled = maintenance.is_some();
        // `Condition` keeps one app type; for `bare` the middleware is built but never runs.
        let maintenance =
            maintenance.unwrap_or_else(|| Maintenance::new(MemoryStore::new(), Policy::default()));
        let middleware = MaintenanceMode::new(maintenance).with_identity(|req| {
            match req.headers().get("cookie").map(|v| v.as_bytes()) {
                Some(b"session=staff") => Identity::Staff,
                _ => Identity::Anonymous,
            }
        });
        let app = system.block_on(init_service(
            App::new()
                .wrap(Condition::new(enabled, middleware))
                .route("/", web::get().to(home))
                .route("/admin/login/", web::get().to(login)),
        ));
        let status = case.status();
        let check = system.block_on(app.call(request(case, &cookie)));
        assert_eq!(
            check.expect("a response").status().as_u16(),
            status,
            "{case:?}"
        );
        group.bench_function(case.name(), |b| {
            b.iter_batched(
                || request(case, &cookie),
                |req| {
                    system.block_on(async {
                        let res = app.call(req).await.expect("a response");
                        read_body(res).await
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
